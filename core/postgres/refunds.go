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
// Recovery points: started → refund_created → finished.
//   - (1) started: with the payment row locked, check what is still refundable and reserve
//     the amount (amount_refund_pending) with a pending refund (core's ReserveRefund), so
//     concurrent refunds can never exceed the captured amount.
//   - (2) refund_created: call the channel with a key derived from the refund ID and settle
//     (core's Refund.Settle): the refund succeeds (ledger and outbox) or fails (the
//     reservation is released).
func (s *Service) CreateRefund(ctx context.Context, req core.IdempotentRequest, params core.CreateRefundParams) (core.Reply, error) {
	hash := s.requestHash(req, params)
	reserve := func(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey) (string, error) {
		return s.reserveRefund(ctx, tx, w, k, params)
	}
	first := &firstPhase{name: "create_refund.reserve", run: reserve}
	return s.run(ctx, req, hash, first, steps{
		pointRefundCreated: channelStep(s, "create_refund", "refund", s.refundWork),
	})
}

func (s *Service) reserveRefund(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey, params core.CreateRefundParams) (string, error) {
	pay, err := getPayment(ctx, tx, k.req.MerchantID, params.Payment, true)
	if err != nil {
		if e := core.AsError(err); e.Code == core.CodeNotFound {
			e.Param = "payment"
			return k.finish(nil, e), nil
		}
		return "", err
	}
	if err := refusedTopUpRefund(ctx, tx, pay); err != nil { // wallets.go
		return finishRefused(k, err)
	}
	ch, err := pay.ReserveRefund(core.NewID(core.PrefixRefund, pay.Region), params.Amount, params.Reason, s.now())
	if err != nil {
		return finishRefused(k, err)
	}
	if err := s.persist(w, ch); err != nil {
		return "", err
	}
	if err := s.consoleAudit(ctx, tx, pay.MerchantID, "refund.created", ch.Refund.ID,
		"payment "+pay.ID+", "+core.FormatAmount(ch.Refund.Amount, ch.Refund.Currency)); err != nil {
		return "", err
	}
	k.paymentID, k.refundID = &pay.ID, &ch.Refund.ID
	return pointRefundCreated, nil
}

// refundWork is a refund's second step: unless the refund was settled already (a channel
// notification, a request re-driving it), the channel call, then the phase that settles it.
func (s *Service) refundWork(ctx context.Context, k *idemKey) (channelWork[core.OpResult], error) {
	ref, err := getRefund(ctx, s.db.Pool, k.req.MerchantID, *k.refundID, false)
	if err != nil {
		return channelWork[core.OpResult]{}, err
	}
	pay, err := getPayment(ctx, s.db.Pool, k.req.MerchantID, ref.Payment, false)
	if err != nil {
		return channelWork[core.OpResult]{}, err
	}
	wk := channelWork[core.OpResult]{pay: pay, interim: ref, apply: func(res core.OpResult) phaseFunc {
		return func(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey) (string, error) {
			pay, err := getPayment(ctx, tx, k.req.MerchantID, *k.paymentID, true)
			if err != nil {
				return "", err
			}
			ref, err := getRefund(ctx, tx, k.req.MerchantID, *k.refundID, true)
			if err != nil {
				return "", err
			}
			ch, err := ref.Settle(pay, res, s.now())
			if err != nil {
				return "", err
			}
			if ch.Empty() {
				return k.finish(ref, nil), nil // settled already
			}
			if err := s.persist(w, ch); err != nil {
				return "", err
			}
			return k.finish(ch.Refund, nil), nil
		}
	}}
	if ref.Status == core.RefundPending && pay.Channel == core.ChannelWallet {
		wk.call = walletRefund(ref) // the wallet is in the ledger: the apply phase moves the money
	} else if ref.Status == core.RefundPending {
		wk.call = func(ctx context.Context) (core.OpResult, error) {
			return s.gw.Refund(ctx, core.RefundRequest{Key: core.RefundKey(ref.ID), PaymentID: pay.ID,
				RefundID: ref.ID, Channel: pay.Channel, Reference: deref(pay.ChannelReference),
				Amount: ref.Amount, Currency: ref.Currency})
		}
	}
	return wk, nil
}

// Refunds lists a merchant's refunds, newest first.
func (s *Service) Refunds(ctx context.Context, merchantID string, f core.RefundFilter) (*core.List[*core.Refund], error) {
	limit := f.Limit
	if limit == 0 {
		limit = core.DefaultListLimit
	}
	sql := `SELECT ` + refundColumns + ` FROM refunds WHERE merchant_id = $1`
	args := []any{merchantID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Payment != "" {
		sql += ` AND payment_id = ` + arg(f.Payment)
	}
	if f.StartingAfter != "" {
		after, err := getRefund(ctx, s.db.Pool, merchantID, f.StartingAfter, false)
		if err != nil {
			if core.ErrorCode(err) == core.CodeNotFound {
				return nil, core.ParamError(core.CodeNotFound, "starting_after", "No such refund: '%s'.", f.StartingAfter)
			}
			return nil, err
		}
		sql += fmt.Sprintf(` AND (created_at, id) < (%s, %s)`, arg(after.CreatedAt), arg(after.ID))
	}
	sql += ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(limit+1)
	rows, err := s.db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list refunds: %w", err)
	}
	defer rows.Close()
	list := &core.List[*core.Refund]{Object: "list", Data: []*core.Refund{}}
	for rows.Next() {
		r, err := scanRefund(rows)
		if err != nil {
			return nil, fmt.Errorf("list refunds: %w", err)
		}
		list.Data = append(list.Data, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list refunds: %w", err)
	}
	if len(list.Data) > limit {
		list.Data, list.HasMore = list.Data[:limit], true
	}
	return list, nil
}
