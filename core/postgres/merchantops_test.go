package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
)

// A payment captured on day T (in the merchant's settlement time zone) is pending until the
// start of day T+N there, then available; its fee follows the schedule and the refund gives
// back its part; the ledger balances throughout.
func TestCapturedMoneyIsPendingUntilTPlusNWithItsFee(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	if _, err := e.svc.SetFeeSchedule(ctx, "*", core.FeeScheduleParams{FeeSchedule: core.FeeSchedule{PercentBps: 100}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetFeeSchedule(ctx, e.merchant.ID, core.FeeScheduleParams{Channel: core.ChannelCard,
		FeeSchedule: core.FeeSchedule{PercentBps: 290, Fixed: 30, RefundFees: true}}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.SetSettlementTerms(ctx, e.merchant.ID, 2, "Asia/Shanghai"); err != nil {
		t.Fatal(err)
	}
	// The clock starts at 2026-03-01 12:00 UTC = 20:00 in Shanghai: day T is March 1st there.
	id := e.heldPayment("tn-1")
	rep, err := e.svc.CapturePayment(ctx, e.req("cap-tn-1", "/v1/payments/"+id+"/capture"), id, core.CaptureParams{})
	e.object(rep, err, string(core.StatusSucceeded))

	balance := func() core.CurrencyTotal {
		t.Helper()
		b, err := e.svc.Balance(ctx, e.merchant.ID)
		if err != nil || len(b.Data) != 1 {
			t.Fatalf("balance %+v, %v", b, err)
		}
		return b.Data[0]
	}
	// Fee on 10.00 USD at 2.9% + 30: 59 minor units; 941 owed to the merchant.
	if b := balance(); b.Pending != 941 || b.Available != 0 {
		t.Fatalf("on day T: pending %d, available %d; want 941 pending, 0 available (minor units)", b.Pending, b.Available)
	}
	txns, err := e.svc.BalanceTransactions(ctx, e.merchant.ID, core.BalanceTransactionFilter{})
	if err != nil || len(txns.Data) != 1 {
		t.Fatalf("balance transactions %+v, %v", txns, err)
	}
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	want := core.BalanceTransaction{Object: "balance_transaction", ID: txns.Data[0].ID, Type: core.TxnPayment,
		Amount: 1000, Fee: 59, Net: 941, Currency: "USD", Status: core.TxnPending,
		AvailableOn: time.Date(2026, 3, 3, 0, 0, 0, 0, shanghai), Source: id, CreatedAt: txns.Data[0].CreatedAt}
	got := *txns.Data[0]
	if !got.AvailableOn.Equal(want.AvailableOn) {
		t.Fatalf("available_on %v, want %v", got.AvailableOn, want.AvailableOn)
	}
	got.AvailableOn = want.AvailableOn
	if got != want {
		t.Fatalf("balance transaction\n got %+v\nwant %+v", got, want)
	}
	// One second before midnight of T+2 in Shanghai (2026-03-02 15:59:59 UTC) it is still pending.
	e.clock.Advance(27*time.Hour + 59*time.Minute + 59*time.Second)
	if b := balance(); b.Pending != 941 || b.Available != 0 {
		t.Fatalf("just before T+2: pending %d, available %d", b.Pending, b.Available)
	}
	e.clock.Advance(time.Second)
	if b := balance(); b.Pending != 0 || b.Available != 941 {
		t.Fatalf("at T+2: pending %d, available %d; want 0 pending, 941 available", b.Pending, b.Available)
	}
	// A partial refund of 5.00 returns half the fee (29.5 → 30, half to even) at once.
	amt := int64(500)
	rep, err = e.svc.CreateRefund(ctx, e.req("ref-tn-1", "/v1/refunds"), core.CreateRefundParams{Payment: id, Amount: &amt})
	e.object(rep, err, string(core.RefundSucceeded))
	if b := balance(); b.Available != 941-470 {
		t.Fatalf("after the refund: available %d, want %d", b.Available, 941-470)
	}
	refunds, err := e.svc.BalanceTransactions(ctx, e.merchant.ID, core.BalanceTransactionFilter{Type: core.TxnRefund})
	if err != nil || len(refunds.Data) != 1 {
		t.Fatalf("refund transactions %+v, %v", refunds, err)
	}
	if r := refunds.Data[0]; r.Amount != -500 || r.Fee != -30 || r.Net != -470 || r.Status != core.TxnAvailable {
		t.Fatalf("refund transaction %+v, want amount -500, fee -30, net -470, available", r)
	}
	e.requireBalancedLedger()
}

// Operators' fee schedules are validated (400 naming the field) and refused for unknown
// merchants, writing nothing.
func TestFeeScheduleBadInputWritesNothing(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	for _, c := range []struct {
		merchant string
		p        core.FeeScheduleParams
		param    string
	}{
		{e.merchant.ID, core.FeeScheduleParams{FeeSchedule: core.FeeSchedule{PercentBps: -1}}, "percent_bps"},
		{e.merchant.ID, core.FeeScheduleParams{FeeSchedule: core.FeeSchedule{PercentBps: 10_001}}, "percent_bps"},
		{e.merchant.ID, core.FeeScheduleParams{FeeSchedule: core.FeeSchedule{Fixed: -5}}, "fixed"},
		{e.merchant.ID, core.FeeScheduleParams{Channel: "pigeon"}, "channel"},
		{"mer_us-east_nobody", core.FeeScheduleParams{}, "id"},
	} {
		_, err := e.svc.SetFeeSchedule(ctx, c.merchant, c.p)
		if ce := core.AsError(err); err == nil || ce.Param != c.param {
			t.Errorf("%+v: error %v, want one naming %s", c.p, err, c.param)
		}
	}
	if err := e.svc.SetSettlementTerms(ctx, e.merchant.ID, 2, "Mars/Olympus"); core.AsError(err).Param != "time_zone" {
		t.Errorf("unknown zone: %v", err)
	}
	if n := e.count("fee_schedules") + e.count("merchant_ops_events") + e.count("merchant_settlement_terms"); n != 0 {
		t.Errorf("bad input wrote %d rows", n)
	}
}
