package main

import (
	"context"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/core/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestSeedHistory loads a small history in two steps into a migrated database and checks
// that it is what the platform would have written: the ledger check passes, the service
// reads the payments and events, the counters agree with the payments, and the indexes
// are back.
func TestSeedHistory(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db, err := postgres.Open(ctx, url, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, err := postgres.NewService(db, nil, postgres.Config{Region: "us-east", SecretKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RegisterRegion(ctx); err != nil {
		t.Fatal(err)
	}
	var ms []seedMerchant
	for _, name := range []string{"seed-a", "seed-b", "seed-c"} {
		m, err := svc.CreateMerchant(ctx, name, "us-east")
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, seedMerchant{ID: m.ID, Region: "us-east"})
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	count := func(sql string, args ...any) int64 {
		t.Helper()
		var n int64
		if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	indexesBefore := count(`SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'`)
	now := time.Now()
	for _, step := range [][2]int{{0, 1500}, {1500, 4000}} {
		plan := seedPlan{From: step[0], To: step[1], Seed: 7, Merchants: ms, Now: now}
		res, err := seedHistoryInto(ctx, url, plan, 2, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows["payments"] != int64(step[1]-step[0]) {
			t.Fatalf("step %v: %d payments loaded", step, res.Rows["payments"])
		}
	}
	if n := count(`SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'`); n != indexesBefore {
		t.Fatalf("%d indexes after the seed, %d before", n, indexesBefore)
	}
	if n := count(`SELECT count(*) FROM payments`); n != 4000 {
		t.Fatalf("%d payments", n)
	}
	r, err := svc.CheckLedger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Balanced || r.Entries < 8000 {
		t.Fatalf("ledger check: %+v", r)
	}
	// Every status and channel is there, spread over the 90 days.
	if n := count(`SELECT count(DISTINCT status) FROM payments`); n < 4 {
		t.Fatalf("%d statuses", n)
	}
	if n := count(`SELECT count(DISTINCT channel) FROM payments`); n != 5 {
		t.Fatalf("%d channels", n)
	}
	if n := count(`SELECT count(*) FROM payments WHERE created_at < $1`, now.Add(-80*24*time.Hour)); n < 200 {
		t.Fatalf("%d payments older than 80 days", n)
	}
	refunds := count(`SELECT count(*) FROM refunds`)
	if refunds < 40 || refunds > 250 {
		t.Fatalf("%d refunds of 4000 payments", refunds)
	}
	// One key per create, capture, cancel and refund; most expired (older than 24 h).
	keys := count(`SELECT count(*) FROM idempotency_keys`)
	if keys < 4000+refunds {
		t.Fatalf("%d idempotency keys", keys)
	}
	if old := count(`SELECT count(*) FROM idempotency_keys WHERE created_at < $1`, now.Add(-24*time.Hour)); old*10 < keys*9 {
		t.Fatalf("%d of %d keys older than 24 h", old, keys)
	}
	if n := count(`SELECT count(*) FROM outbox_events WHERE delivered_at IS NULL`); n != 0 {
		t.Fatalf("%d undelivered events", n)
	}
	if n := count(`SELECT count(*) FROM outbox_events WHERE type = 'refund.succeeded'`); n != refunds {
		t.Fatalf("%d refund events, %d refunds", n, refunds)
	}
	// The KYC counter holds the payments neither failed nor canceled.
	if n := count(`SELECT (SELECT sum(amount) FROM merchant_volume) - (SELECT sum(amount) FROM payments WHERE status NOT IN ('failed', 'canceled'))`); n != 0 {
		t.Fatalf("merchant_volume is off by %d", n)
	}
	if n := count(`SELECT count(*) FROM console_rollup_days`); n != 3*35 {
		t.Fatalf("%d rolled-up days", n)
	}
	if n := count(`SELECT (SELECT sum(payments) FROM console_daily_stats) - (SELECT count(*) FROM payments WHERE created_at >= $1 AND created_at < $2)`,
		now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -35), now.UTC().Truncate(24*time.Hour)); n != 0 {
		t.Fatalf("the rollups are off by %d payments", n)
	}
	// The IDs have the real format, and the service reads the rows.
	idRE := regexp.MustCompile(`^pay_us-east_[0-9a-hjkmnp-tv-z]{24}$`)
	var id, merchant string
	if err := conn.QueryRow(ctx, `SELECT id, merchant_id FROM payments WHERE status = 'succeeded' ORDER BY created_at LIMIT 1`).Scan(&id, &merchant); err != nil {
		t.Fatal(err)
	}
	if !idRE.MatchString(id) || core.RegionOfID(id) != "us-east" {
		t.Fatalf("payment ID %q", id)
	}
	p, err := svc.Payment(ctx, merchant, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != core.StatusSucceeded || p.AmountCaptured != p.Amount || p.PaymentMethod == nil || p.Terms == nil {
		t.Fatalf("payment %+v", p)
	}
	page, err := svc.Payments(ctx, merchant, core.PaymentFilter{Limit: 10})
	if err != nil || len(page.Data) != 10 || !page.HasMore {
		t.Fatalf("payments page: %v %+v", err, page)
	}
	next, err := svc.Payments(ctx, merchant, core.PaymentFilter{Limit: 10, StartingAfter: page.Data[9].ID})
	if err != nil || len(next.Data) != 10 || next.Data[0].CreatedAt.After(page.Data[9].CreatedAt) || next.Data[0].ID == page.Data[9].ID {
		t.Fatalf("second payments page: %v", err)
	}
	evs, err := svc.ListEvents(ctx, merchant, core.EventFilter{Limit: 5})
	if err != nil || len(evs.Data) != 5 {
		t.Fatalf("events: %v %+v", err, evs)
	}
	for _, e := range evs.Data {
		if e.Data.Object == nil || !regexp.MustCompile(`^evt_us-east_`).MatchString(e.ID) {
			t.Fatalf("event %+v", e)
		}
	}
}

// The hot statements explain on the seeded history, each through an index.
func TestExplainHot(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db, err := postgres.Open(ctx, url, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, err := postgres.NewService(db, nil, postgres.Config{Region: "us-east", SecretKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RegisterRegion(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := svc.CreateMerchant(ctx, "explain", "us-east")
	if err != nil {
		t.Fatal(err)
	}
	plan := seedPlan{From: 0, To: 3000, Seed: 3, Merchants: []seedMerchant{{ID: m.ID, Region: "us-east"}}, Now: time.Now()}
	if _, err := seedHistoryInto(ctx, url, plan, 2, io.Discard); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := explainHot(ctx, url, &b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, st := range hotStatements {
		i := strings.Index(out, "--- "+st.name+"\n")
		if i < 0 {
			t.Fatalf("no plan of %q in\n%s", st.name, out)
		}
	}
	if strings.Count(out, "Index") < len(hotStatements)/2 || strings.Contains(out, "Seq Scan on payments") {
		t.Fatalf("plans:\n%s", out)
	}
	if n, err := svc.CheckLedger(ctx); err != nil || !n.Balanced {
		t.Fatalf("ledger after explain: %+v %v", n, err)
	}
}

func TestParseSeedSteps(t *testing.T) {
	for in, want := range map[string][]int{"": {0}, "0,1000000,3_000_000": {0, 1000000, 3000000}, "5": {5}} {
		got, err := parseSeedSteps(in)
		if err != nil || len(got) != len(want) {
			t.Fatalf("%q: %v %v", in, got, err)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%q: %v", in, got)
			}
		}
	}
	for _, in := range []string{"1,1", "3,2", "x", "-1"} {
		if _, err := parseSeedSteps(in); err == nil {
			t.Fatalf("%q: no error", in)
		}
	}
}
