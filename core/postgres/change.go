package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/paycenter/paycenter/core"
)

const updatePaymentSQL = `
		UPDATE payments SET status = $2, amount_capturable = $3, amount_captured = $4,
			amount_refunded = $5, failure_code = $6, failure_message = $7, next_action = $8,
			channel_reference = $9, updated_at = $10, canceled_at = $11, cancellation_reason = $12,
			amount_refund_pending = $13, pending_op = $14, pending_amount = $15
		WHERE id = $1`

func updatePaymentArgs(p *core.Payment) []any {
	return []any{p.ID, p.Status, p.AmountCapturable, p.AmountCaptured, p.AmountRefunded, p.FailureCode,
		p.FailureMessage, p.NextAction, p.ChannelReference, p.UpdatedAt, p.CanceledAt, p.CancellationReason,
		p.AmountRefundPending, p.PendingOp, p.PendingAmount}
}

// persist queues a domain change on w: the payment's and refund's new state, its journals and
// its outbox events, all committed with the rest of the transaction. The rows it changes must
// have been read with a lock in tx (or be new).
func (s *Service) persist(w *writeBatch, ch core.Change) error {
	if ch.Payment != nil {
		w.queue(updatePaymentSQL, updatePaymentArgs(ch.Payment)...)
	}
	return s.persistRest(w, ch)
}

// persistIfStill writes a change to a payment read without a lock, only if the payment is
// still in the status the change started from, and reports whether it was: the update's row
// lock and status check make the journals and events queued after it happen once, whoever
// else moves the payment first.
//
// In the common case the update is queued with the rest, and the whole phase is one round
// trip: if the payment has moved, the update fails on the server (errPaymentMoved) and with
// it the phase, which phase runs again with the update sent at once (sendCASFirst), so that
// this time the phase sees the payment as it is. That only costs the rare phase that lost
// the race a second transaction.
func (s *Service) persistIfStill(ctx context.Context, tx pgx.Tx, w *writeBatch, ch core.Change) (bool, error) {
	if ch.Payment == nil {
		return false, nil
	}
	args := append(updatePaymentArgs(ch.Payment), ch.From)
	if ctx.Value(sendCASFirst{}) == nil {
		w.queue(`WITH moved AS (`+updatePaymentSQL+` AND status = $16 RETURNING 1)
			SELECT CASE WHEN count(*) = 1 THEN 1 ELSE ('`+paymentMovedMark+`' || count(*)::TEXT)::INT END FROM moved`, args...)
		return true, s.persistRest(w, ch)
	}
	tag, err := tx.Exec(ctx, updatePaymentSQL+` AND status = $16`, args...)
	if err != nil {
		return false, fmt.Errorf("update payment %s: %w", ch.Payment.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	return true, s.persistRest(w, ch)
}

// paymentMovedMark is in the error of a queued compare-and-set whose payment had moved: the
// cast of this text to an integer fails (SQLSTATE 22P02) on PostgreSQL and CockroachDB alike.
const paymentMovedMark = "payment_moved:"

// errPaymentMoved is a phase's failure because a payment it changed had left the status the
// change started from (persistIfStill).
var errPaymentMoved = errors.New("the payment moved while the phase ran")

// sendCASFirst, in a phase's context, makes persistIfStill send its update at once.
type sendCASFirst struct{}

// paymentMoved is errPaymentMoved for the error of a phase whose queued compare-and-set
// found the payment moved, and err otherwise.
func paymentMoved(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "22P02" && strings.Contains(pe.Message, paymentMovedMark) {
		return errPaymentMoved
	}
	return err
}

func (s *Service) persistRest(w *writeBatch, ch core.Change) error {
	if p := ch.Payment; p != nil && !countsInVolume(p.Status) && countsInVolume(ch.From) {
		queueVolume(w, p, -p.Amount) // failed or canceled: out of the KYC volume
	}
	if r := ch.Refund; r != nil {
		if ch.NewRefund {
			w.queue(`
				INSERT INTO refunds (id, merchant_id, region, payment_id, amount, currency, status, reason, created_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
				r.ID, r.MerchantID, r.Region, r.Payment, r.Amount, r.Currency, r.Status, r.Reason, r.CreatedAt, r.UpdatedAt)
		} else {
			w.queue(`UPDATE refunds SET status = $2, failure_code = $3, channel_reference = $4, updated_at = $5 WHERE id = $1`,
				r.ID, r.Status, r.FailureCode, r.ChannelReference, r.UpdatedAt)
		}
	}
	for _, j := range ch.Journals {
		if err := s.post(w, j); err != nil {
			return err
		}
		s.creditTopUp(w, ch.Payment, j) // wallets.go
	}
	for _, e := range ch.Events {
		s.emit(w, e)
		if e.Type == core.EventReviewOpened {
			openReview(w, ch.Payment)
		}
	}
	return nil
}
