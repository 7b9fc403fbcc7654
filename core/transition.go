package core

import (
	"fmt"
	"strings"
	"time"
)

// Change is what one domain transition did: the new state of the payment (and of a refund),
// the money it moved and the events it raised. An adapter persists all of it in one
// transaction, or none of it. The zero Change changes nothing.
type Change struct {
	// Payment is the payment's new state; nil when the payment is unchanged.
	Payment *Payment
	// From is the status the transition started from. An adapter that read the payment
	// without a lock writes the change only if the payment is still in it (compare-and-set).
	From Status
	// Refund is the refund's new state, or nil; NewRefund says it is to be created.
	Refund    *Refund
	NewRefund bool
	Journals  []Journal
	Events    []OutboxEvent
	// Refused is the channel's refusal of the operation: the change (a released reservation)
	// is still written, and the request answers with this error.
	Refused *Error
}

// Empty reports whether the change changes nothing.
func (c Change) Empty() bool { return c.Payment == nil && c.Refund == nil }

// OutboxEvent is an event a change raises, with the object's state after the change.
type OutboxEvent struct {
	Type       string
	MerchantID string
	Region     string
	ObjectID   string
	Object     any
}

func paymentEvent(typ string, p *Payment) OutboxEvent {
	return OutboxEvent{Type: typ, MerchantID: p.MerchantID, Region: p.Region, ObjectID: p.ID, Object: p}
}

func refundEvent(typ string, r *Refund) OutboxEvent {
	return OutboxEvent{Type: typ, MerchantID: r.MerchantID, Region: r.Region, ObjectID: r.ID, Object: r}
}

// Operations that reserve a payment while they are at the channel (Payment.PendingOp).
const (
	OpCapture = "capture"
	OpVoid    = "void"
)

// Reasons and messages the domain gives.
const (
	ReasonExpired        = "expired"
	DefaultRefundReason  = "requested_by_customer"
	msgUnreached         = "The payment never reached its channel."
	msgClosedUnpaid      = "The channel closed the order unpaid."
	msgDeclined          = "The payment was declined."
	msgChannelRefused    = "The channel refused the operation."
	msgPaymentFailed     = "The payment failed."
	verbCaptured         = "captured"
	verbCanceled         = "canceled"
	verbRefunded         = "refunded"
	verbAuthorized       = "authorized"
	fmtInvalidState      = "Payment %s is %s and cannot be %s; it must be %s."
	fmtCaptureInProgress = "Payment %s has a capture of %d in progress; retry once it has finished."
	fmtOpInProgress      = "Payment %s has a %s in progress; retry once it has finished."
)

// InvalidState is the error of an operation a payment's status does not allow.
func InvalidState(p *Payment, verb string, want ...Status) *Error {
	ws := make([]string, len(want))
	for i, s := range want {
		ws[i] = string(s)
	}
	return &Error{Code: CodeInvalidState, PaymentID: p.ID, Message: fmt.Sprintf(fmtInvalidState,
		p.ID, p.Status, verb, strings.Join(ws, " or "))}
}

// DeclineError is the error a failed payment answers with, or nil.
func (p *Payment) DeclineError() error {
	if p.Status != StatusFailed || p.FailureCode == nil {
		return nil
	}
	msg := msgPaymentFailed
	if p.FailureMessage != nil {
		msg = *p.FailureMessage
	}
	return &Error{Code: *p.FailureCode, Message: msg, PaymentID: p.ID}
}

// ChannelRefused is the error of a capture, void or refund the channel refused.
func ChannelRefused(res OpResult, p *Payment) *Error {
	code := res.FailureCode
	switch code {
	case CodeInvalidState, CodeAmountTooLarge:
	default:
		code = DeclineCode(code)
	}
	msg := res.FailureMessage
	if msg == "" {
		msg = msgChannelRefused
	}
	return &Error{Code: code, Message: msg, PaymentID: p.ID}
}

