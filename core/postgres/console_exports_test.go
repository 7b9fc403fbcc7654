package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
)

// The balance-transaction and settlement exports page through more rows than one statement
// reads (1,000), ties of created_at included, and give every row of the range once, newest
// first.
func TestConsoleExportsPageThroughEveryRow(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	mid := e.merchant.ID
	base := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	// 2,500 adjustments' journals, two a second (so pages end on ties), and 2,100 settlement
	// days.
	_, err := e.db.Pool.Exec(ctx, `INSERT INTO ledger_entries (id, journal_id, merchant_id, region, account, currency, amount, kind,
			created_at, available_on, source_id)
		SELECT 'jnl_seed' || g || '.' || k, 'jnl_seed' || g, $1, 'us-east', CASE k WHEN 0 THEN 'merchant_available' ELSE 'platform_float' END,
			'USD', CASE k WHEN 0 THEN -g ELSE g END, 'adjustment', $2::TIMESTAMPTZ + (g / 2) * interval '1 second',
			$2::TIMESTAMPTZ + (g / 2) * interval '1 second', 'adj_seed' || g
		FROM generate_series(1, 2500) AS g, generate_series(0, 1) AS k`, mid, base)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.db.Pool.Exec(ctx, `INSERT INTO settlements (id, merchant_id, region, day, day_start, day_end, currency, count,
			gross, refunds, fees, net, status, created_at)
		SELECT 'stl_seed' || g, $1, 'us-east', DATE '2020-01-01' + g, TIMESTAMPTZ '2020-01-01 00:00Z' + g * interval '1 day',
			TIMESTAMPTZ '2020-01-02 00:00Z' + g * interval '1 day', 'USD', 1, g, 0, 0, g, 'closed', now()
		FROM generate_series(1, 2100) AS g`, mid)
	if err != nil {
		t.Fatal(err)
	}

	from, to := base.Add(100*time.Second), base.Add(1200*time.Second) // journals 200 … 2399
	var got []*core.BalanceTransaction
	err = e.svc.ExportBalanceTransactions(ctx, mid, core.ExportFilter{CreatedGTE: &from, CreatedLT: &to}, func(bt *core.BalanceTransaction) error {
		got = append(got, bt)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, bt := range got {
		if seen[bt.ID] || bt.CreatedAt.Before(from) || !bt.CreatedAt.Before(to) || (i > 0 && bt.CreatedAt.After(got[i-1].CreatedAt)) {
			t.Fatalf("row %d %s at %s: repeated, out of range or out of order", i, bt.ID, bt.CreatedAt)
		}
		seen[bt.ID] = true
	}
	if len(got) != 2200 {
		t.Fatalf("balance transactions exported: %d, want 2200", len(got))
	}

	var days []string
	err = e.svc.ExportSettlements(ctx, mid, core.ExportFilter{}, func(st *core.Settlement) error {
		days = append(days, st.Date)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 2100 || days[0] != "2025-10-01" || days[len(days)-1] != "2020-01-02" {
		t.Fatalf("settlements exported: %d, from %v to %v; want 2100 from 2025-10-01 to 2020-01-02", len(days), days[0], days[len(days)-1])
	}
	dayFrom, dayTo := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2021, 2, 1, 0, 0, 0, 0, time.UTC)
	days = nil
	err = e.svc.ExportSettlements(ctx, mid, core.ExportFilter{CreatedGTE: &dayFrom, CreatedLT: &dayTo}, func(st *core.Settlement) error {
		days = append(days, st.Date)
		return nil
	})
	if err != nil || len(days) != 31 || days[0] != "2021-01-31" || days[30] != "2021-01-01" {
		t.Fatalf("January 2021's settlements: %d (%v), %v", len(days), days, err)
	}
}
