// Package gatewaytest is the conformance suite every channel adapter (every core.Gateway)
// passes, in the manner of River's riverdrivertest: an adapter's own test calls Run with a
// Harness that says how to build the adapter and what it can do, and the suite checks the
// behaviour the payment center relies on (see core.Gateway):
//
//   - Authorize answers with a channel Reference and an outcome that fits the channel: cards
//     are captured (automatic capture) or authorized (manual capture), pay-later channels
//     (wallets, bank transfer) answer action_required with a NextAction.
//   - A channel key is executed at most once: repeating it returns the first answer.
//   - Test cards are declined with the platform's decline codes.
//   - Capture, void and refund refusals are OpResults with OK false and a failure code, never
//     errors; refunds never exceed what was captured.
//   - QueryPayment (core.Querier) reports what became of an authorisation.
//   - A cancelled context ends a call promptly with an error, and an error that wraps
//     core.ErrNotExecuted really executed nothing.
//
// Subtests that need a capability the Harness does not declare are skipped, naming the
// capability. A stateless backend (a mock that validates requests and answers with fixtures,
// such as stripe-mock) declares Stateful false: the suite then checks only that every call
// is accepted and answered in a well-formed way, and leaves key replay, test cards, refund
// limits and state checks to adapters with a stateful backend.
//
// Usage, from an adapter's test package:
//
//	func TestConformance(t *testing.T) {
//		gatewaytest.Run(t, gatewaytest.Harness{
//			New:      func(t *testing.T) core.Gateway { return mychannel.New(...) },
//			Channels: []core.Channel{core.ChannelAlipay},
//			Stateful: true, PayAsync: true, Queries: true,
//			Pay: func(t *testing.T, gw core.Gateway, req core.AuthorizeRequest, res core.AuthorizeResult) {
//				// make the simulated payer pay res.Reference
//			},
//		})
//	}
package gatewaytest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
)

// Harness describes the adapter under test: how to build it, which channels it serves and
// what it can do. The zero value of every capability means "not supported": the subtests
// that need it are skipped.
type Harness struct {
	// New returns a fresh gateway for one subtest. Required. It may register cleanups on t.
	New func(t *testing.T) core.Gateway

	// Channels are the channels the gateway serves; the suite runs once per channel.
	// Required.
	Channels []core.Channel

	// Stateful is true when the backend remembers what it did: it replays a channel key's
	// first answer, refuses a capture after a void, and counts refunds against the capture.
	// False for a stateless mock that answers every request with a fixture.
	Stateful bool

	// HonoursTestCards is true when the well-known test cards are declined
	// (4000000000000002 card_declined, 4000000000009995 insufficient_funds).
	HonoursTestCards bool

	// SupportsManualCapture is true when card channels can authorise now and capture later.
	SupportsManualCapture bool

	// PayAsync is true when the adapter's non-card channels are pay-later channels: Authorize
	// answers action_required with a NextAction, and the payer pays afterwards (see Pay).
	// When false, non-card channels are expected to capture at once.
	PayAsync bool

	// Queries is true when the gateway implements core.Querier.
	Queries bool

	// Pay, if set, makes the payer pay an action_required payment (scan the QR code, approve
	// the redirect, send the transfer) so that refunds can be tested on pay-later channels.
	// It must return once the payment is captured at the channel. req and res are the
	// authorisation's request and answer.
	Pay func(t *testing.T, gw core.Gateway, req core.AuthorizeRequest, res core.AuthorizeResult)

	// CardNumber, if set, gives the card number for a kind of test card; "" skips the cases
	// that need that kind. When nil the well-known numbers are used (see CardKind).
	CardNumber func(kind CardKind) string

	// Currency for every payment; default "USD".
	Currency string

	// CallTimeout bounds how long a call with a cancelled context may take to return;
	// default 5 s.
	CallTimeout time.Duration

	// Skip names subtests (as in "Context", see Subtests) to skip, with the reason: for an
	// adapter with a known, documented gap.
	Skip map[string]string
}

// CardKind names a kind of test card.
type CardKind int

// Test card kinds, with the numbers used when Harness.CardNumber is nil.
const (
	CardSucceeds          CardKind = iota // 4242424242424242
	CardDeclined                          // 4000000000000002: card_declined
	CardInsufficientFunds                 // 4000000000009995: insufficient_funds
)

