package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
)

var recovery = postgres.RecoveryConfig{MinAge: time.Minute, Interval: time.Second}

// "Succeeded but the response was lost", and the client never retries: the recovery worker
// asks the channel and finishes the payment; a late retry with the key gets the same result.
func TestRecoveryWorkerFinishesLostResponse(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	e.sim.SetFaults(inprocsim.Faults{LoseResponses: 1})
	idem := newKey()
	body := cardPayment("rw-1", 1500, visaOK, core.CaptureAutomatic)
	first := e.expect(e.call("POST", "/v1/payments", key, idem, body), 202)
	ctx := context.Background()
	if st, err := e.svc.Recover(ctx, e.sim, recovery); err != nil || st.Examined != 0 {
		t.Fatalf("a fresh payment was claimed: %+v %v", st, err)
	}
	e.clock.Advance(2 * time.Minute)
	st, err := e.svc.Recover(ctx, e.sim, recovery)
	if err != nil || st.Resolved != 1 {
		t.Fatalf("recovery: %+v %v", st, err)
	}
	got := e.expect(e.call("GET", "/v1/payments/"+first.str("id"), key, "", nil), 200)
	if got.str("status") != "succeeded" || got.num("amount_captured") != 1500 {
		t.Fatalf("after recovery: %s", got.Body)
	}
	late := e.expect(e.call("POST", "/v1/payments", key, idem, body), 200)
	if late.str("status") != "succeeded" || e.sim.Charges(first.str("id")) != 1 {
		t.Fatalf("late retry: %s, charges %d", late.Body, e.sim.Charges(first.str("id")))
	}
	if st, _ := e.svc.Recover(ctx, e.sim, recovery); st.Examined != 0 {
		t.Fatalf("a settled payment was claimed again: %+v", st)
	}
	e.requireBalancedLedger()
}

// A node died before calling the channel and nobody retried: the channel never saw the
// payment, so the worker fails it, but never while a request holds the key's lease; a late
// retry then gets the failure and charges nothing.
func TestRecoveryFailsPaymentTheChannelNeverSaw(t *testing.T) {
	var once sync.Once
	e := newEnv(t, func(c *postgres.Config) {
		c.AfterPhase = func(_ context.Context, point string) error {
			var err error
			if point == "payment_created" {
				once.Do(func() { err = errors.New("node died") })
			}
			return err
		}
	})
	_, key := e.merchant("Acme")
	idem := newKey()
	body := cardPayment("rw-2", 800, visaOK, core.CaptureAutomatic)
	e.expect(e.call("POST", "/v1/payments", key, idem, body), 500)
	ctx := context.Background()
	quick := postgres.RecoveryConfig{MinAge: time.Second}
	e.clock.Advance(5 * time.Second) // old enough, but the dead node's lease (30 s) still holds
	if st, err := e.svc.Recover(ctx, e.sim, quick); err != nil || st.Resolved != 0 {
		t.Fatalf("recovery acted under a live lease: %+v %v", st, err)
	}
	e.clock.Advance(2 * time.Minute)
	if st, err := e.svc.Recover(ctx, e.sim, recovery); err != nil || st.Resolved != 1 {
		t.Fatalf("recovery: %+v %v", st, err)
	}
	r := e.expect(e.call("POST", "/v1/payments", key, idem, body), 402)
	if r.str("error.code") != core.CodeProcessingError || e.sim.Calls() != 0 {
		t.Fatalf("late retry: %s (%d money-moving channel calls, want 0)", r.Body, e.sim.Calls())
	}
	e.requireBalancedLedger()
}

// A capture whose answer was lost and whose client went away: the worker reads the captured
// amount from the channel, records it and frees the payment.
func TestRecoverySettlesAbandonedCapture(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	id := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("rw-3", 9000, visaOK, core.CaptureManual)), 200).str("id")
	e.sim.SetFaults(inprocsim.Faults{LoseResponses: 1})
	e.expect(e.call("POST", "/v1/payments/"+id+"/capture", key, newKey(), map[string]any{"amount": 6000}), 202)
	e.clock.Advance(2 * time.Minute)
	if st, err := e.svc.Recover(context.Background(), e.sim, recovery); err != nil || st.Resolved != 1 {
		t.Fatalf("recovery: %+v %v", st, err)
	}
	got := e.expect(e.call("GET", "/v1/payments/"+id, key, "", nil), 200)
	if got.str("status") != "succeeded" || got.num("amount_captured") != 6000 {
		t.Fatalf("after recovery: %s", got.Body)
	}
	// The payment is free: a refund goes through.
	e.expect(e.call("POST", "/v1/refunds", key, newKey(), map[string]any{"payment": id, "amount": 1000}), 200)
	e.requireBalancedLedger()
}

