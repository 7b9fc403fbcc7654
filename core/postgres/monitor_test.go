package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/monitor"
	"github.com/paycenter/paycenter/core/postgres"
)

// monitorEnv is a database with a normal week of payments for two merchants on two
// channels, and the detectors of up to three nodes over it.
type monitorEnv struct {
	t   *testing.T
	db  *postgres.DB
	svc *postgres.Service
	seq int
}

func newMonitorEnv(t *testing.T) *monitorEnv {
	t.Helper()
	db := openDB(t)
	svc, err := postgres.NewService(db, newFakeChannel(), postgres.Config{Region: "us-east", SecretKey: bytes.Repeat([]byte("k"), 32),
		Lease: 30 * time.Second, ChannelTimeout: 5 * time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	e := &monitorEnv{t: t, db: db, svc: svc}
	e.exec(`INSERT INTO regions (name, created_at) VALUES ('us-east', now())`)
	for _, m := range []string{"mer_a", "mer_b"} {
		e.exec(`INSERT INTO merchants (id, region, name, status, created_at) VALUES ($1, 'us-east', $1, 'active', now() - interval '30 days')`, m)
	}
	// A normal week: in the same hour of each of the last 8 days, 60 payments per merchant
	// and channel, 93 % approved, the declines spread over codes; 5 % of payments refunded.
	for d := 0; d <= 7; d++ {
		day := time.Duration(d) * 24 * time.Hour
		for _, m := range []string{"mer_a", "mer_b"} {
			for _, ch := range []string{"card", "alipay"} {
				e.payments(m, ch, 56, "succeeded", "", day+55*time.Minute, day+6*time.Minute)
				e.payments(m, ch, 2, "failed", "card_declined", day+55*time.Minute, day+6*time.Minute)
				e.payments(m, ch, 2, "failed", "insufficient_funds", day+55*time.Minute, day+6*time.Minute)
				e.refunds(m, ch, 3, day+50*time.Minute)
			}
		}
	}
	// The last five minutes, as usual.
	for _, m := range []string{"mer_a", "mer_b"} {
		e.payments(m, "card", 28, "succeeded", "", 290*time.Second, 10*time.Second)
		e.payments(m, "card", 2, "failed", "card_declined", 290*time.Second, 10*time.Second)
	}
	// Webhooks as usual: an endpoint answering all but one of 40 attempts, and another whose
	// one event is being retried (3 failed attempts, below the minimum to judge).
	e.exec(`INSERT INTO webhook_delivery_attempts (delivery_id, attempt, event_id, endpoint_id, merchant_id, region, status,
			attempted_at, http_status, duration_ms, error, node_id)
		SELECT 'evt_ok' || i || ':we_us-east_ok', 1, 'evt_ok' || i, 'we_us-east_ok', 'mer_b', 'us-east',
			CASE WHEN i = 1 THEN 'failed' ELSE 'succeeded' END, now() - i * interval '10 seconds',
			CASE WHEN i = 1 THEN 500 ELSE 200 END, 20, NULL, 'us-east-1'
		FROM generate_series(1, 40) AS i
		UNION ALL
		SELECT 'evt_retry:we_us-east_flaky', i, 'evt_retry', 'we_us-east_flaky', 'mer_a', 'us-east', 'failed',
			now() - i * interval '1 minute', NULL, 15000, 'timeout', 'us-east-1'
		FROM generate_series(1, 3) AS i`)
	return e
}

func (e *monitorEnv) exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.db.Pool.Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

// payments inserts n payments created evenly between from and to ago.
func (e *monitorEnv) payments(merchant, channel string, n int, status, code string, from, to time.Duration) {
	e.t.Helper()
	e.seq++
	var fc any
	if code != "" {
		fc = code
	}
	e.exec(`INSERT INTO payments (id, merchant_id, region, status, amount, currency, channel, capture_method, merchant_reference,
			description, metadata, failure_code, created_at, updated_at)
		SELECT 'pay_us-east_' || $7 || '_' || i, $1, 'us-east', $2, 1000, 'EUR', $3, 'automatic', 'ref_' || $7 || '_' || i, '', '{}', $4,
			now() - ($5::FLOAT8 - ($5::FLOAT8 - $6::FLOAT8) * i / $8::FLOAT8) * interval '1 second',
			now() - ($5::FLOAT8 - ($5::FLOAT8 - $6::FLOAT8) * i / $8::FLOAT8) * interval '1 second'
		FROM generate_series(1, $8::INT8) AS i`,
		merchant, status, channel, fc, from.Seconds(), to.Seconds(), fmt.Sprint(e.seq), n)
}

// refunds refunds n of a merchant's succeeded payments on channel created before ago.
func (e *monitorEnv) refunds(merchant, channel string, n int, ago time.Duration) {
	e.t.Helper()
	e.seq++
	e.exec(`INSERT INTO refunds (id, merchant_id, region, payment_id, amount, currency, status, reason, created_at, updated_at)
		SELECT 're_us-east_' || $5 || '_' || p.id, p.merchant_id, 'us-east', p.id, 100, 'EUR', 'succeeded', '', now() - $3::FLOAT8 * interval '1 second', now()
		FROM payments p WHERE p.merchant_id = $1 AND p.channel = $2 AND p.status = 'succeeded'
			AND p.created_at < now() - $3::FLOAT8 * interval '1 second'
			AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.payment_id = p.id)
		ORDER BY p.created_at DESC LIMIT $4`, merchant, channel, ago.Seconds(), n, fmt.Sprint(e.seq))
}

func (e *monitorEnv) monitor(holder string) *postgres.Monitor {
	return postgres.NewMonitor(e.svc, postgres.MonitorConfig{Holder: holder, Interval: time.Minute})
}

func (e *monitorEnv) firing() []core.Alert {
	e.t.Helper()
	as, err := e.svc.Alerts(context.Background(), "firing", 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return as
}

// runAll runs every detector once on m.
func (e *monitorEnv) runAll(m *postgres.Monitor) {
	e.t.Helper()
	for _, d := range monitor.Detectors {
		e.exec(`UPDATE detector_leases SET last_run_at = NULL WHERE detector = $1`, d)
		if ran, err := m.RunDetector(context.Background(), d); err != nil || !ran {
			e.t.Fatalf("detector %s: ran %v, %v", d, ran, err)
		}
	}
}

func TestDetectorsQuietOnANormalDay(t *testing.T) {
	e := newMonitorEnv(t)
	e.runAll(e.monitor("node-1"))
	if as := e.firing(); len(as) != 0 {
		for _, a := range as {
			t.Errorf("fired on a normal day: %s %v: %s", a.Detector, a.Labels, a.Summary)
		}
	}
}

func TestDetectorsFireOnAbnormalData(t *testing.T) {
	for _, tc := range []struct {
		detector string
		labels   map[string]string
		severity string
		seed     func(e *monitorEnv)
	}{
		{monitor.DetectorSuccessRate, map[string]string{"channel": "card"}, "critical", func(e *monitorEnv) {
			e.payments("mer_a", "card", 80, "failed", "processing_error", 200*time.Second, 5*time.Second)
		}},
		{monitor.DetectorDeclineBurst, map[string]string{"merchant": "mer_b", "decline_code": "incorrect_cvc"}, "critical", func(e *monitorEnv) {
			e.payments("mer_b", "card", 40, "failed", "incorrect_cvc", 240*time.Second, 5*time.Second)
		}},
		{monitor.DetectorRefundRate, map[string]string{"merchant": "mer_a"}, "warning", func(e *monitorEnv) {
			e.refunds("mer_a", "card", 30, 5*time.Minute)
		}},
		{monitor.DetectorVolume, map[string]string{"channel": "alipay", "direction": "spike"}, "warning", func(e *monitorEnv) {
			e.payments("mer_a", "alipay", 500, "succeeded", "", 50*time.Minute, time.Minute)
		}},
		{monitor.DetectorStuck, map[string]string{"channel": "card", "status": "processing"}, "critical", func(e *monitorEnv) {
			e.payments("mer_a", "card", 3, "processing", "", 30*time.Minute, 20*time.Minute)
		}},
		{monitor.DetectorNotifyLag, map[string]string{"channel": "alipay"}, "warning", func(e *monitorEnv) {
			e.payments("mer_b", "alipay", 6, "succeeded", "", 20*time.Minute, 15*time.Minute)
			e.exec(`INSERT INTO channel_events (channel, event_id, region, payment_id, outcome, applied, received_at)
				SELECT 'alipay', 'ev_' || id, 'us-east', id, 'succeeded', true, now() - interval '10 seconds'
				FROM payments WHERE channel = 'alipay' AND created_at BETWEEN now() - interval '21 minutes' AND now() - interval '14 minutes'`)
		}},
		{monitor.DetectorWebhooks, map[string]string{"merchant": "mer_a", "endpoint": "we_us-east_down"}, "critical", func(e *monitorEnv) {
			e.exec(`INSERT INTO webhook_delivery_attempts (delivery_id, attempt, event_id, endpoint_id, merchant_id, region, status,
					attempted_at, http_status, duration_ms, error, node_id)
				SELECT 'evt_' || i || ':we_us-east_down', 1, 'evt_' || i, 'we_us-east_down', 'mer_a', 'us-east', 'failed',
					now() - i * interval '10 seconds', 503, 12, 'HTTP 503', 'us-east-1'
				FROM generate_series(1, 12) AS i`)
		}},
		{monitor.DetectorLedger, map[string]string{}, "critical", func(e *monitorEnv) {
			e.exec(`INSERT INTO ledger_entries (id, journal_id, merchant_id, region, account, currency, amount, kind, created_at)
				VALUES ('le_1', 'jnl_1', 'mer_a', 'us-east', 'channel_receivable', 'EUR', 5, 'sale', now())`)
		}},
	} {
		t.Run(tc.detector, func(t *testing.T) {
			e := newMonitorEnv(t)
			tc.seed(e)
			m := e.monitor("node-1")
			e.runAll(m)
			var found *core.Alert
			for _, a := range e.firing() {
				if a.Detector == tc.detector && fmt.Sprint(a.Labels) == fmt.Sprint(tc.labels) {
					found = &a
				}
			}
			if found == nil {
				t.Fatalf("no %s alert for %v; firing: %+v", tc.detector, tc.labels, e.firing())
			}
			if found.Severity != tc.severity || found.Source != "detector" || found.Summary == "" || found.EvidenceQuery == "" {
				t.Errorf("alert %+v", found)
			}
			// The evidence query runs as it is.
			if tc.detector != monitor.DetectorLedger {
				rows, err := e.db.Pool.Query(context.Background(), found.EvidenceQuery)
				if err != nil {
					t.Fatalf("evidence query %q: %v", found.EvidenceQuery, err)
				}
				n := 0
				for rows.Next() {
					n++
				}
				if rows.Err() != nil || n == 0 {
					t.Errorf("evidence query %q: %d rows, %v", found.EvidenceQuery, n, rows.Err())
				}
			}
			// Another run renews the same alert rather than opening a second one.
			first := found.LastSeenAt
			e.runAll(m)
			var again int
			for _, a := range e.firing() {
				if a.Fingerprint == found.Fingerprint {
					again++
					if a.ID != found.ID || !a.LastSeenAt.After(first) || !a.FirstSeenAt.Equal(found.FirstSeenAt) {
						t.Errorf("renewed alert %+v, was %+v", a, found)
					}
				}
			}
			if again != 1 {
				t.Errorf("%d firing alerts with the fingerprint, want 1", again)
			}
		})
	}
}

// When the condition ends, the alert resolves.
func TestDetectorAlertResolves(t *testing.T) {
	e := newMonitorEnv(t)
	e.payments("mer_a", "card", 3, "processing", "", 30*time.Minute, 20*time.Minute)
	m := e.monitor("node-1")
	e.runAll(m)
	if len(e.firing()) != 1 {
		t.Fatalf("firing: %+v", e.firing())
	}
	e.exec(`UPDATE payments SET status = 'succeeded', updated_at = now() WHERE status = 'processing'`)
	e.runAll(m)
	if len(e.firing()) != 0 {
		t.Fatalf("still firing: %+v", e.firing())
	}
	all, err := e.svc.Alerts(context.Background(), "resolved", 10)
	if err != nil || len(all) != 1 || all[0].ResolvedAt == nil || all[0].Detector != monitor.DetectorStuck {
		t.Fatalf("resolved: %+v, %v", all, err)
	}
}

// Three nodes run every detector at once, many times: each detector runs on one node only
// (its lease holder), and each abnormal condition is one alert.
func TestDetectorsFireOnceAcrossThreeNodes(t *testing.T) {
	e := newMonitorEnv(t)
	e.payments("mer_b", "card", 40, "failed", "incorrect_cvc", 240*time.Second, 5*time.Second)
	e.payments("mer_a", "card", 3, "processing", "", 30*time.Minute, 20*time.Minute)
	nodes := []*postgres.Monitor{e.monitor("node-1"), e.monitor("node-2"), e.monitor("node-3")}
	ranBy := map[string]map[string]bool{}
	var mu sync.Mutex
	for round := 0; round < 3; round++ {
		e.exec(`UPDATE detector_leases SET last_run_at = NULL`)
		var wg sync.WaitGroup
		for _, n := range nodes {
			for _, d := range monitor.Detectors {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ran, err := n.RunDetector(context.Background(), d)
					if err != nil {
						t.Errorf("%s on %s: %v", d, n.Holder(), err)
					}
					if ran {
						mu.Lock()
						if ranBy[d] == nil {
							ranBy[d] = map[string]bool{}
						}
						ranBy[d][n.Holder()] = true
						mu.Unlock()
					}
				}()
			}
		}
		wg.Wait()
	}
	for _, d := range monitor.Detectors {
		if len(ranBy[d]) != 1 {
			t.Errorf("detector %s ran on %v, want exactly one node", d, ranBy[d])
		}
	}
	counts := map[string]int{}
	for _, a := range e.firing() {
		counts[a.Detector]++
	}
	if counts[monitor.DetectorDeclineBurst] != 1 || counts[monitor.DetectorStuck] != 1 {
		t.Errorf("firing alerts by detector: %v, want one decline burst and one stuck", counts)
	}
}

// A leader that stops renewing loses its lease when it expires, and another node takes the
// detector over.
func TestDetectorLeaseTakenOverWhenExpired(t *testing.T) {
	e := newMonitorEnv(t)
	a, b := e.monitor("node-1"), e.monitor("node-2")
	if ran, err := a.RunDetector(context.Background(), monitor.DetectorStuck); err != nil || !ran {
		t.Fatalf("node-1: %v %v", ran, err)
	}
	e.exec(`UPDATE detector_leases SET last_run_at = NULL`)
	if ran, err := b.RunDetector(context.Background(), monitor.DetectorStuck); err != nil || ran {
		t.Fatalf("node-2 ran a detector node-1 leads: %v %v", ran, err)
	}
	e.exec(`UPDATE detector_leases SET expires_at = now() - interval '1 second'`)
	if ran, err := b.RunDetector(context.Background(), monitor.DetectorStuck); err != nil || !ran {
		t.Fatalf("node-2 after node-1's lease expired: %v %v", ran, err)
	}
	if ran, err := a.RunDetector(context.Background(), monitor.DetectorStuck); err != nil || ran {
		t.Fatalf("node-1 ran after losing its lease: %v %v", ran, err)
	}
}

// Alertmanager's notifications are recorded once per alert, renewed by repeats and resolved.
func TestRecordAlertmanagerNotifications(t *testing.T) {
	e := newMonitorEnv(t)
	ctx := context.Background()
	n := core.AlertNotification{Status: "firing", Fingerprint: "abc123", Summary: "breaker open",
		Labels: map[string]string{"alertname": "PaycenterChannelBreakerOpen", "severity": "critical", "channel": "card"}}
	for i := 0; i < 2; i++ {
		if err := e.svc.RecordNotifications(ctx, []core.AlertNotification{n}); err != nil {
			t.Fatal(err)
		}
	}
	as := e.firing()
	if len(as) != 1 || as[0].Source != "alertmanager" || as[0].Detector != "PaycenterChannelBreakerOpen" || as[0].Notifications != 2 ||
		as[0].Severity != "critical" || as[0].Labels["channel"] != "card" {
		t.Fatalf("firing: %+v", as)
	}
	n.Status = "resolved"
	if err := e.svc.RecordNotifications(ctx, []core.AlertNotification{n}); err != nil {
		t.Fatal(err)
	}
	if as := e.firing(); len(as) != 0 {
		t.Fatalf("still firing: %+v", as)
	}
}
