package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/paycenter/paycenter/core"
)

const paymentColumns = `id, merchant_id, region, status, amount, amount_capturable, amount_captured,
	amount_refunded, currency, channel, capture_method, merchant_reference, description, customer,
	payment_method, metadata, failure_code, failure_message, next_action, channel_reference,
	created_at, updated_at, canceled_at, cancellation_reason, amount_refund_pending, pending_op,
	pending_amount`

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func scanPayment(row pgx.Row) (*core.Payment, error) {
	p := &core.Payment{Object: "payment"}
	err := row.Scan(&p.ID, &p.MerchantID, &p.Region, &p.Status, &p.Amount, &p.AmountCapturable,
		&p.AmountCaptured, &p.AmountRefunded, &p.Currency, &p.Channel, &p.CaptureMethod,
		&p.MerchantReference, &p.Description, &p.Customer, &p.PaymentMethod, &p.Metadata,
		&p.FailureCode, &p.FailureMessage, &p.NextAction, &p.ChannelReference, &p.CreatedAt,
		&p.UpdatedAt, &p.CanceledAt, &p.CancellationReason, &p.AmountRefundPending, &p.PendingOp,
		&p.PendingAmount)
	if err != nil {
		return nil, err
	}
	if p.Metadata == nil {
		p.Metadata = map[string]string{}
	}
	return p, nil
}

// getPayment reads a merchant's payment; lock takes a row lock for the rest of tx.
func getPayment(ctx context.Context, q querier, merchantID, id string, lock bool) (*core.Payment, error) {
	sql := `SELECT ` + paymentColumns + ` FROM payments WHERE id = $1 AND merchant_id = $2`
	if lock {
		sql += ` FOR UPDATE`
	}
	p, err := scanPayment(q.QueryRow(ctx, sql, id, merchantID))
	if errNoRows(err) {
		return nil, paymentNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("read payment %s: %w", id, err)
	}
	return p, nil
}

func paymentNotFound(id string) *core.Error {
	return core.ParamError(core.CodeNotFound, "id", "No such payment: '%s'.", id)
}

const updatePaymentSQL = `
		UPDATE payments SET status = $2, amount_capturable = $3, amount_captured = $4,
			amount_refunded = $5, failure_code = $6, failure_message = $7, next_action = $8,
			channel_reference = $9, updated_at = $10, canceled_at = $11, cancellation_reason = $12
		WHERE id = $1`

func updatePaymentArgs(p *core.Payment) []any {
	return []any{p.ID, p.Status, p.AmountCapturable, p.AmountCaptured, p.AmountRefunded, p.FailureCode,
		p.FailureMessage, p.NextAction, p.ChannelReference, p.UpdatedAt, p.CanceledAt, p.CancellationReason}
}

// updatePayment writes a payment's mutable fields.
func updatePayment(ctx context.Context, tx pgx.Tx, p *core.Payment) error {
	_, err := tx.Exec(ctx, updatePaymentSQL, updatePaymentArgs(p)...)
	if err != nil {
		return fmt.Errorf("update payment %s: %w", p.ID, err)
	}
	return nil
}

