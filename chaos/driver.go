package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// Merchant is a merchant the load pays for.
type Merchant struct {
	ID        string `json:"id"`
	SecretKey string `json:"-"`
	Home      string `json:"home_region"`
}

// DriverConfig configures the load.
type DriverConfig struct {
	// Merchants: client i pays for Merchants[i % len(Merchants)] and is homed in its region.
	// Required.
	Merchants []Merchant
	// Endpoints gives a home region's endpoints, nearest first (the SDK's failover order).
	// Required.
	Endpoints func(home string) []string
	// Clients is the number of concurrent clients. Default 9.
	Clients int
	// ChannelSim is the channel simulator's control API: wallet payers pay through it.
	// Empty: wallet payments are created and left waiting for the payer.
	ChannelSim string
	// WalletShare is the fraction of flows that pay with a wallet (Alipay or WeChat Pay).
	// Default 0.2; negative: none.
	WalletShare float64
	// PayShare is the fraction of wallet payments whose payer pays. Default 0.8.
	PayShare float64
	// AbandonShare is the fraction of creates, captures and cancels whose client makes one
	// attempt and, without a definitive answer, goes away (a merchant process that crashed), so
	// that the platform must settle them itself (the recovery worker). Only until
	// StopAbandoning; refunds are never abandoned (the worker does not recover pending
	// refunds: README, known limits). Default 0.25; negative: none.
	AbandonShare float64
	// AttemptTimeout bounds one HTTP attempt. Default 20s.
	AttemptTimeout time.Duration
	// CallTimeout bounds one SDK call (its attempts and backoffs). Default 45s.
	CallTimeout time.Duration
	// Pause is the pause between two flows of a client. Default 20ms.
	Pause time.Duration
	// Seed makes the flow mix reproducible. Default: random.
	Seed uint64
}

