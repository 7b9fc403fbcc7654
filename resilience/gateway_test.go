package resilience

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/attribute"
	"golang.org/x/time/rate"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/internal/eventually"
)

const region = "us-east"

// testConfig: a breaker that may trip after 4 calls at 50% failures and then stays open for
// the whole test (gobreaker reads the wall clock, so a short cool-down would let a test that
// reads the state on a loaded machine find it half-open), no quota, and fast query retries.
// Tests of the way back to closed use healingConfig.
func testConfig() Config {
	return Config{
		Region: region,
		Breaker: BreakerConfig{Window: 20 * time.Second, Buckets: 10, MinRequests: 4, FailureRatio: 0.5,
			CoolDown: time.Hour, HalfOpenProbes: 2},
		Default:        ChannelConfig{Rate: rate.Inf, Burst: 1, Timeout: 5 * time.Second},
		RetryBaseDelay: 2 * time.Millisecond,
		RetryMaxDelay:  10 * time.Millisecond,
		MeterProvider:  newRecProvider(),
	}
}

// healCoolDown is healingConfig's cool-down: each test that uses it waits it out once (and
// they run in parallel), and the few open-state checks such a test makes before waiting for
// half-open must fit in it even on a loaded machine running -race.
const healCoolDown = 2 * time.Second

// healingConfig is testConfig with a breaker that goes half-open after healCoolDown.
func healingConfig() Config {
	c := testConfig()
	c.Breaker.CoolDown = healCoolDown
	return c
}

