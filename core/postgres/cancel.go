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
		pointCancelRequested: channelStep(s, "cancel_payment", "void", func(ctx context.Context, k *idemKey) (channelWork[core.OpResult], error) {
			return s.cancelWork(ctx, k, params)
		}),
	})
}

func (s *Service) cancelWork(ctx context.Context, k *idemKey, params core.CancelParams) (channelWork[core.OpResult], error) {
	pay, err := getPayment(ctx, s.db.Pool, k.req.MerchantID, *k.paymentID, false)
	if err != nil {
		return channelWork[core.OpResult]{}, err
	}
	if pay.Cancelable() != nil {
		// Settled meanwhile, by a request re-driving the same cancel.
		return channelWork[core.OpResult]{settled: func(_ context.Context, _ pgx.Tx, _ *writeBatch, k *idemKey) (string, error) {
			if err := pay.CancelSettled(); err != nil {
				return k.finish(nil, err), nil
			}
			return k.finish(pay, nil), nil
		}}, nil
	}
	return channelWork[core.OpResult]{pay: pay,
		call: func(ctx context.Context) (core.OpResult, error) {
			return s.gw.Void(ctx, core.VoidRequest{Key: core.VoidKey(pay.ID), PaymentID: pay.ID,
				Channel: pay.Channel, Reference: deref(pay.ChannelReference)})
		},
		apply: func(res core.OpResult) phaseFunc {
			return func(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey) (string, error) {
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
			}
		}}, nil
}
