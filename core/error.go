package core

import (
	"errors"
	"fmt"
)

// Error codes. Each names one thing a client can act on; core/httpapi maps every code to an
// HTTP status and error type in one table.
const (
	CodeParameterInvalid       = "parameter_invalid"
	CodeParameterMissing       = "parameter_missing"
	CodeParameterUnknown       = "parameter_unknown"
	CodeInvalidJSON            = "invalid_json"
	CodeBodyTooLarge           = "body_too_large"
	CodeUnsupportedMediaType   = "unsupported_media_type"
	CodeUnauthenticated        = "unauthenticated"
	CodeForbidden              = "forbidden"
	CodeNotFound               = "resource_missing"
	CodeMethodNotAllowed       = "method_not_allowed"
	CodeIdempotencyKeyRequired = "idempotency_key_required"
	CodeIdempotencyKeyInvalid  = "idempotency_key_invalid"
	CodeIdempotencyKeyInUse    = "idempotency_key_in_use"
	CodeIdempotencyKeyReused   = "idempotency_key_reused"
	CodeDuplicateReference     = "duplicate_merchant_reference"
	CodeInvalidState           = "payment_invalid_state"
	CodeOperationInProgress    = "payment_operation_in_progress"
	CodeAmountTooLarge         = "amount_too_large"
	CodeIncorrectNumber        = "incorrect_number"
	CodeCardDeclined           = "card_declined"
	CodeInsufficientFunds      = "insufficient_funds"
	CodeExpiredCard            = "expired_card"
	CodeIncorrectCVC           = "incorrect_cvc"
	CodeProcessingError        = "processing_error"
	CodeChannelUnavailable     = "channel_unavailable"
	CodeChannelNotAuthorized   = "channel_not_authorized"
	CodeRateLimited            = "rate_limited"
	CodeBlockedByRisk          = "blocked_by_risk"
	CodeReviewClosed           = "review_closed"
	CodeUnavailable            = "service_unavailable"
	CodeInternal               = "internal_error"
)

// Error is the one coded error of the platform. Message is written for the merchant and is
// safe to show; the cause, if any, is wrapped separately and goes only to the log.
type Error struct {
	Code      string
	Message   string
	Param     string // the request parameter at fault, if any
	PaymentID string // the payment an error is about (a declined card), if any
	// RetryAfter, in seconds, tells the client when to try again (in-use keys, rate limits).
	RetryAfter int
	cause      error
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Param != "" {
		s += " (param " + e.Param + ")"
	}
	if e.cause != nil {
		s += ": " + e.cause.Error()
	}
	return s
}

// Unwrap gives the internal cause.
func (e *Error) Unwrap() error { return e.cause }

// Errorf makes a coded error with a client-facing message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ParamError makes a coded error about one request parameter.
func ParamError(code, param, format string, args ...any) *Error {
	return &Error{Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}

// Internal wraps an unexpected failure: the client sees a generic message, the log the cause.
func Internal(cause error) *Error {
	return &Error{Code: CodeInternal, Message: "An internal error occurred; it is safe to retry with the same Idempotency-Key.", cause: cause}
}

// ErrorCode is the code of err, or CodeInternal if err carries none.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// AsError returns err as a coded error, wrapping uncoded errors as internal ones.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Internal(err)
}

// declineCodes are the codes a channel may give for refusing a payment.
var declineCodes = map[string]bool{
	CodeCardDeclined: true, CodeInsufficientFunds: true, CodeExpiredCard: true,
	CodeIncorrectCVC: true, CodeProcessingError: true,
}

// DeclineCode maps a channel's refusal code to one the platform answers with: a known decline
// code stays, anything else becomes processing_error (a final 402, never a server error).
func DeclineCode(channelCode string) string {
	if declineCodes[channelCode] {
		return channelCode
	}
	return CodeProcessingError
}
