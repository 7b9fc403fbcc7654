package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

const refundColumns = `id, merchant_id, region, payment_id, amount, currency, status, reason,
	failure_code, channel_reference, created_at, updated_at`

func scanRefund(row pgx.Row) (*core.Refund, error) {
	r := &core.Refund{Object: "refund"}
	err := row.Scan(&r.ID, &r.MerchantID, &r.Region, &r.Payment, &r.Amount, &r.Currency, &r.Status,
		&r.Reason, &r.FailureCode, &r.ChannelReference, &r.CreatedAt, &r.UpdatedAt)
	return r, err
}

func getRefund(ctx context.Context, q querier, merchantID, id string, lock bool) (*core.Refund, error) {
	sql := `SELECT ` + refundColumns + ` FROM refunds WHERE id = $1 AND merchant_id = $2`
	if lock {
		sql += ` FOR UPDATE`
	}
	r, err := scanRefund(q.QueryRow(ctx, sql, id, merchantID))
	if errNoRows(err) {
		return nil, core.ParamError(core.CodeNotFound, "id", "No such refund: '%s'.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read refund %s: %w", id, err)
	}
	return r, nil
}

// Refund reads one of a merchant's refunds.
func (s *Service) Refund(ctx context.Context, merchantID, id string) (*core.Refund, error) {
	return getRefund(ctx, s.db.Pool, merchantID, id, false)
}

// CreateRefund refunds some or all of a succeeded payment.
//
// Phases: (1) with the payment row locked, check what is still refundable and reserve the
// amount (amount_refund_pending) with a pending refund, so concurrent refunds can never
// exceed the captured amount; (2) call the channel with a key derived from the refund ID and
// settle: the refund succeeds (ledger and outbox) or fails (the reservation is released).
func (s *Service) CreateRefund(ctx context.Context, req core.IdempotentRequest, params core.CreateRefundParams) (core.Reply, error) {
	hash := s.requestHash(req, params)
	reserve := func(ctx context.Context, tx pgx.Tx, k *idemKey) (string, error) {
		return s.reserveRefund(ctx, tx, k, params)
	}
	first := &firstPhase{name: "create_refund.reserve", run: reserve}
	return s.run(ctx, req, hash, first, func(ctx context.Context, k *idemKey) error {
		switch k.point {
		case pointStarted:
			return s.phase(ctx, k, first.name, reserve)
		case pointRefundCreated:
			return s.executeRefund(ctx, k)
		}
		return fmt.Errorf("create refund: unexpected recovery point %q", k.point)
	})
}

