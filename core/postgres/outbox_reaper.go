package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// eventReapBatch is how many events one transaction of the reaper deletes.
const eventReapBatch = 1000

// ReapEvents deletes the events older than the event retention (Config.EventRetention,
// 30 days by default) that were fanned out (delivered_at set), with their webhook
// deliveries and delivery attempts, and returns how many events it deleted. It goes
// merchant by merchant through the merchant's index of events (merchant_id, created_at),
// the one the events API reads, so that no index serves it alone and every payment writes
// none more; each transaction deletes at most eventReapBatch events (no long transaction,
// no long-held locks). An event still being delivered (a pending delivery: a redelivery
// asked for near the end of its retention) stays until that delivery is over.
func (s *Service) ReapEvents(ctx context.Context) (int64, error) {
	cutoff := s.now().Add(-s.cfg.EventRetention)
	rows, err := s.db.Pool.Query(ctx, `SELECT id FROM merchants ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("reap events: %w", err)
	}
	merchants, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, fmt.Errorf("reap events: %w", err)
	}
	var total int64
	for _, m := range merchants {
		for {
			var n int
			err := s.db.WriteTx(ctx, "outbox.reap", func(tx pgx.Tx) error {
				rows, err := tx.Query(ctx, `SELECT e.id FROM outbox_events e
					WHERE e.merchant_id = $1 AND e.created_at < $2 AND e.delivered_at IS NOT NULL
						AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
					ORDER BY e.created_at LIMIT $3`, m, cutoff, eventReapBatch)
				if err != nil {
					return err
				}
				ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
				if err != nil {
					return err
				}
				n = len(ids)
				if n == 0 {
					return nil
				}
				if _, err := tx.Exec(ctx, `DELETE FROM webhook_delivery_attempts WHERE event_id = ANY($1)`, ids); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `DELETE FROM webhook_deliveries WHERE event_id = ANY($1)`, ids); err != nil {
					return err
				}
				_, err = tx.Exec(ctx, `DELETE FROM outbox_events WHERE id = ANY($1)`, ids)
				return err
			})
			if err != nil {
				return total, fmt.Errorf("reap events of %s: %w", m, err)
			}
			total += int64(n)
			if n < eventReapBatch {
				break
			}
		}
	}
	return total, nil
}

// NewEventReaper makes the worker that runs ReapEvents every interval (default 1 hour), on
// one node at a time (a lease in risk_jobs, the platform's job leases, taken for one
// interval and renewed by its holder at each run, as the rollup worker's).
func NewEventReaper(s *Service, interval time.Duration) *Worker {
	if interval <= 0 {
		interval = time.Hour
	}
	holder := core.NewRandomID("reaper")
	return NewWorker("event reaper", interval, s.log, func(ctx context.Context) error {
		ok, err := s.claimJob(ctx, "event_reaper", holder, interval)
		if err != nil || !ok {
			return err
		}
		n, err := s.ReapEvents(ctx)
		if n > 0 {
			s.log.Info("reaped events", "deleted", n, "retention", s.cfg.EventRetention)
		}
		return err
	})
}
