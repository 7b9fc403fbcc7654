package banktransfer

import (
	"testing"

	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/internal/eventually"
)

func payoutReq(id string) core.PayoutRequest {
	return core.PayoutRequest{Key: core.PayoutKey(id), PayoutID: id, MerchantID: "mer_us-east_1", Amount: 2500, Currency: "EUR",
		HolderName: "Acme GmbH", AccountNumber: "0532013000", BankCode: "37040044", Description: "November"}
}

func (e *payoutEnv) query(t *testing.T, id string) core.PayoutResult {
	t.Helper()
	r, err := e.GW.QueryPayout(ctx, core.PayoutQuery{Key: core.PayoutKey(id), PayoutID: id})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type payoutEnv struct{ *env }

// waitPayout waits for a payout notification with the outcome.
func (e *payoutEnv) waitPayout(t *testing.T, id string, want core.PayoutOutcome) core.Notification {
	t.Helper()
	ns := e.Recv.WaitNotifications(t, id, string(want), func(ns []core.Notification) bool {
		for _, n := range ns {
			if n.PayoutOutcome == want {
				return true
			}
		}
		return false
	})
	for _, n := range ns {
		if n.PayoutOutcome == want {
			return n
		}
	}
	panic("unreachable")
}

// The bank pays each payout once (a repeat with its key, or after a lost answer, pays nothing
// more), and its faults reach the adapter as the platform must see them: delayed (in transit,
// then a paid notification), failed, returned after paid (a returned notification).
func TestPayouts(t *testing.T) {
	t.Parallel()
	e := &payoutEnv{newEnv(t)}
	if r := e.query(t, "po_us-east_none"); r.Found {
		t.Fatalf("a payout never sent is found: %+v", r)
	}
	r, err := e.GW.Payout(ctx, payoutReq("po_us-east_1"))
	if err != nil || r.Outcome != core.PayoutOutcomePaid || r.Reference == "" {
		t.Fatalf("payout: %+v %v", r, err)
	}
	if again, err := e.GW.Payout(ctx, payoutReq("po_us-east_1")); err != nil || again.Reference != r.Reference {
		t.Fatalf("repeated payout: %+v %v", again, err)
	}

	if err := e.Ctl.SetFaults(ctx, core.ChannelBankTransfer, netsim.Faults{LostResponses: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.GW.Payout(ctx, payoutReq("po_us-east_lost")); err == nil {
		t.Fatal("a lost answer came back")
	}
	if q := e.query(t, "po_us-east_lost"); q.Outcome != core.PayoutOutcomePaid {
		t.Fatalf("query after a lost answer: %+v", q)
	}

	if err := e.Ctl.SetFaults(ctx, core.ChannelBankTransfer, netsim.Faults{Payout: netsim.PayoutDelayed, PayoutDelayMS: 50}); err != nil {
		t.Fatal(err)
	}
	if r, err := e.GW.Payout(ctx, payoutReq("po_us-east_slow")); err != nil || r.Outcome != core.PayoutOutcomeInTransit {
		t.Fatalf("delayed payout: %+v %v", r, err)
	}
	if n := e.waitPayout(t, "po_us-east_slow", core.PayoutOutcomePaid); n.Channel != core.ChannelBankTransfer || n.Amount != 2500 || n.EventID == "" {
		t.Errorf("paid notification: %+v", n)
	}
	eventually.True(t, eventually.Patience, "the delayed payout queries paid", func() bool {
		return e.query(t, "po_us-east_slow").Outcome == core.PayoutOutcomePaid
	})

	if err := e.Ctl.SetFaults(ctx, core.ChannelBankTransfer, netsim.Faults{Payout: netsim.PayoutFail}); err != nil {
		t.Fatal(err)
	}
	if r, err := e.GW.Payout(ctx, payoutReq("po_us-east_fail")); err != nil || r.Outcome != core.PayoutOutcomeFailed || r.FailureCode == "" {
		t.Fatalf("failing payout: %+v %v", r, err)
	}

	if err := e.Ctl.SetFaults(ctx, core.ChannelBankTransfer, netsim.Faults{Payout: netsim.PayoutReturn, PayoutDelayMS: 50}); err != nil {
		t.Fatal(err)
	}
	if r, err := e.GW.Payout(ctx, payoutReq("po_us-east_ret")); err != nil || r.Outcome != core.PayoutOutcomePaid {
		t.Fatalf("payout to be returned: %+v %v", r, err)
	}
	if n := e.waitPayout(t, "po_us-east_ret", core.PayoutOutcomeReturned); n.DeclineCode != "account_closed" {
		t.Errorf("returned notification: %+v", n)
	}
	if err := e.Ctl.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	// By hand: a paid payout returned.
	if _, err := e.GW.Payout(ctx, payoutReq("po_us-east_hand")); err != nil {
		t.Fatal(err)
	}
	if err := e.Ctl.MovePayout(ctx, "po_us-east_hand", "returned"); err != nil {
		t.Fatal(err)
	}
	e.waitPayout(t, "po_us-east_hand", core.PayoutOutcomeReturned)
	if got := len(e.Sim.Payouts()); got != 6 {
		t.Errorf("the bank holds %d payouts, want 6 (one per payout however often sent)", got)
	}
}
