package netsim

import (
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/paycenter/paycenter/core"
)

// Order states, as the control API reports them. Each protocol has its own names for them
// (WeChat Pay NOTPAY/SUCCESS/PAYERROR/CLOSED, Alipay WAIT_BUYER_PAY/TRADE_SUCCESS/
// TRADE_FAILED/TRADE_CLOSED, bank pending/received/rejected/expired|canceled).
const (
	StatePending = "pending"
	StatePaid    = "paid"
	StateFailed  = "failed"
	StateClosed  = "closed"
)

// Reasons an order was closed.
const (
	CloseExpired  = "expired"  // the payer did not pay in time
	CloseByClient = "canceled" // the platform closed it
)

// Business refusals, which each protocol renders in its own error format.
var (
	errOrderPaid     = errors.New("the order is already paid")
	errOrderClosed   = errors.New("the order is closed")
	errOrderFailed   = errors.New("the payment of the order failed")
	errNotPaid       = errors.New("the order is not paid")
	errRefundExceeds = errors.New("the refund exceeds the paid amount less earlier refunds")
)

type order struct {
	channel     core.Channel
	client      string
	appID       string
	outTradeNo  string
	tradeNo     string // the channel's transaction ID
	amount      int64
	currency    string
	description string
	notifyURL   string
	token       string // QR / pay-page token; the bank reference
	state       string
	closeReason string
	failReason  string
	createdAt   time.Time
	expiresAt   time.Time
	paidAt      time.Time
	closedAt    time.Time
	refunded    int64
	hmacSecret  string // the bank client's secret, when it authenticated with HMAC
	subMchID    string // WeChat Pay partner orders: the sub-merchant (client is the sp_mchid)
}

type refund struct {
	channel     core.Channel
	client      string
	outTradeNo  string
	outRefundNo string
	refundID    string
	amount      int64
	currency    string
	createdAt   time.Time
	notifyURL   string
}

type ledgerLine struct {
	channel core.Channel
	client  string
	entry   StatementEntry
}

// Order is the simulator's account of one order, as the control API reports it.
type Order struct {
	Channel     core.Channel `json:"channel"`
	OutTradeNo  string       `json:"out_trade_no"`
	TradeNo     string       `json:"trade_no"`
	Amount      int64        `json:"amount"`
	Currency    string       `json:"currency"`
	State       string       `json:"state"`
	CloseReason string       `json:"close_reason,omitempty"`
	FailReason  string       `json:"fail_reason,omitempty"`
	Refunded    int64        `json:"refunded"`
	// Client is the merchant (mchid, app_id, client_id) the order was created by, and
	// SubMerchant the sub-merchant a WeChat Pay service provider created it for.
	Client      string     `json:"client"`
	SubMerchant string     `json:"sub_mchid,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   time.Time  `json:"expires_at"`
	PaidAt      *time.Time `json:"paid_at,omitempty"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
}

func (o *order) view() Order {
	v := Order{Channel: o.channel, OutTradeNo: o.outTradeNo, TradeNo: o.tradeNo, Amount: o.amount, Client: o.client, SubMerchant: o.subMchID,
		Currency: o.currency, State: o.state, CloseReason: o.closeReason, FailReason: o.failReason,
		Refunded: o.refunded, CreatedAt: o.createdAt, ExpiresAt: o.expiresAt}
	if !o.paidAt.IsZero() {
		t := o.paidAt
		v.PaidAt = &t
	}
	if !o.closedAt.IsZero() {
		t := o.closedAt
		v.ClosedAt = &t
	}
	return v
}

// PaymentCharges is what the simulator did for one payment (one out_trade_no).
type PaymentCharges struct {
	Channel core.Channel `json:"channel"`
	// Orders is how many orders were created for the payment: 1 when callers are correct.
	Orders int `json:"orders"`
	// Charges is how many times the payer's money was taken: 0 or 1 when callers are correct.
	Charges       int     `json:"charges"`
	Charged       []int64 `json:"charged"` // each charge's amount
	AmountCharged int64   `json:"amount_charged"`
	Refunds       int     `json:"refunds"`
	Refunded      []int64 `json:"refunded"` // each refund's amount
	// AmountRefunded never exceeds AmountCharged.
	AmountRefunded int64 `json:"amount_refunded"`
	// Keys counts executions per idempotency key of this payment: 1 each when callers are
	// correct, however often they repeat a key.
	Keys map[string]int `json:"keys"`
}

// Charges is the answer of GET /sim/charges: per payment ID, and executions per key.
type Charges struct {
	Payments map[string]*PaymentCharges `json:"payments"`
	Keys     map[string]int             `json:"keys"`
}

// StatementEntry is one money movement in a statement.
type StatementEntry struct {
	Kind        string `json:"kind"` // "charge" or "refund"
	OutTradeNo  string `json:"out_trade_no"`
	OutRefundNo string `json:"out_refund_no,omitempty"`
	// Reference is the channel's transaction ID (charges) or refund ID (refunds).
	Reference string    `json:"reference"`
	Amount    int64     `json:"amount"` // minor units of Currency
	Currency  string    `json:"currency"`
	Time      time.Time `json:"time"` // UTC
}

// Statement is a channel's statement of one UTC day, as GET /<channel>/statements answers.
type Statement struct {
	Channel core.Channel     `json:"channel"`
	Date    string           `json:"date"` // YYYY-MM-DD
	Lines   []StatementEntry `json:"lines"`
}

