// Package inprocsim is the in-process payment-channel simulator, for tests, benchmarks and a
// single development node (payd -channels sim; never without that flag).
// It honours the well-known test cards, gives WeChat Pay, Alipay and bank transfer
// their pay-later shape (requires_action with a QR code, a redirect or transfer
// instructions), executes each channel idempotency key at most once, and counts the charges
// it really made, so tests can prove that no payment was charged twice.
//
// Test cards: 4242424242424242 and other valid numbers succeed; 4000000000000002 is declined
// (card_declined); 4000000000009995 has insufficient_funds; 4000000000000069 is an
// expired_card; 4000000000000127 fails the incorrect_cvc check; 4000000000000119 fails with
// a processing_error. A card whose expiry date has passed is declined as expired_card.
package inprocsim

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/paycenter/paycenter/core"
)

var declines = map[string][2]string{
	"4000000000000002": {core.CodeCardDeclined, "Your card was declined."},
	"4000000000009995": {core.CodeInsufficientFunds, "Your card has insufficient funds."},
	"4000000000000069": {core.CodeExpiredCard, "Your card has expired."},
	"4000000000000127": {core.CodeIncorrectCVC, "Your card's security code is incorrect."},
	"4000000000000119": {core.CodeProcessingError, "An error occurred while processing your card."},
}

// Faults make the next calls misbehave. Counters are consumed one per call.
type Faults struct {
	// Latency delays every call.
	Latency time.Duration
	// LoseResponses: the next N calls execute, then their answer is lost (an error).
	LoseResponses int
	// Timeouts: the next N calls hang until the caller's deadline without executing.
	Timeouts int
	// Unavailable: the next N calls are refused at once without executing
	// (core.ErrNotExecuted), like a channel behind an open circuit breaker.
	Unavailable int
	// Payout is what the bank does with new payouts: PayoutPaid (default, at once),
	// PayoutDelayed (in transit for PayoutDelay, then paid), PayoutFail (failed) or
	// PayoutReturn (paid, then returned by the receiving bank after PayoutDelay).
	Payout      string
	PayoutDelay time.Duration
}

// Payout behaviours (Faults.Payout).
const (
	PayoutPaid    = ""
	PayoutDelayed = "delayed"
	PayoutFail    = "failed"
	PayoutReturn  = "returned"
)

// Channel is the simulator. The zero value is not usable; call New.
type Channel struct {
	mu      sync.Mutex
	faults  Faults
	auths   map[string]*authorization // by payment ID
	answers map[string]any            // by channel key: the first answer, replayed
	charges map[string]int            // by payment ID: money-moving authorisations executed
	calls   int
	seq     int
	ledger  []statementLine    // money moved, for statements
	payouts map[string]*payout // by payout ID
}

// payout is a payout the simulated bank executed.
type payout struct {
	amount   int64
	currency string
	ref      string
	mode     string
	at, due  time.Time // executed; when a delayed payout is paid or a paid one returned
	returned bool      // ReturnPayout
}

type statementLine struct {
	core.StatementLine
	channel core.Channel
}

type authorization struct {
	amount, captured, refunded int64
	currency                   string
	channel                    core.Channel
	reference                  string
	voided                     bool
	capturable                 bool
}

// New makes a simulator.
func New() *Channel {
	return &Channel{auths: map[string]*authorization{}, answers: map[string]any{}, charges: map[string]int{}, payouts: map[string]*payout{}}
}

// SetFaults replaces the fault settings.
func (c *Channel) SetFaults(f Faults) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.faults = f
}

// Charges is how many times the simulator really charged (authorised) payment id: 0 or 1
// when callers are correct.
func (c *Channel) Charges(paymentID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.charges[paymentID]
}

// TotalCharges is the number of authorisations executed, over all payments.
func (c *Channel) TotalCharges() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.charges {
		n += v
	}
	return n
}