// OutcomeStatus is the status a channel's answer to an authorisation moves a payment to, or
// "" for an outcome that is not an answer.
func OutcomeStatus(o AuthorizeOutcome) Status {
	switch o {
	case OutcomeCaptured:
		return StatusSucceeded
	case OutcomeAuthorized:
		return StatusRequiresCapture
	case OutcomeDeclined:
		return StatusFailed
	case OutcomeActionRequired:
		return StatusRequiresAction
	}
	return ""
}

// NewPayment is a payment as it is created: processing, waiting for its channel.
func NewPayment(id, merchantID, region string, p *CreatePaymentParams, pm *PaymentMethod, now time.Time) *Payment {
	md := p.Metadata
	if md == nil {
		md = map[string]string{}
	}
	return &Payment{Object: "payment", ID: id, MerchantID: merchantID, Region: region,
		Status: StatusProcessing, Amount: p.Amount, Currency: p.Currency, Channel: p.Channel,
		CaptureMethod: p.CaptureMethod, MerchantReference: p.MerchantReference, Description: p.Description,
		Customer: p.Customer, PaymentMethod: pm, Metadata: md, CreatedAt: now, UpdatedAt: now}
}

func (p *Payment) next(now time.Time) *Payment {
	q := *p
	q.UpdatedAt = now
	return &q
}

// ApplyAuthorization applies a channel's answer to the payment's authorisation: authorised
// (the amount held), captured (a sale), action required (the payer must act) or declined.
func (p *Payment) ApplyAuthorization(res AuthorizeResult, now time.Time) (Change, error) {
	to := OutcomeStatus(res.Outcome)
	if to == "" {
		return Change{}, fmt.Errorf("channel returned unknown outcome %q", res.Outcome)
	}
	// Only a payment waiting for its channel or its payer takes the channel's answer: a held
	// payment moves on by capture or cancel, never by a second authorisation.
	waiting := p.Status == StatusProcessing || p.Status == StatusRequiresAction
	if !waiting || !p.Status.CanTransition(to) {
		return Change{}, InvalidState(p, verbAuthorized, StatusProcessing, StatusRequiresAction)
	}
	q := p.next(now)
	if res.Reference != "" {
		ref := res.Reference
		q.ChannelReference = &ref
	}
	if p.Status == StatusRequiresAction {
		q.NextAction = nil
	}
	ch := Change{Payment: q, From: p.Status}
	switch res.Outcome {
	case OutcomeAuthorized:
		q.Status, q.AmountCapturable = StatusRequiresCapture, q.Amount
		ch.Journals = []Journal{AuthorizeJournal(q, q.Amount)}
		ch.Events = []OutboxEvent{paymentEvent(EventPaymentRequiresCapture, q)}
		if p.UnderReview() && p.Status == StatusProcessing {
			// Held for an operator's review: authorised, never captured until approved.
			q.Status = StatusRequiresReview
			ch.Events = []OutboxEvent{paymentEvent(EventReviewOpened, q)}
		}
	case OutcomeCaptured:
		q.Status, q.AmountCaptured = StatusSucceeded, q.Amount
		ch.Journals = []Journal{SaleJournal(q, q.Amount)}
		ch.Events = []OutboxEvent{paymentEvent(EventPaymentSucceeded, q)}
	case OutcomeActionRequired:
		q.Status, q.NextAction = StatusRequiresAction, res.NextAction
		ch.Events = []OutboxEvent{paymentEvent(EventPaymentRequiresAction, q)}
	case OutcomeDeclined:
		code, msg := DeclineCode(res.DeclineCode), res.DeclineMessage
		if res.DeclineCode == "" {
			code = CodeCardDeclined
		}
		if msg == "" {
			msg = msgDeclined
		}
		q.Status, q.FailureCode, q.FailureMessage = StatusFailed, &code, &msg
		ch.Events = []OutboxEvent{paymentEvent(EventPaymentFailed, q)}
	}
	return ch, nil
}

