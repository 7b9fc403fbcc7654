package chaos

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/paycenter/paycenter/core"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// OpKind is what a logical client operation did.
type OpKind string

// Operation kinds. Create, capture, refund and cancel move money and carry an
// Idempotency-Key; get reads a payment.
const (
	OpCreate  OpKind = "create"
	OpCapture OpKind = "capture"
	OpRefund  OpKind = "refund"
	OpCancel  OpKind = "cancel"
	OpGet     OpKind = "get"
)

// Moves reports whether k moves money (and so carries an Idempotency-Key).
func (k OpKind) Moves() bool { return k != OpGet }

// View is what a client saw of a payment in one answer.
type View struct {
	Status         core.Status `json:"status"`
	Amount         int64       `json:"amount"`
	AmountCaptured int64       `json:"amount_captured"`
	AmountRefunded int64       `json:"amount_refunded"`
}

// ViewOf is the view of a payment answer.
func ViewOf(p *paysdk.Payment) *View {
	if p == nil {
		return nil
	}
	return &View{Status: core.Status(p.Status), Amount: p.Amount, AmountCaptured: p.AmountCaptured, AmountRefunded: p.AmountRefunded}
}

// Op is one logical client operation: every attempt made with one Idempotency-Key (or one
// read), from the first call to the definitive answer. Times are offsets from the start of
// the history, so they order operations across clients.
type Op struct {
	ID     int    `json:"id"`
	Client int    `json:"client"` // -1: the verifier's final reads
	Region string `json:"region"` // the client's home region (its first endpoint)
	Kind   OpKind `json:"kind"`
	// Merchant is the merchant's ID; Key the Idempotency-Key ("" for reads).
	Merchant string `json:"merchant"`
	Key      string `json:"key,omitempty"`

	// Inputs. PaymentID is the payment operated on (for a create: the one its answers named).
	PaymentID string       `json:"payment_id,omitempty"`
	Reference string       `json:"merchant_reference,omitempty"`
	Channel   core.Channel `json:"channel,omitempty"`
	Amount    int64        `json:"amount,omitempty"` // create, capture and refund amounts
	Auto      bool         `json:"auto,omitempty"`   // create: automatic capture

	// Outcome.
	Call   time.Duration `json:"call_ns"`
	Return time.Duration `json:"return_ns"`
	// Final is true when the operation got a definitive answer: one that repeating the
	// request with the same key cannot change (a 2xx other than 202, a stored error, a 4xx
	// other than 409 in-use and 429).
	Final    bool   `json:"final"`
	Status   int    `json:"status"`             // HTTP status of the definitive (else the last) answer
	ErrCode  string `json:"err_code,omitempty"` // its error code, if it was an error
	Replayed bool   `json:"replayed,omitempty"` // the definitive answer was a replay
	// Abandoned is true when the client gave up on purpose without a definitive answer.
	Abandoned bool `json:"abandoned,omitempty"`
	// Payment is the payment in a definitive payment answer (create, capture, cancel, get).
	Payment *View `json:"payment,omitempty"`
	// Refund fields of a definitive refund answer.
	RefundID     string `json:"refund_id,omitempty"`
	RefundStatus string `json:"refund_status,omitempty"`
	// SeenPayments and SeenRefunds are every payment and refund ID any answer to any attempt
	// named: more than one for one key would be a duplicate.
	SeenPayments []string `json:"seen_payments,omitempty"`
	SeenRefunds  []string `json:"seen_refunds,omitempty"`
	Attempts     int      `json:"attempts"`
}

// Acked reports whether the client saw the operation acknowledged: a definitive 2xx.
func (o *Op) Acked() bool { return o.Final && o.Status >= 200 && o.Status < 300 && o.Status != 202 }

// Latency is how long the client waited for the definitive answer (or gave up).
func (o *Op) Latency() time.Duration { return o.Return - o.Call }

func (o *Op) seePayment(id string) {
	if id == "" {
		return
	}
	for _, s := range o.SeenPayments {
		if s == id {
			return
		}
	}
	o.SeenPayments = append(o.SeenPayments, id)
}

func (o *Op) seeRefund(id string) {
	if id == "" {
		return
	}
	for _, s := range o.SeenRefunds {
		if s == id {
			return
		}
	}
	o.SeenRefunds = append(o.SeenRefunds, id)
}

// History is the record of every client operation of one experiment. It is safe for
// concurrent use.
type History struct {
	start time.Time
	mu    sync.Mutex
	ops   []Op
}

// NewHistory starts an empty history whose clock starts now.
func NewHistory() *History { return &History{start: time.Now()} }

// Start is the wall-clock time the history's offsets count from.
func (h *History) Start() time.Time { return h.start }

// Now is the current offset (monotonic).
func (h *History) Now() time.Duration { return time.Since(h.start) }

// At is the offset of a wall-clock time.
func (h *History) At(t time.Time) time.Duration { return t.Sub(h.start) }

// Add records a finished operation and returns its ID.
func (h *History) Add(op Op) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	op.ID = len(h.ops)
	h.ops = append(h.ops, op)
	return op.ID
}

// Ops returns a copy of the operations recorded so far.
func (h *History) Ops() []Op {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]Op(nil), h.ops...)
}

// WriteJSONLines writes every operation as one JSON line.
func (h *History) WriteJSONLines(w io.Writer) error {
	enc := json.NewEncoder(w)
	for _, op := range h.Ops() {
		if err := enc.Encode(op); err != nil {
			return err
		}
	}
	return nil
}
