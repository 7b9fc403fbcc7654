package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
)

// The back office's payments list, with its filters, is served by an index on a large
// history: 120,000 payments of six merchants (20,000 each), a customer having a few of
// them. EXPLAIN shows the index each filter's query reads; no filter reads the whole table or sorts
// all of a merchant's payments.
func TestConsolePaymentFiltersUseIndexes(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	mid := e.merchant.ID
	ids := []string{mid}
	for range 5 {
		other, err := e.svc.CreateMerchant(ctx, "Other", "us-east")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, other.ID)
	}
	_, err := e.db.Pool.Exec(ctx, `INSERT INTO payments (id, merchant_id, region, status, amount, amount_capturable,
			amount_captured, amount_refunded, currency, channel, capture_method, merchant_reference, description, metadata,
			customer, created_at, updated_at)
		SELECT 'pay_us-east_seed' || g, ($1::TEXT[])[1 + g % 6], 'us-east', 'succeeded',
			1000 + g % 5000, 0, 1000 + g % 5000, 0, 'USD', CASE WHEN g % 3 = 0 THEN 'alipay' ELSE 'card' END, 'automatic',
			'seed-' || g, '', '{}',
			CASE WHEN g % 60 = 0 THEN jsonb_build_object('id', 'cus_' || (g % 7), 'email', 'payer' || (g % 7) || '@example.com') END,
			now() - g * interval '1 minute', now() - g * interval '1 minute'
		FROM generate_series(1, 120000) AS g`, ids)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Pool.Exec(ctx, `VACUUM ANALYZE payments`); err != nil {
		t.Fatal(err)
	}
	n := func(v int64) *int64 { return &v }
	// The merchant-wide filters read an index in created_at order and stop at the page's
	// end (the planner picks the merchant's index or the global one by their statistics).
	ordered := []string{"payments_merchant_created", "payments_created", "payments_merchant_status"}
	after := time.Now().Add(-time.Hour)
	for _, tc := range []struct {
		name  string
		f     core.PaymentFilter
		after *time.Time
		index []string // any of these
	}{
		{"no filter", core.PaymentFilter{}, nil, ordered},
		{"channel", core.PaymentFilter{Channel: core.ChannelAlipay}, nil, ordered},
		{"amount range, next page", core.PaymentFilter{AmountGTE: n(2000), AmountLTE: n(3000), StartingAfter: "pay_x"}, &after, ordered},
		{"customer ID", core.PaymentFilter{Customer: "cus_3"}, nil, []string{"payments_risk_customer"}},
		{"customer e-mail, channel", core.PaymentFilter{Customer: "payer3@example.com", Channel: core.ChannelCard}, nil, []string{"payments_risk_email"}},
		{"status and amount", core.PaymentFilter{Status: core.StatusSucceeded, AmountGTE: n(4000)}, nil, ordered},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sql, args := postgres.PaymentsSQL(mid, tc.f, tc.after, 26)
			rows, err := e.db.Pool.Query(ctx, "EXPLAIN "+sql, args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, line)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			text := strings.Join(plan, "\n")
			used := false
			for _, ix := range tc.index {
				used = used || strings.Contains(text, " "+ix+" ")
			}
			fullSort := strings.Contains(text, "->  Sort") || strings.HasPrefix(text, "Sort")
			if strings.Contains(text, "Seq Scan") || fullSort || !used {
				t.Fatalf("plan of %s does not read %v:\n%s", sql, tc.index, text)
			}
			t.Logf("%s:\n%s", tc.name, text)
		})
	}
}