// FailUnreached fails a processing payment its channel never saw.
func (p *Payment) FailUnreached(now time.Time) (Change, error) {
	return p.ApplyAuthorization(AuthorizeResult{Outcome: OutcomeDeclined, DeclineCode: CodeProcessingError,
		DeclineMessage: msgUnreached}, now)
}

// Expire applies a channel's closing of an unpaid order: a payment waiting for its payer is
// canceled with reason "expired"; one still processing fails with processing_error. Any other
// payment is past it: nothing changes.
func (p *Payment) Expire(reference string, now time.Time) (Change, error) {
	switch p.Status {
	case StatusRequiresAction:
		q := p.next(now)
		reason := ReasonExpired
		q.Status, q.CanceledAt, q.NextAction, q.CancellationReason = StatusCanceled, &now, nil, &reason
		return Change{Payment: q, From: p.Status, Events: []OutboxEvent{paymentEvent(EventPaymentCanceled, q)}}, nil
	case StatusProcessing:
		return p.ApplyAuthorization(AuthorizeResult{Outcome: OutcomeDeclined, Reference: reference,
			DeclineCode: CodeProcessingError, DeclineMessage: msgClosedUnpaid}, now)
	}
	return Change{}, nil
}

// ChannelReport is a channel's account of a payment: from a notification or a status query.
type ChannelReport struct {
	Outcome        AuthorizeOutcome // captured (paid), declined, authorized or closed
	Reference      string
	DeclineCode    string
	DeclineMessage string
}

// ApplyChannelReport moves the payment to what its channel says became of it, if that is a
// move forward: a stale report (a "closed" after "paid") changes nothing.
func (p *Payment) ApplyChannelReport(r ChannelReport, now time.Time) (Change, error) {
	switch r.Outcome {
	case OutcomeCaptured, OutcomeDeclined, OutcomeAuthorized:
		waiting := p.Status == StatusProcessing || p.Status == StatusRequiresAction
		if !waiting || !p.Status.CanTransition(OutcomeStatus(r.Outcome)) {
			return Change{}, nil
		}
		return p.ApplyAuthorization(AuthorizeResult{Outcome: r.Outcome, Reference: r.Reference,
			DeclineCode: r.DeclineCode, DeclineMessage: r.DeclineMessage}, now)
	case OutcomeClosed:
		return p.Expire(r.Reference, now)
	}
	return Change{}, nil
}

// ApplyNotification applies a verified channel notification about the payment. One from
// another channel, or reporting a payment of another amount or currency, is refused (a coded
// parameter_invalid error): it must be reconciled, not applied.
func (p *Payment) ApplyNotification(n Notification, now time.Time) (Change, error) {
	if n.Channel != p.Channel {
		return Change{}, ParamError(CodeParameterInvalid, "channel",
			"The notification comes from %s, but payment %s is a %s payment.", n.Channel, p.ID, p.Channel)
	}
	if n.Outcome == OutcomeCaptured && (n.Amount != p.Amount || (n.Currency != "" && n.Currency != p.Currency)) {
		return Change{}, ParamError(CodeParameterInvalid, "amount",
			"The notification reports %d %s paid, but payment %s is for %d %s.", n.Amount, n.Currency, p.ID, p.Amount, p.Currency)
	}
	return p.ApplyChannelReport(ChannelReport{Outcome: n.Outcome, Reference: n.Reference,
		DeclineCode: n.DeclineCode, DeclineMessage: n.DeclineMessage}, now)
}

// NeedsRedrive reports whether a processing wallet or bank payment the channel created, whose
// answer (the QR code, the transfer instructions) was lost, must be sent to the channel again
// with the same key to get that answer: the payer can only pay once the payment shows it.
func (p *Payment) NeedsRedrive(state PaymentState) bool {
	return p.Status == StatusProcessing && p.PendingOp == nil && state.Found && !state.Closed &&
		state.Outcome == OutcomeActionRequired && !p.Channel.IsCard()
}

