// Package channeltest is the shared test environment of the adapters of signed channel APIs
// (core/wechatpay, core/alipay, core/banktransfer): it runs the network channel simulator
// (cmd/channelsim/netsim) on loopback, a notification receiver standing in for the
// platform's endpoint, and the adapter under test pointed at both, on one adjustable clock.
//
// It lives beside channelauth because it builds what channelauth defines: every adapter it
// serves embeds channelauth.BaseConfig, and New fills that part in (simulator URL, keys,
// notify URL, clock) and leaves the adapter's own fields to the adapter's test. It is not
// part of core/gatewaytest, which every core.Gateway (cards and the in-process simulator
// too) passes without a network simulator; Harness turns an Env into a gatewaytest.Harness.
//
// An adapter's env_test.go describes its channel once:
//
//	var channel = channeltest.Options{Channel: core.ChannelWeChatPay, ClientID: merchantID, Currency: "CNY",
//		NextAction: func(a *core.NextAction) bool { return a.QRCode != "" }}
//
//	func newEnv(t *testing.T) *channeltest.Env[*Gateway] {
//		return channeltest.New(t, channel, func(base channelauth.BaseConfig) (*Gateway, error) {
//			return New(Config{BaseConfig: base, MerchantID: merchantID})
//		})
//	}
//
// Waiting for notifications polls with a deadline (internal/eventually); nothing here
// sleeps for a fixed time.
package channeltest

import (
	"bytes"
	"context"
	"crypto/rsa"
	_ "embed"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/gatewaytest"
	"github.com/paycenter/paycenter/internal/eventually"
)

// The kit's fixed RSA-2048 keys (testdata/*.key.pem), parsed once: generating RSA keys
// under -race takes seconds on a busy machine, and known-answer tests need fixed keys.
var (
	//go:embed testdata/merchant.key.pem
	merchantPEM []byte
	//go:embed testdata/channel.key.pem
	channelPEM []byte
	//go:embed testdata/channel2.key.pem
	channel2PEM []byte
	//go:embed testdata/other.key.pem
	otherPEM []byte

	keysOnce                                       sync.Once
	merchantKey, channelKey, channel2Key, otherKey *rsa.PrivateKey
)

func loadKeys() {
	keysOnce.Do(func() {
		for _, k := range []struct {
			pem []byte
			to  **rsa.PrivateKey
		}{{merchantPEM, &merchantKey}, {channelPEM, &channelKey}, {channel2PEM, &channel2Key}, {otherPEM, &otherKey}} {
			key, err := channelauth.ParsePrivateKeyPEM(k.pem)
			if err != nil {
				panic("channeltest: " + err.Error())
			}
			*k.to = key
		}
	})
}

// MerchantKey is the fixed key the adapter under test signs with (testdata/merchant.key.pem).
func MerchantKey() *rsa.PrivateKey { loadKeys(); return merchantKey }

// ChannelKey is the fixed key the simulator signs with (testdata/channel.key.pem).
func ChannelKey() *rsa.PrivateKey { loadKeys(); return channelKey }

// Channel2Key is a second channel key, for certificate rotations (testdata/channel2.key.pem).
func Channel2Key() *rsa.PrivateKey { loadKeys(); return channel2Key }

// OtherKey is a key nobody trusts, for forgeries (testdata/other.key.pem).
func OtherKey() *rsa.PrivateKey { loadKeys(); return otherKey }

// APIv3Key is the WeChat Pay APIv3 key the simulator and the adapter share in tests.
const APIv3Key = "paycenterTestAPIv3Key32bytes0000"

// HMACSecret is the bank HMAC secret the simulator knows for Options.ClientID in tests.
const HMACSecret = "paycenter-test-bank-hmac-secret"

// Adapter is what the kit needs of the adapter under test.
type Adapter interface {
	core.Gateway
	core.Querier
	// ParseNotification verifies and maps a notification the channel sent.
	ParseNotification(r *http.Request) (core.Notification, error)
}

