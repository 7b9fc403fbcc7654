package postgres_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
)

// The overview gives the same figures before the rollup worker has run (everything live)
// and after (closed days from the rollups, today live); a closed day that changes late is
// picked up at its next refresh while it may still settle, and not recomputed after.
func TestConsoleRollupsKeepTheOverviewsFigures(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	mid := e.merchant.ID
	cfg := postgres.RollupConfig{Refresh: time.Hour, Settle: 72 * time.Hour}
	// Day 1 (2026-03-01): two payments of 1000 and a refund of 400.
	var ids []string
	for _, ref := range []string{"r-1", "r-2"} {
		rep, err := e.createPayment(ref, ref, core.CaptureAutomatic)
		ids = append(ids, e.object(rep, err, string(core.StatusSucceeded)))
	}
	amt := int64(400)
	rep, err := e.svc.CreateRefund(ctx, e.req("r-ref", "/v1/refunds"), core.CreateRefundParams{Payment: ids[0], Amount: &amt})
	e.object(rep, err, string(core.RefundSucceeded))
	overview := func() *core.Overview {
		t.Helper()
		ov, err := e.svc.ConsoleOverview(ctx, mid, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return ov
	}
	want := []core.PaymentStats{{Currency: "USD", Channel: core.ChannelCard, Region: "us-east", Count: 2, Succeeded: 2, Volume: 2000, RefundCount: 1, RefundVolume: 400}}
	if ov := overview(); !reflect.DeepEqual(ov.Today, want) || !reflect.DeepEqual(ov.Last30, want) {
		t.Fatalf("day 1: today %+v, 30 days %+v, want %+v", ov.Today, ov.Last30, want)
	}
	// Day 2: one more payment.
	e.clock.Advance(24 * time.Hour)
	rep, err = e.createPayment("r-3", "r-3", core.CaptureAutomatic)
	e.object(rep, err, string(core.StatusSucceeded))
	live := overview()
	want30 := []core.PaymentStats{{Currency: "USD", Channel: core.ChannelCard, Region: "us-east", Count: 3, Succeeded: 3, Volume: 3000, RefundCount: 1, RefundVolume: 400}}
	if !reflect.DeepEqual(live.Last30, want30) || live.Today[0].Count != 1 {
		t.Fatalf("day 2 before rollups: 30 days %+v, today %+v", live.Last30, live.Today)
	}
	st, err := e.svc.RollUpConsoleStats(ctx, cfg)
	if err != nil || st.Merchants != 1 || st.Days != 35 {
		t.Fatalf("first run: %+v, %v; want 1 merchant, 35 days", st, err)
	}
	rolled := overview()
	if !reflect.DeepEqual(rolled, live) {
		t.Fatalf("overview from rollups\n%+v\nlive\n%+v", rolled, live)
	}
	if st, err := e.svc.RollUpConsoleStats(ctx, cfg); err != nil || st.Days != 0 {
		t.Fatalf("second run at once: %+v, %v; want nothing to do", st, err)
	}
	// Day 1 changes late (a payment found failed afterwards): the rollup still says what it
	// computed (so the overview reads it), until the day's next refresh.
	if _, err := e.db.Pool.Exec(ctx, `UPDATE payments SET status = 'failed' WHERE id = $1`, ids[1]); err != nil {
		t.Fatal(err)
	}
	if ov := overview(); ov.Last30[0].Succeeded != 3 {
		t.Fatalf("overview read day 1 live, not from its rollup: %+v", ov.Last30)
	}
	e.clock.Advance(cfg.Refresh + time.Minute)
	// Recomputed: day 1 and the two days before it, which are still in their settling time.
	if st, err := e.svc.RollUpConsoleStats(ctx, cfg); err != nil || st.Days != 3 {
		t.Fatalf("refresh run: %+v, %v; want 3 settling days recomputed", st, err)
	}
	if ov := overview(); ov.Last30[0].Succeeded != 2 || ov.Last30[0].Volume != 2000 || ov.Last30[0].Count != 3 {
		t.Fatalf("after the refresh: %+v, want 3 payments, 2 succeeded, 2000", ov.Last30)
	}
	// A day is computed a last time once its settling time is over, and then left alone.
	day1 := func() time.Time {
		t.Helper()
		var at time.Time
		if err := e.db.Pool.QueryRow(ctx, `SELECT computed_at FROM console_rollup_days WHERE merchant_id = $1 AND day = '2026-03-01'`, mid).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	e.clock.Advance(4 * 24 * time.Hour)
	if _, err := e.svc.RollUpConsoleStats(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	final := day1()
	if !final.Equal(e.clock.Now()) {
		t.Fatalf("day 1 last computed at %v, want its final computation at %v", final, e.clock.Now())
	}
	e.clock.Advance(2 * cfg.Refresh)
	if _, err := e.svc.RollUpConsoleStats(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if at := day1(); !at.Equal(final) {
		t.Fatalf("settled day 1 computed again at %v", at)
	}
}
