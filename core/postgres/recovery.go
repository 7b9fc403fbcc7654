package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// RecoveryConfig configures the in-doubt recovery worker.
type RecoveryConfig struct {
	// Interval between sweeps. Default 5s.
	Interval time.Duration
	// MinAge is how long a payment must have been left alone before the worker asks its
	// channel about it. Default twice the service's lease, so live requests finish first.
	MinAge time.Duration
	// Batch is how many payments one sweep claims. Default 20.
	Batch int
	// MaxBackoff caps the growing pause between looks at one payment. Default 10 minutes.
	MaxBackoff time.Duration
	// DeadHolderAge is how long a payment whose idempotency key is held by a dead node (see
	// LivenessConfig) must have been left alone before the worker asks its channel about
	// it, without waiting for MinAge: the client's own retry gets the first go. Default 10s.
	DeadHolderAge time.Duration
}

func (c *RecoveryConfig) withDefaults(lease time.Duration) {
	if c.Interval == 0 {
		c.Interval = 5 * time.Second
	}
	if c.MinAge == 0 {
		c.MinAge = 2 * lease
	}
	if c.Batch == 0 {
		c.Batch = 20
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 10 * time.Minute
	}
	if c.DeadHolderAge == 0 {
		c.DeadHolderAge = 10 * time.Second
	}
}

// RecoveryStats counts what one sweep did.
type RecoveryStats struct {
	Examined int // payments claimed and asked about
	Resolved int // moved to the channel's answer, or reservations settled
	Waiting  int // still waiting (the payer has not paid, or the channel did not answer)
	Errors   int // channel queries that failed; retried after a backoff
}

type inDoubt struct {
	id, merchantID string
	attempts       int
}