var defaultCards = map[CardKind]string{
	CardSucceeds:          "4242424242424242",
	CardDeclined:          "4000000000000002",
	CardInsufficientFunds: "4000000000009995",
}

// ChargeCounter is implemented by gateways (usually simulators) that count the charges they
// really made. When the gateway under test implements it, the suite asserts that repeating a
// channel key charges once and that declines and unexecuted calls charge nothing.
type ChargeCounter interface {
	// Charges is how many times payment paymentID was really charged (authorised).
	Charges(paymentID string) int
}

// Subtests lists the subtests Run runs for each channel, in order; Harness.Skip takes these
// names.
var Subtests = []string{"Authorize", "SameKey", "TestCards", "ManualCapture", "Void", "Refunds", "Operations", "Query", "Context"}

// The amounts every payment uses: a payment of amount, captured or refunded in parts.
const (
	amount  = 1000
	partial = 600 // partial capture, first refund
	rest    = 400 // second refund: partial + rest == amount
	tooMuch = 1   // a refund beyond what is left
	idTag   = "gwt"
)

var (
	runID = func() string {
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		return hex.EncodeToString(b)
	}()
	seq atomic.Int64
)

// Run runs the conformance suite against the adapter h describes: one subtest per channel,
// and in it one subtest per behaviour (see Subtests).
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("gatewaytest: Harness.New is required")
	}
	if len(h.Channels) == 0 {
		t.Fatal("gatewaytest: Harness.Channels is empty")
	}
	if h.Currency == "" {
		h.Currency = "USD"
	}
	if h.CallTimeout <= 0 {
		h.CallTimeout = 5 * time.Second
	}
	for name := range h.Skip {
		if !known(name) {
			t.Fatalf("gatewaytest: Harness.Skip names %q, which is not a subtest (see Subtests)", name)
		}
	}
	for _, ch := range h.Channels {
		s := &suite{h: h, ch: ch}
		t.Run(string(ch), func(t *testing.T) {
			for _, st := range []struct {
				name string
				fn   func(*testing.T)
			}{
				{"Authorize", s.testAuthorize},
				{"SameKey", s.testSameKey},
				{"TestCards", s.testTestCards},
				{"ManualCapture", s.testManualCapture},
				{"Void", s.testVoid},
				{"Refunds", s.testRefunds},
				{"Operations", s.testOperations},
				{"Query", s.testQuery},
				{"Context", s.testContext},
			} {
				t.Run(st.name, func(t *testing.T) {
					if reason, ok := h.Skip[st.name]; ok {
						t.Skipf("skipped by the harness: %s", reason)
					}
					st.fn(t)
				})
			}
		})
	}
}

func known(name string) bool {
	for _, n := range Subtests {
		if n == name {
			return true
		}
	}
	return false
}

type suite struct {
	h  Harness
	ch core.Channel
}

// paymentID makes a payment ID no other subtest, run or process uses.
func (s *suite) paymentID() string {
	return fmt.Sprintf("pay_%s_%s_%d", idTag, runID, seq.Add(1))
}

func (s *suite) card(t *testing.T, kind CardKind) string {
	t.Helper()
	n := defaultCards[kind]
	if s.h.CardNumber != nil {
		n = s.h.CardNumber(kind)
	}
	if n == "" {
		t.Skipf("Harness.CardNumber gives no card of kind %d", kind)
	}
	return n
}

func (s *suite) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// authReq is an authorisation of amount for a new payment; number is used on card channels.
func (s *suite) authReq(capture bool, number string) core.AuthorizeRequest {
	id := s.paymentID()
	req := core.AuthorizeRequest{
		Key: core.AuthorizeKey(id), PaymentID: id, MerchantID: "mch_gatewaytest", Region: "test",
		Channel: s.ch, Amount: amount, Currency: s.h.Currency, Capture: capture, Reference: "gatewaytest",
	}
	if s.ch.IsCard() {
		req.Card = &core.CardData{Number: number, ExpMonth: 12, ExpYear: time.Now().Year() + 3, CVC: "123"}
	}
	return req
}