// A backlog of unpaid wallet orders, older than a payment whose channel answer was lost, must
// not starve that payment: money in doubt is looked at first.
func TestRecoveryPutsMoneyInDoubtBeforeWaitingPayers(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	for i := range 5 {
		e.expect(e.call("POST", "/v1/payments", key, newKey(), map[string]any{
			"amount": 100 + i, "currency": "cny", "channel": "wechat_pay", "merchant_reference": fmt.Sprintf("wx-%d", i)}), 200)
	}
	e.clock.Advance(time.Second)
	e.sim.SetFaults(inprocsim.Faults{LoseResponses: 1})
	lost := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("card-lost", 900, visaOK, core.CaptureAutomatic)), 202)
	e.clock.Advance(2 * time.Minute)
	small := recovery
	small.Batch = 2
	if st, err := e.svc.Recover(context.Background(), e.sim, small); err != nil || st.Resolved != 1 || st.Waiting != 1 {
		t.Fatalf("first sweep of 2: %+v %v", st, err)
	}
	got := e.expect(e.call("GET", "/v1/payments/"+lost.str("id"), key, "", nil), 200)
	if got.str("status") != "succeeded" {
		t.Fatalf("the payment in doubt waited behind unpaid orders: %s", got.Body)
	}
}

// A wallet order the channel created, whose answer was lost, and the client never retries:
// the worker asks for the answer again with the same channel key, so the payment shows the
// payer what to do (requires_action), and completes once the payer has paid.
func TestRecoveryRecoversAWalletOrdersLostAnswer(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	e.sim.SetFaults(inprocsim.Faults{LoseResponses: 1})
	p := e.expect(e.call("POST", "/v1/payments", key, newKey(), map[string]any{
		"amount": 3300, "currency": "cny", "channel": "wechat_pay", "merchant_reference": "wx-lost"}), 202)
	ctx := context.Background()
	e.clock.Advance(2 * time.Minute)
	if st, err := e.svc.Recover(ctx, e.sim, recovery); err != nil || st.Resolved != 1 {
		t.Fatalf("recovery: %+v %v", st, err)
	}
	got := e.expect(e.call("GET", "/v1/payments/"+p.str("id"), key, "", nil), 200)
	if got.str("status") != "requires_action" || got.get("next_action") == nil {
		t.Fatalf("after recovery: %s", got.Body)
	}
	e.sim.Pay(p.str("id"))
	e.clock.Advance(time.Hour)
	if st, _ := e.svc.Recover(ctx, e.sim, recovery); st.Resolved != 1 {
		t.Fatalf("paid order: %+v", st)
	}
	got = e.expect(e.call("GET", "/v1/payments/"+p.str("id"), key, "", nil), 200)
	if got.str("status") != "succeeded" || e.sim.Charges(p.str("id")) != 1 {
		t.Fatalf("after payment: %s, %d charges", got.Body, e.sim.Charges(p.str("id")))
	}
	e.requireBalancedLedger()
}

// Wallet payments wait for the payer; the worker polls the channel (with backoff) and
// completes the payment once the payer has paid.
func TestRecoveryPollsWalletPayments(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	p := e.expect(e.call("POST", "/v1/payments", key, newKey(), map[string]any{
		"amount": 6600, "currency": "cny", "channel": "wechat_pay", "merchant_reference": "wx-1"}), 200)
	ctx := context.Background()
	e.clock.Advance(2 * time.Minute)
	if st, _ := e.svc.Recover(ctx, e.sim, recovery); st.Waiting != 1 {
		t.Fatalf("unpaid order: %+v", st)
	}
	e.sim.Pay(p.str("id"))
	if st, _ := e.svc.Recover(ctx, e.sim, recovery); st.Examined != 0 {
		t.Fatalf("polled again before its backoff: %+v", st)
	}
	e.clock.Advance(time.Minute)
	if st, _ := e.svc.Recover(ctx, e.sim, recovery); st.Resolved != 1 {
		t.Fatalf("paid order: %+v", st)
	}
	got := e.expect(e.call("GET", "/v1/payments/"+p.str("id"), key, "", nil), 200)
	if got.str("status") != "succeeded" || got.num("amount_captured") != 6600 || got.get("next_action") != nil {
		t.Fatalf("after payment: %s", got.Body)
	}
	e.requireBalancedLedger()
}

