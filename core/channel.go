package core

import (
	"context"
	"errors"
	"time"
)

// Gateway moves money at payment channels: the seam between the payment center and the
// channels (the seed's Payment Gateway). Every call carries a key derived from the payment or
// refund it is for, and an implementation must execute a key at most once: a repeated call
// with the same key returns the first call's answer and moves no more money. That is what
// makes re-driving a half-finished payment safe.
//
// A returned error means the outcome is unknown (a timeout, a lost response): the money may
// or may not have moved, and the caller must find out later, by repeating the call with the
// same key or by asking the channel. ErrNotExecuted marks errors where the channel certainly
// did nothing (an open circuit breaker, a rejected connection).
type Gateway interface {
	Authorize(ctx context.Context, req AuthorizeRequest) (AuthorizeResult, error)
	Capture(ctx context.Context, req CaptureRequest) (OpResult, error)
	Void(ctx context.Context, req VoidRequest) (OpResult, error)
	Refund(ctx context.Context, req RefundRequest) (OpResult, error)
}

// ErrNotExecuted wraps channel errors after which the channel certainly did nothing.
var ErrNotExecuted = errors.New("channel call not executed")

// AuthorizeRequest asks a channel to take a payment.
type AuthorizeRequest struct {
	Key        string // channel idempotency key, derived from the payment ID
	PaymentID  string
	MerchantID string
	Region     string
	Channel    Channel
	Amount     int64
	Currency   string
	Capture    bool      // capture with the authorisation (automatic capture)
	Card       *CardData // card channels only; never stored
	Reference  string    // the merchant's reference, shown to the payer
}

// AuthorizeOutcome is what a channel did with an authorisation.
type AuthorizeOutcome string

// Authorisation outcomes.
const (
	OutcomeAuthorized     AuthorizeOutcome = "authorized"      // funds held, capture later
	OutcomeCaptured       AuthorizeOutcome = "captured"        // funds taken
	OutcomeActionRequired AuthorizeOutcome = "action_required" // the payer must act (QR, redirect, transfer)
	OutcomeDeclined       AuthorizeOutcome = "declined"
)

// AuthorizeResult is a channel's answer to an authorisation.
type AuthorizeResult struct {
	Outcome        AuthorizeOutcome
	Reference      string // the channel's own ID for the transaction
	DeclineCode    string // a Code* constant, for declines
	DeclineMessage string
	NextAction     *NextAction
}

// CaptureRequest asks a channel to take held funds.
type CaptureRequest struct {
	Key       string
	PaymentID string
	Channel   Channel
	Reference string // the channel's transaction ID from the authorisation
	Amount    int64
	Currency  string
}

// VoidRequest asks a channel to release held funds or close an unpaid order.
type VoidRequest struct {
	Key       string
	PaymentID string
	Channel   Channel
	Reference string
}

// RefundRequest asks a channel to return captured money.
type RefundRequest struct {
	Key       string // derived from the refund ID
	PaymentID string
	RefundID  string
	Channel   Channel
	Reference string
	Amount    int64
	Currency  string
}

// OpResult is a channel's answer to a capture, void or refund.
type OpResult struct {
	OK             bool
	Amount         int64 // the amount the channel acted on
	Reference      string
	FailureCode    string
	FailureMessage string
}

// Channel idempotency keys: one authorisation, capture and void per payment; one refund per
// refund object. Re-driving a phase repeats the same key.
func AuthorizeKey(paymentID string) string { return paymentID + ":authorize" }

// CaptureKey is the channel key of a payment's capture.
func CaptureKey(paymentID string) string { return paymentID + ":capture" }

// VoidKey is the channel key of a payment's cancellation.
func VoidKey(paymentID string) string { return paymentID + ":void" }

// RefundKey is the channel key of a refund.
func RefundKey(refundID string) string { return refundID + ":refund" }

// PaymentQuery asks a channel what became of a payment's authorisation (the in-doubt
// recovery path: a timeout left the payment processing).
type PaymentQuery struct {
	Key       string // the authorisation's channel key (AuthorizeKey)
	PaymentID string
	Channel   Channel
	Reference string // the channel's transaction ID, if known
}

// PaymentState is a channel's account of a payment.
type PaymentState struct {
	// Found is false when the channel never executed the authorisation: it is then safe to
	// fail the payment or to send the authorisation again with the same key.
	Found          bool
	Outcome        AuthorizeOutcome // authorized, captured, action_required (still waiting) or declined
	Reference      string
	AmountCaptured int64
	AmountRefunded int64
	DeclineCode    string
	DeclineMessage string
	// Closed is true when an unpaid order was closed (expired or voided).
	Closed bool
}

// Querier is implemented by gateways that can report a payment's state.
type Querier interface {
	QueryPayment(ctx context.Context, q PaymentQuery) (PaymentState, error)
}

// Notification is a channel's asynchronous report about a payment or refund, already
// verified (its signature checked) by the channel adapter that parsed it.
type Notification struct {
	Channel   Channel
	EventID   string // the channel's ID for this notification; duplicates repeat it
	PaymentID string
	RefundID  string // for refund notifications
	Reference string
	// Outcome: for payments, captured (paid), declined (failed) or closed (expired unpaid);
	// for refunds, captured means the refund succeeded and declined that it failed.
	Outcome AuthorizeOutcome
	// PayoutID, for the bank's payout notifications, names the payout; PayoutOutcome is then
	// what became of it (in transit, paid, failed, returned) and Outcome is unused.
	PayoutID       string
	PayoutOutcome  PayoutOutcome
	Amount         int64
	Currency       string
	DeclineCode    string
	DeclineMessage string
	OccurredAt     time.Time
	// Nonce is the nonce the notification was signed with; the platform remembers it until
	// NonceExpires (beyond the channel's clock-skew window) in its shared database, so a
	// replay is refused by every node, not only by the one that saw it first.
	Nonce        string
	NonceExpires time.Time
}

// OutcomeClosed marks a notification or state of an unpaid order the channel closed.
const OutcomeClosed AuthorizeOutcome = "closed"

// ErrBadSignature is returned by notification parsers for notifications whose signature does
// not verify: they must change nothing.
var ErrBadSignature = errors.New("notification signature does not verify")

// ErrReplayedNotification is returned for a notification whose nonce was already used: a
// replay of a notification received before. It changes nothing.
var ErrReplayedNotification = errors.New("notification replayed: its nonce was already used")

// StatementLine is one money movement in a channel's daily statement, for reconciliation.
type StatementLine struct {
	Kind      string // "charge" or "refund"
	PaymentID string
	RefundID  string
	Reference string
	Amount    int64
	Currency  string
	At        time.Time
}

// Statements is implemented by gateways that publish daily statements.
type Statements interface {
	// Statement lists the channel's money movements on day (UTC).
	Statement(ctx context.Context, channel Channel, day time.Time) ([]StatementLine, error)
}
