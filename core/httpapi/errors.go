package httpapi

import (
	"encoding/json"
	"net/http"
	"path"
	"strconv"

	"github.com/paycenter/paycenter/core"
)

// Error types, as merchants branch on them.
const (
	typeInvalidRequest = "invalid_request_error"
	typeAuthentication = "authentication_error"
	typeIdempotency    = "idempotency_error"
	typeCard           = "card_error"
	typeRateLimit      = "rate_limit_error"
	typeAPI            = "api_error"
)

// errorStatus is the one place where error codes become HTTP statuses and error types.
var errorStatus = map[string]struct {
	status int
	typ    string
}{
	core.CodeParameterInvalid:       {http.StatusBadRequest, typeInvalidRequest},
	core.CodeParameterMissing:       {http.StatusBadRequest, typeInvalidRequest},
	core.CodeParameterUnknown:       {http.StatusBadRequest, typeInvalidRequest},
	core.CodeInvalidJSON:            {http.StatusBadRequest, typeInvalidRequest},
	core.CodeBodyTooLarge:           {http.StatusBadRequest, typeInvalidRequest},
	core.CodeUnsupportedMediaType:   {http.StatusUnsupportedMediaType, typeInvalidRequest},
	core.CodeAmountTooLarge:         {http.StatusBadRequest, typeInvalidRequest},
	core.CodeIdempotencyKeyRequired: {http.StatusBadRequest, typeInvalidRequest},
	core.CodeIdempotencyKeyInvalid:  {http.StatusBadRequest, typeInvalidRequest},
	core.CodeIncorrectNumber:        {http.StatusBadRequest, typeCard},
	core.CodeUnauthenticated:        {http.StatusUnauthorized, typeAuthentication},
	core.CodeForbidden:              {http.StatusForbidden, typeAuthentication},
	core.CodeChannelNotAuthorized:   {http.StatusForbidden, typeInvalidRequest},
	core.CodeKYCRequired:            {http.StatusForbidden, typeInvalidRequest},
	core.CodeBalanceInsufficient:    {http.StatusBadRequest, typeInvalidRequest},
	core.CodeNotFound:               {http.StatusNotFound, typeInvalidRequest},
	core.CodeMethodNotAllowed:       {http.StatusMethodNotAllowed, typeInvalidRequest},
	core.CodeDuplicateReference:     {http.StatusConflict, typeInvalidRequest},
	core.CodeIdempotencyKeyInUse:    {http.StatusConflict, typeIdempotency},
	core.CodeOperationInProgress:    {http.StatusConflict, typeInvalidRequest},
	core.CodeIdempotencyKeyReused:   {http.StatusUnprocessableEntity, typeIdempotency},
	core.CodeInvalidState:           {http.StatusUnprocessableEntity, typeInvalidRequest},
	core.CodeCardDeclined:           {http.StatusPaymentRequired, typeCard},
	core.CodeInsufficientFunds:      {http.StatusPaymentRequired, typeCard},
	core.CodeExpiredCard:            {http.StatusPaymentRequired, typeCard},
	core.CodeIncorrectCVC:           {http.StatusPaymentRequired, typeCard},
	core.CodeProcessingError:        {http.StatusPaymentRequired, typeCard},
	core.CodeRateLimited:            {http.StatusTooManyRequests, typeRateLimit},
	core.CodeBlockedByRisk:          {http.StatusPaymentRequired, typeCard},
	core.CodeReviewClosed:           {http.StatusConflict, typeInvalidRequest},
	core.CodeChannelUnavailable:     {http.StatusServiceUnavailable, typeAPI},
	core.CodeUnavailable:            {http.StatusServiceUnavailable, typeAPI},
	core.CodeInternal:               {http.StatusInternalServerError, typeAPI},
}

// statusOf maps a code to its HTTP status and error type; unknown codes are API errors.
func statusOf(code string) (int, string) {
	if s, ok := errorStatus[code]; ok {
		return s.status, s.typ
	}
	return http.StatusInternalServerError, typeAPI
}

// errorBody is the one JSON shape of every error answer.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Type      string `json:"type"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	Param     string `json:"param,omitempty"`
	PaymentID string `json:"payment_id,omitempty"`
	RequestID string `json:"request_id"`
}

// ErrorReply renders err in the one error shape, with its status from the table, for the
// request requestID. It is for the other HTTP front ends of the platform (payedge), so that
// an answer they make themselves cannot differ from a node's.
func ErrorReply(requestID string, err error) core.Reply {
	e := core.AsError(err)
	status, typ := statusOf(e.Code)
	b, _ := json.Marshal(errorBody{Error: errorDetail{Type: typ, Code: e.Code, Message: e.Message,
		Param: e.Param, PaymentID: e.PaymentID, RequestID: requestID}})
	return core.Reply{Status: status, Body: append(b, '\n')}
}

// WriteError answers with err as ErrorReply renders it, with its headers: Request-Id,
// Retry-After when the error has one, WWW-Authenticate on a 401.
func WriteError(w http.ResponseWriter, requestID string, err error) {
	rep := ErrorReply(requestID, err)
	h := w.Header()
	h.Set("Request-Id", requestID)
	if e := core.AsError(err); e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	if rep.Status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="paycenter"`)
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(rep.Status)
	_, _ = w.Write(rep.Body)
}

// CleanPath reports whether p is a canonical request path: no empty, "." or ".." segments.
// A path that is not is answered resource_missing rather than redirected (net/http's
// ServeMux answers 307 with an HTML body).
func CleanPath(p string) bool {
	return p != "" && p[0] == '/' && (p == "/" || path.Clean(p) == p)
}