// Recover is the in-doubt recovery worker's transition: the channel's account state of a
// payment left alone (and, for NeedsRedrive, the answer redriven got) applied to it.
func (p *Payment) Recover(state PaymentState, redriven *AuthorizeResult, now time.Time) (Change, error) {
	switch {
	case p.PendingOp != nil:
		return p.SettleReservation(state, now)
	case p.Status == StatusProcessing && redriven != nil:
		return p.ApplyAuthorization(*redriven, now)
	case p.Status == StatusProcessing && !state.Found:
		return p.FailUnreached(now)
	case state.Found && state.Closed:
		return p.ApplyChannelReport(ChannelReport{Outcome: OutcomeClosed, Reference: state.Reference}, now)
	case state.Found && state.Outcome != OutcomeActionRequired:
		return p.ApplyChannelReport(ChannelReport{Outcome: state.Outcome, Reference: state.Reference,
			DeclineCode: state.DeclineCode, DeclineMessage: state.DeclineMessage}, now)
	}
	return Change{}, nil
}

// reserve marks the payment as having op (with amount, for captures) under way. The same
// operation and amount may be re-driven by another request: it uses the same channel key and
// so gets the same answer. Anything else must wait until the reservation is settled.
func (p *Payment) reserve(op string, amount int64) (Change, error) {
	if p.PendingOp != nil && (*p.PendingOp != op || deref64(p.PendingAmount) != amount) {
		e := &Error{Code: CodeOperationInProgress, PaymentID: p.ID, RetryAfter: 1,
			Message: fmt.Sprintf(fmtOpInProgress, p.ID, *p.PendingOp)}
		if *p.PendingOp == OpCapture {
			e.Message = fmt.Sprintf(fmtCaptureInProgress, p.ID, deref64(p.PendingAmount))
		}
		return Change{}, e
	}
	q := *p
	q.PendingOp, q.PendingAmount = &op, &amount
	return Change{Payment: &q, From: p.Status}, nil
}

// released is the payment with its reservation cleared.
func (p *Payment) released() *Payment {
	q := *p
	q.PendingOp, q.PendingAmount = nil, nil
	return &q
}

// RequestCapture checks a capture of amount (nil: all that is held) and reserves the payment
// for it while the channel is asked.
func (p *Payment) RequestCapture(amount *int64) (Change, error) {
	if p.Status != StatusRequiresCapture {
		return Change{}, InvalidState(p, verbCaptured, StatusRequiresCapture)
	}
	a := p.AmountCapturable
	if amount != nil {
		a = *amount
	}
	if a > p.AmountCapturable {
		return Change{}, ParamError(CodeAmountTooLarge, "amount",
			"The capture amount (%d) exceeds the amount capturable (%d).", a, p.AmountCapturable)
	}
	return p.reserve(OpCapture, a)
}

// CaptureAmount is the amount of the capture reserved on the payment, or, when the
// reservation was settled already, requested (nil: all that is held).
func (p *Payment) CaptureAmount(requested *int64) int64 {
	if a := deref64(p.PendingAmount); a != 0 {
		return a
	}
	if requested != nil {
		return *requested
	}
	return p.AmountCapturable
}

// CaptureSettled answers a capture request whose payment was settled before its channel call
// (by a request re-driving the same capture): nil if it is this capture, else the error.
func (p *Payment) CaptureSettled(requested *int64) error {
	if p.Status == StatusSucceeded && (requested == nil || *requested == p.AmountCaptured) {
		return nil
	}
	return InvalidState(p, verbCaptured, StatusRequiresCapture)
}