// CreatePayment creates a payment and sends it to its channel, exactly once per
// Idempotency-Key.
//
// Phases: (1) claim the key and insert the payment as processing, in one transaction;
// (2) call the channel with a key derived from the payment ID, then apply its answer: status,
// ledger postings and outbox event in one transaction with the stored reply. A timed-out
// channel call leaves the payment processing and the key open; a retry repeats the call with
// the same channel key.
func (s *Service) CreatePayment(ctx context.Context, req core.IdempotentRequest, p core.CreatePaymentParams) (core.Reply, error) {
	hash := s.requestHash(req, withoutCardData(p, s.hashKey))
	// created is the payment as this request inserted it: the channel call needs no read.
	var (
		created  *core.Payment
		inserted pgconn.CommandTag
	)
	// claim names the payment before it exists, so the key can record it from the start.
	claim := func(k *idemKey) {
		id := core.NewID(core.PrefixPayment, k.req.Region)
		k.paymentID, k.point = &id, pointPaymentCreated
	}
	// settle ends the insert phase from what the payment's INSERT did.
	settle := func(ctx context.Context, tx pgx.Tx, k *idemKey, tag pgconn.CommandTag) (string, error) {
		if tag.RowsAffected() == 1 {
			return k.point, nil
		}
		created = nil
		return s.notInserted(ctx, tx, k, &p)
	}
	first := &firstPhase{name: "create_payment.insert", claim: claim,
		// The payment's INSERT goes with the key's, guarded by the key's lease token.
		with: func(k *idemKey) (string, []any, func(pgconn.CommandTag)) {
			created = s.newPayment(k, &p)
			sql, args := paymentInsert(created, ` AND EXISTS (SELECT 1 FROM idempotency_keys
				WHERE merchant_id = $2 AND idem_key = $15 AND lock_token = $16)`, k.req.Key, k.token)
			return sql, args, func(ct pgconn.CommandTag) { inserted = ct }
		},
		run: func(ctx context.Context, tx pgx.Tx, k *idemKey) (string, error) { return settle(ctx, tx, k, inserted) }}
	return s.run(ctx, req, hash, first, func(ctx context.Context, k *idemKey) error {
		switch k.point {
		case pointStarted:
			// A key claimed before create's first phase joined the claim.
			return s.phase(ctx, k, first.name, func(ctx context.Context, tx pgx.Tx, k *idemKey) (string, error) {
				claim(k)
				created = s.newPayment(k, &p)
				sql, args := paymentInsert(created, "")
				tag, err := execNow(ctx, tx, sql, args...)
				if err != nil {
					return "", fmt.Errorf("insert payment: %w", err)
				}
				return settle(ctx, tx, k, tag)
			})
		case pointPaymentCreated:
			pay := created
			if pay != nil && pay.ID != *k.paymentID {
				pay = nil // made by an attempt that did not commit
			}
			created = nil
			return s.authorize(ctx, k, &p, pay)
		}
		return fmt.Errorf("create payment: unexpected recovery point %q", k.point)
	})
}

// newPayment is the payment k names, as it is inserted: processing.
func (s *Service) newPayment(k *idemKey, p *core.CreatePaymentParams) *core.Payment {
	now := s.now()
	var pm *core.PaymentMethod
	switch {
	case p.Channel.IsCard():
		pm = core.StoredCard(s.fingerprintKey, p.PaymentMethod.Card)
	default:
		pm = &core.PaymentMethod{Type: string(p.Channel)}
	}
	md := p.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return &core.Payment{Object: "payment", ID: *k.paymentID, MerchantID: k.req.MerchantID, Region: k.req.Region,
		Status: core.StatusProcessing, Amount: p.Amount, Currency: p.Currency, Channel: p.Channel,
		CaptureMethod: p.CaptureMethod, MerchantReference: p.MerchantReference, Description: p.Description,
		Customer: p.Customer, PaymentMethod: pm, Metadata: md, CreatedAt: now, UpdatedAt: now}
}

// paymentInsert is the statement that inserts pay, unless the merchant has its channel
// switched off or already used its reference, or guard (more conditions, with extra
// arguments from $15 on) fails. It affects one row, or none.
func paymentInsert(pay *core.Payment, guard string, extra ...any) (string, []any) {
	sql := `
		INSERT INTO payments (id, merchant_id, region, status, amount, currency, channel,
			capture_method, merchant_reference, description, customer, payment_method, metadata,
			created_at, updated_at)
		SELECT $1::TEXT, $2::TEXT, $3::TEXT, $4::TEXT, $5::INT8, $6::TEXT, $7::TEXT, $8::TEXT, $9::TEXT,
			$10::TEXT, $11::JSONB, $12::JSONB, $13::JSONB, $14::TIMESTAMPTZ, $14::TIMESTAMPTZ
		WHERE NOT EXISTS (SELECT 1 FROM merchant_channels WHERE merchant_id = $2 AND channel = $7 AND NOT enabled)` +
		guard + `
		ON CONFLICT (merchant_id, merchant_reference) DO NOTHING`
	args := []any{pay.ID, pay.MerchantID, pay.Region, pay.Status, pay.Amount, pay.Currency, pay.Channel,
		pay.CaptureMethod, pay.MerchantReference, pay.Description, pay.Customer, pay.PaymentMethod, pay.Metadata,
		pay.CreatedAt}
	return sql, append(args, extra...)
}