// Duplicate and out-of-order notifications leave the payment in its correct final state.
func TestNotificationsAreIdempotentAndNeverGoBackwards(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	wallet := func(ref string) string {
		return e.expect(e.call("POST", "/v1/payments", key, newKey(), map[string]any{
			"amount": 4200, "currency": "cny", "channel": "alipay", "merchant_reference": ref}), 200).str("id")
	}
	ctx := context.Background()
	paid := wallet("n-1")
	n := core.Notification{Channel: core.ChannelAlipay, EventID: "evt-1", PaymentID: paid, Outcome: core.OutcomeCaptured, Amount: 4200, Currency: "CNY", Reference: "ali-1"}
	for i, tc := range []struct {
		n    core.Notification
		want bool
	}{
		{n, true},
		{n, false}, // a duplicate
		{core.Notification{Channel: core.ChannelAlipay, EventID: "evt-0", PaymentID: paid, Outcome: core.OutcomeClosed}, false},      // stale, out of order
		{core.Notification{Channel: core.ChannelAlipay, EventID: "evt-2", PaymentID: paid, Outcome: core.OutcomeDeclined}, false},    // cannot undo a payment
		{core.Notification{Channel: core.ChannelWeChatPay, EventID: "evt-3", PaymentID: paid, Outcome: core.OutcomeCaptured}, false}, // wrong channel
		{core.Notification{Channel: core.ChannelAlipay, EventID: "evt-4", PaymentID: "pay_us-east_nosuchpayment00000", Outcome: core.OutcomeCaptured}, false},
	} {
		applied, err := e.svc.ApplyNotification(ctx, tc.n)
		if err != nil || applied != tc.want {
			t.Fatalf("notification %d (%s %s): applied %v err %v, want %v", i, tc.n.EventID, tc.n.Outcome, applied, err, tc.want)
		}
	}
	got := e.expect(e.call("GET", "/v1/payments/"+paid, key, "", nil), 200)
	if got.str("status") != "succeeded" || got.num("amount_captured") != 4200 {
		t.Fatalf("paid payment: %s", got.Body)
	}
	var events int
	if err := e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox_events WHERE object_id = $1 AND type = 'payment.succeeded'`, paid).Scan(&events); err != nil || events != 1 {
		t.Fatalf("%d payment.succeeded events (err %v), want 1", events, err)
	}

	short := wallet("n-2")
	if applied, _ := e.svc.ApplyNotification(ctx, core.Notification{Channel: core.ChannelAlipay, EventID: "evt-5", PaymentID: short, Outcome: core.OutcomeCaptured, Amount: 1, Currency: "CNY"}); applied {
		t.Fatal("a notification with the wrong amount was applied")
	}
	expired := wallet("n-3")
	if applied, _ := e.svc.ApplyNotification(ctx, core.Notification{Channel: core.ChannelAlipay, EventID: "evt-6", PaymentID: expired, Outcome: core.OutcomeClosed}); !applied {
		t.Fatal("closing an unpaid order was not applied")
	}
	if got := e.expect(e.call("GET", "/v1/payments/"+expired, key, "", nil), 200); got.str("status") != "canceled" {
		t.Fatalf("expired order: %s", got.Body)
	}
	e.requireBalancedLedger()
}

// Reconciliation finds every mismatch injected into a channel statement and no false ones.
func TestReconciliationFindsInjectedMismatches(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	ctx := context.Background()
	var ids []string
	for i, amount := range []int64{1000, 2500, 399, 12000} {
		p := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment(fmt.Sprintf("rc-%d", i), amount, visaOK, core.CaptureAutomatic)), 200)
		ids = append(ids, p.str("id"))
	}
	m := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("rc-m", 5000, visaOK, core.CaptureManual)), 200).str("id")
	e.expect(e.call("POST", "/v1/payments/"+m+"/capture", key, newKey(), map[string]any{"amount": 4000}), 200)
	e.expect(e.call("POST", "/v1/refunds", key, newKey(), map[string]any{"payment": ids[1], "amount": 500}), 200)
	e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("rc-d", 700, visaDeclined, core.CaptureAutomatic)), 402)

	day := e.clock.Now()
	lines, err := e.sim.Statement(ctx, core.ChannelCard, day)
	if err != nil {
		t.Fatal(err)
	}
	clean, err := e.svc.Reconcile(ctx, core.ChannelCard, day, lines)
	if err != nil || !clean.Balanced || clean.Matched != 6 || clean.ChannelLines != 6 {
		t.Fatalf("clean statement: %+v %v", clean, err)
	}

	// Inject: drop a charge, add one the platform never made, change a refund's amount.
	var tampered []core.StatementLine
	for _, l := range lines {
		switch {
		case l.Kind == "charge" && l.PaymentID == ids[0]:
			continue
		case l.Kind == "refund":
			l.Amount = 499
		}
		tampered = append(tampered, l)
	}
	tampered = append(tampered, core.StatementLine{Kind: "charge", PaymentID: "pay_us-east_ghost0000000000000000", Amount: 100, Currency: "USD"})
	rep, err := e.svc.Reconcile(ctx, core.ChannelCard, day, tampered)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Balanced || rep.Matched != 4 ||
		len(rep.MissingOnChannel) != 1 || rep.MissingOnChannel[0].PaymentID != ids[0] || rep.MissingOnChannel[0].Amount != 1000 ||
		len(rep.MissingOnPlatform) != 1 || rep.MissingOnPlatform[0].PaymentID != "pay_us-east_ghost0000000000000000" ||
		len(rep.AmountMismatches) != 1 || rep.AmountMismatches[0].PlatformAmount != 500 || rep.AmountMismatches[0].ChannelAmount != 499 {
		t.Fatalf("tampered statement report: %+v", rep)
	}
	// Another channel's day is empty on both sides.
	if other, err := e.svc.Reconcile(ctx, core.ChannelAlipay, day, nil); err != nil || !other.Balanced || other.PlatformLines != 0 {
		t.Fatalf("alipay: %+v %v", other, err)
	}
}

// Channel authorisations: an operator can forbid a channel for a merchant; credentials are
// stored encrypted and bound to their merchant and channel.
func TestChannelAuthorizations(t *testing.T) {
	e := newEnv(t)
	id, key := e.merchant("Acme")
	ctx := context.Background()
	if _, err := e.svc.SetChannel(ctx, id, core.ChannelAlipay, false, nil); err != nil {
		t.Fatal(err)
	}
	r := e.expect(e.call("POST", "/v1/payments", key, newKey(), map[string]any{"amount": 100, "currency": "cny", "channel": "alipay", "merchant_reference": "ca-1"}), 403)
	if r.str("error.code") != core.CodeChannelNotAuthorized || r.str("error.param") != "channel" {
		t.Fatalf("forbidden channel: %s", r.Body)
	}
	e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("ca-2", 100, visaOK, core.CaptureAutomatic)), 200)
	if _, err := e.svc.SetChannel(ctx, id, core.ChannelWeChatPay, true, map[string]string{"mch_id": "1900000109", "api_v3_key": "s3cret-value-42"}); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	if err := e.db.Pool.QueryRow(ctx, `SELECT credentials FROM merchant_channels WHERE merchant_id = $1 AND channel = 'wechat_pay'`, id).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if len(raw) == 0 || strings.Contains(string(raw), "s3cret") || strings.Contains(string(raw), "1900000109") {
		t.Fatalf("credentials stored in clear: %q", raw)
	}
	creds, err := e.svc.ChannelCredentials(ctx, id, core.ChannelWeChatPay)
	if err != nil || creds["api_v3_key"] != "s3cret-value-42" {
		t.Fatalf("decrypt: %v %v", creds, err)
	}
	// A ciphertext moved to another row does not open.
	other, _ := e.merchant("Other")
	if _, err := e.db.Pool.Exec(ctx, `INSERT INTO merchant_channels (merchant_id, channel, region, enabled, credentials, created_at, updated_at)
		VALUES ($1, 'wechat_pay', $2, true, $3, now(), now())`, other, testRegion, raw); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.ChannelCredentials(ctx, other, core.ChannelWeChatPay); err == nil {
		t.Fatal("credentials opened under another merchant")
	}
	list, err := e.svc.Channels(ctx, id)
	if err != nil || len(list) != len(core.Channels) {
		t.Fatalf("channels: %v %v", list, err)
	}
	for _, a := range list {
		want := a.Channel != core.ChannelAlipay
		if a.Enabled != want || a.HasCredentials != (a.Channel == core.ChannelWeChatPay) {
			t.Fatalf("authorisation %+v", a)
		}
	}
}