func (s *Service) reserveRefund(ctx context.Context, tx pgx.Tx, k *idemKey, params core.CreateRefundParams) (string, error) {
	pay, err := getPayment(ctx, tx, k.req.MerchantID, params.Payment, true)
	if err != nil {
		if e := core.AsError(err); e.Code == core.CodeNotFound {
			e.Param = "payment"
			return k.finish(nil, e), nil
		}
		return "", err
	}
	if pay.Status != core.StatusSucceeded {
		return k.finish(nil, invalidState(pay, "refunded", core.StatusSucceeded)), nil
	}
	pending := pay.AmountRefundPending
	refundable := pay.AmountCaptured - pay.AmountRefunded - pending
	amount := refundable
	if params.Amount != nil {
		amount = *params.Amount
	}
	if refundable <= 0 {
		return k.finish(nil, &core.Error{Code: core.CodeAmountTooLarge, Param: "amount", PaymentID: pay.ID,
			Message: fmt.Sprintf("Payment %s has nothing left to refund (%d refunded, %d pending).", pay.ID, pay.AmountRefunded, pending)}), nil
	}
	if amount > refundable {
		return k.finish(nil, &core.Error{Code: core.CodeAmountTooLarge, Param: "amount", PaymentID: pay.ID,
			Message: fmt.Sprintf("Refund amount (%d) is greater than the amount still refundable (%d).", amount, refundable)}), nil
	}
	now := s.now()
	id := core.NewID(core.PrefixRefund, pay.Region)
	reason := params.Reason
	if reason == "" {
		reason = "requested_by_customer"
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO refunds (id, merchant_id, region, payment_id, amount, currency, status, reason, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
		id, pay.MerchantID, pay.Region, pay.ID, amount, pay.Currency, core.RefundPending, reason, now); err != nil {
		return "", fmt.Errorf("insert refund: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE payments SET amount_refund_pending = amount_refund_pending + $2, updated_at = $3 WHERE id = $1`,
		pay.ID, amount, now); err != nil {
		return "", fmt.Errorf("reserve refund: %w", err)
	}
	k.paymentID, k.refundID = &pay.ID, &id
	return pointRefundCreated, nil
}

func (s *Service) executeRefund(ctx context.Context, k *idemKey) error {
	ref, err := getRefund(ctx, s.db.Pool, k.req.MerchantID, *k.refundID, false)
	if err != nil {
		return err
	}
	pay, err := getPayment(ctx, s.db.Pool, k.req.MerchantID, ref.Payment, false)
	if err != nil {
		return err
	}
	var res core.OpResult
	if ref.Status == core.RefundPending {
		err = s.callChannel(ctx, "refund", pay, func(ctx context.Context) error {
			var err error
			res, err = s.gw.Refund(ctx, core.RefundRequest{Key: core.RefundKey(ref.ID), PaymentID: pay.ID,
				RefundID: ref.ID, Channel: pay.Channel, Reference: deref(pay.ChannelReference),
				Amount: ref.Amount, Currency: ref.Currency})
			return err
		})
		if err != nil {
			return channelError(k, err, ref)
		}
	}
	return s.phase(ctx, k, "create_refund.apply", func(ctx context.Context, tx pgx.Tx, k *idemKey) (string, error) {
		pay, err := getPayment(ctx, tx, k.req.MerchantID, *k.paymentID, true)
		if err != nil {
			return "", err
		}
		ref, err := getRefund(ctx, tx, k.req.MerchantID, *k.refundID, true)
		if err != nil {
			return "", err
		}
		if ref.Status == core.RefundPending {
			if err := s.settleRefund(ctx, tx, pay, ref, res); err != nil {
				return "", err
			}
		}
		return k.finish(ref, nil), nil
	})
}

// settleRefund applies the channel's answer to a pending refund and its payment.
func (s *Service) settleRefund(ctx context.Context, tx pgx.Tx, pay *core.Payment, ref *core.Refund, res core.OpResult) error {
	now := s.now()
	ref.UpdatedAt = now
	event := core.EventRefundSucceeded
	if res.OK {
		ref.Status = core.RefundSucceeded
		if res.Reference != "" {
			ref.ChannelReference = &res.Reference
		}
		pay.AmountRefunded += ref.Amount
		if err := s.post(ctx, tx, refundJournal(pay, ref)); err != nil {
			return err
		}
	} else {
		code := res.FailureCode
		if code == "" {
			code = core.CodeProcessingError
		}
		ref.Status, ref.FailureCode = core.RefundFailed, &code
		event = core.EventRefundFailed
	}
	if _, err := tx.Exec(ctx, `UPDATE refunds SET status = $2, failure_code = $3, channel_reference = $4, updated_at = $5 WHERE id = $1`,
		ref.ID, ref.Status, ref.FailureCode, ref.ChannelReference, now); err != nil {
		return fmt.Errorf("update refund: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE payments SET amount_refunded = $2, amount_refund_pending = amount_refund_pending - $3, updated_at = $4 WHERE id = $1`,
		pay.ID, pay.AmountRefunded, ref.Amount, now); err != nil {
		return fmt.Errorf("update refunded payment: %w", err)
	}
	return s.emit(ctx, tx, ref.MerchantID, ref.Region, event, ref.ID, ref)
}
