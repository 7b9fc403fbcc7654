package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// CancelPayment cancels a payment that is waiting for capture or for the payer, releasing
// any hold. Like capture, it reserves the payment while the channel voids it.
//
// Recovery points: started → cancel_requested → finished.
//   - (1) started: with the payment locked, check it and reserve it (core's RequestCancel).
//   - (2) cancel_requested: call the channel (key pay_…:void), then apply its answer (core's
//     ApplyVoid: status, ledger, outbox, reservation cleared) with the reply.
func (s *Service) CancelPayment(ctx context.Context, req core.IdempotentRequest, id string, params core.CancelParams) (core.Reply, error) {
	hash := s.requestHash(req, params)
	check := func(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey) (string, error) {
		pay, err := getPayment(ctx, tx, k.req.MerchantID, id, true)
		if err != nil {
			return finishNotFound(k, err)
		}
		ch, err := pay.RequestCancel()
		if err != nil {
			return finishRefused(k, err)
		}
		if err := s.persist(w, ch); err != nil {
			return "", err
		}
		k.paymentID = &pay.ID
		return pointCancelRequested, nil
	}
	first := &firstPhase{name: "cancel_payment.check", run: check}
	return s.run(ctx, req, hash, first, steps{
		pointCancelRequested: func(ctx context.Context, k *idemKey) error { return s.cancel(ctx, k, params) },
	})
}

func (s *Service) cancel(ctx context.Context, k *idemKey, params core.CancelParams) error {
	pay, err := getPayment(ctx, s.db.Pool, k.req.MerchantID, *k.paymentID, false)
	if err != nil {
		return err
	}
	if pay.Cancelable() != nil {
		// Settled meanwhile, by a request re-driving the same cancel.
		return s.phase(ctx, k, "cancel_payment.settled", func(ctx context.Context, tx pgx.Tx, _ *writeBatch, k *idemKey) (string, error) {
			if err := pay.CancelSettled(); err != nil {
				return k.finish(nil, err), nil
			}
			return k.finish(pay, nil), nil
		})
	}
	var res core.OpResult
	err = s.callChannel(ctx, "void", pay, func(ctx context.Context) error {
		var err error
		res, err = s.gw.Void(ctx, core.VoidRequest{Key: core.VoidKey(pay.ID), PaymentID: pay.ID,
			Channel: pay.Channel, Reference: deref(pay.ChannelReference)})
		return err
	})
	if err != nil {
		return channelError(k, err, pay)
	}
	return s.phase(ctx, k, "cancel_payment.apply", func(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey) (string, error) {
		pay, err := getPayment(ctx, tx, k.req.MerchantID, *k.paymentID, true)
		if err != nil {
			return "", err
		}
		ch, err := pay.ApplyVoid(res, params.CancellationReason, s.now())
		if core.ErrorCode(err) == core.CodeInvalidState {
			if res.OK {
				s.log.ErrorContext(ctx, "channel reports a void for a payment that moved on; reconcile", "payment", pay.ID, "status", pay.Status)
			}
			return k.finish(nil, err), nil
		}
		return s.finishChange(w, k, pay, ch, err)
	})
}