// Recover runs one sweep of in-doubt recovery: it claims payments left processing, waiting
// for the payer, or reserved by a capture or cancel whose request went away — with FOR UPDATE
// SKIP LOCKED and a per-payment backoff, so every node can run it at once — asks each one's
// channel what became of it, and applies the answer. A payment the channel never saw is
// failed, unless a request still holds its idempotency key's lease.
//
// Payments whose money is in doubt (processing, reserved) come before those waiting for a
// payer, and within each, the one whose look is due earliest: a backlog of unpaid QR
// payments never starves a payment the channel may have charged.
func (s *Service) Recover(ctx context.Context, q core.Querier, cfg RecoveryConfig) (RecoveryStats, error) {
	cfg.withDefaults(s.cfg.Lease)
	var st RecoveryStats
	var claimed []inDoubt
	now := s.now()
	err := s.db.WriteTx(ctx, "recovery.claim", func(tx pgx.Tx) error {
		claimed = claimed[:0]
		rows, err := tx.Query(ctx, `
			SELECT id, merchant_id, recovery_attempts FROM payments
			WHERE (status IN ('processing', 'requires_action') OR pending_op IS NOT NULL)
				AND (updated_at < $1 OR (updated_at < $4 AND EXISTS (SELECT 1 FROM idempotency_keys k
					WHERE k.payment_id = payments.id AND k.response_status IS NULL AND k.holder IS NOT NULL
						AND NOT `+holderAliveSQL("k.holder", "$5")+`)))
				AND (next_recovery_at IS NULL OR next_recovery_at <= $2)
			ORDER BY status = 'requires_action' AND pending_op IS NULL, COALESCE(next_recovery_at, updated_at)
			LIMIT $3 FOR UPDATE SKIP LOCKED`, now.Add(-cfg.MinAge), now, cfg.Batch, now.Add(-cfg.DeadHolderAge),
			s.cfg.Liveness.Timeout.Seconds())
		if err != nil {
			return err
		}
		for rows.Next() {
			var d inDoubt
			if err := rows.Scan(&d.id, &d.merchantID, &d.attempts); err != nil {
				rows.Close()
				return err
			}
			claimed = append(claimed, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, d := range claimed {
			backoff := min(cfg.MaxBackoff, cfg.Interval<<min(d.attempts, 20))
			if _, err := tx.Exec(ctx, `UPDATE payments SET recovery_attempts = recovery_attempts + 1, next_recovery_at = $2 WHERE id = $1`,
				d.id, now.Add(backoff)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("recovery: claim: %w", err)
	}
	for _, d := range claimed {
		st.Examined++
		moved, err := s.recoverOne(ctx, q, d)
		switch {
		case errors.Is(err, core.ErrNotExecuted):
			// The channel was not asked (an open breaker, a quota): not an attempt. The
			// breaker already spaces out calls to a sick channel, so the payment is looked
			// at again next sweep and settles soon after the channel heals.
			st.Errors++
			s.log.WarnContext(ctx, "recovery: channel not asked; will look again", "payment", d.id, "err", err)
			if err := s.db.WriteTx(ctx, "recovery.unclaim", func(tx pgx.Tx) error {
				_, err := tx.Exec(ctx, `UPDATE payments SET recovery_attempts = GREATEST(recovery_attempts - 1, 0),
					next_recovery_at = $2 WHERE id = $1`, d.id, now.Add(cfg.Interval))
				return err
			}); err != nil {
				s.log.WarnContext(ctx, "recovery: could not reschedule", "payment", d.id, "err", err)
			}
		case err != nil:
			st.Errors++
			s.log.WarnContext(ctx, "recovery: channel query failed; will retry", "payment", d.id, "err", err)
		case moved:
			st.Resolved++
		default:
			st.Waiting++
		}
	}
	return st, nil
}

func (s *Service) recoverOne(ctx context.Context, q core.Querier, d inDoubt) (bool, error) {
	pay, err := getPayment(ctx, s.db.Pool, d.merchantID, d.id, false)
	if err != nil {
		return false, err
	}
	var state core.PaymentState
	err = s.callChannel(ctx, "query", pay, func(ctx context.Context) error {
		var err error
		state, err = q.QueryPayment(ctx, core.PaymentQuery{Key: core.AuthorizeKey(pay.ID), PaymentID: pay.ID,
			Channel: pay.Channel, Reference: deref(pay.ChannelReference)})
		return err
	})
	if err != nil {
		return false, err
	}
	// Asking again with the same channel key gets the channel's first answer, and charges
	// nothing.
	var redriven *core.AuthorizeResult
	if pay.NeedsRedrive(state) {
		var res core.AuthorizeResult
		if err := s.callChannel(ctx, "authorize", pay, func(ctx context.Context) error {
			var err error
			res, err = s.gw.Authorize(ctx, authorizeRequest(pay, nil))
			return err
		}); err != nil {
			return false, err
		}
		redriven = &res
	}
	var moved bool
	err = s.db.WriteTx(ctx, "recovery.apply", func(tx pgx.Tx) error {
		moved = false
		pay, err := getPayment(ctx, tx, d.merchantID, d.id, true)
		if err != nil {
			return err
		}
		var leased bool
		// The same rule as a retry's take-over: a key is held while its lease runs and its
		// holder (if it has one) is alive by the database's clock.
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM idempotency_keys k WHERE payment_id = $1
			AND response_status IS NULL AND locked_until > $2
			AND (holder IS NULL OR `+holderAliveSQL("k.holder", "$3")+`))`, pay.ID, s.now(), s.cfg.Liveness.Timeout.Seconds()).Scan(&leased); err != nil {
			return err
		}
		if leased {
			return nil // a live request is on it
		}
		// The same transitions as the requests' (a capture or cancel's reservation is settled
		// by ApplyCapture or ApplyVoid), from the channel's account.
		ch, err := pay.Recover(state, redriven, s.now())
		if err != nil || ch.Empty() {
			return err
		}
		var w writeBatch
		if err := s.persist(&w, ch); err != nil {
			return err
		}
		if err := w.commit(ctx, tx); err != nil {
			return err
		}
		moved = true
		return nil
	})
	return moved, err
}
