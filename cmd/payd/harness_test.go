package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/httpapi"
	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/core/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	testAdminToken = "admin-token-for-tests-0001"
	testRegion     = "us-east"
	visaOK         = "4242424242424242"
	visaDeclined   = "4000000000000002"
	visaNoFunds    = "4000000000009995"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is one node's worth of platform on a fresh database, served over real HTTP.
type env struct {
	t     testing.TB
	db    *postgres.DB
	svc   *postgres.Service
	sim   *inprocsim.Channel
	clock *clock
	srv   *httptest.Server
}

func newEnv(t testing.TB, tweak ...func(*postgres.Config)) *env {
	t.Helper()
	return newEnvWith(t, envOptions{tweak: tweak})
}

// envOptions change how newEnvWith wires the node.
type envOptions struct {
	tweak []func(*postgres.Config)
	// gateway wraps the simulator (e.g. in the resilience layer); default: the simulator.
	gateway func(*inprocsim.Channel) core.Gateway
	limiter httpapi.MerchantLimiter
	// notifications are the channels' notification parsers.
	notifications map[core.Channel]httpapi.NotificationParser
	// api changes the API's config.
	api func(*httpapi.Config)
}

func newEnvWith(t testing.TB, opt envOptions) *env {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.NewDatabase(t), 40)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	e := &env{t: t, db: db, sim: inprocsim.New(), clock: &clock{t: time.Now().UTC()}}
	e.start(opt)
	if err := e.svc.RegisterRegion(ctx); err != nil {
		t.Fatal(err)
	}
	return e
}

// start makes e's node: its Service and API on e's database, clock and simulator.
func (e *env) start(opt envOptions) {
	e.t.Helper()
	log := slog.New(slog.NewTextHandler(testLogOut(), nil))
	cfg := postgres.Config{Region: testRegion, SecretKey: bytes.Repeat([]byte("k"), 32), Now: e.clock.Now,
		Lease: 30 * time.Second, ChannelTimeout: 5 * time.Second, Logger: log,
		// The tests' merchants take more than the KYC volume limit; the limit has its own tests.
		UnverifiedVolumeLimit: -1}
	for _, f := range opt.tweak {
		f(&cfg)
	}
	var gw core.Gateway = e.sim
	if opt.gateway != nil {
		gw = opt.gateway(e.sim)
	}
	var err error
	if e.svc, err = postgres.NewService(e.db, gw, cfg); err != nil {
		e.t.Fatal(err)
	}
	apiCfg := httpapi.Config{AdminToken: testAdminToken, Region: testRegion, Logger: log, Now: e.clock.Now,
		Gateway: e.svc, Limiter: opt.limiter, Notifications: opt.notifications}
	if opt.api != nil {
		opt.api(&apiCfg)
	}
	api, err := httpapi.NewServer(e.svc, e.svc, e.svc, apiCfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.srv = httptest.NewServer(api)
	e.t.Cleanup(e.srv.Close)
}

// resp is an HTTP answer, with its body decoded loosely for assertions.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

func (r *resp) str(path string) string {
	v := r.get(path)
	s, _ := v.(string)
	return s
}

func (r *resp) num(path string) int64 {
	v, _ := r.get(path).(float64)
	return int64(v)
}

func (r *resp) get(path string) any {
	var cur any = r.JSON
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// call sends a request. body may be nil, a string (sent as is) or a value to marshal.
func (e *env) call(method, path, key, idemKey string, body any) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out := &resp{Status: res.StatusCode, Header: res.Header}
	out.Body, _ = io.ReadAll(res.Body)
	_ = json.Unmarshal(out.Body, &out.JSON)
	return out
}

func (e *env) expect(r *resp, status int) *resp {
	e.t.Helper()
	if r.Status != status {
		e.t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	return r
}

// merchant onboards a merchant and returns its ID and secret key.
func (e *env) merchant(name string) (id, key string) {
	e.t.Helper()
	r := e.expect(e.call("POST", "/v1/admin/merchants", testAdminToken, "", map[string]any{"name": name, "home_region": testRegion}), 200)
	return r.str("id"), r.str("secret_key")
}

func cardPayment(ref string, amount int64, number string, capture core.CaptureMethod) map[string]any {
	return map[string]any{
		"amount": amount, "currency": "usd", "channel": "card", "capture_method": capture,
		"merchant_reference": ref,
		"payment_method": map[string]any{"type": "card", "card": map[string]any{
			"number": number, "exp_month": 12, "exp_year": time.Now().Year() + 2, "cvc": "123"}},
	}
}

func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) requireBalancedLedger() *core.LedgerReport {
	e.t.Helper()
	rep, err := e.svc.CheckLedger(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	if !rep.Balanced {
		e.t.Fatalf("ledger does not balance: %+v", rep)
	}
	return rep
}

func newKey() string { return core.RandomToken(16) }

func testLogOut() io.Writer {
	if os.Getenv("PAY_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}

// secondNode is another node of e's platform: its own Service and API on e's database and
// clock (its own caches), sharing e's channel simulator.
func (e *env) secondNode(tweak ...func(*postgres.Config)) *env {
	e.t.Helper()
	n := &env{t: e.t, db: e.db, sim: e.sim, clock: e.clock}
	n.start(envOptions{tweak: tweak})
	return n
}
