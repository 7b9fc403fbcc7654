package loadtest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/paycenter/paycenter/core"
)

// Outcome is how an operation (or one call of it) ended.
type Outcome string

// The outcomes. OutcomeOK and OutcomeDeclined are successes; operations the generator
// cancelled itself at the end of a run (HistoryRecord.Unfinished) are counted apart; every
// other outcome is an error.
const (
	// OutcomeOK: the operation did what it asked for (a wallet payment that answers
	// requires_action is ok).
	OutcomeOK Outcome = "ok"
	// OutcomeDeclined: a card the generator chose to be declined was declined (402
	// card_declined): an expected outcome, counted apart from errors.
	OutcomeDeclined Outcome = "declined"
	// OutcomeError: the API answered with an error (ErrorCode names it), or with an answer
	// the generator did not expect (an unexpected decline or status).
	OutcomeError Outcome = "error"
	// OutcomeNetworkError: no answer was received (connection refused or reset) after the
	// SDK's retries and failover.
	OutcomeNetworkError Outcome = "network_error"
	// OutcomeTimeout: the operation's deadline (or an attempt's HTTP timeout) passed without
	// an answer.
	OutcomeTimeout Outcome = "timeout"
	// OutcomeUnknown: the outcome is not known: the platform answered 202 (payment still
	// processing, refund pending) after the SDK's retries (code unknown_outcome), or the
	// generator cancelled the operation when the run's grace period ran out or on a second
	// interrupt (code canceled). Money may or may not have moved.
	OutcomeUnknown Outcome = "unknown"
)

// Failed reports whether o is neither ok nor an expected decline.
func (o Outcome) Failed() bool { return o != OutcomeOK && o != OutcomeDeclined }

// Unfinished reports whether the generator itself cancelled the operation at the end of the
// run (outcome unknown, code canceled): it is counted apart, neither ok nor an error, since
// the platform was not given the time to answer.
func (r *HistoryRecord) Unfinished() bool {
	return r.Outcome == OutcomeUnknown && r.ErrorCode == CodeCanceled
}

// isError reports whether rec counts as an error in the results.
func (r *HistoryRecord) isError() bool { return r.Outcome.Failed() && !r.Unfinished() }

// Error codes the generator sets itself (API error codes are passed through).
const (
	CodeNetworkError       = "network_error"
	CodeTimeout            = "timeout"
	CodeCanceled           = "canceled"
	CodeUnknownOutcome     = "unknown_outcome"
	CodeUnexpectedStatus   = "unexpected_status"
	CodeDeclineNotDeclined = "expected_decline_succeeded"
	CodeBadResponse        = "bad_response"
	CodeRefundFailed       = "refund_failed"
)