func (c *DriverConfig) withDefaults() {
	if c.Clients == 0 {
		c.Clients = 9
	}
	if c.WalletShare == 0 {
		c.WalletShare = 0.2
	}
	if c.PayShare == 0 {
		c.PayShare = 0.8
	}
	if c.AbandonShare == 0 {
		c.AbandonShare = 0.25
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = 20 * time.Second
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = 45 * time.Second
	}
	if c.Pause == 0 {
		c.Pause = 20 * time.Millisecond
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
}

// Driver runs the load: concurrent clients, each running payment flows one after another
// (card with automatic capture; card authorised then captured; card paid then refunded;
// card authorised then canceled; a declined card; a wallet payment the payer pays), every
// money-moving call with its own Idempotency-Key, recorded in a History.
//
// A client retries an operation with the same key until it gets a definitive answer, as a
// careful merchant would: Stop ends the load (no new flows or steps) but lets every client
// finish the operation it is in; cancelling the context given to Start makes them give up.
type Driver struct {
	cfg       DriverConfig
	h         *History
	http      *http.Client
	stopping  atomic.Bool
	steadfast atomic.Bool // no more abandoning
	inflight  atomic.Int64
	payerErr  atomic.Int64
	wg        sync.WaitGroup
	done      chan struct{}
}

// NewDriver makes a driver that records into h.
func NewDriver(cfg DriverConfig, h *History) (*Driver, error) {
	cfg.withDefaults()
	if len(cfg.Merchants) == 0 || cfg.Endpoints == nil {
		return nil, errors.New("chaos: the driver needs merchants and endpoints")
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.DialContext = (&net.Dialer{Timeout: 3 * time.Second}).DialContext
	return &Driver{cfg: cfg, h: h, http: &http.Client{Transport: t, Timeout: cfg.AttemptTimeout}, done: make(chan struct{})}, nil
}

// Start starts the clients.
func (d *Driver) Start(ctx context.Context) error {
	clients := make([]*client, d.cfg.Clients)
	for i := range clients {
		m := d.cfg.Merchants[i%len(d.cfg.Merchants)]
		sdk, err := paysdk.New(paysdk.Config{Endpoints: d.cfg.Endpoints(m.Home), SecretKey: m.SecretKey,
			HTTPClient: d.http, Backoff: 100 * time.Millisecond})
		if err != nil {
			return err
		}
		once, err := paysdk.New(paysdk.Config{Endpoints: d.cfg.Endpoints(m.Home), SecretKey: m.SecretKey,
			HTTPClient: d.http, MaxRetries: -1})
		if err != nil {
			return err
		}
		clients[i] = &client{d: d, id: i, m: m, sdk: sdk, once: once, rng: rand.New(rand.NewPCG(d.cfg.Seed, uint64(i)))}
	}
	for _, c := range clients {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			c.loop(ctx)
		}()
	}
	go func() {
		d.wg.Wait()
		d.http.CloseIdleConnections()
		close(d.done)
	}()
	return nil
}

// Stop ends the load: clients finish the operation they are in and start nothing new.
func (d *Driver) Stop() { d.stopping.Store(true) }

// StopAbandoning makes clients retry every operation to its end from now on.
func (d *Driver) StopAbandoning() { d.steadfast.Store(true) }

// Done is closed when every client has returned.
func (d *Driver) Done() <-chan struct{} { return d.done }

// InFlight is the number of SDK calls under way.
func (d *Driver) InFlight() int64 { return d.inflight.Load() }

// PayerErrors is how many times a wallet payer could not pay (the simulator refused).
func (d *Driver) PayerErrors() int64 { return d.payerErr.Load() }

// client is one merchant integration: one SDK client, flows one after another.
type client struct {
	d    *Driver
	id   int
	m    Merchant
	sdk  *paysdk.Client
	once *paysdk.Client // the same, without retries
	rng  *rand.Rand
	n    int
}

func (c *client) stopped(ctx context.Context) bool { return c.d.stopping.Load() || ctx.Err() != nil }

func (c *client) loop(ctx context.Context) {
	for !c.stopped(ctx) {
		c.n++
		c.flow(ctx)
		sleep(ctx, c.d.cfg.Pause)
	}
}

// flow runs one payment flow, chosen at random.
func (c *client) flow(ctx context.Context) {
	amount := 100 + c.rng.Int64N(99_900)
	r := c.rng.Float64()
	wallet := max(c.d.cfg.WalletShare, 0)
	switch {
	case r < wallet:
		c.walletFlow(ctx, amount)
	case r < wallet+(1-wallet)*0.40:
		c.create(ctx, c.card(amount, true, "4242424242424242"))
	case r < wallet+(1-wallet)*0.65:
		p := c.create(ctx, c.card(amount, false, "4242424242424242"))
		if p != nil && p.Status == core.StatusRequiresCapture && !c.stopped(ctx) {
			capture := p.Amount
			if c.rng.IntN(2) == 0 {
				capture = max(1, p.Amount/2)
			}
			if c.rng.IntN(6) == 0 {
				// Two captures of the same amount at once, with different keys (a merchant's
				// retry logic racing its own job queue): one captures, the other re-drives it
				// or is refused; never two captures.
				c.concurrently(ctx, func(c *client) { c.capture(ctx, p.id, capture) }, func(c *client) { c.capture(ctx, p.id, capture) })
			} else {
				c.capture(ctx, p.id, capture)
			}
		}
	case r < wallet+(1-wallet)*0.85:
		p := c.create(ctx, c.card(amount, true, "4242424242424242"))
		if p != nil && p.Status == core.StatusSucceeded && !c.stopped(ctx) {
			refund := p.Amount
			if c.rng.IntN(2) == 0 {
				refund = max(1, p.Amount/3)
			}
			if c.rng.IntN(6) == 0 {
				// Two refunds of 60 % each at once, with different keys: together they exceed
				// the payment, so at most one may succeed.
				part := p.Amount * 6 / 10
				c.concurrently(ctx, func(c *client) { c.refund(ctx, p.id, part) }, func(c *client) { c.refund(ctx, p.id, part) })
			} else {
				c.refund(ctx, p.id, refund)
			}
		}
	case r < wallet+(1-wallet)*0.93:
		p := c.create(ctx, c.card(amount, false, "4242424242424242"))
		if p != nil && p.Status == core.StatusRequiresCapture && !c.stopped(ctx) {
			c.cancel(ctx, p.id)
		}
	default:
		c.create(ctx, c.card(amount, true, "4000000000000002")) // declined: 402 card_declined
	}
}

// concurrently runs the operations at the same time, each as this client with a random
// source of its own.
func (c *client) concurrently(ctx context.Context, ops ...func(c *client)) {
	var wg sync.WaitGroup
	for _, op := range ops {
		twin := *c
		twin.rng = rand.New(rand.NewPCG(c.rng.Uint64(), c.rng.Uint64()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			op(&twin)
		}()
	}
	wg.Wait()
}

// created is what a flow knows of its payment after the create.
type created struct {
	id string
	View
}

func (c *client) reference() string {
	return fmt.Sprintf("chaos-%d-%d-%s", c.id, c.n, core.RandomToken(5))
}

func (c *client) card(amount int64, auto bool, number string) paysdk.CreatePaymentParams {
	method := paysdk.CaptureManual
	if auto {
		method = paysdk.CaptureAutomatic
	}
	return paysdk.CreatePaymentParams{Amount: amount, Currency: "usd", Channel: paysdk.ChannelCard, CaptureMethod: method,
		MerchantReference: c.reference(), Description: "chaos load",
		PaymentMethod: &paysdk.PaymentMethodData{Card: &paysdk.CardData{Number: number, ExpMonth: 12, ExpYear: time.Now().Year() + 3, CVC: "123"}}}
}

func (c *client) walletFlow(ctx context.Context, amount int64) {
	ch := paysdk.ChannelAlipay
	if c.rng.IntN(2) == 0 {
		ch = paysdk.ChannelWeChatPay
	}
	p := c.create(ctx, paysdk.CreatePaymentParams{Amount: amount, Currency: "cny", Channel: ch,
		MerchantReference: c.reference(), Description: "chaos load"})
	if p == nil || p.Status != core.StatusRequiresAction || c.stopped(ctx) {
		return
	}
	if c.d.cfg.ChannelSim == "" || c.rng.Float64() >= c.d.cfg.PayShare {
		return // the payer walks away: the payment stays requires_action until its order expires
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, err := netsim.Control{BaseURL: c.d.cfg.ChannelSim}.Pay(pctx, core.Channel(ch), p.id)
	cancel()
	if err != nil {
		c.d.payerErr.Add(1)
		return
	}
	// The notification makes it succeeded; look a few times, as a merchant's page would.
	for i := 0; i < 6 && !c.stopped(ctx); i++ {
		sleep(ctx, 300*time.Millisecond)
		if v := c.get(ctx, p.id); v != nil && v.Status != core.StatusRequiresAction {
			return
		}
	}
}

// attempt is one SDK call's outcome.
type attempt struct {
	payment *paysdk.Payment
	refund  *paysdk.Refund
	err     error
}

// Final reports whether an answer is definitive: repeating the request with the same key
// would get the same answer. status is the HTTP status (0: no answer), code the error code,
// replayed whether the server replayed a stored answer.
func Final(status int, code string, replayed bool) bool {
	switch {
	case status == 0:
		return false // no answer: network error, timeout
	case status == http.StatusAccepted:
		return false // the outcome is not known yet
	case status >= 200 && status < 300:
		return true
	case status == http.StatusConflict && (code == core.CodeIdempotencyKeyInUse || code == core.CodeOperationInProgress):
		return false
	case status == http.StatusTooManyRequests:
		return false
	case status >= 500:
		return replayed // a stored 5xx is the key's answer; any other 5xx is retried
	}
	return true
}

// run executes one money-moving operation: attempts with the same key until a definitive
// answer or until ctx ends.
func (c *client) run(ctx context.Context, op Op, call func(ctx context.Context, sdk *paysdk.Client, key string, info *paysdk.ResponseInfo) attempt) Op {
	h := c.d.h
	op.Client, op.Region, op.Merchant = c.id, c.m.Home, c.m.ID
	abandon := op.Kind != OpRefund && !c.d.steadfast.Load() && c.rng.Float64() < c.d.cfg.AbandonShare
	op.Call = h.Now()
	for {
		op.Attempts++
		var info paysdk.ResponseInfo
		cctx, cancel := context.WithTimeout(ctx, c.d.cfg.CallTimeout)
		c.d.inflight.Add(1)
		sdk := c.sdk
		if abandon {
			sdk = c.once // a client that goes away makes one attempt
		}
		a := call(cctx, sdk, op.Key, &info)
		c.d.inflight.Add(-1)
		cancel()
		op.Return = h.Now()
		status, code := info.Status, ""
		var apiErr *paysdk.Error
		switch {
		case errors.As(a.err, &apiErr):
			status, code = apiErr.Status, apiErr.Code
			op.seePayment(apiErr.PaymentID)
		case a.err != nil:
			status, code = 0, "no_answer"
		}
		if a.payment != nil {
			op.seePayment(a.payment.ID)
		}
		if a.refund != nil {
			op.seeRefund(a.refund.ID)
		}
		op.Status, op.ErrCode = status, code
		if Final(status, code, info.Replayed) {
			op.Final, op.Replayed = true, info.Replayed
			switch {
			case a.err == nil && a.payment != nil:
				op.Payment = ViewOf(a.payment)
				if op.PaymentID == "" {
					op.PaymentID = a.payment.ID
				}
			case a.err == nil && a.refund != nil:
				op.RefundID, op.RefundStatus = a.refund.ID, a.refund.Status
			case apiErr != nil && op.Kind == OpCreate && status == http.StatusPaymentRequired && apiErr.PaymentID != "":
				// A decline: the payment exists and failed.
				op.PaymentID = apiErr.PaymentID
				op.Payment = &View{Status: core.StatusFailed, Amount: op.Amount}
			}
			break
		}
		if abandon {
			op.Abandoned = true
			break // the client went away: the platform must finish on its own
		}
		if ctx.Err() != nil {
			break // the verifier's deadline: give up without an answer
		}
		sleep(ctx, time.Duration(200+c.rng.IntN(800))*time.Millisecond)
	}
	if op.Kind == OpCreate && op.PaymentID == "" && len(op.SeenPayments) > 0 {
		op.PaymentID = op.SeenPayments[0]
	}
	h.Add(op)
	return op
}

func newKey() string { return "chaos-" + core.RandomToken(16) }

func (c *client) create(ctx context.Context, p paysdk.CreatePaymentParams) *created {
	op := c.run(ctx, Op{Kind: OpCreate, Key: newKey(), Reference: p.MerchantReference, Channel: core.Channel(p.Channel),
		Amount: p.Amount, Auto: p.CaptureMethod != paysdk.CaptureManual},
		func(ctx context.Context, sdk *paysdk.Client, key string, info *paysdk.ResponseInfo) attempt {
			pay, err := sdk.CreatePayment(ctx, p, paysdk.WithIdempotencyKey(key), paysdk.WithResponseInfo(info))
			return attempt{payment: pay, err: err}
		})
	if !op.Acked() || op.Payment == nil {
		return nil
	}
	return &created{id: op.PaymentID, View: *op.Payment}
}

func (c *client) capture(ctx context.Context, id string, amount int64) {
	c.run(ctx, Op{Kind: OpCapture, Key: newKey(), PaymentID: id, Amount: amount},
		func(ctx context.Context, sdk *paysdk.Client, key string, info *paysdk.ResponseInfo) attempt {
			a := amount
			pay, err := sdk.CapturePayment(ctx, id, paysdk.CaptureParams{Amount: &a}, paysdk.WithIdempotencyKey(key), paysdk.WithResponseInfo(info))
			return attempt{payment: pay, err: err}
		})
}

func (c *client) refund(ctx context.Context, id string, amount int64) {
	c.run(ctx, Op{Kind: OpRefund, Key: newKey(), PaymentID: id, Amount: amount},
		func(ctx context.Context, sdk *paysdk.Client, key string, info *paysdk.ResponseInfo) attempt {
			a := amount
			ref, err := sdk.CreateRefund(ctx, paysdk.CreateRefundParams{Payment: id, Amount: &a, Reason: "requested_by_customer"},
				paysdk.WithIdempotencyKey(key), paysdk.WithResponseInfo(info))
			return attempt{refund: ref, err: err}
		})
}

func (c *client) cancel(ctx context.Context, id string) {
	c.run(ctx, Op{Kind: OpCancel, Key: newKey(), PaymentID: id},
		func(ctx context.Context, sdk *paysdk.Client, key string, info *paysdk.ResponseInfo) attempt {
			pay, err := sdk.CancelPayment(ctx, id, paysdk.CancelParams{CancellationReason: "chaos"},
				paysdk.WithIdempotencyKey(key), paysdk.WithResponseInfo(info))
			return attempt{payment: pay, err: err}
		})
}

// get reads a payment once (the SDK retries transient failures) and records the read.
func (c *client) get(ctx context.Context, id string) *View {
	return readPayment(ctx, c.d.h, c.sdk, c.id, c.m, id)
}

// readPayment reads a payment through sdk and records the read in h.
func readPayment(ctx context.Context, h *History, sdk *paysdk.Client, clientID int, m Merchant, id string) *View {
	op := Op{Kind: OpGet, Client: clientID, Region: m.Home, Merchant: m.ID, PaymentID: id, Call: h.Now(), Attempts: 1}
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	p, err := sdk.GetPayment(cctx, id)
	cancel()
	op.Return = h.Now()
	var apiErr *paysdk.Error
	switch {
	case err == nil:
		op.Final, op.Status, op.Payment = true, http.StatusOK, ViewOf(p)
	case errors.As(err, &apiErr):
		op.Status, op.ErrCode = apiErr.Status, apiErr.Code
	default:
		op.ErrCode = "no_answer"
	}
	h.Add(op)
	return op.Payment
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
