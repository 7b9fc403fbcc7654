package postgres_test

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
)

// The settlement of day T, closed by several nodes at once, is made once and sums exactly to
// its lines (the day's balance transactions).
func TestSettlementOfADaySumsToItsLinesAndIsClosedOnce(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	if _, err := e.svc.SetFeeSchedule(ctx, e.merchant.ID, core.FeeScheduleParams{FeeSchedule: core.FeeSchedule{PercentBps: 250, Fixed: 5, RefundFees: true}}); err != nil {
		t.Fatal(err)
	}
	// Day T is 2026-03-01 (UTC): three payments of 1000 and a refund of 400.
	var ids []string
	for i := range 3 {
		rep, err := e.createPayment(fmt.Sprintf("st-%d", i), fmt.Sprintf("st-%d", i), core.CaptureAutomatic)
		ids = append(ids, e.object(rep, err, string(core.StatusSucceeded)))
	}
	amt := int64(400)
	rep, err := e.svc.CreateRefund(ctx, e.req("st-ref", "/v1/refunds"), core.CreateRefundParams{Payment: ids[0], Amount: &amt})
	e.object(rep, err, string(core.RefundSucceeded))
	// Not closed while the day runs.
	if n, err := e.svc.CloseSettlements(ctx); err != nil || n != 0 {
		t.Fatalf("closing during day T: %d, %v", n, err)
	}
	e.clock.Advance(12 * time.Hour) // 2026-03-02 00:00 UTC: day T is over
	// Day T+1's payment is not in day T's settlement.
	rep, err = e.createPayment("st-next", "st-next", core.CaptureAutomatic)
	e.object(rep, err, string(core.StatusSucceeded))

	var closed atomic.Int64
	var wg sync.WaitGroup
	for _, node := range e.moreNodes(2) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := node.CloseSettlements(ctx)
			if err != nil {
				t.Error(err)
			}
			closed.Add(int64(n))
		}()
	}
	wg.Wait()
	if closed.Load() != 1 {
		t.Fatalf("%d settlements closed by three nodes, want 1", closed.Load())
	}
	list, err := e.svc.Settlements(ctx, e.merchant.ID, 0)
	if err != nil || len(list.Data) != 1 {
		t.Fatalf("settlements %+v, %v", list, err)
	}
	st, lines, err := e.svc.Settlement(ctx, e.merchant.ID, list.Data[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	// Fees: 2.5% of 1000 = 25, + 5 = 30 each; the 400 refund returns 12 (30 × 0.4).
	want := core.Settlement{Object: "settlement", ID: st.ID, Merchant: e.merchant.ID, Date: "2026-03-01", Currency: "USD",
		Count: 4, Gross: 3000, Refunds: 400, Fees: 90 - 12, Net: 3000 - 90 - 400 + 12, Status: core.SettlementClosed, CreatedAt: st.CreatedAt,
		Reconciliation: core.SettlementUnchecked, ReconciliationDetail: []string{}}
	if !reflect.DeepEqual(*st, want) {
		t.Fatalf("settlement\n got %+v\nwant %+v", *st, want)
	}
	var sum core.Settlement
	sum.Summarize(lines)
	var net int64
	for _, l := range lines {
		net += l.Net
		if l.CreatedAt.Before(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) || !l.CreatedAt.Before(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("line %s of %v is not on day T", l.ID, l.CreatedAt)
		}
	}
	if len(lines) != 4 || net != st.Net || sum.Gross != st.Gross || sum.Refunds != st.Refunds || sum.Fees != st.Fees {
		t.Fatalf("%d lines summing to net %d (%+v); settlement %+v", len(lines), net, sum, st)
	}
	// The test clock stands still, so the lines share one created_at: find a payment's.
	for _, l := range lines {
		if l.Type != core.TxnPayment {
			continue
		}
		if row := core.SettlementCSVRow(l); row[6] != "1000" || row[9] != "10.00" || row[7] != "30" || row[10] != "0.30" || row[8] != "970" {
			t.Errorf("CSV row %v", row)
		}
	}
	e.requireBalancedLedger()
}

// Reconciling a channel's statement flags the settlement days it disagrees with (mismatch,
// with the movement in the detail, listed for operators) and marks the others matched; a
// repeat adds nothing twice.
func TestReconciliationFlagsSettlementDaysThatDisagree(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	other, err := e.svc.CreateMerchant(ctx, "Other", "us-east")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 2 {
		rep, err := e.createPayment(fmt.Sprintf("rc-%d", i), fmt.Sprintf("rc-%d", i), core.CaptureAutomatic)
		ids = append(ids, e.object(rep, err, string(core.StatusSucceeded)))
	}
	if _, err := e.svc.CreateAdjustment(ctx, core.AdjustmentParams{Merchant: other.ID, Amount: 500, Currency: "USD", Reason: "float"}); err != nil {
		t.Fatal(err)
	}
	day := e.clock.Now()
	e.clock.Advance(12 * time.Hour)
	if n, err := e.svc.CloseSettlements(ctx); err != nil || n != 2 {
		t.Fatalf("closed %d, %v; want 2", n, err)
	}
	statement := []core.StatementLine{{Kind: "charge", PaymentID: ids[0], Amount: 1000, Currency: "USD"},
		{Kind: "charge", PaymentID: ids[1], Amount: 1000, Currency: "USD"}}
	state := func(merchantID string) *core.Settlement {
		t.Helper()
		l, err := e.svc.Settlements(ctx, merchantID, 0)
		if err != nil || len(l.Data) != 1 {
			t.Fatalf("settlements of %s: %+v, %v", merchantID, l, err)
		}
		return l.Data[0]
	}
	if state(e.merchant.ID).Reconciliation != core.SettlementUnchecked {
		t.Fatalf("a settlement never reconciled is %s", state(e.merchant.ID).Reconciliation)
	}
	if rep, err := e.svc.Reconcile(ctx, core.ChannelCard, day, statement); err != nil || !rep.Balanced {
		t.Fatalf("clean reconciliation: %+v, %v", rep, err)
	}
	if a, b := state(e.merchant.ID), state(other.ID); a.Reconciliation != core.SettlementMatched || b.Reconciliation != core.SettlementMatched {
		t.Fatalf("after a clean statement: %s and %s, want matched", a.Reconciliation, b.Reconciliation)
	}
	statement[1].Amount = 900 // the channel says otherwise
	for range 2 {
		if rep, err := e.svc.Reconcile(ctx, core.ChannelCard, day, statement); err != nil || rep.Balanced {
			t.Fatalf("tampered reconciliation: %+v, %v", rep, err)
		}
	}
	a := state(e.merchant.ID)
	if a.Reconciliation != core.SettlementMismatch || len(a.ReconciliationDetail) != 1 {
		t.Fatalf("disagreeing day: %s %v, want mismatch with one line", a.Reconciliation, a.ReconciliationDetail)
	}
	if b := state(other.ID); b.Reconciliation != core.SettlementMatched {
		t.Errorf("a merchant the statement does not concern became %s", b.Reconciliation)
	}
	flagged, err := e.svc.ReviewSettlements(ctx, core.SettlementFilter{Reconciliation: core.SettlementMismatch})
	if err != nil || len(flagged.Data) != 1 || flagged.Data[0].ID != a.ID {
		t.Fatalf("flagged settlements %+v, %v; want %s", flagged, err, a.ID)
	}
}
