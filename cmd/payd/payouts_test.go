package main

import (
	"context"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/banktransfer"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/channelauth/channeltest"
	"github.com/paycenter/paycenter/core/httpapi"
	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/resilience"
)

// Payouts end to end through the real bank adapter and the channel simulator's bank over
// HTTP, behind the resilience layer: a payout whose answer is lost is finished by the
// recovery worker, paid once; a payout the bank returns (its notification delivered twice)
// gives the money back once.
func TestPayoutsThroughTheBankEndToEnd(t *testing.T) {
	ctx := context.Background()
	priv := channeltest.MerchantKey()
	sim, err := netsim.NewServer(netsim.Config{PrivateKey: channeltest.ChannelKey(), Clients: map[string]*rsa.PublicKey{"*": &priv.PublicKey}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	ctl := netsim.Control{BaseURL: sim.URL()}
	var target atomic.Value
	fwd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(fwd.Close)
	bank, err := banktransfer.New(banktransfer.Config{ClientID: "paycenter-eu", BaseConfig: channelauth.BaseConfig{BaseURL: sim.URL(),
		PrivateKey: priv, ChannelPublicKey: &channeltest.ChannelKey().PublicKey, NotifyURL: fwd.URL + "/v1/notifications/bank_transfer"}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, envOptions{
		gateway: func(*inprocsim.Channel) core.Gateway {
			g, err := resilience.NewGateway(byChannel{core.ChannelBankTransfer: bank}, resilience.Config{Region: testRegion})
			if err != nil {
				t.Fatal(err)
			}
			return g
		},
		notifications: map[core.Channel]httpapi.NotificationParser{core.ChannelBankTransfer: bank.ParseNotification},
	})
	target.Store(e.srv.Config.Handler)
	id, key := e.merchant("Acme")
	e.expect(e.call("POST", "/v1/merchant/kyc", key, "", map[string]any{"legal_name": "Acme GmbH", "registration_number": "HRB 12345",
		"country": "DE", "address": map[string]any{"line1": "Unter den Linden 1", "city": "Berlin", "postal_code": "10117"},
		"representative": map[string]any{"name": "Erika Mustermann", "id_number": "T22000129", "date_of_birth": "1980-05-17", "phone": "+4930123456"},
		"bank_account":   map[string]any{"holder_name": "Acme GmbH", "account_number": "0532013000", "bank_code": "37040044", "currency": "EUR"}}), 200)
	if _, err := e.svc.DecideKYC(ctx, id, true, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateAdjustment(ctx, core.AdjustmentParams{Merchant: id, Amount: 10_000, Currency: "EUR", Reason: "float"}); err != nil {
		t.Fatal(err)
	}
	available := func() int64 {
		b, err := e.svc.Balance(ctx, id)
		if err != nil || len(b.Data) != 1 {
			t.Fatalf("balance %+v, %v", b, err)
		}
		return b.Data[0].Available
	}

	// The bank pays, the answer is lost: 202 pending, then the recovery worker asks the bank.
	if err := ctl.SetFaults(ctx, core.ChannelBankTransfer, netsim.Faults{LostResponses: 1}); err != nil {
		t.Fatal(err)
	}
	lost := e.expect(e.call("POST", "/v1/payouts", key, newKey(), map[string]any{"amount": 4000, "currency": "EUR"}), 202)
	if lost.str("status") != core.PayoutPending || available() != 6000 {
		t.Fatalf("payout with a lost answer: %s, available %d", lost.Body, available())
	}
	if err := ctl.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2*30*time.Second + time.Second)
	st, err := e.svc.RecoverPayouts(ctx, postgres.RecoveryConfig{Interval: time.Second})
	if err != nil || st.Resolved != 1 {
		t.Fatalf("recovery: %+v, %v", st, err)
	}
	if got := e.expect(e.call("GET", "/v1/payouts/"+lost.str("id"), key, "", nil), 200); got.str("status") != core.PayoutPaid {
		t.Fatalf("after recovery: %s", got.Body)
	}

	// Paid, then returned by the receiving bank; the notification comes twice.
	if err := ctl.SetFaults(ctx, core.ChannelBankTransfer, netsim.Faults{Payout: netsim.PayoutReturn, PayoutDelayMS: 20, DuplicateNotifications: 1}); err != nil {
		t.Fatal(err)
	}
	ret := e.expect(e.call("POST", "/v1/payouts", key, newKey(), map[string]any{"amount": 2500, "currency": "EUR"}), 200)
	if ret.str("status") != core.PayoutPaid {
		t.Fatalf("payout to be returned: %s", ret.Body)
	}
	retID := ret.str("id")
	eventually(t, "both copies of the return notification are acknowledged", func() bool {
		recs, err := ctl.Notifications(ctx)
		if err != nil {
			return false
		}
		acked := 0
		for _, r := range recs {
			if r.OutTradeNo == retID && r.Delivered {
				acked++
			}
		}
		return acked == 2
	})
	if got := e.expect(e.call("GET", "/v1/payouts/"+retID, key, "", nil), 200); got.str("status") != core.PayoutFailed || got.str("failure_code") != "account_closed" {
		t.Fatalf("returned payout: %s", got.Body)
	}
	if a := available(); a != 6000 {
		t.Errorf("available %d after the return, want 6000 (10000 - 4000 paid)", a)
	}
	var failed, applied int
	if err := e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox_events WHERE object_id = $1 AND type = $2`, retID, core.EventPayoutFailed).Scan(&failed); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM channel_events WHERE payment_id = $1 AND applied`, retID).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if failed != 1 || applied != 1 {
		t.Errorf("%d payout.failed events, %d applied notifications; want 1 and 1", failed, applied)
	}
	if n := len(sim.Payouts()); n != 2 {
		t.Errorf("the bank made %d payouts, want 2", n)
	}
	e.requireBalancedLedger()
}