// authorize authorises a new payment in the channel's normal flow (a card that succeeds, with
// automatic or manual capture, or a pay-later order) and requires an answer with a Reference.
func (s *suite) authorize(t *testing.T, gw core.Gateway, capture bool) (core.AuthorizeRequest, core.AuthorizeResult) {
	t.Helper()
	req := s.authReq(capture, s.card(t, CardSucceeds))
	res, err := gw.Authorize(s.ctx(t), req)
	if err != nil {
		t.Fatalf("Authorize(%s, capture=%v): %v", s.ch, capture, err)
	}
	if res.Reference == "" {
		t.Fatalf("Authorize(%s): empty Reference in %+v", s.ch, res)
	}
	return req, res
}

func (s *suite) requireStateful(t *testing.T) {
	t.Helper()
	if !s.h.Stateful {
		t.Skip("needs Harness.Stateful: a stateless backend does not remember what it did")
	}
}

func (s *suite) requireManualCapture(t *testing.T) {
	t.Helper()
	if !s.ch.IsCard() {
		t.Skipf("%s is not a card channel: no manual capture", s.ch)
	}
	if !s.h.SupportsManualCapture {
		t.Skip("needs Harness.SupportsManualCapture")
	}
}

func (s *suite) querier(t *testing.T, gw core.Gateway) core.Querier {
	t.Helper()
	if !s.h.Queries {
		t.Skip("needs Harness.Queries")
	}
	q, ok := gw.(core.Querier)
	if !ok {
		t.Fatalf("Harness.Queries is set but %T does not implement core.Querier", gw)
	}
	return q
}

// wantOutcome is the outcome a successful authorisation has on the channel.
func (s *suite) wantOutcome(capture bool) core.AuthorizeOutcome {
	switch {
	case !s.ch.IsCard() && s.h.PayAsync:
		return core.OutcomeActionRequired
	case capture || !s.ch.IsCard():
		return core.OutcomeCaptured
	default:
		return core.OutcomeAuthorized
	}
}

var declineCodes = map[string]bool{
	core.CodeCardDeclined: true, core.CodeInsufficientFunds: true, core.CodeExpiredCard: true,
	core.CodeIncorrectCVC: true, core.CodeProcessingError: true,
}

var opFailureCodes = map[string]bool{
	core.CodeInvalidState: true, core.CodeAmountTooLarge: true, core.CodeProcessingError: true,
}

// checkResult checks that an authorisation answer is well formed: a known outcome, a decline
// code exactly for declines, a next action exactly for action_required.
func checkResult(t *testing.T, what string, res core.AuthorizeResult) {
	t.Helper()
	switch res.Outcome {
	case core.OutcomeDeclined:
		if !declineCodes[res.DeclineCode] {
			t.Errorf("%s: declined with %q, not one of the platform's decline codes: %+v", what, res.DeclineCode, res)
		}
	case core.OutcomeCaptured, core.OutcomeAuthorized:
		if res.DeclineCode != "" {
			t.Errorf("%s: %s with a decline code: %+v", what, res.Outcome, res)
		}
	case core.OutcomeActionRequired:
		if res.NextAction == nil || res.NextAction.Type == "" {
			t.Errorf("%s: action_required without a NextAction type: %+v", what, res)
		}
	default:
		t.Errorf("%s: unknown outcome %q: %+v", what, res.Outcome, res)
	}
}

// checkOp checks that an OpResult is well formed: OK without a failure code, or a refusal
// with one of the platform's codes.
func checkOp(t *testing.T, what string, res core.OpResult, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: error %v (refusals must be OpResult{OK: false}, errors mean the outcome is unknown)", what, err)
	}
	if res.OK && res.FailureCode != "" {
		t.Errorf("%s: OK with failure code: %+v", what, res)
	}
	if !res.OK && !opFailureCodes[res.FailureCode] {
		t.Errorf("%s: refused with failure code %q, want one of payment_invalid_state, amount_too_large, processing_error: %+v", what, res.FailureCode, res)
	}
}

func requireOK(t *testing.T, what string, res core.OpResult, err error, wantAmount int64) {
	t.Helper()
	checkOp(t, what, res, err)
	if !res.OK {
		t.Fatalf("%s: refused, want OK: %+v", what, res)
	}
	if res.Amount != wantAmount {
		t.Errorf("%s: Amount %d, want %d: %+v", what, res.Amount, wantAmount, res)
	}
}

func requireRefused(t *testing.T, what string, res core.OpResult, err error) {
	t.Helper()
	checkOp(t, what, res, err)
	if res.OK {
		t.Fatalf("%s: OK, want a refusal (OK false with a failure code): %+v", what, res)
	}
}