// Calls is how many calls reached the simulator, repeats included.
func (c *Channel) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// do runs one call: latency and faults, then exec under the lock unless the key was already
// answered.
func (c *Channel) do(ctx context.Context, key string, exec func() any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("simulated channel: %w: %w", core.ErrNotExecuted, err)
	}
	c.mu.Lock()
	c.calls++
	f := &c.faults
	if f.Unavailable > 0 {
		f.Unavailable--
		c.mu.Unlock()
		return nil, fmt.Errorf("simulated outage: %w", core.ErrNotExecuted)
	}
	latency := f.Latency
	timeout, lose := f.Timeouts > 0, false
	if timeout {
		f.Timeouts--
	} else if f.LoseResponses > 0 {
		f.LoseResponses--
		lose = true
	}
	c.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if timeout {
		<-ctx.Done()
		return nil, fmt.Errorf("simulated channel timeout: %w", ctx.Err())
	}
	c.mu.Lock()
	ans, ok := c.answers[key]
	if !ok {
		ans = exec()
		c.answers[key] = ans
	}
	c.mu.Unlock()
	if lose {
		return nil, fmt.Errorf("simulated lost response for %s", key)
	}
	return ans, nil
}

// book records money moved, for statements; the caller holds c.mu.
func (c *Channel) book(kind, paymentID, refundID, ref string, amount int64, a *authorization) {
	c.ledger = append(c.ledger, statementLine{channel: a.channel, StatementLine: core.StatementLine{Kind: kind,
		PaymentID: paymentID, RefundID: refundID, Reference: ref, Amount: amount, Currency: a.currency, At: time.Now().UTC()}})
}

func (c *Channel) nextRef(prefix string) string {
	c.seq++
	return fmt.Sprintf("%s_%08d", prefix, c.seq)
}

// Authorize implements core.Gateway.
func (c *Channel) Authorize(ctx context.Context, req core.AuthorizeRequest) (core.AuthorizeResult, error) {
	ans, err := c.do(ctx, req.Key, func() any {
		ref := c.nextRef("sim")
		switch req.Channel {
		case core.ChannelCard, core.ChannelDebitCard:
			if req.Card == nil {
				return core.AuthorizeResult{Outcome: core.OutcomeDeclined, DeclineCode: core.CodeProcessingError, DeclineMessage: "No card details.", Reference: ref}
			}
			if d, ok := declines[req.Card.Number]; ok {
				return core.AuthorizeResult{Outcome: core.OutcomeDeclined, DeclineCode: d[0], DeclineMessage: d[1], Reference: ref}
			}
			if y, m, _ := time.Now().UTC().Date(); req.Card.ExpYear < y || (req.Card.ExpYear == y && req.Card.ExpMonth < int(m)) {
				return core.AuthorizeResult{Outcome: core.OutcomeDeclined, DeclineCode: core.CodeExpiredCard, DeclineMessage: "Your card has expired.", Reference: ref}
			}
			c.charges[req.PaymentID]++
			a := &authorization{amount: req.Amount, currency: req.Currency, reference: ref, capturable: !req.Capture, channel: req.Channel}
			if req.Capture {
				a.captured = req.Amount
				c.book("charge", req.PaymentID, "", ref, req.Amount, a)
			}
			c.auths[req.PaymentID] = a
			if req.Capture {
				return core.AuthorizeResult{Outcome: core.OutcomeCaptured, Reference: ref}
			}
			return core.AuthorizeResult{Outcome: core.OutcomeAuthorized, Reference: ref}
		case core.ChannelWeChatPay:
			c.auths[req.PaymentID] = &authorization{amount: req.Amount, currency: req.Currency, reference: ref, channel: req.Channel}
			return core.AuthorizeResult{Outcome: core.OutcomeActionRequired, Reference: ref,
				NextAction: &core.NextAction{Type: "wechat_pay_display_qr_code", QRCode: "weixin://wxpay/bizpayurl?pr=" + ref}}
		case core.ChannelAlipay:
			c.auths[req.PaymentID] = &authorization{amount: req.Amount, currency: req.Currency, reference: ref, channel: req.Channel}
			return core.AuthorizeResult{Outcome: core.OutcomeActionRequired, Reference: ref,
				NextAction: &core.NextAction{Type: "alipay_redirect", RedirectURL: "https://alipay.sim.invalid/pay?trade_no=" + ref}}
		case core.ChannelBankTransfer:
			c.auths[req.PaymentID] = &authorization{amount: req.Amount, currency: req.Currency, reference: ref, channel: req.Channel}
			return core.AuthorizeResult{Outcome: core.OutcomeActionRequired, Reference: ref,
				NextAction: &core.NextAction{Type: "bank_transfer_instructions", BankAccount: "SIMBANK 0000 1234 5678", Reference: ref}}
		}
		return core.AuthorizeResult{Outcome: core.OutcomeDeclined, DeclineCode: core.CodeProcessingError, DeclineMessage: "Unknown channel.", Reference: ref}
	})
	if err != nil {
		return core.AuthorizeResult{}, err
	}
	return ans.(core.AuthorizeResult), nil
}