func newGW(t *testing.T, inner core.Gateway, cfg Config) *Gateway {
	t.Helper()
	g, err := NewGateway(inner, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g
}

var goodCard = &core.CardData{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2099, CVC: "123"}

var keySeq struct {
	sync.Mutex
	n int
}

// authReq is a fresh authorisation on ch (a new payment, so a new channel key).
func authReq(ch core.Channel) core.AuthorizeRequest {
	keySeq.Lock()
	keySeq.n++
	id := fmt.Sprintf("pay_%06d", keySeq.n)
	keySeq.Unlock()
	req := core.AuthorizeRequest{Key: core.AuthorizeKey(id), PaymentID: id, MerchantID: "m1", Region: region,
		Channel: ch, Amount: 1000, Currency: "usd"}
	if ch.IsCard() {
		req.Card = goodCard
	}
	return req
}

func isBreakerOpen(err error) bool {
	return errors.Is(err, ErrBreakerOpen) && errors.Is(err, core.ErrNotExecuted)
}

func TestBreakerTripsFailsFastAndHeals(t *testing.T) {
	hang := ChannelConfig{Timeout: 50 * time.Millisecond}
	type setup struct {
		inner   core.Gateway
		cfg     func(*Config)
		breakIt func()
		heal    func()
		calls   func() int
	}
	cases := []struct {
		name string
		make func() setup
	}{
		{"fake unknown-outcome errors", func() setup {
			f := newFake()
			return setup{inner: f, breakIt: func() { f.setFail(core.ChannelCard, errTransient) },
				heal: func() { f.setFail(core.ChannelCard, nil) }, calls: f.total}
		}},
		{"fake ErrNotExecuted from the channel", func() setup {
			f := newFake()
			return setup{inner: f,
				breakIt: func() { f.setFail(core.ChannelCard, fmt.Errorf("connection refused: %w", core.ErrNotExecuted)) },
				heal:    func() { f.setFail(core.ChannelCard, nil) }, calls: f.total}
		}},
		{"fake timeouts", func() setup {
			f := newFake()
			return setup{inner: f, cfg: func(c *Config) { c.Channels = map[core.Channel]ChannelConfig{core.ChannelCard: hang} },
				breakIt: func() { f.set(func(f *fakeGW) { f.hang = true }) },
				heal:    func() { f.set(func(f *fakeGW) { f.hang = false }) }, calls: f.total}
		}},
		{"simchannel unavailable", func() setup {
			s := inprocsim.New()
			// Exactly the 4 failures that trip the breaker; then the channel is healthy.
			return setup{inner: s, breakIt: func() { s.SetFaults(inprocsim.Faults{Unavailable: 4}) },
				heal: func() {}, calls: s.Calls}
		}},
		{"simchannel lost responses", func() setup {
			s := inprocsim.New()
			return setup{inner: s, breakIt: func() { s.SetFaults(inprocsim.Faults{LoseResponses: 4}) },
				heal: func() {}, calls: s.Calls}
		}},
		{"simchannel timeouts", func() setup {
			s := inprocsim.New()
			return setup{inner: s, cfg: func(c *Config) { c.Channels = map[core.Channel]ChannelConfig{core.ChannelCard: hang} },
				breakIt: func() { s.SetFaults(inprocsim.Faults{Timeouts: 4}) },
				heal:    func() {}, calls: s.Calls}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each waits out a cool-down
			s := tc.make()
			cfg := healingConfig()
			if s.cfg != nil {
				s.cfg(&cfg)
			}
			g := newGW(t, s.inner, cfg)
			ctx := context.Background()

			s.breakIt()
			for i := range 4 {
				if st := g.State(core.ChannelCard); st != gobreaker.StateClosed {
					t.Fatalf("call %d: breaker %s before MinRequests", i, st)
				}
				_, err := g.Authorize(ctx, authReq(core.ChannelCard))
				if err == nil || isBreakerOpen(err) {
					t.Fatalf("call %d: want the channel's error, got %v", i, err)
				}
			}
			if st := g.State(core.ChannelCard); st != gobreaker.StateOpen {
				t.Fatalf("after 4 failures: breaker %s, want open", st)
			}

			// Open: refused at once, nothing reaches the channel.
			before := s.calls()
			for i := range 5 {
				start := time.Now()
				_, err := g.Authorize(ctx, authReq(core.ChannelCard))
				if !isBreakerOpen(err) {
					t.Fatalf("open call %d: got %v, want ErrBreakerOpen wrapping core.ErrNotExecuted", i, err)
				}
				if d := time.Since(start); d > 500*time.Millisecond {
					t.Fatalf("open call %d took %s: not failing fast", i, d)
				}
			}
			if _, err := g.Capture(ctx, core.CaptureRequest{Key: "x:capture", Channel: core.ChannelCard}); !isBreakerOpen(err) {
				t.Fatalf("capture while open: %v", err)
			}
			if got := s.calls(); got != before {
				t.Fatalf("%d calls reached the channel while the breaker was open", got-before)
			}
			if st := g.State(core.ChannelCard); st != gobreaker.StateOpen {
				t.Fatalf("breaker %s during the fast-fail checks, want open (healCoolDown too short for this machine?)", st)
			}

			// Cool-down over: half-open, probes go through and close the breaker.
			s.heal()
			eventually.True(t, eventually.Patience, "half-open", func() bool { return g.State(core.ChannelCard) == gobreaker.StateHalfOpen })
			for i := range 2 {
				res, err := g.Authorize(ctx, authReq(core.ChannelCard))
				if err != nil || res.Outcome != core.OutcomeAuthorized {
					t.Fatalf("probe %d: %+v, %v", i, res, err)
				}
			}
			if got := s.calls(); got != before+2 {
				t.Fatalf("probes reaching the channel: %d, want 2", got-before)
			}
			if st := g.State(core.ChannelCard); st != gobreaker.StateClosed {
				t.Fatalf("after 2 good probes: breaker %s, want closed", st)
			}
			if _, err := g.Authorize(ctx, authReq(core.ChannelCard)); err != nil {
				t.Fatalf("after closing: %v", err)
			}
		})
	}
}

// trip opens ch's breaker with errTransient from f (4 failures at testConfig).
func trip(t *testing.T, g *Gateway, f *fakeGW, ch core.Channel) {
	t.Helper()
	f.setFail(ch, errTransient)
	for range 4 {
		if _, err := g.Authorize(context.Background(), authReq(ch)); !errors.Is(err, errTransient) {
			t.Fatalf("tripping: %v", err)
		}
	}
	if st := g.State(ch); st != gobreaker.StateOpen {
		t.Fatalf("breaker %s after tripping, want open", st)
	}
}

func TestBreakerHalfOpen(t *testing.T) {
	t.Run("a failed probe opens it again", func(t *testing.T) {
		t.Parallel()
		f := newFake()
		g := newGW(t, f, healingConfig())
		trip(t, g, f, core.ChannelCard)
		eventually.True(t, eventually.Patience, "half-open", func() bool { return g.State(core.ChannelCard) == gobreaker.StateHalfOpen })
		before := f.total()
		if _, err := g.Authorize(context.Background(), authReq(core.ChannelCard)); !errors.Is(err, errTransient) {
			t.Fatalf("probe: %v", err)
		}
		if st := g.State(core.ChannelCard); st != gobreaker.StateOpen {
			t.Fatalf("after a failed probe: %s, want open", st)
		}
		if _, err := g.Authorize(context.Background(), authReq(core.ChannelCard)); !isBreakerOpen(err) {
			t.Fatalf("after a failed probe: %v", err)
		}
		if got := f.total() - before; got != 1 {
			t.Fatalf("%d calls reached the channel, want only the probe", got)
		}
	})

	t.Run("only HalfOpenProbes calls in flight", func(t *testing.T) {
		t.Parallel()
		f := newFake()
		g := newGW(t, f, healingConfig())
		trip(t, g, f, core.ChannelCard)
		gate, entered := make(chan struct{}), make(chan struct{}, 8)
		f.set(func(f *fakeGW) { f.gate, f.entered = gate, entered })
		f.setFail(core.ChannelCard, nil)
		eventually.True(t, eventually.Patience, "half-open", func() bool { return g.State(core.ChannelCard) == gobreaker.StateHalfOpen })

		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := g.Authorize(context.Background(), authReq(core.ChannelCard))
				errs <- err
			}()
		}
		for range 2 {
			select {
			case <-entered:
			case <-time.After(10 * time.Second):
				t.Fatal("probes did not reach the channel")
			}
		}
		_, err := g.Authorize(context.Background(), authReq(core.ChannelCard))
		if !isBreakerOpen(err) || !errors.Is(err, gobreaker.ErrTooManyRequests) {
			t.Fatalf("third call while 2 probes are in flight: %v", err)
		}
		close(gate)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("probe: %v", err)
			}
		}
		if st := g.State(core.ChannelCard); st != gobreaker.StateClosed {
			t.Fatalf("after the probes: %s, want closed", st)
		}
		if got := f.count(opAuthorize); got != 4+2 {
			t.Fatalf("authorisations reaching the channel: %d, want 6", got)
		}
	})
}