func charges(gw core.Gateway, paymentID string) (int, bool) {
	if c, ok := gw.(ChargeCounter); ok {
		return c.Charges(paymentID), true
	}
	return 0, false
}

// testAuthorize: a Reference and the channel's outcome, for automatic and manual capture.
func (s *suite) testAuthorize(t *testing.T) {
	gw := s.h.New(t)
	captures := []bool{true}
	if s.ch.IsCard() && s.h.SupportsManualCapture {
		captures = append(captures, false)
	}
	for _, capture := range captures {
		req, res := s.authorize(t, gw, capture)
		what := fmt.Sprintf("Authorize(%s, capture=%v)", s.ch, capture)
		checkResult(t, what, res)
		if !s.h.Stateful {
			continue // a fixture's outcome: well formed is all that can be asked
		}
		if want := s.wantOutcome(capture); res.Outcome != want {
			t.Errorf("%s: outcome %q, want %q: %+v", what, res.Outcome, want, res)
		}
		if n, ok := charges(gw, req.PaymentID); ok && s.ch.IsCard() && n != 1 {
			t.Errorf("%s: %d charges, want 1", what, n)
		}
	}
}

// testSameKey: repeating a channel key returns the first answer and executes once.
func (s *suite) testSameKey(t *testing.T) {
	s.requireStateful(t)
	gw := s.h.New(t)
	ctx := s.ctx(t)
	capture := !(s.ch.IsCard() && s.h.SupportsManualCapture)
	req, first := s.authorize(t, gw, capture)
	again, err := gw.Authorize(ctx, req)
	if err != nil {
		t.Fatalf("repeated Authorize: %v", err)
	}
	if !reflect.DeepEqual(first, again) {
		t.Fatalf("repeated key %s: answer %+v, first answer %+v", req.Key, again, first)
	}
	if n, ok := charges(gw, req.PaymentID); ok {
		want := 1
		if !s.ch.IsCard() && s.h.PayAsync {
			want = 0 // nothing is charged before the payer pays
		}
		if n != want {
			t.Fatalf("repeated key %s: %d charges, want %d", req.Key, n, want)
		}
	}
	// Another payment (another key) is another transaction.
	_, other := s.authorize(t, gw, capture)
	if other.Reference == first.Reference {
		t.Fatalf("two payments got the same Reference %q", first.Reference)
	}
}

// testTestCards: the decline test cards, and a repeated decline.
func (s *suite) testTestCards(t *testing.T) {
	if !s.ch.IsCard() {
		t.Skipf("%s is not a card channel", s.ch)
	}
	if !s.h.HonoursTestCards {
		t.Skip("needs Harness.HonoursTestCards")
	}
	gw := s.h.New(t)
	ctx := s.ctx(t)
	for _, tc := range []struct {
		kind CardKind
		code string
	}{
		{CardDeclined, core.CodeCardDeclined},
		{CardInsufficientFunds, core.CodeInsufficientFunds},
	} {
		t.Run(tc.code, func(t *testing.T) {
			req := s.authReq(true, s.card(t, tc.kind))
			res, err := gw.Authorize(ctx, req)
			if err != nil {
				t.Fatalf("Authorize: %v (a decline is an answer, not an error)", err)
			}
			checkResult(t, "Authorize", res)
			if res.Outcome != core.OutcomeDeclined || res.DeclineCode != tc.code {
				t.Fatalf("card %s: %+v, want declined %s", req.Card.Number, res, tc.code)
			}
			if res.DeclineMessage == "" {
				t.Errorf("card %s: empty DeclineMessage", req.Card.Number)
			}
			if n, ok := charges(gw, req.PaymentID); ok && n != 0 {
				t.Errorf("card %s: %d charges for a decline, want 0", req.Card.Number, n)
			}
			if !s.h.Stateful {
				return
			}
			again, err := gw.Authorize(ctx, req)
			if err != nil || !reflect.DeepEqual(res, again) {
				t.Fatalf("repeated decline: %+v, %v; first %+v", again, err, res)
			}
		})
	}
}

