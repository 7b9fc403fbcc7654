package alipay

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
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
)

const appID = "2021000000000001"

// testClock is real time shifted to a fixed day (so statements are deterministic), plus an
// adjustable offset shared by the simulator and the adapter.
type testClock struct {
	mu     sync.Mutex
	base   time.Time
	start  time.Time
	offset time.Duration
}

func newClock() *testClock {
	return &testClock{base: time.Date(2031, 3, 14, 9, 0, 0, 0, time.UTC), start: time.Now()}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(c.offset + time.Since(c.start))
}

func (c *testClock) Shift(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset = d
}

type rawNotification struct {
	header http.Header
	body   []byte
}

// receiver is the platform's notification endpoint in tests: it records what it parsed and
// what it refused.
type receiver struct {
	srv      *httptest.Server
	gw       atomic.Pointer[Gateway]
	failNext atomic.Int32 // answer 500 to this many deliveries first

	mu       sync.Mutex
	got      []core.Notification
	raw      []rawNotification
	rejected []error
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if rc.failNext.Add(-1) >= 0 {
			http.Error(w, "not now", http.StatusInternalServerError)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		n, err := rc.gw.Load().ParseNotification(r)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.raw = append(rc.raw, rawNotification{r.Header.Clone(), body})
		if err != nil {
			rc.rejected = append(rc.rejected, err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		rc.got = append(rc.got, n)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// notifications returns what was received for payment id, in arrival order.
func (rc *receiver) notifications(id string) []core.Notification {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []core.Notification
	for _, n := range rc.got {
		if n.PaymentID == id {
			out = append(out, n)
		}
	}
	return out
}

// waitNotifications polls until pred holds for payment id's notifications.
func (rc *receiver) waitNotifications(t *testing.T, id string, what string, pred func([]core.Notification) bool) []core.Notification {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ns := rc.notifications(id)
		if pred(ns) {
			return ns
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s for %s; got %+v", what, id, ns)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type env struct {
	sim   *netsim.Server
	ctl   netsim.Control
	gw    *Gateway
	clock *testClock
	recv  *receiver
	key   ed25519.PrivateKey
}

// newEnv starts a simulator on loopback and an adapter (and receiver) pointed at it.
func newEnv(t *testing.T, tweak ...func(*Config)) *env {
	t.Helper()
	clock := newClock()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	sim, err := netsim.NewServer(netsim.Config{Now: clock.Now, NotifyBackoff: 10 * time.Millisecond,
		NotifyMaxBackoff: 50 * time.Millisecond, NotifyAttempts: 5,
		Clients: map[string]ed25519.PublicKey{appID: key.Public().(ed25519.PublicKey)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	rc := newReceiver(t)
	cfg := Config{AppID: appID, BaseConfig: channelauth.BaseConfig{BaseURL: sim.URL(), PrivateKey: key,
		ChannelPublicKey: sim.PublicKey(), NotifyURL: rc.srv.URL + "/notify/alipay", Now: clock.Now}}
	for _, f := range tweak {
		f(&cfg)
	}
	gw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rc.gw.Store(gw)
	return &env{sim: sim, ctl: netsim.Control{BaseURL: sim.URL()}, gw: gw, clock: clock, recv: rc, key: key}
}

var ctx = context.Background()

func authReq(id string, amount int64) core.AuthorizeRequest {
	return core.AuthorizeRequest{Key: core.AuthorizeKey(id), PaymentID: id, MerchantID: "mer_test", Channel: core.ChannelAlipay,
		Amount: amount, Currency: "CNY", Capture: true, Reference: "order " + id}
}

func refundReq(payID, refundID string, amount int64) core.RefundRequest {
	return core.RefundRequest{Key: core.RefundKey(refundID), PaymentID: payID, RefundID: refundID, Channel: core.ChannelAlipay,
		Amount: amount, Currency: "CNY"}
}

func query(id string) core.PaymentQuery {
	return core.PaymentQuery{Key: core.AuthorizeKey(id), PaymentID: id, Channel: core.ChannelAlipay}
}

// authorize creates an order and checks it awaits the payer.
func (e *env) authorize(t *testing.T, id string, amount int64) core.AuthorizeResult {
	t.Helper()
	res, err := e.gw.Authorize(ctx, authReq(id, amount))
	if err != nil {
		t.Fatalf("authorize %s: %v", id, err)
	}
	if res.Outcome != core.OutcomeActionRequired || res.NextAction == nil || res.NextAction.RedirectURL == "" {
		t.Fatalf("authorize %s: %+v", id, res)
	}
	return res
}

// pay makes the payer pay and waits for the captured notification.
func (e *env) pay(t *testing.T, id string) core.Notification {
	t.Helper()
	if _, err := e.ctl.Pay(ctx, core.ChannelAlipay, id); err != nil {
		t.Fatalf("pay %s: %v", id, err)
	}
	ns := e.recv.waitNotifications(t, id, "the captured notification", func(ns []core.Notification) bool {
		for _, n := range ns {
			if n.Outcome == core.OutcomeCaptured && n.RefundID == "" {
				return true
			}
		}
		return false
	})
	for _, n := range ns {
		if n.Outcome == core.OutcomeCaptured && n.RefundID == "" {
			return n
		}
	}
	panic("unreachable")
}

func (e *env) charges(t *testing.T, id string) *netsim.PaymentCharges {
	t.Helper()
	c, err := e.ctl.Charges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Payments[id]; p != nil {
		return p
	}
	return &netsim.PaymentCharges{}
}
