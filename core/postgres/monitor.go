package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/monitor"
)

// MonitorConfig configures the abnormal-transaction detectors.
type MonitorConfig struct {
	// Holder names this node in detector_leases. Default: the node's incarnation, else a
	// random ID.
	Holder string
	// Interval is how often each fast detector (success rate, decline bursts, stuck
	// payments, notification lag, webhook failures) runs platform-wide. Default 10s.
	Interval time.Duration
	// SlowInterval is how often the refund-rate and volume detectors run. Default 1 minute.
	SlowInterval time.Duration
	// LedgerInterval is how often the whole-ledger check runs (it reads every posting).
	// Default 5 minutes.
	LedgerInterval time.Duration
	// The detectors' thresholds; zero values take core/monitor's documented defaults.
	SuccessRate monitor.SuccessRateConfig
	Burst       monitor.BurstConfig
	Refund      monitor.RefundConfig
	Volume      monitor.VolumeConfig
	Stuck       monitor.StuckConfig
	Lag         monitor.LagConfig
	Webhooks    monitor.WebhookConfig
}

func (c *MonitorConfig) withDefaults(s *Service) {
	if c.Holder == "" {
		c.Holder = s.Incarnation()
	}
	if c.Holder == "" {
		c.Holder = core.NewRandomID("mon")
	}
	c.Interval = orDuration(c.Interval, 10*time.Second)
	c.SlowInterval = orDuration(c.SlowInterval, time.Minute)
	c.LedgerInterval = orDuration(c.LedgerInterval, 5*time.Minute)
	c.SuccessRate = c.SuccessRate.WithDefaults()
	c.Burst = c.Burst.WithDefaults()
	c.Refund = c.Refund.WithDefaults()
	c.Volume = c.Volume.WithDefaults()
	c.Stuck = c.Stuck.WithDefaults()
	c.Lag = c.Lag.WithDefaults()
	c.Webhooks = c.Webhooks.WithDefaults()
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Monitor runs the detectors: every node runs a worker per detector, and only the node
// holding the detector's lease row runs it, so each condition is found, and alerted, once
// platform-wide. A node that dies loses its leases when they expire (three intervals).
type Monitor struct {
	s   *Service
	cfg MonitorConfig
}

// NewMonitor makes the detectors' runner.
func NewMonitor(s *Service, cfg MonitorConfig) *Monitor {
	cfg.withDefaults(s)
	return &Monitor{s: s, cfg: cfg}
}

// Holder is the name this node claims detector leases with.
func (m *Monitor) Holder() string { return m.cfg.Holder }

// interval is how often a detector runs.
func (m *Monitor) interval(detector string) time.Duration {
	switch detector {
	case monitor.DetectorRefundRate, monitor.DetectorVolume:
		return m.cfg.SlowInterval
	case monitor.DetectorLedger:
		return m.cfg.LedgerInterval
	}
	return m.cfg.Interval
}

// Workers returns one worker per detector. Each ticks at the fast interval (so a dead
// leader's detectors are taken over within a lease) and runs its detector when it leads
// it and the detector is due.
func (m *Monitor) Workers() []*Worker {
	var out []*Worker
	for _, d := range monitor.Detectors {
		out = append(out, NewWorker("detector "+d, m.cfg.Interval, m.s.log, func(ctx context.Context) error {
			_, err := m.RunDetector(ctx, d)
			return err
		}))
	}
	return out
}

// RunDetector runs one detector if this node holds (or can take) its lease and it is due,
// records its findings as alerts and resolves the ones that no longer hold. ran reports
// whether it ran here.
func (m *Monitor) RunDetector(ctx context.Context, detector string) (ran bool, err error) {
	every := m.interval(detector)
	lead, due, err := m.claim(ctx, detector, 3*m.cfg.Interval, every)
	if err != nil || !lead || !due {
		return false, err
	}
	findings, evidence, err := m.detect(ctx, detector)
	if err != nil {
		return false, fmt.Errorf("detector %s: %w", detector, err)
	}
	if err := m.record(ctx, detector, findings, evidence); err != nil {
		return false, fmt.Errorf("detector %s: %w", detector, err)
	}
	for _, f := range findings {
		m.s.log.Warn("abnormal transactions", "detector", detector, "severity", string(f.Severity), "labels", f.Labels, "summary", f.Summary)
	}
	return true, nil
}

// claim takes or renews the detector's lease (a conditional upsert: the row is taken only
// when this node holds it or its lease expired, by the database's clock) and says whether
// the detector is due (its last run, by whichever node, is at least half an interval old).
func (m *Monitor) claim(ctx context.Context, detector string, lease, every time.Duration) (lead, due bool, err error) {
	err = m.s.db.WriteTx(ctx, "detector lease", func(tx pgx.Tx) error {
		lead, due = false, false
		err := tx.QueryRow(ctx, `
			INSERT INTO detector_leases (detector, holder, expires_at) VALUES ($1, $2, now() + $3::FLOAT8 * interval '1 second')
			ON CONFLICT (detector) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
				WHERE detector_leases.holder = excluded.holder OR detector_leases.expires_at < now()
			RETURNING detector_leases.last_run_at IS NULL OR detector_leases.last_run_at <= now() - $4::FLOAT8 * interval '1 second'`,
			detector, m.cfg.Holder, lease.Seconds(), every.Seconds()/2).Scan(&due)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // another node leads it
		}
		if err != nil {
			return err
		}
		lead = true
		if due {
			_, err = tx.Exec(ctx, `UPDATE detector_leases SET last_run_at = now() WHERE detector = $1`, detector)
		}
		return err
	})
	return lead, due, err
}