// Capture implements core.Gateway: it takes amount of a held authorisation, once.
func (c *Channel) Capture(ctx context.Context, req core.CaptureRequest) (core.OpResult, error) {
	return c.op(ctx, req.Key, func() core.OpResult {
		a := c.auths[req.PaymentID]
		switch {
		case a == nil:
			return core.OpResult{FailureCode: core.CodeProcessingError, FailureMessage: "No such authorisation."}
		case a.voided || !a.capturable:
			return core.OpResult{FailureCode: core.CodeInvalidState, FailureMessage: "The authorisation is no longer capturable."}
		case req.Amount > a.amount:
			return core.OpResult{FailureCode: core.CodeAmountTooLarge, FailureMessage: "Capture exceeds the authorisation."}
		}
		a.captured, a.capturable = req.Amount, false
		ref := c.nextRef("cap")
		c.book("charge", req.PaymentID, "", ref, req.Amount, a)
		return core.OpResult{OK: true, Amount: req.Amount, Reference: ref}
	})
}

// Void implements core.Gateway: it releases a hold or closes an unpaid order.
func (c *Channel) Void(ctx context.Context, req core.VoidRequest) (core.OpResult, error) {
	return c.op(ctx, req.Key, func() core.OpResult {
		a := c.auths[req.PaymentID]
		if a == nil || a.captured > 0 {
			return core.OpResult{FailureCode: core.CodeInvalidState, FailureMessage: "Nothing to void."}
		}
		a.voided, a.capturable = true, false
		return core.OpResult{OK: true, Amount: a.amount, Reference: c.nextRef("void")}
	})
}

// Refund implements core.Gateway: it returns captured money, never more than was captured.
func (c *Channel) Refund(ctx context.Context, req core.RefundRequest) (core.OpResult, error) {
	return c.op(ctx, req.Key, func() core.OpResult {
		a := c.auths[req.PaymentID]
		if a == nil || a.refunded+req.Amount > a.captured {
			return core.OpResult{FailureCode: core.CodeAmountTooLarge, FailureMessage: "Refund exceeds the captured amount."}
		}
		a.refunded += req.Amount
		ref := c.nextRef("rfd")
		c.book("refund", req.PaymentID, req.RefundID, ref, req.Amount, a)
		return core.OpResult{OK: true, Amount: req.Amount, Reference: ref}
	})
}

func (c *Channel) op(ctx context.Context, key string, exec func() core.OpResult) (core.OpResult, error) {
	ans, err := c.do(ctx, key, func() any { return exec() })
	if err != nil {
		return core.OpResult{}, err
	}
	return ans.(core.OpResult), nil
}

// Refunded is the total the simulator refunded for a payment.
func (c *Channel) Refunded(paymentID string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.auths[paymentID]; a != nil {
		return a.refunded
	}
	return 0
}

var _ core.Gateway = (*Channel)(nil)

