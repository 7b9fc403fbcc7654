package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// The periodic top-up reminder. A merchant whose notification settings hold a
// top_up_reminder {interval_days, below?} has its customers with a wallet (below those
// balances, if given) reminded once per period: the notice's ID is
// <customer>:top_up_reminder:<period>:<channel>, the period numbered by core.ReminderPeriod,
// so whichever node and however often the job runs, a customer gets at most one reminder per
// channel and period. One node runs the job at a time (a lease in risk_jobs, as the AML
// detectors do); the notifier then sends the notices as it sends every other.

// TopUpReminderConfig configures the periodic top-up reminder job.
type TopUpReminderConfig struct {
	// Interval between runs (default 1 hour): a customer whose balance falls below the
	// merchant's `below` is reminded within an interval, once in the period.
	Interval time.Duration
}

func (c *TopUpReminderConfig) withDefaults() {
	c.Interval = orDuration(c.Interval, time.Hour)
}

// NewTopUpReminderWorker makes the job's worker, for every node; the node holding the lease
// runs it.
func NewTopUpReminderWorker(s *Service, cfg TopUpReminderConfig) *Worker {
	cfg.withDefaults()
	holder := core.NewRandomID("rem")
	return NewWorker("top-up reminders", cfg.Interval, s.log, func(ctx context.Context) error {
		ok, err := s.claimJob(ctx, "top_up_reminders", holder, 2*cfg.Interval)
		if err != nil || !ok {
			return err
		}
		n, err := s.RunTopUpReminders(ctx)
		if n > 0 {
			s.log.Info("top-up reminders queued", "count", n)
		}
		return err
	})
}

// RunTopUpReminders queues the current period's top-up reminders of every merchant that
// set them up and returns how many notices it made (none again within a period).
func (s *Service) RunTopUpReminders(ctx context.Context) (int, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT merchant_id, settings FROM notification_settings
		WHERE jsonb_typeof(settings->'top_up_reminder') = 'object'`)
	if err != nil {
		return 0, fmt.Errorf("top-up reminders: %w", err)
	}
	type merchant struct {
		id string
		ns core.NotificationSettings
	}
	var ms []merchant
	for rows.Next() {
		var m merchant
		var raw []byte
		if err := rows.Scan(&m.id, &raw); err != nil {
			rows.Close()
			return 0, err
		}
		if err := json.Unmarshal(raw, &m.ns); err != nil {
			rows.Close()
			return 0, fmt.Errorf("top-up reminders of %s: %w", m.id, err)
		}
		if m.ns.TopUpReminder != nil && m.ns.TopUpReminder.IntervalDays > 0 {
			ms = append(ms, m)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	total := 0
	for _, m := range ms {
		n, err := s.topUpReminders(ctx, m.id, &m.ns)
		if err != nil {
			return total, fmt.Errorf("top-up reminders of %s: %w", m.id, err)
		}
		total += n
	}
	return total, nil
}

func (s *Service) topUpReminders(ctx context.Context, merchantID string, ns *core.NotificationSettings) (int, error) {
	r := ns.TopUpReminder
	below := r.Below
	if below == nil {
		below = map[string]int64{}
	}
	channels := ns.Notices[core.NoticeTopUpReminder]
	if channels == nil {
		channels = map[string]bool{}
	}
	var n int
	err := s.db.WriteTx(ctx, "top_up_reminders", func(tx pgx.Tx) error {
		now := s.now()
		period := strconv.FormatInt(core.ReminderPeriod(now, r.IntervalDays), 10)
		// Each customer's reminder names its lowest wallet (among those below the limits,
		// when the merchant set some).
		tag, err := tx.Exec(ctx, `
			INSERT INTO payer_notices (id, merchant_id, customer_id, region, event_id, template, channel, recipient,
				language, data, status, attempts, max_attempts, next_attempt_at, created_at, updated_at)
			SELECT c.id || ':top_up_reminder:' || $2::TEXT || ':' || ch.channel, c.merchant_id, c.id, c.region, NULL,
				'top_up_reminder', ch.channel, CASE ch.channel WHEN 'email' THEN c.email ELSE c.phone END, c.language,
				jsonb_build_object('balance', w.balance, 'currency', w.currency, 'customer', c.id,
					'interval_days', $3::INT8, 'period', $2::TEXT),
				'pending', 0, $6, $7, $7, $7
			FROM customers c
			CROSS JOIN LATERAL (SELECT cw.currency, cw.balance FROM customer_wallets cw
				WHERE cw.customer_id = c.id AND ($4::JSONB = '{}'::JSONB
					OR ($4::JSONB ? cw.currency AND cw.balance < ($4::JSONB->>cw.currency)::INT8))
				ORDER BY cw.balance, cw.currency LIMIT 1) w
			CROSS JOIN (VALUES ('email'), ('sms')) ch (channel)
			WHERE c.merchant_id = $1 AND c.deleted_at IS NULL
				AND COALESCE(($5::JSONB->>ch.channel)::BOOL, true)
				AND CASE ch.channel WHEN 'email' THEN c.email IS NOT NULL AND NOT c.email_opt_out
					ELSE c.phone IS NOT NULL AND NOT c.sms_opt_out END
			ON CONFLICT (id) DO NOTHING`, merchantID, period, r.IntervalDays, below, channels, noticeMaxAttempts, now)
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}