// notInserted finishes a create whose payment was not inserted: the merchant may not use the
// channel, or already used the merchant reference.
func (s *Service) notInserted(ctx context.Context, tx pgx.Tx, k *idemKey, p *core.CreatePaymentParams) (string, error) {
	k.paymentID = nil
	if err := channelAllowed(ctx, tx, k.req.MerchantID, p.Channel); err != nil {
		if core.ErrorCode(err) == core.CodeChannelNotAuthorized {
			return k.finish(nil, err), nil
		}
		return "", err
	}
	var existing string
	if err := tx.QueryRow(ctx, `SELECT id FROM payments WHERE merchant_id = $1 AND merchant_reference = $2`,
		k.req.MerchantID, p.MerchantReference).Scan(&existing); err != nil && !errNoRows(err) {
		return "", fmt.Errorf("read payment by reference: %w", err)
	}
	e := core.ParamError(core.CodeDuplicateReference, "merchant_reference",
		"A payment with merchant_reference '%s' already exists: %s.", p.MerchantReference, existing)
	e.PaymentID = existing
	return k.finish(nil, e), nil
}

// authorize is create's second phase: the channel call and its outcome. pay is the payment
// as this request inserted it, or nil to read it (a request resumed from its recovery point).
func (s *Service) authorize(ctx context.Context, k *idemKey, p *core.CreatePaymentParams, pay *core.Payment) error {
	if pay == nil {
		var err error
		if pay, err = getPayment(ctx, s.db.Pool, k.req.MerchantID, *k.paymentID, false); err != nil {
			return err
		}
	}
	if pay.Status != core.StatusProcessing {
		// Already settled by someone else (the recovery worker, a channel notification).
		return s.phase(ctx, k, "create_payment.settled", func(ctx context.Context, tx pgx.Tx, k *idemKey) (string, error) {
			pay, err := getPayment(ctx, tx, k.req.MerchantID, *k.paymentID, false)
			if err != nil {
				return "", err
			}
			return k.finish(pay, declineError(pay)), nil
		})
	}
	var res core.AuthorizeResult
	err := s.callChannel(ctx, "authorize", pay, func(ctx context.Context) error {
		var err error
		res, err = s.gw.Authorize(ctx, authorizeRequest(pay, cardOf(p)))
		return err
	})
	if err != nil {
		s.log.WarnContext(ctx, "channel call failed; payment stays processing", "payment", pay.ID, "err", err)
		return channelError(k, err, pay)
	}
	return s.phase(ctx, k, "create_payment.apply", func(ctx context.Context, tx pgx.Tx, k *idemKey) (string, error) {
		next := *pay
		applied, err := s.applyAuthorization(ctx, tx, &next, res)
		if err != nil {
			return "", err
		}
		if !applied {
			// Settled meanwhile by someone else: answer with the payment as it is.
			cur, err := getPayment(ctx, tx, k.req.MerchantID, *k.paymentID, false)
			if err != nil {
				return "", err
			}
			if to := outcomeStatus(res.Outcome); to != "" && cur.Status != to {
				s.log.ErrorContext(ctx, "the channel's answer disagrees with how the payment was settled; reconcile",
					"payment", cur.ID, "status", cur.Status, "channel_outcome", res.Outcome)
			}
			return k.finish(cur, declineError(cur)), nil
		}
		return k.finish(&next, declineError(&next)), nil
	})
}

// outcomeStatus is the status a channel's final answer to an authorisation moves a payment
// to, or "" for an answer that is not final.
func outcomeStatus(o core.AuthorizeOutcome) core.Status {
	switch o {
	case core.OutcomeCaptured:
		return core.StatusSucceeded
	case core.OutcomeAuthorized:
		return core.StatusRequiresCapture
	case core.OutcomeDeclined:
		return core.StatusFailed
	}
	return ""
}