// testManualCapture: authorise, capture part, repeat the capture, refuse a void after it.
func (s *suite) testManualCapture(t *testing.T) {
	s.requireManualCapture(t)
	s.requireStateful(t)
	gw := s.h.New(t)
	ctx := s.ctx(t)
	req, res := s.authorize(t, gw, false)
	if res.Outcome != core.OutcomeAuthorized {
		t.Fatalf("manual capture authorisation: %+v, want authorized", res)
	}
	capReq := core.CaptureRequest{Key: core.CaptureKey(req.PaymentID), PaymentID: req.PaymentID, Channel: s.ch,
		Reference: res.Reference, Amount: partial, Currency: req.Currency}
	c1, err := gw.Capture(ctx, capReq)
	requireOK(t, "Capture", c1, err, partial)
	c2, err := gw.Capture(ctx, capReq)
	if err != nil || !reflect.DeepEqual(c1, c2) {
		t.Fatalf("repeated capture key: %+v, %v; first %+v", c2, err, c1)
	}
	v, err := gw.Void(ctx, core.VoidRequest{Key: core.VoidKey(req.PaymentID), PaymentID: req.PaymentID, Channel: s.ch, Reference: res.Reference})
	requireRefused(t, "Void after capture", v, err)
	// Only the captured part can be refunded.
	rf, err := gw.Refund(ctx, s.refundReq(req, res, partial+tooMuch))
	requireRefused(t, "Refund beyond the captured part", rf, err)
	if s.h.Queries {
		st, err := s.querier(t, gw).QueryPayment(ctx, core.PaymentQuery{Key: req.Key, PaymentID: req.PaymentID, Channel: s.ch, Reference: res.Reference})
		if err != nil || !st.Found || st.AmountCaptured != partial {
			t.Fatalf("QueryPayment after capturing %d: %+v, %v", partial, st, err)
		}
	}
}

// testVoid: void a hold (or close an unpaid order), repeat it, refuse a capture after it.
func (s *suite) testVoid(t *testing.T) {
	s.requireStateful(t)
	switch {
	case s.ch.IsCard():
		s.requireManualCapture(t)
	case !s.h.PayAsync:
		t.Skipf("%s captures at once: nothing to void", s.ch)
	}
	gw := s.h.New(t)
	ctx := s.ctx(t)
	req, res := s.authorize(t, gw, false)
	if want := s.wantOutcome(false); res.Outcome != want {
		t.Fatalf("authorisation: %+v, want %s", res, want)
	}
	voidReq := core.VoidRequest{Key: core.VoidKey(req.PaymentID), PaymentID: req.PaymentID, Channel: s.ch, Reference: res.Reference}
	v1, err := gw.Void(ctx, voidReq)
	checkOp(t, "Void", v1, err)
	if !v1.OK {
		t.Fatalf("Void of %s: refused: %+v", res.Outcome, v1)
	}
	v2, err := gw.Void(ctx, voidReq)
	if err != nil || !reflect.DeepEqual(v1, v2) {
		t.Fatalf("repeated void key: %+v, %v; first %+v", v2, err, v1)
	}
	if s.ch.IsCard() {
		c, err := gw.Capture(ctx, core.CaptureRequest{Key: core.CaptureKey(req.PaymentID), PaymentID: req.PaymentID,
			Channel: s.ch, Reference: res.Reference, Amount: amount, Currency: req.Currency})
		requireRefused(t, "Capture after void", c, err)
	}
	if s.h.Queries {
		st, err := s.querier(t, gw).QueryPayment(ctx, core.PaymentQuery{Key: req.Key, PaymentID: req.PaymentID, Channel: s.ch, Reference: res.Reference})
		if err != nil || !st.Found || !st.Closed || st.AmountCaptured != 0 {
			t.Fatalf("QueryPayment after void: %+v, %v; want found, closed, nothing captured", st, err)
		}
	}
}

func (s *suite) refundReq(req core.AuthorizeRequest, res core.AuthorizeResult, amt int64) core.RefundRequest {
	id := fmt.Sprintf("re_%s_%s_%d", idTag, runID, seq.Add(1))
	return core.RefundRequest{Key: core.RefundKey(id), PaymentID: req.PaymentID, RefundID: id, Channel: s.ch,
		Reference: res.Reference, Amount: amt, Currency: req.Currency}
}

