package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
	waitfor "github.com/paycenter/paycenter/internal/eventually"
)

// oldEvents inserts n events of merchant (IDs prefix1 … prefixN), created at and before at,
// fanned out or not.
func (e *phaseEnv) oldEvents(merchant, prefix string, n int, at time.Time, delivered bool) {
	e.t.Helper()
	var deliveredAt any
	if delivered {
		deliveredAt = at.Add(time.Second)
	}
	if _, err := e.db.Pool.Exec(context.Background(), `INSERT INTO outbox_events (id, merchant_id, region, type, object_id, payload, created_at, attempts, next_attempt_at, delivered_at)
		SELECT $2 || i, $1, 'us-east', 'payment.succeeded', 'pay_us-east_x' || i, '{}', $3::TIMESTAMPTZ - i * INTERVAL '1 second', 1, $3::TIMESTAMPTZ, $4::TIMESTAMPTZ
		FROM generate_series(1, $5) i`, merchant, prefix, at, deliveredAt, n); err != nil {
		e.t.Fatal(err)
	}
}

func (e *phaseEnv) delivery(eventID, status string, attempts int) {
	e.t.Helper()
	ctx := context.Background()
	now := e.clock.Now()
	if _, err := e.db.Pool.Exec(ctx, `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, merchant_id, region, status, attempts, max_attempts, next_attempt_at, created_at, updated_at)
		VALUES ($1 || ':we_1', $1, 'we_1', $2, 'us-east', $3, $4, 10, $5, $5, $5)`, eventID, e.merchant.ID, status, attempts, now); err != nil {
		e.t.Fatal(err)
	}
	for i := 1; i <= attempts; i++ {
		if _, err := e.db.Pool.Exec(ctx, `INSERT INTO webhook_delivery_attempts (delivery_id, attempt, event_id, endpoint_id, merchant_id, region, status, attempted_at, duration_ms, node_id)
			VALUES ($1 || ':we_1', $2, $1, 'we_1', $3, 'us-east', 'failed', $4, 5, 'n1')`, eventID, i, e.merchant.ID, now); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *phaseEnv) countWhere(sql string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// The event reaper deletes the events older than the retention (30 days) once fanned out,
// in batches, with their deliveries and attempts; it keeps newer ones, events not fanned
// out yet and events with a delivery still pending, and the events API no longer finds
// what it deleted.
func TestEventReaperDeletesEventsPastTheRetention(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	other, err := e.svc.CreateMerchant(ctx, "Other", "us-east")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.createPayment("k-1", "r-1", core.CaptureAutomatic)
	e.object(rep, err, string(core.StatusSucceeded))
	if _, err := e.db.Pool.Exec(ctx, `UPDATE outbox_events SET delivered_at = created_at`); err != nil { // fanned out
		t.Fatal(err)
	}
	recent := e.count("outbox_events")
	now := e.clock.Now()
	old := now.Add(-core.EventRetention - time.Hour)
	e.oldEvents(e.merchant.ID, "evt_us-east_old", 2500, old, true) // more than two batches
	e.oldEvents(other.ID, "evt_us-east_other", 30, old, true)
	e.oldEvents(e.merchant.ID, "evt_us-east_unfanned", 2, old, false)
	e.oldEvents(e.merchant.ID, "evt_us-east_young", 5, now.Add(-core.EventRetention+time.Hour), true)
	e.delivery("evt_us-east_old1", "succeeded", 2)
	e.delivery("evt_us-east_old2", "failed", 10)
	e.delivery("evt_us-east_old3", "pending", 1) // a redelivery still running
	if ev, err := e.svc.Event(ctx, e.merchant.ID, "evt_us-east_old1"); err != nil || ev.ID != "evt_us-east_old1" {
		t.Fatalf("old event before the reaper: %v %v", ev, err)
	}

	n, err := e.svc.ReapEvents(ctx)
	if err != nil || n != 2500-1+30 {
		t.Fatalf("reaped %d events (err %v), want %d", n, err, 2500-1+30)
	}
	if got := e.count("outbox_events"); got != recent+2+5+1 {
		t.Fatalf("%d events left, want %d (recent, not fanned out, younger than the retention, delivery pending)", got, recent+2+5+1)
	}
	if got := e.countWhere(`SELECT count(*) FROM outbox_events WHERE id = 'evt_us-east_old3'`); got != 1 {
		t.Fatal("the event with a pending delivery was reaped")
	}
	if got := e.countWhere(`SELECT count(*) FROM webhook_deliveries`); got != 1 {
		t.Fatalf("%d deliveries left, want the pending one", got)
	}
	if got := e.countWhere(`SELECT count(*) FROM webhook_delivery_attempts WHERE event_id <> 'evt_us-east_old3'`); got != 0 {
		t.Fatalf("%d attempts of reaped events left", got)
	}
	if _, err := e.svc.Event(ctx, e.merchant.ID, "evt_us-east_old1"); err == nil {
		t.Fatal("the events API still finds a reaped event")
	} else if ce := (*core.Error)(nil); !errors.As(err, &ce) || ce.Code != core.CodeNotFound {
		t.Fatalf("reaped event: %v, want 404", err)
	}
	if n, err := e.svc.ReapEvents(ctx); err != nil || n != 0 {
		t.Fatalf("second run reaped %d (err %v), want 0", n, err)
	}
	// Past its retention, the payment's own events go too; the payment stays.
	e.clock.Advance(core.EventRetention + time.Hour)
	if n, err := e.svc.ReapEvents(ctx); err != nil || n != int64(recent+5) {
		t.Fatalf("reaped %d (err %v), want the payment's %d and the 5 younger ones", n, err, recent)
	}
	if e.count("payments") != 1 {
		t.Fatal("reaping events touched payments")
	}
}

// The reaper runs as a worker of every node under one lease (risk_jobs' event_reaper row,
// taken by the node whose worker runs first and renewed by it).
func TestEventReaperWorkerReapsUnderALease(t *testing.T) {
	e := newPhaseEnv(t)
	e.oldEvents(e.merchant.ID, "evt_us-east_old", 1500, e.clock.Now().Add(-core.EventRetention-time.Minute), true)
	for _, s := range e.moreNodes(1) {
		w := postgres.NewEventReaper(s, 20*time.Millisecond)
		w.Start(context.Background())
		defer w.Stop()
	}
	waitfor.True(t, waitfor.Patience, "old events reaped by the worker", func() bool { return e.count("outbox_events") == 0 })
	if n := e.countWhere(`SELECT count(*) FROM risk_jobs WHERE name = 'event_reaper' AND holder LIKE 'reaper\_%' AND locked_until > $1`, e.clock.Now()); n != 1 {
		t.Fatalf("%d event_reaper leases held, want 1", n)
	}
}
