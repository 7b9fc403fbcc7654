package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// getPaymentAnyMerchant reads and locks a payment by ID alone: channel notifications and the
// recovery worker act for the platform, not for a merchant.
func getPaymentAnyMerchant(ctx context.Context, tx pgx.Tx, id string) (*core.Payment, error) {
	p, err := scanPayment(tx.QueryRow(ctx, `SELECT `+paymentColumns+` FROM payments WHERE id = $1 FOR UPDATE`, id))
	if errNoRows(err) {
		return nil, nil
	}
	return p, err
}

// ApplyNotification applies a verified channel notification once: a repeated event ID changes
// nothing, and a notification never moves a payment backwards (a stale "closed" after "paid"
// is ignored; core's Payment.ApplyNotification decides). It reports whether the
// notification changed anything.
func (s *Service) ApplyNotification(ctx context.Context, n core.Notification) (bool, error) {
	var applied bool
	err := s.db.WriteTx(ctx, "notification.apply", func(tx pgx.Tx) error {
		applied = false
		subject := n.PaymentID
		if n.PayoutID != "" {
			subject = n.PayoutID
		}
		region := core.RegionOfID(subject)
		if region == "" {
			region = s.cfg.Region
		}
		if n.Nonce != "" {
			// The nonce first: a replay changes nothing, whichever node saw the original.
			now := s.now()
			tag, err := tx.Exec(ctx, `INSERT INTO notification_nonces (channel, nonce, region, expires_at) VALUES ($1, $2, $3, $4)
				ON CONFLICT (channel, nonce) DO UPDATE SET expires_at = excluded.expires_at
				WHERE notification_nonces.expires_at <= $5`,
				n.Channel, n.Nonce, region, n.NonceExpires, now)
			if err != nil {
				return fmt.Errorf("record notification nonce: %w", err)
			}
			if tag.RowsAffected() == 0 {
				return fmt.Errorf("notification %s of %s: %w", n.EventID, n.Channel, core.ErrReplayedNotification)
			}
		}
		// Sent at once: whether it inserted tells a duplicate.
		tag, err := tx.Exec(ctx, `INSERT INTO channel_events (channel, event_id, region, payment_id, outcome, applied, received_at)
			VALUES ($1, $2, $3, $4, $5, false, $6) ON CONFLICT (channel, event_id) DO NOTHING`,
			n.Channel, n.EventID, region, subject, notificationOutcome(n), s.now())
		if err != nil {
			return fmt.Errorf("record notification: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil // a duplicate
		}
		if n.PayoutID != "" {
			var w writeBatch
			moved, err := s.applyPayout(ctx, tx, &w, n.PayoutID, core.PayoutResult{Found: true, Outcome: n.PayoutOutcome,
				Reference: n.Reference, FailureCode: n.DeclineCode, FailureMessage: n.DeclineMessage})
			if err != nil || !moved {
				return err
			}
			w.queue(`UPDATE channel_events SET applied = true WHERE channel = $1 AND event_id = $2`, n.Channel, n.EventID)
			if err := w.commit(ctx, tx); err != nil {
				return err
			}
			applied = true
			return nil
		}
		var ch core.Change
		if n.RefundID != "" {
			ch, err = s.refundNotification(ctx, tx, n)
		} else {
			ch, err = s.paymentNotification(ctx, tx, n)
		}
		if err != nil || ch.Empty() {
			return err
		}
		var w writeBatch
		if err := s.persist(&w, ch); err != nil {
			return err
		}
		w.queue(`UPDATE channel_events SET applied = true WHERE channel = $1 AND event_id = $2`, n.Channel, n.EventID)
		if err := w.commit(ctx, tx); err != nil {
			return err
		}
		applied = true
		return nil
	})
	return applied, err
}

func (s *Service) paymentNotification(ctx context.Context, tx pgx.Tx, n core.Notification) (core.Change, error) {
	pay, err := getPaymentAnyMerchant(ctx, tx, n.PaymentID)
	if err != nil || pay == nil {
		if pay == nil && err == nil {
			s.log.WarnContext(ctx, "notification for an unknown payment", "channel", n.Channel, "payment", n.PaymentID, "event", n.EventID)
		}
		return core.Change{}, err
	}
	ch, err := pay.ApplyNotification(n, s.now())
	var e *core.Error
	if asCoded(err, &e) {
		if e.Param == "channel" {
			s.log.WarnContext(ctx, "notification from another channel than the payment's", "payment", pay.ID, "channel", n.Channel)
		} else {
			s.log.ErrorContext(ctx, "notification amount differs from the payment; not applied, reconcile",
				"payment", pay.ID, "amount", pay.Amount, "notified", n.Amount, "currency", n.Currency)
		}
		return core.Change{}, nil
	}
	return ch, err
}

func (s *Service) refundNotification(ctx context.Context, tx pgx.Tx, n core.Notification) (core.Change, error) {
	var merchantID string
	if err := tx.QueryRow(ctx, `SELECT merchant_id FROM refunds WHERE id = $1`, n.RefundID).Scan(&merchantID); err != nil {
		if errNoRows(err) {
			s.log.WarnContext(ctx, "notification for an unknown refund", "refund", n.RefundID)
			return core.Change{}, nil
		}
		return core.Change{}, err
	}
	ref, err := getRefund(ctx, tx, merchantID, n.RefundID, true)
	if err != nil || ref.Status != core.RefundPending {
		return core.Change{}, err
	}
	pay, err := getPayment(ctx, tx, merchantID, ref.Payment, true)
	if err != nil {
		return core.Change{}, err
	}
	return ref.ApplyNotification(pay, n, s.now())
}

// ReapNotificationNonces deletes notification nonces past their expiry, a batch at a time,
// and reports how many it deleted.
func (s *Service) ReapNotificationNonces(ctx context.Context) (int64, error) {
	var total int64
	for {
		tag, err := s.db.Pool.Exec(ctx, `DELETE FROM notification_nonces WHERE (channel, nonce) IN (
			SELECT channel, nonce FROM notification_nonces WHERE expires_at < $1 LIMIT 1000)`, s.now())
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < 1000 {
			return total, nil
		}
	}
}

// NewNonceReaper makes the worker that reaps expired notification nonces every interval
// (default 10 minutes).
func NewNonceReaper(s *Service, interval time.Duration) *Worker {
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	return NewWorker("notification nonce reaper", interval, s.log, func(ctx context.Context) error {
		n, err := s.ReapNotificationNonces(ctx)
		if n > 0 {
			s.log.Info("reaped notification nonces", "deleted", n)
		}
		return err
	})
}

// notificationOutcome is what channel_events records of a notification's outcome.
func notificationOutcome(n core.Notification) string {
	if n.PayoutID != "" {
		return string(n.PayoutOutcome)
	}
	return string(n.Outcome)
}