// testRefunds: two refunds up to the captured amount, a third beyond it refused, a repeated
// refund key answered with the first answer.
func (s *suite) testRefunds(t *testing.T) {
	s.requireStateful(t)
	gw := s.h.New(t)
	ctx := s.ctx(t)
	req, res := s.authorize(t, gw, true)
	switch res.Outcome {
	case core.OutcomeCaptured:
	case core.OutcomeActionRequired:
		if s.h.Pay == nil {
			t.Skipf("%s answers action_required and Harness.Pay is nil: cannot make the payer pay", s.ch)
		}
		s.h.Pay(t, gw, req, res)
	default:
		t.Fatalf("authorisation with automatic capture: %+v", res)
	}
	first := s.refundReq(req, res, partial)
	r1, err := gw.Refund(ctx, first)
	requireOK(t, "first Refund", r1, err, partial)
	r2, err := gw.Refund(ctx, s.refundReq(req, res, rest))
	requireOK(t, "second Refund", r2, err, rest)
	r3, err := gw.Refund(ctx, s.refundReq(req, res, tooMuch))
	requireRefused(t, "Refund beyond the captured amount", r3, err)
	again, err := gw.Refund(ctx, first)
	if err != nil || !reflect.DeepEqual(r1, again) {
		t.Fatalf("repeated refund key: %+v, %v; first %+v", again, err, r1)
	}
	if s.h.Queries {
		st, err := s.querier(t, gw).QueryPayment(ctx, core.PaymentQuery{Key: req.Key, PaymentID: req.PaymentID, Channel: s.ch, Reference: res.Reference})
		if err != nil || !st.Found || st.AmountCaptured != amount || st.AmountRefunded != amount {
			t.Fatalf("QueryPayment after refunding everything: %+v, %v; want %d captured and refunded", st, err, amount)
		}
	}
}

// testOperations: every operation is accepted and answered in a well-formed way, also by a
// stateless backend, and repeating its key is answered too.
func (s *suite) testOperations(t *testing.T) {
	gw := s.h.New(t)
	ctx := s.ctx(t)
	manual := s.ch.IsCard() && s.h.SupportsManualCapture
	req, res := s.authorize(t, gw, !manual)
	checkResult(t, "Authorize", res)
	ops := []struct {
		name string
		call func() (core.OpResult, error)
	}{
		{"Refund", func() (core.OpResult, error) { return gw.Refund(ctx, s.refundReqKeyed(req, res, "ops")) }},
		{"Void", func() (core.OpResult, error) {
			return gw.Void(ctx, core.VoidRequest{Key: core.VoidKey(req.PaymentID), PaymentID: req.PaymentID, Channel: s.ch, Reference: res.Reference})
		}},
	}
	if s.ch.IsCard() {
		ops = append([]struct {
			name string
			call func() (core.OpResult, error)
		}{{"Capture", func() (core.OpResult, error) {
			return gw.Capture(ctx, core.CaptureRequest{Key: core.CaptureKey(req.PaymentID), PaymentID: req.PaymentID,
				Channel: s.ch, Reference: res.Reference, Amount: partial, Currency: req.Currency})
		}}}, ops...)
	}
	for _, op := range ops {
		first, err := op.call()
		checkOp(t, op.name, first, err)
		again, err := op.call()
		checkOp(t, op.name+" repeated", again, err)
		if s.h.Stateful && !reflect.DeepEqual(first, again) {
			t.Errorf("%s: repeated key answered %+v, first %+v", op.name, again, first)
		}
	}
}

// refundReqKeyed is a refund whose ID (and so key) is fixed per payment and tag, so calling
// it twice repeats the key.
func (s *suite) refundReqKeyed(req core.AuthorizeRequest, res core.AuthorizeResult, tag string) core.RefundRequest {
	id := "re_" + req.PaymentID + "_" + tag
	return core.RefundRequest{Key: core.RefundKey(id), PaymentID: req.PaymentID, RefundID: id, Channel: s.ch,
		Reference: res.Reference, Amount: partial, Currency: req.Currency}
}