// record returns the charge record of a payment. Call with s.mu held.
func (s *Server) record(ch core.Channel, payment string) *PaymentCharges {
	r := s.payments[payment]
	if r == nil {
		r = &PaymentCharges{Channel: ch, Charged: []int64{}, Refunded: []int64{}, Keys: map[string]int{}}
		s.payments[payment] = r
	}
	return r
}

func orderKey(ch core.Channel, outTradeNo string) string { return string(ch) + "/" + outTradeNo }

// lookup finds an order. Call with s.mu held.
func (s *Server) lookup(ch core.Channel, outTradeNo string) *order {
	return s.orders[orderKey(ch, outTradeNo)]
}

// addOrder stores a new order and schedules its expiry. Call with s.mu held.
func (s *Server) addOrder(o *order) {
	o.state = StatePending
	s.orders[orderKey(o.channel, o.outTradeNo)] = o
	s.record(o.channel, o.outTradeNo).Orders++
	s.afterFunc(o.expiresAt.Sub(s.now()), func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.expireLocked(o)
	})
	if o.channel == core.ChannelBankTransfer && s.cfg.BankAutoConfirm > 0 {
		s.afterFunc(s.cfg.BankAutoConfirm, func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			if o.state == StatePending && !s.closed {
				s.payLocked(o, false, "")
			}
		})
	}
}

// payLocked is the payer paying (or failing to pay) an order.
func (s *Server) payLocked(o *order, fail bool, reason string) error {
	switch o.state {
	case StatePaid:
		return errOrderPaid
	case StateClosed:
		return errOrderClosed
	case StateFailed:
		return errOrderFailed
	}
	now := s.now()
	if fail {
		if reason == "" {
			reason = "the payer's payment failed"
		}
		o.state, o.failReason, o.closedAt = StateFailed, reason, now
		s.emitLocked("failed", o, nil, now)
		return nil
	}
	o.state, o.paidAt = StatePaid, now
	r := s.record(o.channel, o.outTradeNo)
	r.Charges++
	r.Charged = append(r.Charged, o.amount)
	r.AmountCharged += o.amount
	s.lines = append(s.lines, ledgerLine{o.channel, o.client, StatementEntry{Kind: "charge", OutTradeNo: o.outTradeNo,
		Reference: o.tradeNo, Amount: o.amount, Currency: o.currency, Time: now.UTC()}})
	s.emitLocked("paid", o, nil, now)
	return nil
}

// expireLocked closes an order that is still waiting for the payer, and notifies it.
func (s *Server) expireLocked(o *order) {
	if o.state != StatePending || s.closed {
		return
	}
	o.state, o.closeReason, o.closedAt = StateClosed, CloseExpired, s.now()
	s.emitLocked("closed", o, nil, o.closedAt)
}

// closeLocked is the platform closing an unpaid order. Closing a closed or failed order is
// a no-op; closing a paid one is refused. No notification: the platform asked for it.
func (s *Server) closeLocked(o *order) error {
	switch o.state {
	case StatePaid:
		return errOrderPaid
	case StatePending:
		o.state, o.closeReason, o.closedAt = StateClosed, CloseByClient, s.now()
	}
	return nil
}

// refundLocked returns amount of a paid order to the payer.
func (s *Server) refundLocked(o *order, outRefundNo string, amount int64, notifyURL string) (*refund, error) {
	switch {
	case o.state != StatePaid:
		return nil, errNotPaid
	case amount <= 0 || o.refunded+amount > o.amount:
		return nil, errRefundExceeds
	}
	now := s.now()
	rf := &refund{channel: o.channel, client: o.client, outTradeNo: o.outTradeNo, outRefundNo: outRefundNo,
		refundID: s.nextID(refundPrefix(o.channel), 28), amount: amount, currency: o.currency, createdAt: now, notifyURL: notifyURL}
	o.refunded += amount
	s.refunds[orderKey(o.channel, outRefundNo)] = rf
	r := s.record(o.channel, o.outTradeNo)
	r.Refunds++
	r.Refunded = append(r.Refunded, amount)
	r.AmountRefunded += amount
	s.lines = append(s.lines, ledgerLine{o.channel, o.client, StatementEntry{Kind: "refund", OutTradeNo: o.outTradeNo,
		OutRefundNo: outRefundNo, Reference: rf.refundID, Amount: amount, Currency: o.currency, Time: now.UTC()}})
	s.emitLocked("refund", o, rf, now)
	return rf, nil
}

func refundPrefix(ch core.Channel) string {
	switch ch {
	case core.ChannelWeChatPay:
		return "50300"
	case core.ChannelAlipay:
		return "RF"
	}
	return "BRF"
}

// statement lists a client's movements on a channel during the UTC day of day.
func (s *Server) statement(ch core.Channel, client string, day time.Time) Statement {
	s.mu.Lock()
	defer s.mu.Unlock()
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 1)
	st := Statement{Channel: ch, Date: from.Format(time.DateOnly), Lines: []StatementEntry{}}
	for _, l := range s.lines {
		if l.channel == ch && l.client == client && !l.entry.Time.Before(from) && l.entry.Time.Before(to) {
			st.Lines = append(st.Lines, l.entry)
		}
	}
	sort.SliceStable(st.Lines, func(i, j int) bool { return st.Lines[i].Time.Before(st.Lines[j].Time) })
	return st
}

// statementDate parses the date parameter of a statement request.
func statementDate(r *http.Request) (time.Time, error) {
	return time.Parse(time.DateOnly, r.URL.Query().Get("date"))
}