// ApplyCapture applies the channel's answer to a capture: the amount the channel captured
// moves, the rest of the hold is released. A refusal releases the reservation only. The same
// capture applied already changes nothing.
func (p *Payment) ApplyCapture(res OpResult, now time.Time) (Change, error) {
	if p.Status == StatusSucceeded && res.OK && res.Amount == p.AmountCaptured {
		return Change{}, nil
	}
	if p.Status != StatusRequiresCapture {
		return Change{}, InvalidState(p, verbCaptured, StatusRequiresCapture)
	}
	q := p.released()
	if !res.OK {
		return Change{Payment: q, From: p.Status, Refused: ChannelRefused(res, p)}, nil
	}
	q.UpdatedAt = now
	hold := p.AmountCapturable
	if res.Amount < 1 || res.Amount > hold {
		return Change{}, fmt.Errorf("channel captured %d of payment %s, outside 1..%d", res.Amount, p.ID, hold)
	}
	q.Status, q.AmountCaptured, q.AmountCapturable = StatusSucceeded, res.Amount, 0
	return Change{Payment: q, From: p.Status, Journals: []Journal{CaptureJournal(q, hold, res.Amount)},
		Events: []OutboxEvent{paymentEvent(EventPaymentSucceeded, q)}}, nil
}

func (p *Payment) cancelable() bool {
	return p.Status == StatusRequiresCapture || p.Status == StatusRequiresAction || p.Status == StatusRequiresReview
}

func (p *Payment) notCancelable() *Error {
	return InvalidState(p, verbCanceled, StatusRequiresCapture, StatusRequiresAction)
}

// RequestCancel checks a cancel and reserves the payment for it while the channel voids it.
func (p *Payment) RequestCancel() (Change, error) {
	if !p.cancelable() {
		return Change{}, p.notCancelable()
	}
	return p.reserve(OpVoid, 0)
}

// Cancelable reports an error unless the payment may still be canceled.
func (p *Payment) Cancelable() error {
	if !p.cancelable() {
		return p.notCancelable()
	}
	return nil
}

// CancelSettled answers a cancel request whose payment was settled before its channel call
// (by a request re-driving the same cancel): nil if it was canceled, else the error.
func (p *Payment) CancelSettled() error {
	if p.Status == StatusCanceled {
		return nil
	}
	return p.notCancelable()
}

// ApplyVoid applies the channel's answer to a void: the payment is canceled (with reason, if
// any) and its hold released. A refusal releases the reservation only. The same void applied
// already changes nothing.
func (p *Payment) ApplyVoid(res OpResult, reason string, now time.Time) (Change, error) {
	if p.Status == StatusCanceled && res.OK {
		return Change{}, nil
	}
	if !p.cancelable() {
		return Change{}, p.notCancelable()
	}
	q := p.released()
	if !res.OK {
		return Change{Payment: q, From: p.Status, Refused: ChannelRefused(res, p)}, nil
	}
	q.UpdatedAt = now
	ch := Change{Payment: q, From: p.Status}
	if p.AmountCapturable > 0 {
		ch.Journals = []Journal{VoidJournal(q, p.AmountCapturable)}
	}
	q.Status, q.AmountCapturable, q.CanceledAt, q.NextAction = StatusCanceled, 0, &now, nil
	if reason != "" {
		q.CancellationReason = &reason
	}
	ch.Events = []OutboxEvent{paymentEvent(EventPaymentCanceled, q)}
	return ch, nil
}

// SettleReservation finishes a capture or cancel whose request went away, from the channel's
// account: what the channel did is recorded; if it did nothing the reservation is released.
func (p *Payment) SettleReservation(state PaymentState, now time.Time) (Change, error) {
	if p.PendingOp == nil {
		return Change{}, nil
	}
	if p.Status == StatusRequiresCapture || p.Status == StatusRequiresReview {
		var ch Change
		var err error
		switch *p.PendingOp {
		case OpCapture:
			ch, err = p.ApplyCapture(OpResult{OK: state.AmountCaptured > 0, Amount: state.AmountCaptured}, now)
		case OpVoid:
			ch, err = p.ApplyVoid(OpResult{OK: state.Closed}, "", now)
		}
		if err != nil || ch.Payment != nil {
			ch.Refused = nil // nobody is waiting for the answer
			return ch, err
		}
	}
	// The payment moved on, or the channel did nothing: it is free again.
	return Change{Payment: p.released(), From: p.Status}, nil
}

