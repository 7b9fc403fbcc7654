package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// RollupConfig configures the worker that keeps the back office's daily rollups.
type RollupConfig struct {
	// Interval between runs (and the lease's length: a dead leader's work is taken over
	// within it). Default 5 minutes.
	Interval time.Duration
	// Days is how many closed days back the rollups are kept complete. Default 35 (the
	// overview's 30 days and a margin).
	Days int
	// Settle is how long after its end a day may still change (payments that settle late,
	// refunds that complete later): until then it is recomputed, at most once per Refresh.
	// Default 72 hours.
	Settle time.Duration
	// Refresh is how often a day that may still change is recomputed. Default 1 hour.
	Refresh time.Duration
}

func (c *RollupConfig) withDefaults() {
	if c.Interval == 0 {
		c.Interval = 5 * time.Minute
	}
	if c.Days == 0 {
		c.Days = 35
	}
	if c.Settle == 0 {
		c.Settle = 72 * time.Hour
	}
	if c.Refresh == 0 {
		c.Refresh = time.Hour
	}
}

// statKey is one group of the overview's figures.
type statKey struct {
	day      time.Time
	currency string
	channel  core.Channel
	region   string
}

// liveStats groups a merchant's payments and succeeded refunds created in [from, to) by UTC
// day, currency, channel and region, straight from the payments and refunds tables.
func (s *Service) liveStats(ctx context.Context, merchantID string, from, to time.Time) (map[statKey]*core.PaymentStats, error) {
	groups := map[statKey]*core.PaymentStats{}
	group := func(k statKey) *core.PaymentStats {
		g, ok := groups[k]
		if !ok {
			g = &core.PaymentStats{Currency: k.currency, Channel: k.channel, Region: k.region}
			groups[k] = g
		}
		return g
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT (created_at AT TIME ZONE 'UTC')::DATE, currency, channel, region, count(*),
			count(*) FILTER (WHERE status IN `+paidStatuses+`), COALESCE(sum(amount) FILTER (WHERE status IN `+paidStatuses+`), 0)
		FROM payments WHERE merchant_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY 1, 2, 3, 4`, merchantID, from, to)
	if err != nil {
		return nil, core.Internal(fmt.Errorf("payment stats: %w", err))
	}
	for rows.Next() {
		var k statKey
		var n, paid, volume int64
		if err := rows.Scan(&k.day, &k.currency, &k.channel, &k.region, &n, &paid, &volume); err != nil {
			rows.Close()
			return nil, core.Internal(err)
		}
		g := group(k)
		g.Count, g.Succeeded, g.Volume = n, paid, volume
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, core.Internal(fmt.Errorf("payment stats: %w", err))
	}
	rows, err = s.db.Pool.Query(ctx, `SELECT (r.created_at AT TIME ZONE 'UTC')::DATE, r.currency, p.channel, r.region, count(*), COALESCE(sum(r.amount), 0)
		FROM refunds r JOIN payments p ON p.id = r.payment_id
		WHERE r.merchant_id = $1 AND r.created_at >= $2 AND r.created_at < $3 AND r.status = 'succeeded' GROUP BY 1, 2, 3, 4`, merchantID, from, to)
	if err != nil {
		return nil, core.Internal(fmt.Errorf("refund stats: %w", err))
	}
	for rows.Next() {
		var k statKey
		var n, v int64
		if err := rows.Scan(&k.day, &k.currency, &k.channel, &k.region, &n, &v); err != nil {
			rows.Close()
			return nil, core.Internal(err)
		}
		g := group(k)
		g.RefundCount, g.RefundVolume = n, v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, core.Internal(fmt.Errorf("refund stats: %w", err))
	}
	return groups, nil
}

// rolledUp reads a merchant's rollups of the days in [from, to): the groups, and which days
// are covered (a covered day with no groups had no payments).
func (s *Service) rolledUp(ctx context.Context, merchantID string, from, to time.Time) (map[statKey]*core.PaymentStats, map[time.Time]bool, error) {
	covered := map[time.Time]bool{}
	rows, err := s.db.Pool.Query(ctx, `SELECT day FROM console_rollup_days WHERE merchant_id = $1 AND day >= $2 AND day < $3`, merchantID, from, to)
	if err != nil {
		return nil, nil, core.Internal(fmt.Errorf("rollup days: %w", err))
	}
	for rows.Next() {
		var d time.Time
		if err := rows.Scan(&d); err != nil {
			rows.Close()
			return nil, nil, core.Internal(err)
		}
		covered[d.UTC()] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, core.Internal(fmt.Errorf("rollup days: %w", err))
	}
	groups := map[statKey]*core.PaymentStats{}
	rows, err = s.db.Pool.Query(ctx, `SELECT day, currency, channel, payment_region, payments, succeeded, volume, refunds, refunded
		FROM console_daily_stats WHERE merchant_id = $1 AND day >= $2 AND day < $3`, merchantID, from, to)
	if err != nil {
		return nil, nil, core.Internal(fmt.Errorf("rollups: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var k statKey
		g := &core.PaymentStats{}
		if err := rows.Scan(&k.day, &k.currency, &k.channel, &k.region, &g.Count, &g.Succeeded, &g.Volume, &g.RefundCount, &g.RefundVolume); err != nil {
			return nil, nil, core.Internal(err)
		}
		k.day = k.day.UTC()
		g.Currency, g.Channel, g.Region = k.currency, k.channel, k.region
		groups[k] = g
	}
	if err := rows.Err(); err != nil {
		return nil, nil, core.Internal(fmt.Errorf("rollups: %w", err))
	}
	return groups, covered, nil
}

// RollupStats is what one run of RollUpConsoleStats did.
type RollupStats struct {
	Merchants int // merchants looked at
	Days      int // merchant-days computed
}

// RollUpConsoleStats brings every merchant's daily rollups up to date: each closed UTC day
// of the last cfg.Days that has no rollup yet, or that ended less than cfg.Settle ago and
// was last computed more than cfg.Refresh ago, is computed again from the payments and
// refunds (one day's index range scan) and replaced in one transaction with its marker. The
// reads run outside the write transaction, so the payment path's transactions never meet
// this one's predicate locks; recomputing a day is idempotent, so two nodes running it at
// once (a lease taken over) only repeat work.
func (s *Service) RollUpConsoleStats(ctx context.Context, cfg RollupConfig) (RollupStats, error) {
	cfg.withDefaults()
	var st RollupStats
	now := s.now()
	today := now.Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -cfg.Days)
	rows, err := s.db.Pool.Query(ctx, `SELECT id, region FROM merchants ORDER BY id`)
	if err != nil {
		return st, fmt.Errorf("rollup merchants: %w", err)
	}
	type merchant struct{ id, region string }
	var ms []merchant
	for rows.Next() {
		var m merchant
		if err := rows.Scan(&m.id, &m.region); err != nil {
			rows.Close()
			return st, err
		}
		ms = append(ms, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	for _, m := range ms {
		st.Merchants++
		computed := map[time.Time]time.Time{}
		rows, err := s.db.Pool.Query(ctx, `SELECT day, computed_at FROM console_rollup_days WHERE merchant_id = $1 AND day >= $2`, m.id, from)
		if err != nil {
			return st, fmt.Errorf("rollup days of %s: %w", m.id, err)
		}
		for rows.Next() {
			var d, at time.Time
			if err := rows.Scan(&d, &at); err != nil {
				rows.Close()
				return st, err
			}
			computed[d.UTC()] = at
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return st, err
		}
		for d := from; d.Before(today); d = d.AddDate(0, 0, 1) {
			at, ok := computed[d]
			end := d.AddDate(0, 0, 1)
			if ok && (!at.Before(end.Add(cfg.Settle)) || now.Sub(at) < cfg.Refresh) {
				continue
			}
			if err := s.rollUpDay(ctx, m.id, m.region, d, now); err != nil {
				return st, err
			}
			st.Days++
		}
	}
	return st, nil
}

// rollUpDay recomputes one merchant's day.
func (s *Service) rollUpDay(ctx context.Context, merchantID, region string, day, now time.Time) error {
	groups, err := s.liveStats(ctx, merchantID, day, day.AddDate(0, 0, 1))
	if err != nil {
		return fmt.Errorf("roll up %s %s: %w", merchantID, day.Format(time.DateOnly), err)
	}
	err = s.db.WriteTx(ctx, "console_rollup_day", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM console_daily_stats WHERE merchant_id = $1 AND day = $2`, merchantID, day); err != nil {
			return err
		}
		for k, g := range groups {
			if _, err := tx.Exec(ctx, `INSERT INTO console_daily_stats (merchant_id, day, channel, payment_region, currency, region,
					payments, succeeded, volume, refunds, refunded) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
				merchantID, day, k.channel, k.region, k.currency, region, g.Count, g.Succeeded, g.Volume, g.RefundCount, g.RefundVolume); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO console_rollup_days (merchant_id, day, region, computed_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (merchant_id, day) DO UPDATE SET computed_at = excluded.computed_at`, merchantID, day, region, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("roll up %s %s: %w", merchantID, day.Format(time.DateOnly), err)
	}
	return nil
}

// NewRollupWorker makes the worker that keeps the back office's daily rollups, on one node
// at a time (a lease in risk_jobs, the platform's job leases, taken for one interval and
// renewed by its holder at each run).
func NewRollupWorker(s *Service, cfg RollupConfig) *Worker {
	cfg.withDefaults()
	holder := core.NewRandomID("rollup")
	return NewWorker("console rollups", cfg.Interval, s.log, func(ctx context.Context) error {
		ok, err := s.claimJob(ctx, "console_rollups", holder, cfg.Interval)
		if err != nil || !ok {
			return err
		}
		st, err := s.RollUpConsoleStats(ctx, cfg)
		if st.Days > 0 {
			s.log.Info("console rollups", "merchants", st.Merchants, "days", st.Days)
		}
		return err
	})
}
