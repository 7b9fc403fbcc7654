package inprocsim_test

import (
	"context"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/internal/eventually"
)

func auth(id, number string, capture bool) core.AuthorizeRequest {
	return core.AuthorizeRequest{Key: core.AuthorizeKey(id), PaymentID: id, Channel: core.ChannelCard, Amount: 1000,
		Currency: "USD", Capture: capture, Card: &core.CardData{Number: number, ExpMonth: 1, ExpYear: time.Now().Year() + 2}}
}

func TestTestCards(t *testing.T) {
	ch := inprocsim.New()
	ctx := context.Background()
	for _, tc := range []struct {
		number  string
		outcome core.AuthorizeOutcome
		code    string
	}{
		{"4242424242424242", core.OutcomeCaptured, ""},
		{"4000000000000002", core.OutcomeDeclined, core.CodeCardDeclined},
		{"4000000000009995", core.OutcomeDeclined, core.CodeInsufficientFunds},
		{"4000000000000069", core.OutcomeDeclined, core.CodeExpiredCard},
		{"4000000000000127", core.OutcomeDeclined, core.CodeIncorrectCVC},
		{"4000000000000119", core.OutcomeDeclined, core.CodeProcessingError},
	} {
		res, err := ch.Authorize(ctx, auth("pay_"+tc.number, tc.number, true))
		if err != nil || res.Outcome != tc.outcome || res.DeclineCode != tc.code {
			t.Errorf("%s: %+v %v", tc.number, res, err)
		}
	}
	expired := auth("pay_expired", "4242424242424242", true)
	expired.Card.ExpYear = time.Now().Year() - 1
	if res, _ := ch.Authorize(ctx, expired); res.DeclineCode != core.CodeExpiredCard {
		t.Errorf("expired card: %+v", res)
	}
	if ch.TotalCharges() != 1 {
		t.Fatalf("%d charges, want 1 (declines charge nothing)", ch.TotalCharges())
	}
}

func TestKeyExecutesOnce(t *testing.T) {
	ch := inprocsim.New()
	ctx := context.Background()
	first, _ := ch.Authorize(ctx, auth("pay_1", "4242424242424242", false))
	again, _ := ch.Authorize(ctx, auth("pay_1", "4242424242424242", false))
	if first != again || ch.Charges("pay_1") != 1 || ch.Calls() != 2 {
		t.Fatalf("repeat: %+v vs %+v, charges %d, calls %d", first, again, ch.Charges("pay_1"), ch.Calls())
	}
	c1, _ := ch.Capture(ctx, core.CaptureRequest{Key: core.CaptureKey("pay_1"), PaymentID: "pay_1", Amount: 600})
	c2, _ := ch.Capture(ctx, core.CaptureRequest{Key: core.CaptureKey("pay_1"), PaymentID: "pay_1", Amount: 900})
	if !c1.OK || c2.Amount != 600 {
		t.Fatalf("a repeated capture key must return the first capture: %+v %+v", c1, c2)
	}
	if v, _ := ch.Void(ctx, core.VoidRequest{Key: core.VoidKey("pay_1"), PaymentID: "pay_1"}); v.OK {
		t.Fatal("voided a captured payment")
	}
	r1, _ := ch.Refund(ctx, core.RefundRequest{Key: "re_1:refund", PaymentID: "pay_1", Amount: 500})
	r2, _ := ch.Refund(ctx, core.RefundRequest{Key: "re_2:refund", PaymentID: "pay_1", Amount: 500})
	if !r1.OK || r2.OK || ch.Refunded("pay_1") != 500 {
		t.Fatalf("refunds beyond the capture: %+v %+v refunded %d", r1, r2, ch.Refunded("pay_1"))
	}
}

