package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/cardacq"
	"github.com/paycenter/paycenter/core/channelauth/channeltest"
	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/core/postgres/pgtest"
	waitfor "github.com/paycenter/paycenter/internal/eventually"
)

// hangingProxy forwards TCP to a database and can hang the link: while hung it accepts and
// keeps every connection open but passes no byte either way, as a partitioned WAN link
// does (no reset, no answer, no cancel getting through).
type hangingProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	hung   bool
	healed chan struct{}
}

func newHangingProxy(t *testing.T, target string) *hangingProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &hangingProxy{ln: ln, target: target, healed: make(chan struct{})}
	t.Cleanup(func() { _ = ln.Close(); p.heal() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *hangingProxy) serve(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.wait()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
}

// wait blocks while the link is hung.
func (p *hangingProxy) wait() {
	p.mu.Lock()
	hung, healed := p.hung, p.healed
	p.mu.Unlock()
	if hung {
		<-healed
	}
}

func (p *hangingProxy) hang() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.hung {
		p.hung, p.healed = true, make(chan struct{})
	}
}

func (p *hangingProxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.hung {
		p.hung = false
		close(p.healed)
	}
}

// hungLinkNode is one node whose database connections pass through a hangingProxy, with a
// merchant; call sends one API request to it. tweak adjusts the node's configuration.
type hungLinkNode struct {
	m      *Main
	direct *postgres.DB
	proxy  *hangingProxy
	secret string
	call   func(method, path, auth, key string, body any) (int, http.Header, map[string]any)
}

func newHungLinkNode(t *testing.T, tweak func(*Config)) *hungLinkNode {
	t.Helper()
	ctx := context.Background()
	dbURL := pgtest.NewDatabase(t)
	direct, err := postgres.Open(ctx, dbURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(direct.Close)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newHangingProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()

	cfg := Config{Addr: "127.0.0.1:0", Region: testRegion, NodeID: "us-east-hang", DatabaseURL: u.String(),
		AdminToken: testAdminToken, SecretKey: string(bytes.Repeat([]byte("s"), 32)), Channels: ChannelsSim, MaxConns: 8,
		Lease: 30 * time.Second, ChannelTimeout: 10 * time.Second, HeartbeatInterval: 100 * time.Millisecond, LivenessTimeout: time.Second,
		DBStatementTimeout: 500 * time.Millisecond, DBConnectTimeout: time.Second, DBTCPTimeout: time.Second,
		AuthCache: 2 * time.Second, RecoveryInterval: time.Second, ChannelRate: 100, MerchantRate: 100, MerchantBurst: 100}
	if tweak != nil {
		tweak(&cfg)
	}
	m := NewMain(cfg, quietLog())
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.heal(); _ = m.Close() })
	base := "http://" + m.Addr
	call := func(method, path, auth, key string, body any) (int, http.Header, map[string]any) {
		t.Helper()
		var rd io.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+auth)
		req.Header.Set("Content-Type", "application/json")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		res, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, res.Header, out
	}
	st, _, mer := call("POST", "/v1/admin/merchants", testAdminToken, "", map[string]any{"name": "Acme", "home_region": testRegion})
	if st != 200 {
		t.Fatalf("merchant: %d %v", st, mer)
	}
	return &hungLinkNode{m: m, direct: direct, proxy: proxy, secret: mer["secret_key"].(string), call: call}
}

// A node whose database link hangs answers a payment with a retryable 503 within about its
// statement timeout, stores nothing with the key, and fails its readiness; once the link
// heals, the retry with the same key pays once.
func TestNodeWithHungDatabaseLinkFailsFast(t *testing.T) {
	ctx := context.Background()
	node := newHungLinkNode(t, nil)
	direct, proxy, secret, call := node.direct, node.proxy, node.secret, node.call
	if st, _, body := call("POST", "/v1/payments", secret, "before", cardPayment("before", 1000, visaOK, "automatic")); st != 200 {
		t.Fatalf("payment before the hang: %d %v", st, body)
	}

	proxy.hang()
	start := time.Now()
	st, hdr, body := call("POST", "/v1/payments", secret, "during", cardPayment("during", 1000, visaOK, "automatic"))
	took := time.Since(start)
	if st != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("payment over a hung link: %d (Retry-After %q) %v, want a retryable 503", st, hdr.Get("Retry-After"), body)
	}
	if took > 10*time.Second {
		t.Fatalf("the 503 took %s: the node waited on the hung link", took)
	}
	t.Logf("payment over a hung database link answered 503 after %s (statement timeout 500ms)", took.Round(time.Millisecond))

	deadline := time.Now().Add(20 * time.Second)
	for {
		rst, _, _ := call("GET", "/readyz", "", "", nil)
		if rst == http.StatusServiceUnavailable {
			t.Logf("readiness failed %s after the hang", time.Since(start).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readiness still %d with the database link hung", rst)
		}
	}
	var stored int
	if err := direct.Pool.QueryRow(ctx, `SELECT count(*) FROM idempotency_keys WHERE idem_key = 'during' AND response_status IS NOT NULL`).Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("a reply was stored with the key (%d, %v): the retry could not finish the payment", stored, err)
	}

	proxy.heal()
	deadline = time.Now().Add(30 * time.Second)
	for {
		st, _, body = call("POST", "/v1/payments", secret, "during", cardPayment("during", 1000, visaOK, "automatic"))
		if st == 200 {
			break
		}
		if time.Now().After(deadline) || (st != http.StatusServiceUnavailable && st != http.StatusConflict) {
			t.Fatalf("retry after the link healed: %d %v", st, body)
		}
	}
	if body["status"] != "succeeded" {
		t.Fatalf("retry: %v", body)
	}
	var n int
	if err := direct.Pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE merchant_reference = 'during'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d payments for the key (%v), want 1", n, err)
	}
}

