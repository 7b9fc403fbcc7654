package core

import "time"

// Risk is what the risk evaluation before the channel call made of a payment: a score from
// 0 to 99 from documented signals (core/risk), its level, the rule that decided, and the
// outcome.
type Risk struct {
	Score int    `json:"score"`
	Level string `json:"level"`
	// Rule is the ID of the rule that decided the outcome, if one did.
	Rule    *string `json:"rule,omitempty"`
	Outcome string  `json:"outcome"`
}

// Risk outcomes.
const (
	RiskAllowed = "allowed"
	RiskBlocked = "blocked"
	RiskReview  = "review"
)

// Risk levels, by score: normal below RiskElevatedScore, highest from RiskHighestScore.
const (
	RiskNormal   = "normal"
	RiskElevated = "elevated"
	RiskHighest  = "highest"

	RiskElevatedScore = 65
	RiskHighestScore  = 75
)

// RiskLevel is the level of a score.
func RiskLevel(score int) string {
	switch {
	case score >= RiskHighestScore:
		return RiskHighest
	case score >= RiskElevatedScore:
		return RiskElevated
	}
	return RiskNormal
}

// UnderReview reports whether the payment's risk evaluation holds it for review: it is then
// only authorised, never captured with the authorisation.
func (p *Payment) UnderReview() bool {
	return p.Risk != nil && p.Risk.Outcome == RiskReview && p.Channel.IsCard()
}

// CaptureWithAuthorization reports whether the channel is to capture the payment with its
// authorisation: automatic capture, and no review hold.
func (p *Payment) CaptureWithAuthorization() bool {
	return p.CaptureMethod == CaptureAutomatic && !p.UnderReview()
}

// BlockedByRisk is the error a payment blocked by a risk rule answers with.
func BlockedByRisk(p *Payment) *Error {
	return &Error{Code: CodeBlockedByRisk, PaymentID: p.ID, Message: msgBlockedByRisk}
}

const msgBlockedByRisk = "The payment was blocked by the platform's risk rules."

// Block fails a processing payment that a risk rule blocked, before any channel call: no
// money moved, so no journal; the payment is recorded as failed with blocked_by_risk.
func (p *Payment) Block(risk Risk, now time.Time) (Change, error) {
	if p.Status != StatusProcessing {
		return Change{}, InvalidState(p, "blocked", StatusProcessing)
	}
	q := p.next(now)
	code, msg := CodeBlockedByRisk, msgBlockedByRisk
	q.Status, q.FailureCode, q.FailureMessage, q.Risk = StatusFailed, &code, &msg, &risk
	return Change{Payment: q, From: p.Status, Events: []OutboxEvent{paymentEvent(EventPaymentFailed, q)}}, nil
}

// ApproveReview ends a payment's review with approval: it moves to requires_capture (the
// hold stays, so no journal), from where a capture (automatic capture) or the merchant
// (manual capture) takes it on.
func (p *Payment) ApproveReview(now time.Time) (Change, error) {
	if p.Status != StatusRequiresReview {
		return Change{}, &Error{Code: CodeReviewClosed, PaymentID: p.ID,
			Message: "Payment " + p.ID + " is " + string(p.Status) + ": its review is closed."}
	}
	q := p.next(now)
	q.Status = StatusRequiresCapture
	return Change{Payment: q, From: p.Status, Events: []OutboxEvent{paymentEvent(EventReviewClosed, q)}}, nil
}

// RejectReview ends a payment's review with rejection: the review.closed event; the void
// that follows (a cancel with reason fraudulent) releases the hold.
func (p *Payment) RejectReview() (Change, error) {
	if p.Status != StatusRequiresReview {
		return Change{}, &Error{Code: CodeReviewClosed, PaymentID: p.ID,
			Message: "Payment " + p.ID + " is " + string(p.Status) + ": its review is closed."}
	}
	return Change{Events: []OutboxEvent{paymentEvent(EventReviewClosed, p)}}, nil
}

// CancellationFraudulent is the cancellation reason of a payment rejected in review.
const CancellationFraudulent = "fraudulent"