// Options describe the channel of the adapter under test.
type Options struct {
	// Channel is the adapter's channel. Required.
	Channel core.Channel
	// ClientID is the ID the adapter signs its requests as (WeChat Pay's mchid, Alipay's
	// app_id, the bank's client_id); the simulator trusts the Env's key for it. Required.
	ClientID string
	// Currency of the requests AuthReq and RefundReq make, and of the conformance suite.
	// Required.
	Currency string
	// NextAction reports whether an authorisation's next action has what the payer needs
	// (a QR code, a redirect, bank details). Default: any non-nil next action.
	NextAction func(*core.NextAction) bool
	// Sim adjusts the simulator's config. Default: fast notification retries (10 ms
	// backoff, at most 50 ms, 5 attempts), each attempt waiting eventually.Patience for
	// the receiver's answer.
	Sim func(*netsim.Config)
}

// AuthReq is an automatic-capture authorisation of a new payment id.
func (o Options) AuthReq(id string, amount int64) core.AuthorizeRequest {
	return core.AuthorizeRequest{Key: core.AuthorizeKey(id), PaymentID: id, MerchantID: "mer_test", Channel: o.Channel,
		Amount: amount, Currency: o.Currency, Capture: true, Reference: "order " + id}
}

// RefundReq is a refund refundID of payment payID.
func (o Options) RefundReq(payID, refundID string, amount int64) core.RefundRequest {
	return core.RefundRequest{Key: core.RefundKey(refundID), PaymentID: payID, RefundID: refundID, Channel: o.Channel,
		Amount: amount, Currency: o.Currency}
}

// Query asks about payment id by its authorisation key.
func (o Options) Query(id string) core.PaymentQuery {
	return core.PaymentQuery{Key: core.AuthorizeKey(id), PaymentID: id, Channel: o.Channel}
}

// Env is one test's simulator, receiver and adapter.
type Env[G Adapter] struct {
	Sim   *netsim.Server
	Ctl   netsim.Control  // the simulator's control API: pay, faults, charges, deliveries
	GW    G               // the adapter under test
	Clock *Clock          // the clock of the simulator and the adapter
	Recv  *Receiver       // where the simulator delivers notifications
	Key   *rsa.PrivateKey // the adapter's key (MerchantKey)

	opts Options
}