// authorizeRequest is the channel call that authorises pay, under the channel key derived
// from its ID: sent again, it gets the channel's first answer.
func authorizeRequest(pay *core.Payment, card *core.CardData) core.AuthorizeRequest {
	return core.AuthorizeRequest{
		Key: core.AuthorizeKey(pay.ID), PaymentID: pay.ID, MerchantID: pay.MerchantID,
		Region: pay.Region, Channel: pay.Channel, Amount: pay.Amount, Currency: pay.Currency,
		Capture: pay.CaptureMethod == core.CaptureAutomatic, Card: card,
		Reference: pay.MerchantReference,
	}
}

func cardOf(p *core.CreatePaymentParams) *core.CardData {
	if p.PaymentMethod == nil {
		return nil
	}
	return p.PaymentMethod.Card
}

// declineError is the error a failed payment answers with (HTTP 402), or nil.
func declineError(p *core.Payment) error {
	if p.Status != core.StatusFailed || p.FailureCode == nil {
		return nil
	}
	msg := "The payment failed."
	if p.FailureMessage != nil {
		msg = *p.FailureMessage
	}
	return &core.Error{Code: *p.FailureCode, Message: msg, PaymentID: p.ID}
}

// applyAuthorization moves a payment waiting for its channel (processing, or requires_action
// for a channel that notifies) to the channel's answer, with its ledger journals and outbox
// event, inside tx. p is the payment as last read (or inserted); it is written only if it is
// still in p's status in tx, and applyAuthorization reports whether it was: a payment that
// another request, the recovery worker or a channel notification moved first is left as it
// is (and p unchanged).
func (s *Service) applyAuthorization(ctx context.Context, tx pgx.Tx, p *core.Payment, res core.AuthorizeResult) (bool, error) {
	q := *p
	q.UpdatedAt = s.now()
	if res.Reference != "" {
		q.ChannelReference = &res.Reference
	}
	var (
		event string
		jnl   *journal // the money the answer moves, if any
	)
	switch res.Outcome {
	case core.OutcomeAuthorized:
		q.Status, q.AmountCapturable = core.StatusRequiresCapture, q.Amount
		event = core.EventPaymentRequiresCapture
		j := authorizeJournal(&q, q.Amount)
		jnl = &j
	case core.OutcomeCaptured:
		q.Status, q.AmountCaptured = core.StatusSucceeded, q.Amount
		event = core.EventPaymentSucceeded
		j := saleJournal(&q, q.Amount)
		jnl = &j
	case core.OutcomeActionRequired:
		q.Status, q.NextAction = core.StatusRequiresAction, res.NextAction
		event = core.EventPaymentRequiresAction
	case core.OutcomeDeclined:
		code, msg := core.DeclineCode(res.DeclineCode), res.DeclineMessage
		if res.DeclineCode == "" {
			code = core.CodeCardDeclined
		}
		if msg == "" {
			msg = "The payment was declined."
		}
		q.Status, q.FailureCode, q.FailureMessage = core.StatusFailed, &code, &msg
		event = core.EventPaymentFailed
	default:
		return false, fmt.Errorf("channel returned unknown outcome %q", res.Outcome)
	}
	// Written first, and only from the status p was in: the row lock it takes and the status
	// it checks make the postings below happen once, whoever else settles the payment.
	tag, err := execNow(ctx, tx, updatePaymentSQL+` AND status = $13`, append(updatePaymentArgs(&q), p.Status)...)
	if err != nil {
		return false, fmt.Errorf("update payment %s: %w", q.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return false, nil
	}
	if jnl != nil {
		if err := s.post(ctx, tx, *jnl); err != nil {
			return false, err
		}
	}
	if err := s.emit(ctx, tx, q.MerchantID, q.Region, event, q.ID, &q); err != nil {
		return false, err
	}
	*p = q
	return true, nil
}

// Operations that reserve a payment while they are at the channel.
const (
	opCapture = "capture"
	opVoid    = "void"
)

// reserve marks the locked payment as having op (with amount, for captures) under way. The
// same operation and amount may be re-driven by another request: it uses the same channel key
// and so gets the same answer. Anything else must wait until the reservation is settled.
func reserve(ctx context.Context, tx pgx.Tx, pay *core.Payment, op string, amount int64) error {
	pendingOp, pendingAmount := pay.PendingOp, pay.PendingAmount
	if pendingOp != nil && (*pendingOp != op || deref64(pendingAmount) != amount) {
		e := &core.Error{Code: core.CodeOperationInProgress, PaymentID: pay.ID, RetryAfter: 1, Message: fmt.Sprintf(
			"Payment %s has a %s in progress; retry once it has finished.", pay.ID, *pendingOp)}
		if *pendingOp == opCapture {
			e.Message = fmt.Sprintf("Payment %s has a capture of %d in progress; retry once it has finished.", pay.ID, deref64(pendingAmount))
		}
		return e
	}
	if _, err := tx.Exec(ctx, `UPDATE payments SET pending_op = $2, pending_amount = $3 WHERE id = $1`, pay.ID, op, amount); err != nil {
		return fmt.Errorf("reserve payment: %w", err)
	}
	return nil
}

func clearReservation(ctx context.Context, tx pgx.Tx, id string) error {
	if _, err := tx.Exec(ctx, `UPDATE payments SET pending_op = NULL, pending_amount = NULL WHERE id = $1`, id); err != nil {
		return fmt.Errorf("clear reservation: %w", err)
	}
	return nil
}

// channelError turns a failed channel call into the request's answer: a channel that
// certainly did nothing is a 503 (not stored; a retry with the same key tries again); any
// other failure has an unknown outcome and answers 202 with obj as it stands.
func channelError(k *idemKey, err error, obj any) error {
	if errors.Is(err, core.ErrNotExecuted) {
		return core.Errorf(core.CodeChannelUnavailable, "The payment channel is unavailable; nothing was done. Retry with the same Idempotency-Key.")
	}
	interim(k, obj)
	return nil
}

// CapturePayment captures some or all of a requires_capture payment's hold.
//
// Phases: (1) with the payment locked, check it and reserve it for this capture; (2) call the
// channel (key pay_…:capture) and apply its answer: status, ledger, outbox, reservation
// cleared, reply stored.
func (s *Service) CapturePayment(ctx context.Context, req core.IdempotentRequest, id string, params core.CaptureParams) (core.Reply, error) {
	hash := s.requestHash(req, params)
	check := func(ctx context.Context, tx pgx.Tx, k *idemKey) (string, error) {
		pay, err := getPayment(ctx, tx, k.req.MerchantID, id, true)
		if err != nil {
			return finishNotFound(k, err)
		}
		if pay.Status != core.StatusRequiresCapture {
			return k.finish(nil, invalidState(pay, "captured", core.StatusRequiresCapture)), nil
		}
		amount := pay.AmountCapturable
		if params.Amount != nil {
			amount = *params.Amount
		}
		if amount > pay.AmountCapturable {
			return k.finish(nil, core.ParamError(core.CodeAmountTooLarge, "amount",
				"The capture amount (%d) exceeds the amount capturable (%d).", amount, pay.AmountCapturable)), nil
		}
		if err := reserve(ctx, tx, pay, opCapture, amount); err != nil {
			return "", err
		}
		k.paymentID = &pay.ID
		return pointCaptureRequested, nil
	}
	first := &firstPhase{name: "capture_payment.check", run: check}
	return s.run(ctx, req, hash, first, func(ctx context.Context, k *idemKey) error {
		switch k.point {
		case pointStarted:
			return s.phase(ctx, k, first.name, check)
		case pointCaptureRequested:
			return s.capture(ctx, k, params)
		}
		return fmt.Errorf("capture payment: unexpected recovery point %q", k.point)
	})
}

func (s *Service) capture(ctx context.Context, k *idemKey, params core.CaptureParams) error {
	pay, err := getPayment(ctx, s.db.Pool, k.req.MerchantID, *k.paymentID, false)
	if err != nil {
		return err
	}
	amount := deref64(pay.PendingAmount)
	if amount == 0 {
		// The reservation was settled by a refusal: repeating the call repeats the answer.
		amount = pay.AmountCapturable
		if params.Amount != nil {
			amount = *params.Amount
		}
	}
	if pay.Status != core.StatusRequiresCapture {
		// Settled meanwhile, by a request re-driving the same capture.
		return s.phase(ctx, k, "capture_payment.settled", func(ctx context.Context, tx pgx.Tx, k *idemKey) (string, error) {
			pay, err := getPayment(ctx, tx, k.req.MerchantID, *k.paymentID, false)
			if err != nil {
				return "", err
			}
			if pay.Status == core.StatusSucceeded && (params.Amount == nil || *params.Amount == pay.AmountCaptured) {
				return k.finish(pay, nil), nil
			}
			return k.finish(nil, invalidState(pay, "captured", core.StatusRequiresCapture)), nil
		})
	}
	var res core.OpResult
	err = s.callChannel(ctx, "capture", pay, func(ctx context.Context) error {
		var err error
		res, err = s.gw.Capture(ctx, core.CaptureRequest{Key: core.CaptureKey(pay.ID), PaymentID: pay.ID,
			Channel: pay.Channel, Reference: deref(pay.ChannelReference), Amount: amount, Currency: pay.Currency})
		return err
	})
	if err != nil {
		return channelError(k, err, pay)
	}
	return s.phase(ctx, k, "capture_payment.apply", func(ctx context.Context, tx pgx.Tx, k *idemKey) (string, error) {
		pay, err := getPayment(ctx, tx, k.req.MerchantID, *k.paymentID, true)
		if err != nil {
			return "", err
		}
		if pay.Status == core.StatusSucceeded && res.OK && res.Amount == pay.AmountCaptured {
			return k.finish(pay, nil), nil // the same capture, applied by a request re-driving it
		}
		if pay.Status != core.StatusRequiresCapture {
			if res.OK {
				s.log.ErrorContext(ctx, "channel reports a capture for a payment that moved on; reconcile",
					"payment", pay.ID, "status", pay.Status, "channel_amount", res.Amount)
			}
			return k.finish(nil, invalidState(pay, "captured", core.StatusRequiresCapture)), nil
		}
		if err := clearReservation(ctx, tx, pay.ID); err != nil {
			return "", err
		}
		if !res.OK {
			return k.finish(nil, channelRefused(res, pay)), nil
		}
		hold := pay.AmountCapturable
		if res.Amount < 1 || res.Amount > hold {
			return "", fmt.Errorf("channel captured %d of payment %s, outside 1..%d", res.Amount, pay.ID, hold)
		}
		// The channel's amount is what moved.
		pay.Status, pay.AmountCaptured, pay.AmountCapturable, pay.UpdatedAt = core.StatusSucceeded, res.Amount, 0, s.now()
		if err := s.post(ctx, tx, captureJournal(pay, hold, res.Amount)); err != nil {
			return "", err
		}
		if err := updatePayment(ctx, tx, pay); err != nil {
			return "", err
		}
		if err := s.emit(ctx, tx, pay.MerchantID, pay.Region, core.EventPaymentSucceeded, pay.ID, pay); err != nil {
			return "", err
		}
		return k.finish(pay, nil), nil
	})
}

// CancelPayment cancels a payment that is waiting for capture or for the payer, releasing
// any hold. Like capture, it reserves the payment while the channel voids it.
func (s *Service) CancelPayment(ctx context.Context, req core.IdempotentRequest, id string, params core.CancelParams) (core.Reply, error) {
	hash := s.requestHash(req, params)
	cancelable := func(st core.Status) bool {
		return st == core.StatusRequiresCapture || st == core.StatusRequiresAction
	}
	check := func(ctx context.Context, tx pgx.Tx, k *idemKey) (string, error) {
		pay, err := getPayment(ctx, tx, k.req.MerchantID, id, true)
		if err != nil {
			return finishNotFound(k, err)
		}
		if !cancelable(pay.Status) {
			return k.finish(nil, invalidState(pay, "canceled", core.StatusRequiresCapture, core.StatusRequiresAction)), nil
		}
		if err := reserve(ctx, tx, pay, opVoid, 0); err != nil {
			return "", err
		}
		k.paymentID = &pay.ID
		return pointCancelRequested, nil
	}
	first := &firstPhase{name: "cancel_payment.check", run: check}
	return s.run(ctx, req, hash, first, func(ctx context.Context, k *idemKey) error {
		switch k.point {
		case pointStarted:
			return s.phase(ctx, k, first.name, check)
		case pointCancelRequested:
			pay, err := getPayment(ctx, s.db.Pool, k.req.MerchantID, *k.paymentID, false)
			if err != nil {
				return err
			}
			if !cancelable(pay.Status) {
				// Settled meanwhile, by a request re-driving the same cancel.
				return s.phase(ctx, k, "cancel_payment.settled", func(ctx context.Context, tx pgx.Tx, k *idemKey) (string, error) {
					if pay.Status == core.StatusCanceled {
						return k.finish(pay, nil), nil
					}
					return k.finish(nil, invalidState(pay, "canceled", core.StatusRequiresCapture, core.StatusRequiresAction)), nil
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
			return s.phase(ctx, k, "cancel_payment.apply", func(ctx context.Context, tx pgx.Tx, k *idemKey) (string, error) {
				pay, err := getPayment(ctx, tx, k.req.MerchantID, *k.paymentID, true)
				if err != nil {
					return "", err
				}
				if pay.Status == core.StatusCanceled && res.OK {
					return k.finish(pay, nil), nil // the same void, applied by a request re-driving it
				}
				if !cancelable(pay.Status) {
					if res.OK {
						s.log.ErrorContext(ctx, "channel reports a void for a payment that moved on; reconcile", "payment", pay.ID, "status", pay.Status)
					}
					return k.finish(nil, invalidState(pay, "canceled", core.StatusRequiresCapture, core.StatusRequiresAction)), nil
				}
				if err := clearReservation(ctx, tx, pay.ID); err != nil {
					return "", err
				}
				if !res.OK {
					return k.finish(nil, channelRefused(res, pay)), nil
				}
				if pay.AmountCapturable > 0 {
					if err := s.post(ctx, tx, voidJournal(pay, pay.AmountCapturable)); err != nil {
						return "", err
					}
				}
				now := s.now()
				pay.Status, pay.AmountCapturable, pay.UpdatedAt, pay.CanceledAt, pay.NextAction = core.StatusCanceled, 0, now, &now, nil
				if params.CancellationReason != "" {
					pay.CancellationReason = &params.CancellationReason
				}
				if err := updatePayment(ctx, tx, pay); err != nil {
					return "", err
				}
				if err := s.emit(ctx, tx, pay.MerchantID, pay.Region, core.EventPaymentCanceled, pay.ID, pay); err != nil {
					return "", err
				}
				return k.finish(pay, nil), nil
			})
		}
		return fmt.Errorf("cancel payment: unexpected recovery point %q", k.point)
	})
}

// finishInvalid ends a request whose payment moved on before its channel call.
func (s *Service) finishInvalid(ctx context.Context, k *idemKey, pay *core.Payment, verb string, want ...core.Status) error {
	return s.phase(ctx, k, "payment.invalid_state", func(ctx context.Context, tx pgx.Tx, k *idemKey) (string, error) {
		return k.finish(nil, invalidState(pay, verb, want...)), nil
	})
}

func invalidState(p *core.Payment, verb string, want ...core.Status) *core.Error {
	return &core.Error{Code: core.CodeInvalidState, PaymentID: p.ID, Message: fmt.Sprintf(
		"Payment %s is %s and cannot be %s; it must be %s.", p.ID, p.Status, verb, joinStatuses(want))}
}

func joinStatuses(ss []core.Status) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += " or "
		}
		out += string(s)
	}
	return out
}

func channelRefused(res core.OpResult, p *core.Payment) *core.Error {
	code := res.FailureCode
	switch code {
	case core.CodeInvalidState, core.CodeAmountTooLarge:
	default:
		code = core.DeclineCode(code)
	}
	msg := res.FailureMessage
	if msg == "" {
		msg = "The channel refused the operation."
	}
	return &core.Error{Code: code, Message: msg, PaymentID: p.ID}
}

// callChannel runs one channel call under the channel timeout, in its own span.
func (s *Service) callChannel(ctx context.Context, op string, p *core.Payment, call func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ChannelTimeout)
	defer cancel()
	ctx, span := s.tracer.Start(ctx, "channel "+op, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("payment.channel", string(p.Channel)),
			attribute.String("payment.id", p.ID), attribute.String("region", s.cfg.Region)))
	defer span.End()
	start := time.Now()
	err := call(ctx)
	span.SetAttributes(attribute.Int64("channel.duration_ms", time.Since(start).Milliseconds()))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "outcome unknown")
	}
	return err
}

