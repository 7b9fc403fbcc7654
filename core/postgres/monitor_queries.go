package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core/monitor"
)

// The detectors' queries: counts over the recent history, by the database's clock, read
// through the payments_created / refunds_created / channel_events_received indexes.
// Intervals are passed as seconds (FLOAT8 * interval '1 second' works on both engines).

// A payment "attempt" is one the channel answered: succeeded or authorised (success), or
// failed. Payments still processing or waiting for their customer are not judged yet.
const attemptFilter = `status IN ('succeeded', 'requires_capture', 'failed')`
const successFilter = `status IN ('succeeded', 'requires_capture')`

func (m *Monitor) successRate(ctx context.Context) ([]monitor.Finding, func(monitor.Finding) string, error) {
	c := m.cfg.SuccessRate
	var samples []monitor.SuccessSample
	for _, key := range []struct{ label, column string }{{"channel", "channel"}, {"merchant", "merchant_id"}} {
		rows, err := m.s.db.Pool.Query(ctx, `
			SELECT `+key.column+`,
				count(*) FILTER (WHERE created_at >= now() - $1::FLOAT8 * interval '1 second'),
				count(*) FILTER (WHERE created_at >= now() - $1::FLOAT8 * interval '1 second' AND `+successFilter+`),
				count(*) FILTER (WHERE created_at < now() - $1::FLOAT8 * interval '1 second'),
				count(*) FILTER (WHERE created_at < now() - $1::FLOAT8 * interval '1 second' AND `+successFilter+`)
			FROM payments
			WHERE created_at >= now() - ($1::FLOAT8 + $2::FLOAT8) * interval '1 second' AND `+attemptFilter+`
			GROUP BY 1`, c.Recent.Seconds(), c.Baseline.Seconds())
		if err != nil {
			return nil, nil, err
		}
		var k string
		var s monitor.SuccessSample
		_, err = pgx.ForEachRow(rows, []any{&k, &s.Recent.Attempts, &s.Recent.Successes, &s.Baseline.Attempts, &s.Baseline.Successes}, func() error {
			s.Labels = map[string]string{key.label: k}
			samples = append(samples, s)
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return monitor.DetectSuccessRate(c, samples), func(f monitor.Finding) string {
		where := "channel = " + sqlString(f.Labels["channel"])
		if mer, ok := f.Labels["merchant"]; ok {
			where = "merchant_id = " + sqlString(mer)
		}
		return fmt.Sprintf("SELECT status, failure_code, count(*) FROM payments WHERE %s AND created_at >= now() - %s GROUP BY 1, 2 ORDER BY 3 DESC",
			where, sqlInterval(c.Recent+c.Baseline))
	}, nil
}

func (m *Monitor) declineBurst(ctx context.Context) ([]monitor.Finding, func(monitor.Finding) string, error) {
	c := m.cfg.Burst
	rows, err := m.s.db.Pool.Query(ctx, `
		SELECT merchant_id, failure_code,
			count(*) FILTER (WHERE created_at >= now() - $1::FLOAT8 * interval '1 second'),
			count(*) FILTER (WHERE created_at < now() - $1::FLOAT8 * interval '1 second')
		FROM payments
		WHERE created_at >= now() - ($1::FLOAT8 + $2::FLOAT8) * interval '1 second' AND status = 'failed' AND failure_code IS NOT NULL
		GROUP BY 1, 2`, c.Recent.Seconds(), c.Baseline.Seconds())
	if err != nil {
		return nil, nil, err
	}
	var samples []monitor.CountSample
	var mer, code string
	var s monitor.CountSample
	if _, err := pgx.ForEachRow(rows, []any{&mer, &code, &s.Recent, &s.Baseline}, func() error {
		s.Labels = map[string]string{"merchant": mer, "decline_code": code}
		samples = append(samples, s)
		return nil
	}); err != nil {
		return nil, nil, err
	}
	return monitor.DetectDeclineBurst(c, samples), func(f monitor.Finding) string {
		return fmt.Sprintf("SELECT id, amount, currency, channel, payment_method, created_at FROM payments WHERE merchant_id = %s AND failure_code = %s AND created_at >= now() - %s ORDER BY created_at DESC LIMIT 100",
			sqlString(f.Labels["merchant"]), sqlString(f.Labels["decline_code"]), sqlInterval(c.Recent))
	}, nil
}

func (m *Monitor) refundRate(ctx context.Context) ([]monitor.Finding, func(monitor.Finding) string, error) {
	c := m.cfg.Refund
	byMerchant := map[string]*monitor.RefundSample{}
	get := func(mer string) *monitor.RefundSample {
		if byMerchant[mer] == nil {
			byMerchant[mer] = &monitor.RefundSample{Labels: map[string]string{"merchant": mer}}
		}
		return byMerchant[mer]
	}
	for _, table := range []string{"payments", "refunds"} {
		rows, err := m.s.db.Pool.Query(ctx, `
			SELECT merchant_id,
				count(*) FILTER (WHERE created_at >= now() - $1::FLOAT8 * interval '1 second'),
				count(*) FILTER (WHERE created_at < now() - $1::FLOAT8 * interval '1 second')
			FROM `+table+` WHERE created_at >= now() - ($1::FLOAT8 + $2::FLOAT8) * interval '1 second'
			GROUP BY 1`, c.Recent.Seconds(), c.Baseline.Seconds())
		if err != nil {
			return nil, nil, err
		}
		var mer string
		var recent, base int64
		if _, err := pgx.ForEachRow(rows, []any{&mer, &recent, &base}, func() error {
			s := get(mer)
			if table == "payments" {
				s.RecentPayments, s.BaselinePayments = recent, base
			} else {
				s.RecentRefunds, s.BaselineRefunds = recent, base
			}
			return nil
		}); err != nil {
			return nil, nil, err
		}
	}
	samples := make([]monitor.RefundSample, 0, len(byMerchant))
	for _, s := range byMerchant {
		samples = append(samples, *s)
	}
	return monitor.DetectRefundRate(c, samples), func(f monitor.Finding) string {
		return fmt.Sprintf("SELECT id, payment_id, amount, currency, reason, status, created_at FROM refunds WHERE merchant_id = %s AND created_at >= now() - %s ORDER BY created_at DESC LIMIT 100",
			sqlString(f.Labels["merchant"]), sqlInterval(c.Recent))
	}, nil
}

func (m *Monitor) volume(ctx context.Context) ([]monitor.Finding, func(monitor.Finding) string, error) {
	c := m.cfg.Volume
	rows, err := m.s.db.Pool.Query(ctx, `
		SELECT p.channel, d.day, count(*)
		FROM generate_series(0, $2::INT8) AS d (day)
		JOIN payments p ON p.created_at >= now() - d.day * interval '1 day' - $1::FLOAT8 * interval '1 second'
			AND p.created_at < now() - d.day * interval '1 day'
		GROUP BY 1, 2`, c.Recent.Seconds(), c.Days)
	if err != nil {
		return nil, nil, err
	}
	byChannel := map[string]*monitor.VolumeSample{}
	var ch string
	var day, n int64
	if _, err := pgx.ForEachRow(rows, []any{&ch, &day, &n}, func() error {
		s := byChannel[ch]
		if s == nil {
			s = &monitor.VolumeSample{Labels: map[string]string{"channel": ch}, PreviousDays: make([]int64, c.Days)}
			byChannel[ch] = s
		}
		if day == 0 {
			s.Recent = n
		} else {
			s.PreviousDays[day-1] = n
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	samples := make([]monitor.VolumeSample, 0, len(byChannel))
	for _, s := range byChannel {
		samples = append(samples, *s)
	}
	return monitor.DetectVolume(c, samples), func(f monitor.Finding) string {
		return fmt.Sprintf("SELECT d.day, count(p.id) FROM generate_series(0, %d) AS d (day) LEFT JOIN payments p ON p.channel = %s AND p.created_at >= now() - d.day * interval '1 day' - %s AND p.created_at < now() - d.day * interval '1 day' GROUP BY 1 ORDER BY 1",
			c.Days, sqlString(f.Labels["channel"]), sqlInterval(c.Recent))
	}, nil
}

func (m *Monitor) stuck(ctx context.Context) ([]monitor.Finding, func(monitor.Finding) string, error) {
	c := m.cfg.Stuck
	rows, err := m.s.db.Pool.Query(ctx, `
		SELECT status, channel, count(*), EXTRACT(EPOCH FROM now() - min(updated_at))::FLOAT8
		FROM payments
		WHERE (status = 'processing' AND updated_at < now() - $1::FLOAT8 * interval '1 second')
			OR (status = 'requires_action' AND updated_at < now() - $2::FLOAT8 * interval '1 second')
		GROUP BY 1, 2`, c.Processing.Seconds(), c.RequiresAction.Seconds())
	if err != nil {
		return nil, nil, err
	}
	var samples []monitor.StuckSample
	var st, ch string
	var n int64
	var oldest float64
	if _, err := pgx.ForEachRow(rows, []any{&st, &ch, &n, &oldest}, func() error {
		samples = append(samples, monitor.StuckSample{Labels: map[string]string{"status": st, "channel": ch}, Count: n,
			Oldest: time.Duration(oldest * float64(time.Second))})
		return nil
	}); err != nil {
		return nil, nil, err
	}
	return monitor.DetectStuck(c, samples), func(f monitor.Finding) string {
		bound := c.RequiresAction
		if f.Labels["status"] == "processing" {
			bound = c.Processing
		}
		return fmt.Sprintf("SELECT id, merchant_id, amount, currency, recovery_attempts, next_recovery_at, updated_at FROM payments WHERE status = %s AND channel = %s AND updated_at < now() - %s ORDER BY updated_at LIMIT 100",
			sqlString(f.Labels["status"]), sqlString(f.Labels["channel"]), sqlInterval(bound))
	}, nil
}

func (m *Monitor) notificationLag(ctx context.Context) ([]monitor.Finding, func(monitor.Finding) string, error) {
	c := m.cfg.Lag
	rows, err := m.s.db.Pool.Query(ctx, `
		SELECT e.channel, EXTRACT(EPOCH FROM e.received_at - p.created_at)::FLOAT8
		FROM channel_events e JOIN payments p ON p.id = e.payment_id
		WHERE e.received_at >= now() - $1::FLOAT8 * interval '1 second' AND e.applied
		LIMIT 20000`, c.Recent.Seconds())
	if err != nil {
		return nil, nil, err
	}
	byChannel := map[string]*monitor.LagSample{}
	var ch string
	var lag float64
	if _, err := pgx.ForEachRow(rows, []any{&ch, &lag}, func() error {
		s := byChannel[ch]
		if s == nil {
			s = &monitor.LagSample{Labels: map[string]string{"channel": ch}}
			byChannel[ch] = s
		}
		s.Lags = append(s.Lags, time.Duration(lag*float64(time.Second)))
		return nil
	}); err != nil {
		return nil, nil, err
	}
	samples := make([]monitor.LagSample, 0, len(byChannel))
	for _, s := range byChannel {
		samples = append(samples, *s)
	}
	return monitor.DetectNotificationLag(c, samples), func(f monitor.Finding) string {
		return fmt.Sprintf("SELECT e.event_id, e.payment_id, p.created_at, e.received_at, e.received_at - p.created_at AS lag FROM channel_events e JOIN payments p ON p.id = e.payment_id WHERE e.channel = %s AND e.received_at >= now() - %s ORDER BY lag DESC LIMIT 100",
			sqlString(f.Labels["channel"]), sqlInterval(c.Recent))
	}, nil
}

// webhookFailures counts each webhook endpoint's delivery attempts and failures over the
// recent window (webhook_delivery_attempts, indexed by endpoint and time).
func (m *Monitor) webhookFailures(ctx context.Context) ([]monitor.Finding, func(monitor.Finding) string, error) {
	c := m.cfg.Webhooks
	rows, err := m.s.db.Pool.Query(ctx, `
		SELECT merchant_id, endpoint_id, count(*), count(*) FILTER (WHERE status <> 'succeeded')
		FROM webhook_delivery_attempts
		WHERE attempted_at >= now() - $1::FLOAT8 * interval '1 second'
		GROUP BY merchant_id, endpoint_id`, c.Recent.Seconds())
	if err != nil {
		return nil, nil, err
	}
	var samples []monitor.WebhookSample
	var merchant, endpoint string
	var attempts, failures int64
	if _, err := pgx.ForEachRow(rows, []any{&merchant, &endpoint, &attempts, &failures}, func() error {
		samples = append(samples, monitor.WebhookSample{Labels: map[string]string{"merchant": merchant, "endpoint": endpoint},
			Attempts: attempts, Failures: failures})
		return nil
	}); err != nil {
		return nil, nil, err
	}
	return monitor.DetectWebhookFailures(c, samples), func(f monitor.Finding) string {
		return fmt.Sprintf("SELECT event_id, attempt, attempted_at, status, http_status, duration_ms, error FROM webhook_delivery_attempts WHERE endpoint_id = %s AND attempted_at >= now() - %s ORDER BY attempted_at DESC LIMIT 100",
			sqlString(f.Labels["endpoint"]), sqlInterval(c.Recent))
	}, nil
}