func TestBusinessFailuresDoNotTrip(t *testing.T) {
	ctx := context.Background()
	t.Run("declined cards (simchannel)", func(t *testing.T) {
		sim := inprocsim.New()
		g := newGW(t, sim, testConfig())
		for i := range 20 {
			req := authReq(core.ChannelCard)
			req.Card = &core.CardData{Number: "4000000000000002", ExpMonth: 12, ExpYear: 2099}
			res, err := g.Authorize(ctx, req)
			if err != nil || res.Outcome != core.OutcomeDeclined {
				t.Fatalf("call %d: %+v, %v; want a decline", i, res, err)
			}
		}
		if st := g.State(core.ChannelCard); st != gobreaker.StateClosed {
			t.Fatalf("breaker %s after declines, want closed", st)
		}
		if c := g.Counts(core.ChannelCard); c.TotalSuccesses != 20 || c.TotalFailures != 0 {
			t.Fatalf("counts %+v: declines must be successes", c)
		}
	})
	t.Run("refused captures, voids and refunds (OK false)", func(t *testing.T) {
		sim := inprocsim.New() // nothing authorised: every op answers OK false
		g := newGW(t, sim, testConfig())
		for i := range 5 {
			id := fmt.Sprintf("nopay_%d", i)
			for _, op := range []func() (core.OpResult, error){
				func() (core.OpResult, error) {
					return g.Capture(ctx, core.CaptureRequest{Key: core.CaptureKey(id), PaymentID: id, Channel: core.ChannelCard, Amount: 5})
				},
				func() (core.OpResult, error) {
					return g.Void(ctx, core.VoidRequest{Key: core.VoidKey(id), PaymentID: id, Channel: core.ChannelCard})
				},
				func() (core.OpResult, error) {
					return g.Refund(ctx, core.RefundRequest{Key: core.RefundKey(id), PaymentID: id, Channel: core.ChannelCard, Amount: 5})
				},
			} {
				res, err := op()
				if err != nil || res.OK {
					t.Fatalf("%+v, %v; want OK false and no error", res, err)
				}
			}
		}
		if st := g.State(core.ChannelCard); st != gobreaker.StateClosed {
			t.Fatalf("breaker %s, want closed", st)
		}
	})
}

func TestBreakerThreshold(t *testing.T) {
	cases := []struct {
		name                string
		min                 uint32
		ratio               float64
		successes, failures int
		want                gobreaker.State
	}{
		{"below MinRequests", 4, 0.5, 0, 3, gobreaker.StateClosed},
		{"ratio below threshold", 10, 0.5, 6, 4, gobreaker.StateClosed},
		{"ratio reached", 10, 0.5, 5, 5, gobreaker.StateOpen},
		{"all failures", 4, 0.9, 0, 4, gobreaker.StateOpen},
		{"high threshold not reached", 4, 0.9, 2, 8, gobreaker.StateClosed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake()
			cfg := testConfig()
			cfg.Breaker.MinRequests, cfg.Breaker.FailureRatio = tc.min, tc.ratio
			g := newGW(t, f, cfg)
			ctx := context.Background()
			for range tc.successes {
				if _, err := g.Authorize(ctx, authReq(core.ChannelCard)); err != nil {
					t.Fatal(err)
				}
			}
			f.setFail(core.ChannelCard, errTransient)
			for range tc.failures {
				if _, err := g.Authorize(ctx, authReq(core.ChannelCard)); !errors.Is(err, errTransient) {
					t.Fatalf("got %v", err)
				}
			}
			if st := g.State(core.ChannelCard); st != tc.want {
				t.Fatalf("breaker %s, want %s (counts %+v)", st, tc.want, g.Counts(core.ChannelCard))
			}
		})
	}
}

