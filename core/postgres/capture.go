package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// CapturePayment captures some or all of a requires_capture payment's hold.
//
// Recovery points: started → capture_requested → finished.
//   - (1) started: with the payment locked, check it and reserve it for this capture
//     (core's RequestCapture).
//   - (2) capture_requested: call the channel (key pay_…:capture), then apply its answer
//     (core's ApplyCapture: status, ledger, outbox, reservation cleared) with the reply.
func (s *Service) CapturePayment(ctx context.Context, req core.IdempotentRequest, id string, params core.CaptureParams) (core.Reply, error) {
	hash := s.requestHash(req, params)
	check := func(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey) (string, error) {
		pay, err := getPayment(ctx, tx, k.req.MerchantID, id, true)
		if err != nil {
			return finishNotFound(k, err)
		}
		ch, err := pay.RequestCapture(params.Amount)
		if err != nil {
			return finishRefused(k, err)
		}
		if err := s.persist(w, ch); err != nil {
			return "", err
		}
		k.paymentID = &pay.ID
		return pointCaptureRequested, nil
	}
	first := &firstPhase{name: "capture_payment.check", run: check}
	return s.run(ctx, req, hash, first, steps{
		pointCaptureRequested: channelStep(s, "capture_payment", "capture", func(ctx context.Context, k *idemKey) (channelWork[core.OpResult], error) {
			return s.captureWork(ctx, k, params)
		}),
	})
}

func (s *Service) captureWork(ctx context.Context, k *idemKey, params core.CaptureParams) (channelWork[core.OpResult], error) {
	pay, err := getPayment(ctx, s.db.Pool, k.req.MerchantID, *k.paymentID, false)
	if err != nil {
		return channelWork[core.OpResult]{}, err
	}
	if pay.Status != core.StatusRequiresCapture {
		// Settled meanwhile, by a request re-driving the same capture.
		return channelWork[core.OpResult]{settled: func(ctx context.Context, tx pgx.Tx, _ *writeBatch, k *idemKey) (string, error) {
			pay, err := getPayment(ctx, tx, k.req.MerchantID, *k.paymentID, false)
			if err != nil {
				return "", err
			}
			if err := pay.CaptureSettled(params.Amount); err != nil {
				return k.finish(nil, err), nil
			}
			return k.finish(pay, nil), nil
		}}, nil
	}
	return channelWork[core.OpResult]{pay: pay,
		call: func(ctx context.Context) (core.OpResult, error) {
			return s.gw.Capture(ctx, core.CaptureRequest{Key: core.CaptureKey(pay.ID), PaymentID: pay.ID,
				Channel: pay.Channel, Reference: deref(pay.ChannelReference), Amount: pay.CaptureAmount(params.Amount),
				Currency: pay.Currency})
		},
		apply: func(res core.OpResult) phaseFunc {
			return func(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey) (string, error) {
				pay, err := getPayment(ctx, tx, k.req.MerchantID, *k.paymentID, true)
				if err != nil {
					return "", err
				}
				ch, err := pay.ApplyCapture(res, s.now())
				if core.ErrorCode(err) == core.CodeInvalidState {
					if res.OK {
						s.log.ErrorContext(ctx, "channel reports a capture for a payment that moved on; reconcile",
							"payment", pay.ID, "status", pay.Status, "channel_amount", res.Amount)
					}
					return k.finish(nil, err), nil
				}
				return s.finishChange(w, k, pay, ch, err)
			}
		}}, nil
}

// finishChange persists ch, the answer of an operation's channel call applied to pay, and
// finishes the request with its outcome: the payment as it is now, or the channel's refusal.
func (s *Service) finishChange(w *writeBatch, k *idemKey, pay *core.Payment, ch core.Change, err error) (string, error) {
	if err != nil {
		return "", err
	}
	if ch.Empty() {
		return k.finish(pay, nil), nil // the same operation, applied by a request re-driving it
	}
	if err := s.persist(w, ch); err != nil {
		return "", err
	}
	if ch.Refused != nil {
		return k.finish(nil, ch.Refused), nil
	}
	return k.finish(ch.Payment, nil), nil
}

// finishRefused stores a refusal of the domain (a payment in the wrong state, an amount too
// large) as the request's reply. An operation still in progress is not stored: the client
// retries with the same key once it has finished.
func finishRefused(k *idemKey, err error) (string, error) {
	var e *core.Error
	if core.ErrorCode(err) == core.CodeOperationInProgress || !asCoded(err, &e) {
		return "", err
	}
	return k.finish(nil, err), nil
}
