package paysdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Error codes the API answers with (Error.Code). Each names one thing a caller can act on.
const (
	CodeParameterInvalid       = "parameter_invalid"
	CodeParameterMissing       = "parameter_missing"
	CodeParameterUnknown       = "parameter_unknown"
	CodeInvalidJSON            = "invalid_json"
	CodeBodyTooLarge           = "body_too_large"
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
	CodeBlockedByRisk          = "blocked_by_risk"
	CodeChannelUnavailable     = "channel_unavailable"
	CodeChannelNotAuthorized   = "channel_not_authorized"
	CodeRateLimited            = "rate_limited"
	CodeUnavailable            = "service_unavailable"
	CodeInternal               = "internal_error"
)

// Error types (Error.Type), the broad classes of Code.
const (
	TypeInvalidRequest = "invalid_request_error"
	TypeAuthentication = "authentication_error"
	TypeIdempotency    = "idempotency_error"
	TypeCard           = "card_error"
	TypeRateLimit      = "rate_limit_error"
	TypeAPI            = "api_error"
)

// Error is an error answer of the API, decoded from its one error shape
//
//	{"error": {"type", "code", "message", "param", "payment_id", "request_id"}}
//
// or an error the client found before sending anything (then Status is 0). Branch on Code
// (the Code* constants), or on Type (the Type* constants) for broad classes; Message is written for people.
type Error struct {
	// Status is the HTTP status of the answer; 0 when the request was never sent.
	Status int
	// Type is the broad class: invalid_request_error, authentication_error,
	// idempotency_error, card_error, rate_limit_error or api_error.
	Type string
	// Code names the one thing that went wrong, e.g. "card_declined".
	Code string
	// Message explains the error; it is safe to show.
	Message string
	// Param is the request parameter at fault, if any.
	Param string
	// PaymentID is the payment the error is about (a declined card), if any.
	PaymentID string
	// RequestID identifies the request in the server's logs.
	RequestID string
	// RetryAfter is the wait the server asked for in a Retry-After header, if any.
	RetryAfter time.Duration
}

// Error implements the error interface.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("paysdk: ")
	if e.Status != 0 {
		b.WriteString(strconv.Itoa(e.Status))
		b.WriteByte(' ')
	}
	if e.Code != "" {
		b.WriteString(e.Code)
	} else if e.Type != "" {
		b.WriteString(e.Type)
	} else {
		b.WriteString("error")
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	var extra []string
	if e.Param != "" {
		extra = append(extra, "param "+e.Param)
	}
	if e.PaymentID != "" {
		extra = append(extra, "payment "+e.PaymentID)
	}
	if e.RequestID != "" {
		extra = append(extra, "request "+e.RequestID)
	}
	if len(extra) > 0 {
		b.WriteString(" (" + strings.Join(extra, ", ") + ")")
	}
	return b.String()
}

// IsCode reports whether err is, or wraps, an *Error with the given code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// errorBody is the API's error shape.
type errorBody struct {
	Error *struct {
		Type      string `json:"type"`
		Code      string `json:"code"`
		Message   string `json:"message"`
		Param     string `json:"param"`
		PaymentID string `json:"payment_id"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

// decodeError makes an *Error from a non-2xx answer. A body that is not the API's error
// shape (a proxy's HTML page, say) still gives an *Error with the status and a snippet.
func decodeError(status int, h http.Header, body []byte) *Error {
	e := &Error{Status: status, RequestID: h.Get(headerRequestID)}
	if d, ok := retryAfter(h, time.Now()); ok {
		e.RetryAfter = d
	}
	var eb errorBody
	if err := json.Unmarshal(body, &eb); err == nil && eb.Error != nil {
		e.Type, e.Code, e.Message = eb.Error.Type, eb.Error.Code, eb.Error.Message
		e.Param, e.PaymentID = eb.Error.Param, eb.Error.PaymentID
		if eb.Error.RequestID != "" {
			e.RequestID = eb.Error.RequestID
		}
		return e
	}
	e.Message = fmt.Sprintf("unexpected answer %d %s", status, http.StatusText(status))
	if s := snippet(body); s != "" {
		e.Message += ": " + s
	}
	return e
}

// snippet is the start of a body, for error messages.
func snippet(body []byte) string {
	const max = 200
	s := strings.TrimSpace(string(body))
	if len(s) > max {
		s = s[:max]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0, false
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		return d, true
	}
	return 0, false
}

// localError is an error found before any request was sent.
func localError(code, param, format string, args ...any) *Error {
	return &Error{Type: TypeInvalidRequest, Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}