func TestChannelIsolation(t *testing.T) {
	ctx := context.Background()
	t.Run("breaker", func(t *testing.T) {
		f := newFake()
		g := newGW(t, f, testConfig())
		trip(t, g, f, core.ChannelCard)
		for i := range 10 {
			if _, err := g.Authorize(ctx, authReq(core.ChannelAlipay)); err != nil {
				t.Fatalf("alipay call %d while the card breaker is open: %v", i, err)
			}
		}
		if got := f.chCalls(core.ChannelAlipay); got != 10 {
			t.Fatalf("alipay calls reaching the channel: %d, want 10", got)
		}
		if st := g.State(core.ChannelAlipay); st != gobreaker.StateClosed {
			t.Fatalf("alipay breaker %s", st)
		}
		if _, err := g.Authorize(ctx, authReq(core.ChannelCard)); !isBreakerOpen(err) {
			t.Fatalf("card: %v", err)
		}
	})
	t.Run("rate limiter", func(t *testing.T) {
		f := newFake()
		cfg := testConfig()
		cfg.Channels = map[core.Channel]ChannelConfig{core.ChannelCard: {Rate: 0.01, Burst: 1, MaxWait: -1}}
		g := newGW(t, f, cfg)
		if _, err := g.Authorize(ctx, authReq(core.ChannelCard)); err != nil {
			t.Fatal(err)
		}
		if _, err := g.Authorize(ctx, authReq(core.ChannelCard)); !errors.Is(err, ErrRateLimited) {
			t.Fatalf("second card call: %v, want ErrRateLimited", err)
		}
		for i := range 20 {
			if _, err := g.Authorize(ctx, authReq(core.ChannelAlipay)); err != nil {
				t.Fatalf("alipay call %d: %v", i, err)
			}
		}
	})
}

func TestRateLimiter(t *testing.T) {
	ctx := context.Background()
	limited := func(r rate.Limit, burst int, maxWait time.Duration) Config {
		cfg := testConfig()
		cfg.Default = ChannelConfig{Rate: r, Burst: burst, Timeout: 5 * time.Second, MaxWait: maxWait}
		return cfg
	}

	t.Run("rejects beyond quota without calling the channel", func(t *testing.T) {
		sim := inprocsim.New()
		g := newGW(t, sim, limited(0.01, 3, -1))
		for i := range 3 {
			if _, err := g.Authorize(ctx, authReq(core.ChannelCard)); err != nil {
				t.Fatalf("call %d within burst: %v", i, err)
			}
		}
		for i := range 10 { // more than MinRequests: rejections must not trip the breaker
			start := time.Now()
			_, err := g.Authorize(ctx, authReq(core.ChannelCard))
			if !errors.Is(err, ErrRateLimited) || !errors.Is(err, core.ErrNotExecuted) {
				t.Fatalf("call %d over quota: %v, want ErrRateLimited wrapping core.ErrNotExecuted", i, err)
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Fatalf("rejection took %s", d)
			}
		}
		if got := sim.Calls(); got != 3 {
			t.Fatalf("channel calls: %d, want 3", got)
		}
		if got := sim.TotalCharges(); got != 3 {
			t.Fatalf("charges: %d, want 3", got)
		}
		if st := g.State(core.ChannelCard); st != gobreaker.StateClosed {
			t.Fatalf("breaker %s after rate limiting, want closed", st)
		}
	})

	t.Run("waits up to MaxWait for quota", func(t *testing.T) {
		f := newFake()
		g := newGW(t, f, limited(20, 1, 5*time.Second)) // a slot every 50 ms
		start := time.Now()
		for i := range 3 {
			if _, err := g.Authorize(ctx, authReq(core.ChannelCard)); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		if d := time.Since(start); d < 80*time.Millisecond {
			t.Fatalf("3 calls at 20/s with burst 1 took %s: the limiter did not make them wait", d)
		}
		if got := f.total(); got != 3 {
			t.Fatalf("channel calls %d, want 3", got)
		}
	})

	t.Run("fails fast when the caller's deadline comes before the slot", func(t *testing.T) {
		f := newFake()
		g := newGW(t, f, limited(0.01, 1, time.Hour))
		if _, err := g.Authorize(ctx, authReq(core.ChannelCard)); err != nil {
			t.Fatal(err)
		}
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := g.Authorize(dctx, authReq(core.ChannelCard))
		if !errors.Is(err, ErrRateLimited) || !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, core.ErrNotExecuted) {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("took %s: should not wait for a slot past the deadline", d)
		}
		if f.total() != 1 {
			t.Fatalf("channel calls %d, want 1", f.total())
		}
	})

	t.Run("stops waiting when ctx is cancelled", func(t *testing.T) {
		f := newFake()
		g := newGW(t, f, limited(0.01, 1, time.Hour))
		if _, err := g.Authorize(ctx, authReq(core.ChannelCard)); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(50*time.Millisecond, cancel)
		start := time.Now()
		_, err := g.Authorize(cctx, authReq(core.ChannelCard))
		if !errors.Is(err, ErrRateLimited) || !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("took %s after cancel", d)
		}
		if f.total() != 1 {
			t.Fatalf("channel calls %d, want 1", f.total())
		}
	})

	t.Run("already cancelled ctx is not sent", func(t *testing.T) {
		f := newFake()
		g := newGW(t, f, testConfig())
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := g.Authorize(cctx, authReq(core.ChannelCard))
		if !errors.Is(err, core.ErrNotExecuted) || !errors.Is(err, context.Canceled) || f.total() != 0 {
			t.Fatalf("got %v with %d calls", err, f.total())
		}
	})
}

