package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
)

// seedPayments writes n payments of one merchant straight into the database, spread over
// the last 180 days (a 30-day window holds a sixth of them), 90 % succeeded, on two
// channels. It is the "1,000,000 payments" history of the back office's benchmark.
func seedPayments(ctx context.Context, node *paydtest.Node, merchant string, n int) error {
	_, err := node.DB.Pool.Exec(ctx, `INSERT INTO payments (id, merchant_id, region, status, amount, amount_capturable,
			amount_captured, amount_refunded, currency, channel, capture_method, merchant_reference, description, metadata,
			created_at, updated_at)
		SELECT 'pay_us-east_seed' || g, $1, 'us-east', CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'succeeded' END,
			1000 + g % 5000, 0, CASE WHEN g % 10 = 0 THEN 0 ELSE 1000 + g % 5000 END, 0, 'USD',
			CASE WHEN g % 3 = 0 THEN 'alipay' ELSE 'card' END, 'automatic', 'seed-' || g, '', '{}',
			now() - (g * (180 * 86400.0 / $2)) * interval '1 second', now() - (g * (180 * 86400.0 / $2)) * interval '1 second'
		FROM generate_series(1, $2) AS g`, merchant, n)
	if err != nil {
		return err
	}
	_, err = node.DB.Pool.Exec(ctx, `VACUUM ANALYZE payments`)
	return err
}

// BenchmarkConsolePages measures the back office's overview (before the rollup worker's
// first run and after it) and payments pages (first page,
// a filtered page, and a page deep in the keyset) with PAY_BENCH_PAYMENTS payments (default
// 1,000,000) of one merchant in the database, as server time seen by an HTTP client on
// loopback: p50 and p99 per page.
//
//	go test -run '^$' -bench ConsolePages -benchtime 1x ./cmd/payd/
func BenchmarkConsolePages(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("PAY_BENCH_PAYMENTS"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	node := paydtest.Start(b)
	ctx := context.Background()
	c := &consoleNode{t: b, node: node}
	merchant, key := c.merchant("Big Shop")
	start := time.Now()
	if err := seedPayments(ctx, node, merchant, n); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d payments in %s", n, time.Since(start).Round(time.Millisecond))
	c.user(key, "/v1/console_users", "owner@big.test", core.RoleOwner, "")
	br := c.browser()
	if st := br.login("owner@big.test", consolePassword); st != http.StatusSeeOther {
		b.Fatalf("login: %d", st)
	}
	mid := "pay_us-east_seed" + strconv.Itoa(n/2)
	pages := []struct{ name, path string }{
		{"overview", "/dashboard/"},
		{"payments", "/dashboard/payments"},
		{"payments_failed_filter", "/dashboard/payments?status=failed"},
		{"payments_deep_keyset", "/dashboard/payments?after=" + url.QueryEscape(mid)},
		{"payments_channel_amount_filter", "/dashboard/payments?channel=alipay&amount_min=5900"},
		{"payments_customer_filter", "/dashboard/payments?customer=payer%40example.com"},
	}
	const rounds = 50
	measure := func(name, path string) {
		var ds []time.Duration
		for range rounds {
			t0 := time.Now()
			res, err := br.hc.Get(node.URL + path)
			if err != nil {
				b.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Fatalf("%s: %d", path, res.StatusCode)
			}
			ds = append(ds, time.Since(t0))
		}
		slices.Sort(ds)
		p50, p99 := ds[len(ds)/2], ds[len(ds)*99/100]
		b.ReportMetric(float64(p50.Microseconds())/1000, name+"_p50_ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, name+"_p99_ms")
		fmt.Fprintf(os.Stderr, "%s with %d payments: p50 %.1f ms, p99 %.1f ms (%d requests)\n", name, n,
			float64(p50.Microseconds())/1000, float64(p99.Microseconds())/1000, rounds)
	}
	// The overview before the rollup worker's first run reads every day live (the fallback),
	// then from the rollups and today live.
	measure("overview_before_rollups", "/dashboard/")
	start = time.Now()
	st, err := node.Service.RollUpConsoleStats(ctx, postgres.RollupConfig{})
	if err != nil {
		b.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "rollup run: %d merchant-days in %s\n", st.Days, time.Since(start).Round(time.Millisecond))
	b.ResetTimer()
	for range b.N {
		for _, p := range pages {
			measure(p.name, p.path)
		}
	}
}