// testQuery: an unknown key is not found; an authorisation is found with its outcome, by key
// alone and by reference.
func (s *suite) testQuery(t *testing.T) {
	gw := s.h.New(t)
	q := s.querier(t, gw)
	ctx := s.ctx(t)
	if s.h.Stateful {
		id := s.paymentID()
		st, err := q.QueryPayment(ctx, core.PaymentQuery{Key: core.AuthorizeKey(id), PaymentID: id, Channel: s.ch})
		if err != nil || st.Found {
			t.Fatalf("QueryPayment of a key never sent: %+v, %v; want Found false", st, err)
		}
	}
	req, res := s.authorize(t, gw, !(s.ch.IsCard() && s.h.SupportsManualCapture))
	for _, byRef := range []bool{false, true} {
		pq := core.PaymentQuery{Key: req.Key, PaymentID: req.PaymentID, Channel: s.ch}
		if byRef {
			pq.Reference = res.Reference
		} else if !s.h.Stateful {
			continue // a stateless backend cannot find a payment by key
		}
		st, err := q.QueryPayment(ctx, pq)
		if err != nil {
			t.Fatalf("QueryPayment(by reference %v): %v", byRef, err)
		}
		if !st.Found {
			t.Fatalf("QueryPayment(by reference %v): not found after Authorize answered %+v", byRef, res)
		}
		if st.Outcome != res.Outcome || st.Reference != res.Reference {
			t.Errorf("QueryPayment(by reference %v): %+v; Authorize answered %+v", byRef, st, res)
		}
	}
	if s.ch.IsCard() && s.h.HonoursTestCards && s.h.Stateful {
		dreq := s.authReq(true, s.card(t, CardDeclined))
		dres, err := gw.Authorize(ctx, dreq)
		if err != nil {
			t.Fatal(err)
		}
		st, err := q.QueryPayment(ctx, core.PaymentQuery{Key: dreq.Key, PaymentID: dreq.PaymentID, Channel: s.ch, Reference: dres.Reference})
		if err != nil || !st.Found || st.Outcome != core.OutcomeDeclined || st.DeclineCode != core.CodeCardDeclined {
			t.Fatalf("QueryPayment of a decline: %+v, %v", st, err)
		}
	}
}

// testContext: a cancelled context ends every call promptly with an error; an error wrapping
// core.ErrNotExecuted must mean that nothing happened.
func (s *suite) testContext(t *testing.T) {
	gw := s.h.New(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := s.authReq(true, s.card(t, CardSucceeds))
	ref := "ref_gatewaytest_unknown"
	calls := []struct {
		name string
		call func() error
	}{
		{"Authorize", func() error { _, err := gw.Authorize(ctx, req); return err }},
		{"Void", func() error {
			_, err := gw.Void(ctx, core.VoidRequest{Key: core.VoidKey(req.PaymentID), PaymentID: req.PaymentID, Channel: s.ch, Reference: ref})
			return err
		}},
		{"Refund", func() error {
			_, err := gw.Refund(ctx, s.refundReqKeyed(req, core.AuthorizeResult{Reference: ref}, "ctx"))
			return err
		}},
	}
	if s.ch.IsCard() { // capture is part of the card flow only
		calls = append(calls, struct {
			name string
			call func() error
		}{"Capture", func() error {
			_, err := gw.Capture(ctx, core.CaptureRequest{Key: core.CaptureKey(req.PaymentID), PaymentID: req.PaymentID, Channel: s.ch, Reference: ref, Amount: partial, Currency: req.Currency})
			return err
		}})
	}
	if s.h.Queries {
		q := s.querier(t, gw)
		calls = append(calls, struct {
			name string
			call func() error
		}{"QueryPayment", func() error {
			_, err := q.QueryPayment(ctx, core.PaymentQuery{Key: req.Key, PaymentID: req.PaymentID, Channel: s.ch, Reference: ref})
			return err
		}})
	}
	notExecuted := false
	for _, c := range calls {
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- c.call() }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s with a cancelled context: no error", c.name)
			}
			if c.name == "Authorize" && errors.Is(err, core.ErrNotExecuted) {
				notExecuted = true
			}
		case <-time.After(s.h.CallTimeout):
			t.Fatalf("%s with a cancelled context: no answer after %v", c.name, time.Since(start))
		}
	}
	if !notExecuted || !s.h.Stateful {
		return
	}
	// The authorisation said it was not executed: nothing may have been charged or recorded.
	if n, ok := charges(gw, req.PaymentID); ok && n != 0 {
		t.Errorf("Authorize returned ErrNotExecuted but charged %d times", n)
	}
	if s.h.Queries {
		st, err := s.querier(t, gw).QueryPayment(s.ctx(t), core.PaymentQuery{Key: req.Key, PaymentID: req.PaymentID, Channel: s.ch})
		if err != nil || st.Found {
			t.Errorf("Authorize returned ErrNotExecuted but QueryPayment finds it: %+v, %v", st, err)
		}
	}
}