// QueryPayment implements core.Querier: the simulator's account of a payment.
func (c *Channel) QueryPayment(ctx context.Context, q core.PaymentQuery) (core.PaymentState, error) {
	if err := ctx.Err(); err != nil {
		return core.PaymentState{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ans, ok := c.answers[q.Key]
	if !ok {
		return core.PaymentState{}, nil
	}
	res := ans.(core.AuthorizeResult)
	st := core.PaymentState{Found: true, Outcome: res.Outcome, Reference: res.Reference,
		DeclineCode: res.DeclineCode, DeclineMessage: res.DeclineMessage}
	if a := c.auths[q.PaymentID]; a != nil {
		st.AmountCaptured, st.AmountRefunded, st.Closed = a.captured, a.refunded, a.voided
	}
	return st, nil
}

var _ core.Querier = (*Channel)(nil)

// Pay makes the payer pay a wallet or bank-transfer payment waiting for them: its
// authorisation becomes captured. It reports whether there was such a payment.
func (c *Channel) Pay(paymentID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := core.AuthorizeKey(paymentID)
	ans, ok := c.answers[key]
	a := c.auths[paymentID]
	if !ok || a == nil || a.voided {
		return false
	}
	res := ans.(core.AuthorizeResult)
	if res.Outcome != core.OutcomeActionRequired {
		return false
	}
	res.Outcome, res.NextAction = core.OutcomeCaptured, nil
	c.answers[key] = res
	a.captured = a.amount
	c.book("charge", paymentID, "", res.Reference, a.amount, a)
	c.charges[paymentID]++
	return true
}

// Statement implements core.Statements: the simulator's charges (captured amounts) and
// refunds for channel ch on day.
func (c *Channel) Statement(ctx context.Context, ch core.Channel, day time.Time) ([]core.StatementLine, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	y, m, d := day.UTC().Date()
	var out []core.StatementLine
	for _, l := range c.ledger {
		if ly, lm, ld := l.At.UTC().Date(); l.channel == ch && ly == y && lm == m && ld == d {
			out = append(out, l.StatementLine)
		}
	}
	return out, nil
}

var _ core.Statements = (*Channel)(nil)

// Payout implements core.Payouter: the bank pays the payout once per key, as Faults.Payout
// says; a repeat answers with its state now.
func (c *Channel) Payout(ctx context.Context, req core.PayoutRequest) (core.PayoutResult, error) {
	ans, err := c.do(ctx, req.Key, func() any {
		mode, delay := c.faults.Payout, c.faults.PayoutDelay
		po := &payout{amount: req.Amount, currency: req.Currency, ref: c.nextRef("po"), mode: mode, at: time.Now()}
		po.due = po.at.Add(delay)
		c.payouts[req.PayoutID] = po
		return po
	})
	if err != nil {
		return core.PayoutResult{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return ans.(*payout).result(time.Now()), nil
}

// QueryPayout implements core.Payouter: the bank's account of a payout now.
func (c *Channel) QueryPayout(ctx context.Context, q core.PayoutQuery) (core.PayoutResult, error) {
	if err := ctx.Err(); err != nil {
		return core.PayoutResult{}, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	po := c.payouts[q.PayoutID]
	if po == nil {
		return core.PayoutResult{}, nil
	}
	return po.result(time.Now()), nil
}

var _ core.Payouter = (*Channel)(nil)

// result is the payout's state at now; the caller holds c.mu.
func (po *payout) result(now time.Time) core.PayoutResult {
	r := core.PayoutResult{Found: true, Outcome: core.PayoutOutcomePaid, Reference: po.ref}
	switch {
	case po.returned || (po.mode == PayoutReturn && !now.Before(po.due)):
		r.Outcome, r.FailureCode, r.FailureMessage = core.PayoutOutcomeReturned, "account_closed", "The receiving account is closed."
	case po.mode == PayoutFail:
		r.Outcome, r.FailureCode, r.FailureMessage = core.PayoutOutcomeFailed, "invalid_account", "The receiving bank refused the account."
	case po.mode == PayoutDelayed && now.Before(po.due):
		r.Outcome = core.PayoutOutcomeInTransit
	}
	return r
}

// Payouts is how many payouts the bank executed (each once, however often sent).
func (c *Channel) Payouts() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.payouts)
}

// ReturnPayout makes the receiving bank send a payout back: queries report it returned.
func (c *Channel) ReturnPayout(payoutID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	po := c.payouts[payoutID]
	if po == nil {
		return false
	}
	po.returned = true
	return true
}