// New starts a simulator and a receiver for t (both stopped in t.Cleanup) and builds the
// adapter with build, from a BaseConfig that points it at them: the simulator's URL and
// public key (ChannelKey; a WeChat Pay adapter may leave it out and download certificates),
// our key (MerchantKey), which the simulator trusts for opts.ClientID together with APIv3Key
// and HMACSecret, the receiver's URL (path /notify/<channel>) and the Env's clock.
func New[G Adapter](t *testing.T, opts Options, build func(channelauth.BaseConfig) (G, error)) *Env[G] {
	t.Helper()
	if opts.Channel == "" || opts.ClientID == "" || opts.Currency == "" {
		t.Fatalf("channeltest: Options need Channel, ClientID and Currency: %+v", opts)
	}
	clock := NewClock()
	key := MerchantKey()
	// A delivery attempt may take seconds on a busy machine: an attempt that timed out after
	// the receiver accepted it would be redelivered, and tests that count deliveries would
	// see a copy they did not cause. Attempts here end on the receiver's answer.
	simCfg := netsim.Config{Now: clock.Now, NotifyBackoff: 10 * time.Millisecond, NotifyMaxBackoff: 50 * time.Millisecond,
		NotifyAttempts: 5, NotifyTimeout: eventually.Patience, PrivateKey: ChannelKey(),
		Clients: map[string]*rsa.PublicKey{opts.ClientID: &key.PublicKey}, APIv3Keys: map[string]string{opts.ClientID: APIv3Key},
		BankSecrets: map[string]string{opts.ClientID: HMACSecret}}
	if opts.Sim != nil {
		opts.Sim(&simCfg)
	}
	sim, err := netsim.NewServer(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	rc := newReceiver(t)
	gw, err := build(channelauth.BaseConfig{BaseURL: sim.URL(), PrivateKey: key, ChannelPublicKey: sim.PublicKey(),
		NotifyURL: rc.srv.URL + "/notify/" + string(opts.Channel), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	rc.parse.Store(&parser{gw.ParseNotification})
	return &Env[G]{Sim: sim, Ctl: netsim.Control{BaseURL: sim.URL()}, GW: gw, Clock: clock, Recv: rc, Key: key, opts: opts}
}

// Authorize creates an order for payment id and requires it to await the payer, with a
// next action that has what the payer needs (Options.NextAction).
func (e *Env[G]) Authorize(t *testing.T, id string, amount int64) core.AuthorizeResult {
	t.Helper()
	res, err := e.GW.Authorize(context.Background(), e.opts.AuthReq(id, amount))
	if err != nil {
		t.Fatalf("authorize %s: %v", id, err)
	}
	ok := res.Outcome == core.OutcomeActionRequired && res.NextAction != nil
	if ok && e.opts.NextAction != nil {
		ok = e.opts.NextAction(res.NextAction)
	}
	if !ok {
		t.Fatalf("authorize %s: %+v (next action %+v), want action_required with what the payer needs", id, res, res.NextAction)
	}
	return res
}

// Pay makes the payer pay payment id and waits for the captured notification.
func (e *Env[G]) Pay(t *testing.T, id string) core.Notification {
	t.Helper()
	if _, err := e.Ctl.Pay(context.Background(), e.opts.Channel, id); err != nil {
		t.Fatalf("pay %s: %v", id, err)
	}
	captured := func(n core.Notification) bool { return n.Outcome == core.OutcomeCaptured && n.RefundID == "" }
	ns := e.Recv.WaitNotifications(t, id, "the captured notification", func(ns []core.Notification) bool {
		for _, n := range ns {
			if captured(n) {
				return true
			}
		}
		return false
	})
	for _, n := range ns {
		if captured(n) {
			return n
		}
	}
	panic("unreachable: WaitNotifications returned without a captured notification")
}

// Charges is what the simulator charged and refunded for payment id (zero if nothing).
func (e *Env[G]) Charges(t *testing.T, id string) *netsim.PaymentCharges {
	t.Helper()
	c, err := e.Ctl.Charges(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Payments[id]; p != nil {
		return p
	}
	return &netsim.PaymentCharges{}
}

// Harness is the conformance suite's harness for the adapter: a fresh Env per subtest, and
// a payer who pays through the simulator's control API.
func Harness[G Adapter](opts Options, newEnv func(t *testing.T) *Env[G]) gatewaytest.Harness {
	var envs sync.Map // core.Gateway → *Env[G]
	return gatewaytest.Harness{
		New: func(t *testing.T) core.Gateway {
			e := newEnv(t)
			envs.Store(core.Gateway(e.GW), e)
			return e.GW
		},
		Channels: []core.Channel{opts.Channel},
		Stateful: true,
		PayAsync: true,
		Queries:  true,
		Currency: opts.Currency,
		Pay: func(t *testing.T, gw core.Gateway, req core.AuthorizeRequest, _ core.AuthorizeResult) {
			v, ok := envs.Load(gw)
			if !ok {
				t.Fatalf("channeltest: no Env made %T", gw)
			}
			if _, err := v.(*Env[G]).Ctl.Pay(context.Background(), opts.Channel, req.PaymentID); err != nil {
				t.Fatalf("pay %s: %v", req.PaymentID, err)
			}
		},
	}
}

// Clock is real time shifted to a fixed day (so statements are deterministic), plus an
// offset a test can move; the simulator and the adapter share it.
type Clock struct {
	mu     sync.Mutex
	base   time.Time
	start  time.Time
	offset time.Duration
}

// NewClock starts a clock at 2031-03-14 09:00 UTC.
func NewClock() *Clock {
	return &Clock{base: time.Date(2031, 3, 14, 9, 0, 0, 0, time.UTC), start: time.Now()}
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(c.offset + time.Since(c.start))
}

// Shift sets the offset from the clock's running time (0 undoes earlier shifts).
func (c *Clock) Shift(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = d
}

// RawNotification is a delivery as the receiver got it.
type RawNotification struct {
	Header http.Header
	Body   []byte
}

type parser struct {
	parse func(*http.Request) (core.Notification, error)
}

// Receiver is the platform's notification endpoint in tests: it parses each delivery with
// the adapter and records what it accepted (answering 204) and every delivery it parsed;
// it answers 401 to deliveries that do not parse.
type Receiver struct {
	srv      *httptest.Server
	parse    atomic.Pointer[parser]
	failNext atomic.Int32

	mu  sync.Mutex
	got []core.Notification
	raw []RawNotification
}

func newReceiver(t *testing.T) *Receiver {
	rc := &Receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if rc.failNext.Add(-1) >= 0 {
			http.Error(w, "not now", http.StatusInternalServerError)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		n, err := rc.parse.Load().parse(r)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.raw = append(rc.raw, RawNotification{r.Header.Clone(), body})
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		rc.got = append(rc.got, n)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// FailNext makes the receiver answer 500 to the next n deliveries, unparsed, as a platform
// that could not process them would; the channel redelivers.
func (rc *Receiver) FailNext(n int) { rc.failNext.Store(int32(n)) }

// Raw lists the deliveries parsed so far, accepted or refused, in arrival order.
func (rc *Receiver) Raw() []RawNotification {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]RawNotification(nil), rc.raw...)
}

// Notifications lists the accepted notifications for payment (or payout) id, in arrival order.
func (rc *Receiver) Notifications(id string) []core.Notification {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []core.Notification
	for _, n := range rc.got {
		if n.PaymentID == id || (id != "" && n.PayoutID == id) {
			out = append(out, n)
		}
	}
	return out
}

// WaitNotifications waits (eventually.Patience at most) until pred holds for the accepted
// notifications of payment id, and returns them; what names the wait in the failure.
func (rc *Receiver) WaitNotifications(t *testing.T, id, what string, pred func([]core.Notification) bool) []core.Notification {
	t.Helper()
	return eventually.Value(t, eventually.Patience, what+" for "+id, func() ([]core.Notification, bool) {
		ns := rc.Notifications(id)
		return ns, pred(ns)
	})
}

// StaleAfterPaid runs, as subtests of t, the check that a channel's out-of-order
// notification is harmless: after the payer paid, the simulator follows the paid
// notification with one claiming an older state (the order still pending, or closed). It
// must arrive as an event of its own, dated no later than the payment, and leave the trade
// captured. Delivery is at least once, so copies of the paid notification may come first.
func StaleAfterPaid[G Adapter](t *testing.T, opts Options, newEnv func(*testing.T) *Env[G]) {
	ctx := context.Background()
	for _, stale := range []struct {
		kind    string
		outcome core.AuthorizeOutcome
	}{{netsim.KindClosed, core.OutcomeClosed}, {netsim.KindPending, core.OutcomeActionRequired}} {
		t.Run("stale "+stale.kind+" after paid", func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			id := "pay_stale_" + stale.kind
			if err := e.Ctl.SetFaults(ctx, opts.Channel, netsim.Faults{StaleNotification: stale.kind}); err != nil {
				t.Fatal(err)
			}
			e.Authorize(t, id, 100)
			if _, err := e.Ctl.Pay(ctx, opts.Channel, id); err != nil {
				t.Fatalf("pay %s: %v", id, err)
			}
			staleAt := func(ns []core.Notification) int {
				for i, n := range ns {
					if n.Outcome == stale.outcome {
						return i
					}
				}
				return -1
			}
			ns := e.Recv.WaitNotifications(t, id, "paid then stale", func(ns []core.Notification) bool { return staleAt(ns) > 0 })
			paid, late := ns[0], ns[staleAt(ns)]
			if paid.Outcome != core.OutcomeCaptured || late.EventID == paid.EventID || late.OccurredAt.After(paid.OccurredAt) {
				t.Fatalf("notifications: %+v", ns)
			}
			for _, n := range ns[:staleAt(ns)] {
				if n.EventID != paid.EventID {
					t.Fatalf("before the stale notification, one that is not a copy of the paid one: %+v", ns)
				}
			}
			if st, err := e.GW.QueryPayment(ctx, opts.Query(id)); err != nil || st.Outcome != core.OutcomeCaptured {
				t.Fatalf("the stale notification changed the trade: %+v %v", st, err)
			}
		})
	}
}