// record stores the findings as firing alerts (one row per fingerprint while it fires) and
// resolves this detector's firing alerts that were not found again.
func (m *Monitor) record(ctx context.Context, detector string, findings []monitor.Finding, evidence func(monitor.Finding) string) error {
	fps := make([]string, 0, len(findings))
	return m.s.db.WriteTx(ctx, "detector alerts", func(tx pgx.Tx) error {
		fps = fps[:0]
		for _, f := range findings {
			labels, err := json.Marshal(f.Labels)
			if err != nil {
				return err
			}
			fp := f.Fingerprint()
			fps = append(fps, fp)
			if _, err := tx.Exec(ctx, upsertAlertSQL, core.NewRandomID("alr"), fp, "detector", detector, string(f.Severity),
				labels, f.Summary, f.Value, evidence(f), 0); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `UPDATE alerts SET status = 'resolved', resolved_at = now()
			WHERE source = 'detector' AND detector = $1 AND status = 'firing' AND NOT (fingerprint = ANY($2))`, detector, fps)
		return err
	})
}

const upsertAlertSQL = `
	INSERT INTO alerts (id, fingerprint, source, detector, severity, status, labels, summary, value, evidence_query, first_seen_at, last_seen_at, notifications)
	VALUES ($1, $2, $3, $4, $5, 'firing', $6, $7, $8, $9, now(), now(), $10)
	ON CONFLICT (fingerprint) WHERE status = 'firing' DO UPDATE SET last_seen_at = now(), severity = excluded.severity,
		summary = excluded.summary, value = excluded.value, evidence_query = excluded.evidence_query,
		notifications = alerts.notifications + excluded.notifications`

// Alerts lists alerts, newest first: status "firing", "resolved" or "" (both); at most limit.
func (s *Service) Alerts(ctx context.Context, status string, limit int) ([]core.Alert, error) {
	rows, err := s.db.Pool.Query(ctx, `
		SELECT id, fingerprint, source, detector, severity, status, labels, summary, value, evidence_query,
			first_seen_at, last_seen_at, resolved_at, notifications
		FROM alerts WHERE ($1 = '' OR status = $1) ORDER BY last_seen_at DESC, id LIMIT $2`, status, limit)
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (core.Alert, error) {
		a := core.Alert{Object: "alert"}
		var labels []byte
		err := r.Scan(&a.ID, &a.Fingerprint, &a.Source, &a.Detector, &a.Severity, &a.Status, &labels, &a.Summary, &a.Value,
			&a.EvidenceQuery, &a.FirstSeenAt, &a.LastSeenAt, &a.ResolvedAt, &a.Notifications)
		if err == nil {
			err = json.Unmarshal(labels, &a.Labels)
		}
		a.FirstSeenAt, a.LastSeenAt = a.FirstSeenAt.UTC(), a.LastSeenAt.UTC()
		if a.ResolvedAt != nil {
			t := a.ResolvedAt.UTC()
			a.ResolvedAt = &t
		}
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("alerts: %w", err)
	}
	return out, nil
}