func TestTimeout(t *testing.T) {
	f := newFake()
	f.set(func(f *fakeGW) { f.hang = true })
	cfg := testConfig()
	cfg.Channels = map[core.Channel]ChannelConfig{core.ChannelCard: {Timeout: 60 * time.Millisecond}}
	g := newGW(t, f, cfg)

	start := time.Now()
	_, err := g.Authorize(context.Background(), authReq(core.ChannelCard))
	d := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want a deadline error", err)
	}
	if errors.Is(err, core.ErrNotExecuted) {
		t.Fatalf("a timeout is an unknown outcome, not ErrNotExecuted: %v", err)
	}
	if d < 50*time.Millisecond || d > 4*time.Second {
		t.Fatalf("timed out after %s, want about 60 ms (the per-channel timeout, not the 5 s default)", d)
	}
	if c := g.Counts(core.ChannelCard); c.TotalFailures != 1 {
		t.Fatalf("counts %+v: a timeout is a breaker failure", c)
	}

	t.Run("caller cancellation is not a failure", func(t *testing.T) {
		cctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(30*time.Millisecond, cancel)
		_, err := g.Authorize(cctx, authReq(core.ChannelAlipay))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v", err)
		}
		if c := g.Counts(core.ChannelAlipay); c.TotalFailures != 0 || c.TotalExclusions != 1 {
			t.Fatalf("counts %+v: want the call excluded", c)
		}
	})
}

// TestEveryCallHasATimeout: the Gateway is the one owner of the per-call timeout, so every
// kind of call must end under it. The fake hangs until its context ends and the caller's
// context has no deadline: a call that returns at all was ended by the Gateway's timeout.
func TestEveryCallHasATimeout(t *testing.T) {
	f := newFake()
	f.set(func(f *fakeGW) { f.hang = true })
	cfg := testConfig()
	cfg.QueryAttempts = 1
	cfg.Breaker.MinRequests = 100 // six timeouts in a row must not open the breaker
	cfg.Channels = map[core.Channel]ChannelConfig{core.ChannelWeChatPay: {Timeout: 20 * time.Millisecond, StatementTimeout: 30 * time.Millisecond}}
	g := newGW(t, f, cfg)
	ctx := context.Background()
	ch := core.ChannelWeChatPay
	for _, tc := range []struct {
		op   string
		call func() error
	}{
		{opAuthorize, func() error { _, err := g.Authorize(ctx, authReq(ch)); return err }},
		{opCapture, func() error { _, err := g.Capture(ctx, core.CaptureRequest{Key: "p:capture", Channel: ch}); return err }},
		{opVoid, func() error { _, err := g.Void(ctx, core.VoidRequest{Key: "p:void", Channel: ch}); return err }},
		{opRefund, func() error { _, err := g.Refund(ctx, core.RefundRequest{Key: "r:refund", Channel: ch}); return err }},
		{opQuery, func() error {
			_, err := g.QueryPayment(ctx, core.PaymentQuery{Key: "p:authorize", Channel: ch})
			return err
		}},
		{opStatement, func() error { _, err := g.Statement(ctx, ch, time.Now()); return err }},
	} {
		t.Run(tc.op, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, core.ErrNotExecuted) {
				t.Fatalf("got %v, want a deadline error (an unknown outcome, not ErrNotExecuted)", err)
			}
			if f.count(tc.op) != 1 {
				t.Fatalf("%d calls reached the channel, want 1", f.count(tc.op))
			}
		})
	}
	t.Run("statement timeout is its own", func(t *testing.T) {
		_, err := g.Statement(ctx, ch, time.Now())
		if err == nil || !strings.Contains(err.Error(), "statement timed out after 30ms") {
			t.Fatalf("got %v, want the statement timeout named", err)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		c := Config{Region: region}.withDefaults().channel(ch)
		if c.Timeout != DefaultChannelTimeout || c.StatementTimeout != DefaultStatementTimeout {
			t.Fatalf("defaults %+v", c)
		}
	})
}