// With -db-fail-fast-after, a node whose database link hangs does not let its requests wait
// out their timeouts (20 s here, longer than this test waits for any answer): the payment
// in flight when the link hung is ended by the link watcher with a retryable 503, later
// requests are turned away at once with the node's reason, readiness fails; once the link
// heals the node serves again, and the retry with the same key pays once.
func TestNodeFailsFastOnAHungLinkBeforeItsTimeouts(t *testing.T) {
	ctx := context.Background()
	const stmtTimeout = 20 * time.Second
	node := newHungLinkNode(t, func(c *Config) {
		c.Lease, c.LivenessTimeout = time.Minute, 25*time.Second
		c.DBStatementTimeout, c.DBConnectTimeout, c.DBTCPTimeout = stmtTimeout, stmtTimeout, stmtTimeout
		c.DBFailFastAfter = 500 * time.Millisecond
	})
	if st, _, body := node.call("POST", "/v1/payments", node.secret, "before", cardPayment("before", 1000, visaOK, "automatic")); st != 200 {
		t.Fatalf("payment before the hang: %d %v", st, body)
	}

	before := node.m.Service.Incarnation()
	node.proxy.hang()
	start := time.Now()
	st, hdr, body := node.call("POST", "/v1/payments", node.secret, "during", cardPayment("during", 1000, visaOK, "automatic"))
	took := time.Since(start)
	if st != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("payment over a hung link: %d (Retry-After %q) %v, want a retryable 503", st, hdr.Get("Retry-After"), body)
	}
	if took >= stmtTimeout {
		t.Fatalf("the 503 came after %s, from the statement timeout (%s): nothing ended the wait", took, stmtTimeout)
	}
	t.Logf("payment over a hung link answered 503 after %s (fail-fast after 500ms, statement timeout %s)", took.Round(time.Millisecond), stmtTimeout)

	waitfor.Value(t, waitfor.Patience, "new requests turned away with the node's reason, readiness failed", func() (string, bool) {
		st, _, body := node.call("GET", "/v1/payments/pay_us-east_none", node.secret, "", nil)
		e, _ := body["error"].(map[string]any)
		msg, _ := e["message"].(string)
		if st != http.StatusServiceUnavailable || !strings.Contains(msg, "not taking requests") {
			return fmt.Sprintf("GET answered %d %v", st, body), false
		}
		if rst, _, _ := node.call("GET", "/readyz", "", "", nil); rst != http.StatusServiceUnavailable {
			return fmt.Sprintf("readyz %d", rst), false
		}
		return "", true
	})
	var stored int
	if err := node.direct.Pool.QueryRow(ctx, `SELECT count(*) FROM idempotency_keys WHERE idem_key = 'during' AND response_status IS NOT NULL`).Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("a reply was stored with the key (%d, %v)", stored, err)
	}

	node.proxy.heal()
	waitfor.Value(t, waitfor.Patience, "the node serves again and the retry pays", func() (string, bool) {
		st, _, body := node.call("POST", "/v1/payments", node.secret, "during", cardPayment("during", 1000, visaOK, "automatic"))
		if st != 200 || body["status"] != "succeeded" {
			if st != http.StatusServiceUnavailable && st != http.StatusConflict {
				t.Fatalf("retry after the link healed: %d %v", st, body)
			}
			return fmt.Sprintf("retry: %d %v", st, body), false
		}
		return "", true
	})
	var n int
	if err := node.direct.Pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE merchant_reference = 'during'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d payments for the key (%v), want 1", n, err)
	}
	// The requests the trip ended gave their keys up without releasing them; the node came
	// back as a new incarnation (long before its 25 s liveness timeout), which frees them.
	if after := node.m.Service.Incarnation(); after == before {
		t.Fatalf("the node kept its incarnation %s after the trip: keys its requests gave up stay locked until their leases end", before)
	}
}