// ReserveRefund checks a refund of amount (nil: all that is left) and reserves it on the
// payment with a pending refund, so that concurrent refunds never exceed what was captured.
func (p *Payment) ReserveRefund(id string, amount *int64, reason string, now time.Time) (Change, error) {
	if p.Status != StatusSucceeded {
		return Change{}, InvalidState(p, verbRefunded, StatusSucceeded)
	}
	pending := p.AmountRefundPending
	refundable := p.AmountCaptured - p.AmountRefunded - pending
	a := refundable
	if amount != nil {
		a = *amount
	}
	if refundable <= 0 {
		return Change{}, &Error{Code: CodeAmountTooLarge, Param: "amount", PaymentID: p.ID,
			Message: fmt.Sprintf("Payment %s has nothing left to refund (%d refunded, %d pending).", p.ID, p.AmountRefunded, pending)}
	}
	if a > refundable {
		return Change{}, &Error{Code: CodeAmountTooLarge, Param: "amount", PaymentID: p.ID,
			Message: fmt.Sprintf("Refund amount (%d) is greater than the amount still refundable (%d).", a, refundable)}
	}
	if reason == "" {
		reason = DefaultRefundReason
	}
	q := p.next(now)
	q.AmountRefundPending += a
	r := &Refund{Object: "refund", ID: id, MerchantID: p.MerchantID, Region: p.Region, Payment: p.ID,
		Amount: a, Currency: p.Currency, Status: RefundPending, Reason: reason, CreatedAt: now, UpdatedAt: now}
	return Change{Payment: q, From: p.Status, Refund: r, NewRefund: true}, nil
}

// Settle applies the channel's answer to a pending refund of payment p: it succeeds (the
// money moves back) or fails; either way its reservation on the payment ends. A refund that
// is no longer pending changes nothing.
func (r *Refund) Settle(p *Payment, res OpResult, now time.Time) (Change, error) {
	if r.Status != RefundPending {
		return Change{}, nil
	}
	if p.ID != r.Payment {
		return Change{}, fmt.Errorf("refund %s is for payment %s, not %s", r.ID, r.Payment, p.ID)
	}
	q := p.next(now)
	q.AmountRefundPending -= r.Amount
	s := *r
	s.UpdatedAt = now
	ch := Change{Payment: q, From: p.Status, Refund: &s}
	if res.OK {
		s.Status = RefundSucceeded
		if res.Reference != "" {
			ref := res.Reference
			s.ChannelReference = &ref
		}
		q.AmountRefunded += s.Amount
		ch.Journals = []Journal{RefundJournal(q, &s)}
		ch.Events = []OutboxEvent{refundEvent(EventRefundSucceeded, &s)}
		return ch, nil
	}
	code := res.FailureCode
	if code == "" {
		code = CodeProcessingError
	}
	s.Status, s.FailureCode = RefundFailed, &code
	ch.Events = []OutboxEvent{refundEvent(EventRefundFailed, &s)}
	return ch, nil
}

// ApplyNotification applies a channel's notification about a pending refund: captured means
// it succeeded, anything else that it failed.
func (r *Refund) ApplyNotification(p *Payment, n Notification, now time.Time) (Change, error) {
	return r.Settle(p, OpResult{OK: n.Outcome == OutcomeCaptured, Amount: n.Amount, Reference: n.Reference,
		FailureCode: n.DeclineCode}, now)
}

func deref64(v *int64) int64 {
	if v == nil {
		return 0
	}
	return *v
}