// FiringAlertCounts counts firing alerts by source, detector (or alert name) and severity,
// for the metrics.
func (s *Service) FiringAlertCounts(ctx context.Context) (map[[3]string]int64, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT source, detector, severity, count(*) FROM alerts WHERE status = 'firing' GROUP BY 1, 2, 3`)
	if err != nil {
		return nil, err
	}
	out := map[[3]string]int64{}
	var k [3]string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&k[0], &k[1], &k[2], &n}, func() error {
		out[k] = n
		return nil
	})
	return out, err
}

// RecordNotifications stores the alerts of an Alertmanager notification: a firing alert
// opens (or renews) the alert row of its fingerprint, a resolved one resolves it. A
// notification repeated (Alertmanager retries until it gets a 2xx) changes nothing but
// the count of notifications.
func (s *Service) RecordNotifications(ctx context.Context, ns []core.AlertNotification) error {
	return s.db.WriteTx(ctx, "alertmanager notification", func(tx pgx.Tx) error {
		for _, n := range ns {
			fp := "am:" + n.Fingerprint
			if n.Status == "resolved" {
				if _, err := tx.Exec(ctx, `UPDATE alerts SET status = 'resolved', resolved_at = now(), last_seen_at = now(),
					notifications = notifications + 1 WHERE fingerprint = $1 AND status = 'firing'`, fp); err != nil {
					return err
				}
				continue
			}
			labels, err := json.Marshal(n.Labels)
			if err != nil {
				return err
			}
			sev := n.Labels["severity"]
			if sev == "" {
				sev = string(monitor.Warning)
			}
			if _, err := tx.Exec(ctx, upsertAlertSQL, core.NewRandomID("alr"), fp,
				"alertmanager", n.Labels["alertname"], sev, labels, n.Summary, 0.0, n.GeneratorURL, 1); err != nil {
				return err
			}
		}
		return nil
	})
}

// detect runs a detector's queries and decisions; evidence renders, for each finding, the
// SQL an operator runs to see the rows behind it.
func (m *Monitor) detect(ctx context.Context, detector string) ([]monitor.Finding, func(monitor.Finding) string, error) {
	switch detector {
	case monitor.DetectorSuccessRate:
		return m.successRate(ctx)
	case monitor.DetectorDeclineBurst:
		return m.declineBurst(ctx)
	case monitor.DetectorRefundRate:
		return m.refundRate(ctx)
	case monitor.DetectorVolume:
		return m.volume(ctx)
	case monitor.DetectorStuck:
		return m.stuck(ctx)
	case monitor.DetectorNotifyLag:
		return m.notificationLag(ctx)
	case monitor.DetectorWebhooks:
		return m.webhookFailures(ctx)
	case monitor.DetectorLedger:
		r, err := m.s.CheckLedger(ctx)
		if err != nil {
			return nil, nil, err
		}
		return monitor.DetectLedger(monitor.LedgerResult{Balanced: r.Balanced, UnbalancedJournals: len(r.UnbalancedJournals),
				PaymentMismatches: len(r.PaymentMismatches)}),
			func(monitor.Finding) string { return "GET /v1/admin/ledger/check (payctl ledger check)" }, nil
	}
	return nil, nil, fmt.Errorf("unknown detector %q", detector)
}

// sqlString quotes s as an SQL string literal, for evidence queries shown to operators.
func sqlString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func sqlInterval(d time.Duration) string {
	return fmt.Sprintf("interval '%d seconds'", int64(d.Seconds()))
}