// Payment reads one of a merchant's payments.
func (s *Service) Payment(ctx context.Context, merchantID, id string) (*core.Payment, error) {
	return getPayment(ctx, s.db.Pool, merchantID, id, false)
}

// Payments lists a merchant's payments, newest first.
func (s *Service) Payments(ctx context.Context, merchantID string, f core.PaymentFilter) (*core.List[*core.Payment], error) {
	limit := f.Limit
	if limit == 0 {
		limit = core.DefaultListLimit
	}
	sql := `SELECT ` + paymentColumns + ` FROM payments WHERE merchant_id = $1`
	args := []any{merchantID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Status != "" {
		sql += ` AND status = ` + arg(f.Status)
	}
	if f.MerchantReference != "" {
		sql += ` AND merchant_reference = ` + arg(f.MerchantReference)
	}
	if f.CreatedGTE != nil {
		sql += ` AND created_at >= ` + arg(*f.CreatedGTE)
	}
	if f.CreatedLTE != nil {
		sql += ` AND created_at <= ` + arg(*f.CreatedLTE)
	}
	if f.StartingAfter != "" {
		var at time.Time
		err := s.db.Pool.QueryRow(ctx, `SELECT created_at FROM payments WHERE id = $1 AND merchant_id = $2`,
			f.StartingAfter, merchantID).Scan(&at)
		if errNoRows(err) {
			return nil, core.ParamError(core.CodeNotFound, "starting_after", "No such payment: '%s'.", f.StartingAfter)
		}
		if err != nil {
			return nil, fmt.Errorf("list payments: %w", err)
		}
		sql += fmt.Sprintf(` AND (created_at, id) < (%s, %s)`, arg(at), arg(f.StartingAfter))
	}
	sql += ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(limit+1)
	rows, err := s.db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	defer rows.Close()
	list := &core.List[*core.Payment]{Object: "list", Data: []*core.Payment{}}
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, fmt.Errorf("list payments: %w", err)
		}
		list.Data = append(list.Data, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	if len(list.Data) > limit {
		list.Data, list.HasMore = list.Data[:limit], true
	}
	return list, nil
}

func deref64(v *int64) int64 {
	if v == nil {
		return 0
	}
	return *v
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// finishNotFound stores a not-found answer as the request's reply; other errors abort the phase.
func finishNotFound(k *idemKey, err error) (string, error) {
	if core.ErrorCode(err) == core.CodeNotFound {
		return k.finish(nil, err), nil
	}
	return "", err
}

// withoutCardData replaces the card number by its keyed fingerprint and drops the security
// code, so that the stored request fingerprint holds no card data.
func withoutCardData(p core.CreatePaymentParams, key []byte) core.CreatePaymentParams {
	if p.PaymentMethod == nil || p.PaymentMethod.Card == nil {
		return p
	}
	c := p.PaymentMethod.Card
	pm := *p.PaymentMethod
	pm.Card = &core.CardData{Number: core.CardFingerprint(key, c.Number), ExpMonth: c.ExpMonth, ExpYear: c.ExpYear}
	p.PaymentMethod = &pm
	return p
}