func TestFaults(t *testing.T) {
	ch := inprocsim.New()
	ch.SetFaults(inprocsim.Faults{LoseResponses: 1, Timeouts: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := ch.Authorize(ctx, auth("pay_t", "4242424242424242", true)); err == nil || ch.Charges("pay_t") != 0 {
		t.Fatalf("timeout: err %v, charges %d (a timeout must not execute)", err, ch.Charges("pay_t"))
	}
	if _, err := ch.Authorize(context.Background(), auth("pay_l", "4242424242424242", true)); err == nil || ch.Charges("pay_l") != 1 {
		t.Fatalf("lost response: err %v, charges %d (it must execute, then lose the answer)", err, ch.Charges("pay_l"))
	}
	res, err := ch.Authorize(context.Background(), auth("pay_l", "4242424242424242", true))
	if err != nil || res.Outcome != core.OutcomeCaptured || ch.Charges("pay_l") != 1 {
		t.Fatalf("retry after lost response: %+v %v charges %d", res, err, ch.Charges("pay_l"))
	}
}

func TestWalletsWaitForThePayer(t *testing.T) {
	ch := inprocsim.New()
	for _, c := range []core.Channel{core.ChannelWeChatPay, core.ChannelAlipay, core.ChannelBankTransfer} {
		res, err := ch.Authorize(context.Background(), core.AuthorizeRequest{Key: "k-" + string(c), PaymentID: "p-" + string(c), Channel: c, Amount: 100, Currency: "CNY"})
		if err != nil || res.Outcome != core.OutcomeActionRequired || res.NextAction == nil {
			t.Errorf("%s: %+v %v", c, res, err)
		}
	}
}

// The simulated bank pays each payout key once, and learns the faults: a lost answer, a
// delayed payout (in transit, then paid), a failed one, and one returned after it was paid.
func TestPayoutFaults(t *testing.T) {
	ch := inprocsim.New()
	ctx := context.Background()
	req := func(id string) core.PayoutRequest {
		return core.PayoutRequest{Key: core.PayoutKey(id), PayoutID: id, Amount: 500, Currency: "EUR", AccountNumber: "0532013000"}
	}
	query := func(id string) core.PayoutResult {
		r, err := ch.QueryPayout(ctx, core.PayoutQuery{Key: core.PayoutKey(id), PayoutID: id})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := query("po_none"); r.Found {
		t.Errorf("a payout never sent is found: %+v", r)
	}
	ch.SetFaults(inprocsim.Faults{LoseResponses: 1})
	if _, err := ch.Payout(ctx, req("po_lost")); err == nil {
		t.Fatal("a lost answer came back")
	}
	if r, err := ch.Payout(ctx, req("po_lost")); err != nil || r.Outcome != core.PayoutOutcomePaid || query("po_lost").Outcome != core.PayoutOutcomePaid {
		t.Errorf("the retry of a lost payout: %+v, %v", r, err)
	}
	ch.SetFaults(inprocsim.Faults{Payout: inprocsim.PayoutDelayed, PayoutDelay: 50 * time.Millisecond})
	if r, _ := ch.Payout(ctx, req("po_slow")); r.Outcome != core.PayoutOutcomeInTransit {
		t.Errorf("delayed payout: %+v, want in transit", r)
	}
	eventually.True(t, 5*time.Second, "the delayed payout is paid", func() bool { return query("po_slow").Outcome == core.PayoutOutcomePaid })
	ch.SetFaults(inprocsim.Faults{Payout: inprocsim.PayoutFail})
	if r, _ := ch.Payout(ctx, req("po_fail")); r.Outcome != core.PayoutOutcomeFailed || r.FailureCode == "" {
		t.Errorf("failing payout: %+v", r)
	}
	ch.SetFaults(inprocsim.Faults{})
	if r, _ := ch.Payout(ctx, req("po_ret")); r.Outcome != core.PayoutOutcomePaid || !ch.ReturnPayout("po_ret") || query("po_ret").Outcome != core.PayoutOutcomeReturned {
		t.Errorf("returned payout: %+v, then %+v", r, query("po_ret"))
	}
	if n := ch.Payouts(); n != 4 {
		t.Errorf("%d payouts executed, want 4", n)
	}
}