func TestRetries(t *testing.T) {
	ctx := context.Background()
	q := core.PaymentQuery{Key: core.AuthorizeKey("p1"), PaymentID: "p1", Channel: core.ChannelCard}

	queryCases := []struct {
		name      string
		attempts  int
		failures  int
		wantCalls int
		wantErr   bool
	}{
		{"transient errors then success", 3, 2, 3, false},
		{"gives up after the cap", 3, 10, 3, true},
		{"one attempt means no retry", 1, 10, 1, true},
		{"no error no retry", 5, 0, 1, false},
	}
	for _, tc := range queryCases {
		t.Run("query/"+tc.name, func(t *testing.T) {
			f := newFake()
			for range tc.failures {
				f.queryErr = append(f.queryErr, errTransient)
			}
			cfg := testConfig()
			cfg.QueryAttempts = tc.attempts
			cfg.Breaker.MinRequests = 100 // keep the breaker out of it
			g := newGW(t, f, cfg)
			st, err := g.QueryPayment(ctx, q)
			if got := f.count(opQuery); got != tc.wantCalls {
				t.Fatalf("query calls %d, want %d", got, tc.wantCalls)
			}
			if tc.wantErr {
				if !errors.Is(err, errTransient) {
					t.Fatalf("got %v, want the last transient error", err)
				}
			} else if err != nil || !st.Found {
				t.Fatalf("got %+v, %v", st, err)
			}
		})
	}

	t.Run("query/stops when the breaker opens", func(t *testing.T) {
		f := newFake()
		for range 10 {
			f.queryErr = append(f.queryErr, errTransient)
		}
		cfg := testConfig()
		cfg.QueryAttempts = 6
		cfg.Breaker.MinRequests = 2
		g := newGW(t, f, cfg)
		_, err := g.QueryPayment(ctx, q)
		if !isBreakerOpen(err) {
			t.Fatalf("got %v, want ErrBreakerOpen", err)
		}
		if got := f.count(opQuery); got != 2 {
			t.Fatalf("query calls %d, want 2 (no retries into an open breaker)", got)
		}
	})

	t.Run("query/stops when ctx ends", func(t *testing.T) {
		f := newFake()
		for range 10 {
			f.queryErr = append(f.queryErr, errTransient)
		}
		cfg := testConfig()
		cfg.QueryAttempts = 10
		cfg.RetryBaseDelay, cfg.RetryMaxDelay = time.Second, time.Second
		cfg.Breaker.MinRequests = 100
		g := newGW(t, f, cfg)
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := g.QueryPayment(cctx, q)
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, errTransient) {
			t.Fatalf("got %v", err)
		}
		if got := f.count(opQuery); got != 1 {
			t.Fatalf("query calls %d, want 1", got)
		}
	})

	moneyCases := []struct {
		op   string
		call func(g *Gateway) error
	}{
		{opAuthorize, func(g *Gateway) error { _, err := g.Authorize(ctx, authReq(core.ChannelCard)); return err }},
		{opCapture, func(g *Gateway) error {
			_, err := g.Capture(ctx, core.CaptureRequest{Key: "p:capture", Channel: core.ChannelCard})
			return err
		}},
		{opVoid, func(g *Gateway) error {
			_, err := g.Void(ctx, core.VoidRequest{Key: "p:void", Channel: core.ChannelCard})
			return err
		}},
		{opRefund, func(g *Gateway) error {
			_, err := g.Refund(ctx, core.RefundRequest{Key: "r:refund", Channel: core.ChannelCard})
			return err
		}},
	}
	for _, tc := range moneyCases {
		for _, fail := range []error{errTransient, fmt.Errorf("refused: %w", core.ErrNotExecuted)} {
			t.Run(fmt.Sprintf("%s/called once on %v", tc.op, fail), func(t *testing.T) {
				f := newFake()
				f.setFail(core.ChannelCard, fail)
				cfg := testConfig()
				cfg.QueryAttempts = 5
				g := newGW(t, f, cfg)
				if err := tc.call(g); !errors.Is(err, fail) {
					t.Fatalf("got %v", err)
				}
				if got := f.count(tc.op); got != 1 {
					t.Fatalf("%s reached the channel %d times, want exactly 1", tc.op, got)
				}
			})
		}
	}
}

func TestBackoff(t *testing.T) {
	g := newGW(t, newFake(), Config{Region: region, RetryBaseDelay: 100 * time.Millisecond,
		RetryMaxDelay: time.Second, MeterProvider: newRecProvider()})
	for attempt, want := range []time.Duration{100, 200, 400, 800, 1000, 1000, 1000} {
		want *= time.Millisecond
		for range 50 {
			if d := g.backoff(attempt); d < want/2 || d > want {
				t.Fatalf("backoff(%d) = %s, want in [%s, %s]", attempt, d, want/2, want)
			}
		}
	}
}