// HistoryRecord is one operation of a run, as written to the history file (one JSON object
// per line) when it completes. A checker reads them with ReadHistory. Timestamps are Unix
// nanoseconds of the generator's clock.
type HistoryRecord struct {
	// Seq is the operation's number in the run, from 0; it seeds the operation's choices.
	Seq int64 `json:"seq"`
	// Op is the operation performed.
	Op OpType `json:"op"`
	// SubstitutedFor is the mix's choice when another operation was performed instead (a
	// refund with nothing to refund becomes a create_auto, a get with nothing to read a list).
	SubstitutedFor OpType `json:"substituted_for,omitempty"`
	// Warmup is true for operations scheduled during the warmup (excluded from the results).
	Warmup bool `json:"warmup,omitempty"`
	// MerchantID is the merchant the operation acted as.
	MerchantID string `json:"merchant_id,omitempty"`
	// IdempotencyKey is the key of the operation's first money-moving call (each call's key
	// is in Calls).
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	// Params are the essential request parameters.
	Params HistoryParams `json:"params"`
	// ScheduledNS is when the operation was meant to start: in an open-loop run its slot in
	// the schedule, in a closed-loop run the same as InvokeNS.
	ScheduledNS int64 `json:"scheduled_ns"`
	// InvokeNS and CompleteNS bracket the operation.
	InvokeNS   int64 `json:"invoke_ns"`
	CompleteNS int64 `json:"complete_ns"`
	// Outcome is how the operation ended; for several calls, how the last one ended.
	Outcome Outcome `json:"outcome"`
	// ErrorCode is the API's error code or one of the Code* constants, for other outcomes
	// than ok.
	ErrorCode string `json:"error_code,omitempty"`
	// HTTPStatus is the status of the last answer (0 if none came).
	HTTPStatus int `json:"http_status,omitempty"`
	// Error is a message for people.
	Error string `json:"error,omitempty"`
	// Result is what the platform answered.
	Result HistoryResult `json:"result"`
	// Region is the region of the node that served the last call (Payd-Region), Endpoint the
	// endpoint it went through.
	Region   string `json:"region,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
	// Attempts is the number of HTTP requests the SDK sent, over all calls.
	Attempts int `json:"attempts"`
	// Calls are the operation's API calls, in order.
	Calls []HistoryCall `json:"calls,omitempty"`
}

// HistoryParams are the essential parameters of an operation's requests.
type HistoryParams struct {
	Amount            int64              `json:"amount,omitempty"`
	Currency          string             `json:"currency,omitempty"`
	Channel           core.Channel       `json:"channel,omitempty"`
	CaptureMethod     core.CaptureMethod `json:"capture_method,omitempty"`
	MerchantReference string             `json:"merchant_reference,omitempty"`
	// CardLast4 is the last four digits of the test card sent (never the whole number).
	CardLast4 string `json:"card_last4,omitempty"`
	// ExpectDecline is true when the card sent is the declining test card.
	ExpectDecline bool `json:"expect_decline,omitempty"`
	// PaymentID is the payment a capture, refund or get was about.
	PaymentID string `json:"payment_id,omitempty"`
	// CaptureAmount is the amount asked for by a partial capture (absent: capture all).
	CaptureAmount *int64 `json:"capture_amount,omitempty"`
	// RefundAmount is the amount a refund asked for.
	RefundAmount int64 `json:"refund_amount,omitempty"`
}

// HistoryResult is what the platform answered about the objects involved.
type HistoryResult struct {
	PaymentID      string      `json:"payment_id,omitempty"`
	Status         core.Status `json:"status,omitempty"`
	Amount         int64       `json:"amount,omitempty"`
	AmountCaptured int64       `json:"amount_captured,omitempty"`
	AmountRefunded int64       `json:"amount_refunded,omitempty"`
	RefundID       string      `json:"refund_id,omitempty"`
	RefundStatus   string      `json:"refund_status,omitempty"`
	RefundAmount   int64       `json:"refund_amount,omitempty"`
	// Listed is the number of payments a list answered.
	Listed int `json:"listed,omitempty"`
}

// HistoryCall is one API call of an operation.
type HistoryCall struct {
	// Call is create_payment, capture_payment, create_refund, get_payment or list_payments.
	Call           string  `json:"call"`
	IdempotencyKey string  `json:"idempotency_key,omitempty"`
	InvokeNS       int64   `json:"invoke_ns"`
	CompleteNS     int64   `json:"complete_ns"`
	Outcome        Outcome `json:"outcome"`
	ErrorCode      string  `json:"error_code,omitempty"`
	HTTPStatus     int     `json:"http_status,omitempty"`
	Region         string  `json:"region,omitempty"`
	Endpoint       string  `json:"endpoint,omitempty"`
	Attempts       int     `json:"attempts"`
	Replayed       bool    `json:"replayed,omitempty"`
	RequestID      string  `json:"request_id,omitempty"`
}

// HistoryWriter writes HistoryRecords as JSON lines; it is safe for concurrent use.
type HistoryWriter struct {
	mu  sync.Mutex
	w   *bufio.Writer
	enc *json.Encoder
	n   int64
	err error
}

// NewHistoryWriter writes to w, buffered: call Flush at the end.
func NewHistoryWriter(w io.Writer) *HistoryWriter {
	bw := bufio.NewWriterSize(w, 64<<10)
	return &HistoryWriter{w: bw, enc: json.NewEncoder(bw)}
}

// Write appends one record. The first error is kept and returned by later calls and Flush.
func (h *HistoryWriter) Write(r *HistoryRecord) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return h.err
	}
	if err := h.enc.Encode(r); err != nil {
		h.err = fmt.Errorf("history: %w", err)
		return h.err
	}
	h.n++
	return nil
}

// Count is the number of records written.
func (h *HistoryWriter) Count() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n
}

// Flush writes out what is buffered.
func (h *HistoryWriter) Flush() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil {
		return h.err
	}
	if err := h.w.Flush(); err != nil {
		h.err = fmt.Errorf("history: %w", err)
	}
	return h.err
}

// ReadHistory reads a history file written by HistoryWriter.
func ReadHistory(r io.Reader) ([]HistoryRecord, error) {
	var out []HistoryRecord
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var rec HistoryRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			return out, fmt.Errorf("history line %d: %w", line, err)
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}
