package chaos

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/paycenter/paycenter/core"
)

// The per-payment register model, checked with porcupine.
//
// A payment is a register holding (status, amount_captured, amount_refunded), plus the
// amount and capture method it was created with. Clients act on it with create, capture,
// refund and cancel, and read it with get; every operation is linearised somewhere between
// its first call and its definitive answer (an operation with no definitive answer may take
// effect at any time after its call, or never).
//
// Besides the clients, the platform moves a payment forward on its own: the channel's answer
// arriving through the recovery worker, a wallet payer paying (a notification), an order
// expiring. The model allows those moves at any time, but only forwards and only as the
// status machine says, with the amounts they imply:
//
//	processing      → requires_action | failed | succeeded (captured = amount; automatic
//	                  capture) | requires_capture (manual capture)
//	requires_action → failed | canceled | succeeded | requires_capture (as above)
//
// Everything else changes only through a client operation: a capture (requires_capture →
// succeeded with captured = the amount asked; a capture of the amount already captured may
// also answer with the payment unchanged, as the platform lets a second capture of the same
// amount re-drive the first), a cancel (requires_capture or requires_action
// → canceled), a refund (amount_refunded grows by the refund, never beyond what was
// captured). A read must show a state reachable from the register's state by those
// spontaneous moves, and then the register is that state. So the checker catches a payment
// seen to move backwards (succeeded, later processing), an acknowledged capture or refund
// that a later read does not reflect, a read showing money no operation moved, and answers
// that contradict each other.
//
// Replayed answers are the stored answer of the key's first execution, which happened inside
// the logical operation's interval, so they fit the model unchanged. Reads that failed and
// creates whose answers never named a payment are left out: they say nothing about a payment.

// regState is the register's value. Status "" is "not created yet".
type regState struct {
	Status   core.Status
	Amount   int64
	Auto     bool
	Captured int64
	Refunded int64
}

type linInput struct {
	Kind   OpKind
	Amount int64
	Auto   bool
}

type linOutput struct {
	Indeterminate bool
	View          *View  // a definitive payment answer
	RefundStatus  string // a definitive refund answer
	Err           string // a definitive error's code
}

// spontaneous are the moves the platform makes without a client operation.
func spontaneous(s regState) []regState {
	done := func(st core.Status) regState {
		n := s
		n.Status = st
		if st == core.StatusSucceeded {
			n.Captured = s.Amount
		}
		return n
	}
	settled := core.StatusRequiresCapture
	if s.Auto {
		settled = core.StatusSucceeded
	}
	switch s.Status {
	case core.StatusProcessing:
		return []regState{done(core.StatusRequiresAction), done(core.StatusFailed), done(settled)}
	case core.StatusRequiresAction:
		return []regState{done(core.StatusFailed), done(core.StatusCanceled), done(settled)}
	}
	return nil
}

