package postgres

import (
	"context"
	"fmt"

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
// is ignored). It reports whether the notification changed anything.
func (s *Service) ApplyNotification(ctx context.Context, n core.Notification) (bool, error) {
	var applied bool
	err := s.db.WriteTx(ctx, "notification.apply", func(tx pgx.Tx) error {
		applied = false
		region := core.RegionOfID(n.PaymentID)
		if region == "" {
			region = s.cfg.Region
		}
		tag, err := tx.Exec(ctx, `INSERT INTO channel_events (channel, event_id, region, payment_id, outcome, applied, received_at)
			VALUES ($1, $2, $3, $4, $5, false, $6) ON CONFLICT (channel, event_id) DO NOTHING`,
			n.Channel, n.EventID, region, n.PaymentID, n.Outcome, s.now())
		if err != nil {
			return fmt.Errorf("record notification: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil // a duplicate
		}
		if n.RefundID != "" {
			applied, err = s.applyRefundNotification(ctx, tx, n)
		} else {
			applied, err = s.applyPaymentNotification(ctx, tx, n)
		}
		if err != nil || !applied {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE channel_events SET applied = true WHERE channel = $1 AND event_id = $2`, n.Channel, n.EventID)
		return err
	})
	return applied, err
}

func (s *Service) applyPaymentNotification(ctx context.Context, tx pgx.Tx, n core.Notification) (bool, error) {
	pay, err := getPaymentAnyMerchant(ctx, tx, n.PaymentID)
	if err != nil || pay == nil {
		if pay == nil && err == nil {
			s.log.WarnContext(ctx, "notification for an unknown payment", "channel", n.Channel, "payment", n.PaymentID, "event", n.EventID)
		}
		return false, err
	}
	if pay.Channel != n.Channel {
		s.log.WarnContext(ctx, "notification from another channel than the payment's", "payment", pay.ID, "channel", n.Channel)
		return false, nil
	}
	if n.Outcome == core.OutcomeCaptured && (n.Amount != pay.Amount || (n.Currency != "" && n.Currency != pay.Currency)) {
		s.log.ErrorContext(ctx, "notification amount differs from the payment; not applied, reconcile",
			"payment", pay.ID, "amount", pay.Amount, "notified", n.Amount, "currency", n.Currency)
		return false, nil
	}
	return s.applyChannelState(ctx, tx, pay, n.Outcome, n.Reference, n.DeclineCode, n.DeclineMessage)
}

// applyChannelState moves a payment to what its channel says became of it, if that is a move
// forward: paid (captured), declined, authorised or closed unpaid. It reports whether it moved.
func (s *Service) applyChannelState(ctx context.Context, tx pgx.Tx, pay *core.Payment, outcome core.AuthorizeOutcome, ref, code, msg string) (bool, error) {
	switch outcome {
	case core.OutcomeCaptured, core.OutcomeDeclined, core.OutcomeAuthorized:
		to := outcomeStatus(outcome)
		if !pay.Status.CanTransition(to) {
			return false, nil
		}
		if pay.Status == core.StatusRequiresAction {
			pay.NextAction = nil
		}
		return s.applyAuthorization(ctx, tx, pay, core.AuthorizeResult{Outcome: outcome, Reference: ref, DeclineCode: code, DeclineMessage: msg})
	case core.OutcomeClosed:
		now := s.now()
		switch pay.Status {
		case core.StatusRequiresAction:
			pay.Status, pay.CanceledAt, pay.NextAction = core.StatusCanceled, &now, nil
			reason := "expired"
			pay.CancellationReason = &reason
			pay.UpdatedAt = now
			if err := updatePayment(ctx, tx, pay); err != nil {
				return false, err
			}
			return true, s.emit(ctx, tx, pay.MerchantID, pay.Region, core.EventPaymentCanceled, pay.ID, pay)
		case core.StatusProcessing:
			return s.applyAuthorization(ctx, tx, pay, core.AuthorizeResult{Outcome: core.OutcomeDeclined, Reference: ref,
				DeclineCode: core.CodeProcessingError, DeclineMessage: "The channel closed the order unpaid."})
		}
	}
	return false, nil
}

func (s *Service) applyRefundNotification(ctx context.Context, tx pgx.Tx, n core.Notification) (bool, error) {
	var merchantID string
	if err := tx.QueryRow(ctx, `SELECT merchant_id FROM refunds WHERE id = $1`, n.RefundID).Scan(&merchantID); err != nil {
		if errNoRows(err) {
			s.log.WarnContext(ctx, "notification for an unknown refund", "refund", n.RefundID)
			return false, nil
		}
		return false, err
	}
	ref, err := getRefund(ctx, tx, merchantID, n.RefundID, true)
	if err != nil {
		return false, err
	}
	if ref.Status != core.RefundPending {
		return false, nil
	}
	pay, err := getPayment(ctx, tx, merchantID, ref.Payment, true)
	if err != nil {
		return false, err
	}
	res := core.OpResult{OK: n.Outcome == core.OutcomeCaptured, Amount: n.Amount, Reference: n.Reference, FailureCode: n.DeclineCode}
	return true, s.settleRefund(ctx, tx, pay, ref, res)
}