func TestQueryUnsupported(t *testing.T) {
	f := newFake()
	g := newGW(t, gatewayOnly{f}, testConfig())
	if g.CanQuery() {
		t.Fatal("CanQuery with an inner gateway that cannot query")
	}
	_, err := g.QueryPayment(context.Background(), core.PaymentQuery{Channel: core.ChannelCard})
	if !errors.Is(err, ErrQueryUnsupported) || !errors.Is(err, core.ErrNotExecuted) || !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("got %v", err)
	}
	if !newGW(t, f, testConfig()).CanQuery() {
		t.Fatal("CanQuery false with a Querier inside")
	}
}

func TestOnStateChange(t *testing.T) {
	t.Parallel()
	type change struct {
		region   string
		ch       core.Channel
		from, to gobreaker.State
	}
	var (
		mu  sync.Mutex
		got []change
	)
	f := newFake()
	cfg := healingConfig()
	cfg.OnStateChange = func(r string, ch core.Channel, from, to gobreaker.State) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, change{r, ch, from, to})
	}
	g := newGW(t, f, cfg)
	trip(t, g, f, core.ChannelWeChatPay)
	f.setFail(core.ChannelWeChatPay, nil)
	eventually.True(t, eventually.Patience, "half-open", func() bool { return g.State(core.ChannelWeChatPay) == gobreaker.StateHalfOpen })
	for range 2 {
		if _, err := g.Authorize(context.Background(), authReq(core.ChannelWeChatPay)); err != nil {
			t.Fatal(err)
		}
	}
	want := []change{
		{region, core.ChannelWeChatPay, gobreaker.StateClosed, gobreaker.StateOpen},
		{region, core.ChannelWeChatPay, gobreaker.StateOpen, gobreaker.StateHalfOpen},
		{region, core.ChannelWeChatPay, gobreaker.StateHalfOpen, gobreaker.StateClosed},
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("transitions %v, want %v", got, want)
	}
}

func TestMetrics(t *testing.T) {
	rp := newRecProvider()
	f := newFake()
	cfg := testConfig()
	cfg.MeterProvider = rp
	cfg.Name = "acq1"
	cfg.Channels = map[core.Channel]ChannelConfig{core.ChannelAlipay: {Rate: 0.01, Burst: 1, MaxWait: -1}}
	g := newGW(t, f, cfg)
	ctx := context.Background()

	trip(t, g, f, core.ChannelCard) // 4 errors
	if _, err := g.Authorize(ctx, authReq(core.ChannelCard)); !isBreakerOpen(err) {
		t.Fatal(err)
	}
	if _, err := g.Authorize(ctx, authReq(core.ChannelAlipay)); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Authorize(ctx, authReq(core.ChannelAlipay)); !errors.Is(err, ErrRateLimited) {
		t.Fatal(err)
	}

	calls := func(ch core.Channel, outcome string) int64 {
		return rp.m.counter(MetricCalls, attribute.String("region", region), attribute.String("gateway", "acq1"),
			attribute.String("channel", string(ch)), attribute.String("op", opAuthorize), attribute.String("outcome", outcome))
	}
	for _, c := range []struct {
		ch      core.Channel
		outcome string
		want    int64
	}{
		{core.ChannelCard, OutcomeError, 4},
		{core.ChannelCard, OutcomeBreakerOpen, 1},
		{core.ChannelCard, OutcomeOK, 0},
		{core.ChannelAlipay, OutcomeOK, 1},
		{core.ChannelAlipay, OutcomeRateLimited, 1},
	} {
		if got := calls(c.ch, c.outcome); got != c.want {
			t.Errorf("calls{%s, %s} = %d, want %d", c.ch, c.outcome, got, c.want)
		}
	}
	latency := func(ch core.Channel) int {
		return rp.m.histCount(MetricLatency, attribute.String("region", region), attribute.String("gateway", "acq1"),
			attribute.String("channel", string(ch)), attribute.String("op", opAuthorize))
	}
	if got := latency(core.ChannelCard); got != 4 {
		t.Errorf("card latency samples %d, want 4 (only calls that reached the channel)", got)
	}
	if got := latency(core.ChannelAlipay); got != 1 {
		t.Errorf("alipay latency samples %d, want 1", got)
	}

	obs := rp.m.collect(t)
	state := func(ch core.Channel) (int64, bool) {
		set := attribute.NewSet(attribute.String("region", region),
			attribute.String("gateway", "acq1"), attribute.String("channel", string(ch)))
		v, ok := obs.got[MetricBreakerState][set.Equivalent()]
		return v, ok
	}
	if v, ok := state(core.ChannelCard); !ok || v != 2 {
		t.Errorf("card breaker gauge %d (%v), want 2 (open)", v, ok)
	}
	if v, ok := state(core.ChannelAlipay); !ok || v != 0 {
		t.Errorf("alipay breaker gauge %d (%v), want 0 (closed)", v, ok)
	}
	if err := g.Close(); err != nil || rp.m.unregs != 1 {
		t.Errorf("Close: %v, %d unregistrations", err, rp.m.unregs)
	}
}