// reach is s and every state the platform can move it to on its own.
func reach(s regState) []regState {
	out := []regState{s}
	for i := 0; i < len(out); i++ {
		for _, n := range spontaneous(out[i]) {
			if !containsState(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

func containsState(ss []regState, s regState) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func shows(s regState, v *View) bool {
	return v != nil && s.Status == v.Status && s.Amount == v.Amount && s.Captured == v.AmountCaptured && s.Refunded == v.AmountRefunded
}

// linStep is the model's step: every state the register may be in after the operation,
// none if the operation cannot have answered so.
func linStep(state, input, output any) []any {
	s, in, out := state.(regState), input.(linInput), output.(linOutput)
	var next []regState
	add := func(n regState) {
		if !containsState(next, n) {
			next = append(next, n)
		}
	}
	if in.Kind == OpCreate {
		if s.Status != "" {
			return nil // one payment, one create
		}
		for _, r := range reach(regState{Status: core.StatusProcessing, Amount: in.Amount, Auto: in.Auto}) {
			if out.Indeterminate || shows(r, out.View) {
				add(r)
			}
		}
		if out.Indeterminate {
			add(s) // it may never have happened
		}
		return anys(next)
	}
	if s.Status == "" {
		return nil // an operation on a payment before its create
	}
	for _, r := range reach(s) {
		switch in.Kind {
		case OpGet:
			if out.Indeterminate || shows(r, out.View) {
				add(r)
			}
		case OpCapture:
			can := r.Status == core.StatusRequiresCapture && in.Amount <= r.Amount
			applied := r
			applied.Status, applied.Captured = core.StatusSucceeded, in.Amount
			// A capture of the amount already captured may answer with the payment as it is:
			// another request's capture of that amount, which this one re-drove (README: "A
			// capture of the same amount is let through").
			again := r.Status == core.StatusSucceeded && r.Captured == in.Amount
			switch {
			case out.Indeterminate:
				add(r)
				if can {
					add(applied)
				}
			case out.View != nil:
				if can && shows(applied, out.View) {
					add(applied)
				}
				if again && shows(r, out.View) {
					add(r)
				}
			case out.Err == core.CodeInvalidState:
				if r.Status != core.StatusRequiresCapture {
					add(r)
				}
			case out.Err == core.CodeAmountTooLarge:
				if r.Status == core.StatusRequiresCapture && in.Amount > r.Amount {
					add(r)
				}
			default: // another definitive refusal (the channel declined): nothing moved
				add(r)
			}
		case OpRefund:
			can := r.Status == core.StatusSucceeded && r.Captured-r.Refunded >= in.Amount
			applied := r
			applied.Refunded += in.Amount
			switch {
			case out.Indeterminate || (out.Err == "" && out.RefundStatus == core.RefundPending):
				add(r)
				if can {
					add(applied)
				}
			case out.RefundStatus == core.RefundSucceeded:
				if can {
					add(applied)
				}
			case out.RefundStatus == core.RefundFailed:
				if r.Status == core.StatusSucceeded {
					add(r)
				}
			case out.Err == core.CodeInvalidState:
				if r.Status != core.StatusSucceeded {
					add(r)
				}
			case out.Err == core.CodeAmountTooLarge:
				if r.Status == core.StatusSucceeded && r.Captured-r.Refunded < in.Amount {
					add(r)
				}
			default:
				add(r)
			}
		case OpCancel:
			can := r.Status == core.StatusRequiresCapture || r.Status == core.StatusRequiresAction
			applied := r
			applied.Status, applied.Captured = core.StatusCanceled, 0
			switch {
			case out.Indeterminate:
				add(r)
				if can {
					add(applied)
				}
			case out.View != nil:
				if can && shows(applied, out.View) {
					add(applied)
				}
			case out.Err == core.CodeInvalidState:
				if !can {
					add(r)
				}
			default:
				add(r)
			}
		}
	}
	return anys(next)
}

func anys(ss []regState) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

var paymentModel = (&porcupine.NondeterministicModel{
	Init:  func() []any { return []any{regState{}} },
	Step:  linStep,
	Equal: func(a, b any) bool { return a.(regState) == b.(regState) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(linInput), output.(linOutput)
		switch {
		case out.Indeterminate:
			return fmt.Sprintf("%s(%d) -> ?", in.Kind, in.Amount)
		case out.View != nil:
			return fmt.Sprintf("%s(%d) -> %s c=%d r=%d", in.Kind, in.Amount, out.View.Status, out.View.AmountCaptured, out.View.AmountRefunded)
		case out.RefundStatus != "":
			return fmt.Sprintf("%s(%d) -> refund %s", in.Kind, in.Amount, out.RefundStatus)
		}
		return fmt.Sprintf("%s(%d) -> %s", in.Kind, in.Amount, out.Err)
	},
	DescribeState: func(state any) string {
		s := state.(regState)
		return fmt.Sprintf("%s c=%d r=%d", s.Status, s.Captured, s.Refunded)
	},
}).ToModel()

// porcupineOps turns one payment's operations into porcupine's history.
func porcupineOps(ops []Op) []porcupine.Operation {
	var out []porcupine.Operation
	for _, op := range ops {
		in := linInput{Kind: op.Kind, Amount: op.Amount, Auto: op.Auto}
		o := linOutput{}
		ret := int64(op.Return)
		switch {
		case !op.Final:
			if op.Kind == OpGet {
				continue // a failed read says nothing
			}
			o.Indeterminate, ret = true, math.MaxInt64
		case op.Payment != nil:
			o.View = op.Payment
		case op.RefundStatus != "":
			o.RefundStatus = op.RefundStatus
		case op.Kind == OpCreate:
			continue // a create refused without a payment (e.g. a duplicate reference)
		case op.ErrCode != "":
			o.Err = op.ErrCode
		default:
			o.Indeterminate, ret = true, math.MaxInt64
		}
		out = append(out, porcupine.Operation{ClientId: max(op.Client, 0), Input: in, Output: o, Call: int64(op.Call), Return: ret})
	}
	return out
}

// LinearizabilityReport is what checking every payment's history found.
type LinearizabilityReport struct {
	Checked int `json:"checked"`
	// Illegal lists payments whose history is not linearizable; Unknown those the checker
	// could not decide in time.
	Illegal []string `json:"illegal,omitempty"`
	Unknown []string `json:"unknown,omitempty"`
}

// CheckLinearizable checks each payment's operations (grouped by payment ID) against the
// register model, with a time limit per payment.
func CheckLinearizable(ops []Op, perPayment time.Duration) LinearizabilityReport {
	byPayment := map[string][]Op{}
	for _, op := range ops {
		if op.PaymentID == "" {
			continue
		}
		byPayment[op.PaymentID] = append(byPayment[op.PaymentID], op)
	}
	ids := make([]string, 0, len(byPayment))
	for id := range byPayment {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var rep LinearizabilityReport
	for _, id := range ids {
		h := porcupineOps(byPayment[id])
		if len(h) == 0 {
			continue
		}
		rep.Checked++
		switch porcupine.CheckOperationsTimeout(paymentModel, h, perPayment) {
		case porcupine.Illegal:
			rep.Illegal = append(rep.Illegal, id)
		case porcupine.Unknown:
			rep.Unknown = append(rep.Unknown, id)
		}
	}
	return rep
}