// dyingCard is a card channel whose node dies right after the channel answered: the charge
// is made, the answer never reaches the database (the call blocks until the test ends).
type dyingCard struct {
	core.Gateway
	charged chan struct{}
	revive  chan struct{}
	once    sync.Once
}

func (d *dyingCard) comeBack() { d.once.Do(func() { close(d.revive) }) }

func (d *dyingCard) Authorize(ctx context.Context, req core.AuthorizeRequest) (core.AuthorizeResult, error) {
	res, err := d.Gateway.Authorize(ctx, req)
	close(d.charged)
	<-d.revive
	return res, err
}

// A node that dies mid-request, after its first phase and the channel's charge but before the
// answer is saved: a retry with the same key through another node takes the key over once the
// dead node's heartbeat is stale (long before the 30 s lease), finishes the payment from its
// recovery point, and the channel (the simulator, over its HTTP API) charged once.
func TestRetryThroughAnotherNodeFinishesADeadNodesPayment(t *testing.T) {
	ctx := context.Background()
	sim, err := netsim.NewServer(netsim.Config{PrivateKey: channeltest.ChannelKey()})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	card, err := cardacq.New(cardacq.Config{APIKey: "sk_test_sim", BackendURL: sim.URL(), TrustSearchMisses: true, MaxNetworkRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	live := func(id string) func(*postgres.Config) {
		return func(c *postgres.Config) {
			c.Liveness = postgres.LivenessConfig{NodeID: id, Interval: 100 * time.Millisecond, Timeout: time.Second}
		}
	}
	dying := &dyingCard{Gateway: card, charged: make(chan struct{}), revive: make(chan struct{})}
	a := newEnvWith(t, envOptions{tweak: []func(*postgres.Config){live("a")},
		gateway: func(*inprocsim.Channel) core.Gateway { return byChannel{core.ChannelCard: dying} }})
	t.Cleanup(dying.comeBack) // before a's server closes (cleanups run last first)
	b := &env{t: t, db: a.db, sim: a.sim, clock: a.clock}
	b.start(envOptions{tweak: []func(*postgres.Config){live("b")},
		gateway: func(*inprocsim.Channel) core.Gateway { return byChannel{core.ChannelCard: card} }})
	for _, n := range []*env{a, b} {
		if err := n.svc.JoinLiveness(ctx); err != nil {
			t.Fatal(err)
		}
	}
	beat := postgres.NewHeartbeater(b.svc) // node a never beats again once it joined: it is dead
	beat.Start(ctx)
	t.Cleanup(beat.Stop)
	_, secret := a.merchant("Acme")

	key, body := newKey(), cardPayment("killed", 2500, visaOK, core.CaptureAutomatic)
	aDone := make(chan *resp, 1)
	go func() { aDone <- a.call("POST", "/v1/payments", secret, key, body) }()
	select {
	case <-dying.charged:
	case <-time.After(30 * time.Second):
		t.Fatal("node a never reached the channel")
	}
	killed := time.Now()
	r := b.call("POST", "/v1/payments", secret, key, body)
	took := time.Since(killed)
	b.expect(r, 200)
	if r.str("status") != "succeeded" {
		t.Fatalf("retry: %s", r.Body)
	}
	if took > 15*time.Second {
		t.Fatalf("the retry took %s: it waited for the lease, not for liveness", took)
	}
	t.Logf("retry through node b completed %s after node a died", took.Round(time.Millisecond))
	id := r.str("id")
	ch, err := (netsim.Control{BaseURL: sim.URL()}).Charges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pc := ch.Payments[id]; pc == nil || pc.Charges != 1 || pc.AmountCharged != 2500 {
		t.Fatalf("channel charges for %s: %+v, want one of 2500", id, pc)
	}

	dying.comeBack() // a comes back and tries to save the channel's answer
	late := <-aDone
	if late.Status != http.StatusConflict {
		t.Fatalf("the dead node's late answer: %d %s, want 409 (its commit fenced off)", late.Status, late.Body)
	}
	if n := a.count("payments"); n != 1 {
		t.Fatalf("%d payments, want 1", n)
	}
	a.requireBalancedLedger()
	again := a.call("POST", "/v1/payments", secret, key, body)
	if again.Status != 200 || again.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(again.Body, r.Body) {
		t.Fatalf("replay: %d %s (%v), want the take-over's answer replayed", again.Status, again.Body, again.Header)
	}
}