func TestConfig(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		g := newGW(t, newFake(), Config{Region: region, MeterProvider: newRecProvider(),
			Channels: map[core.Channel]ChannelConfig{core.ChannelCard: {Rate: 5}}})
		c := g.cfg
		if c.Name != DefaultGatewayName || c.Breaker.Window != DefaultBreakerWindow || c.Breaker.Buckets != DefaultBreakerBuckets ||
			c.Breaker.MinRequests != DefaultBreakerMinRequests || c.Breaker.FailureRatio != DefaultBreakerFailureRatio ||
			c.Breaker.CoolDown != DefaultBreakerCoolDown || c.Breaker.HalfOpenProbes != DefaultBreakerHalfOpenProbes ||
			c.QueryAttempts != DefaultQueryAttempts || c.RetryBaseDelay != DefaultRetryBaseDelay || c.RetryMaxDelay != DefaultRetryMaxDelay {
			t.Fatalf("defaults not applied: %+v", c)
		}
		want := ChannelConfig{Rate: DefaultChannelRate, Burst: DefaultChannelBurst, Timeout: DefaultChannelTimeout,
			MaxWait: DefaultChannelMaxWait, StatementTimeout: DefaultStatementTimeout}
		if c.channel(core.ChannelAlipay) != want {
			t.Fatalf("default channel config %+v, want %+v", c.channel(core.ChannelAlipay), want)
		}
		want.Rate = 5
		if c.channel(core.ChannelCard) != want {
			t.Fatalf("card config %+v, want the override inheriting the rest: %+v", c.channel(core.ChannelCard), want)
		}
	})
	bad := []struct {
		name string
		cfg  Config
	}{
		{"no region", Config{}},
		{"negative window", Config{Region: region, Breaker: BreakerConfig{Window: -1}}},
		{"too many buckets", Config{Region: region, Breaker: BreakerConfig{Window: 5, Buckets: 10}}},
		{"ratio above 1", Config{Region: region, Breaker: BreakerConfig{FailureRatio: 1.5}}},
		{"negative cool-down", Config{Region: region, Breaker: BreakerConfig{CoolDown: -time.Second}}},
		{"negative rate", Config{Region: region, Default: ChannelConfig{Rate: -1}}},
		{"negative burst", Config{Region: region, Channels: map[core.Channel]ChannelConfig{core.ChannelCard: {Burst: -1}}}},
		{"negative timeout", Config{Region: region, Default: ChannelConfig{Timeout: -1}}},
		{"negative statement timeout", Config{Region: region, Channels: map[core.Channel]ChannelConfig{core.ChannelAlipay: {StatementTimeout: -1}}}},
		{"negative attempts", Config{Region: region, QueryAttempts: -1}},
		{"max delay below base", Config{Region: region, RetryBaseDelay: time.Second, RetryMaxDelay: time.Millisecond}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.MeterProvider = newRecProvider()
			if _, err := NewGateway(newFake(), tc.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := NewGateway(nil, Config{Region: region}); err == nil {
		t.Fatal("accepted a nil inner gateway")
	}
}

func TestRateLimiterRejectionsTakeNoQuota(t *testing.T) {
	f := newFake()
	cfg := testConfig()
	cfg.Default = ChannelConfig{Rate: 20, Burst: 1, Timeout: 5 * time.Second, MaxWait: -1} // a slot every 50 ms
	g := newGW(t, f, cfg)
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				_, _ = g.Authorize(ctx, authReq(core.ChannelCard))
			}
		}()
	}
	wg.Wait()
	// Calls only take a token when one is there, so the bucket never goes below empty.
	if tok := g.channel(core.ChannelCard).limiter.Tokens(); tok < -0.5 {
		t.Fatalf("%.1f tokens after the rejections: rejected calls ate the quota", tok)
	}
	// From at worst half a token in debt, a whole one is back within 75 ms at 20/s; had the
	// rejections eaten the quota, the bucket would be thousands of tokens short.
	eventually.True(t, eventually.Patience, "a whole token back in the bucket", func() bool {
		return g.channel(core.ChannelCard).limiter.Tokens() >= 1
	})
	if _, err := g.Authorize(ctx, authReq(core.ChannelCard)); err != nil {
		t.Fatalf("with a token in the bucket: %v (rejected calls ate the quota)", err)
	}
}
