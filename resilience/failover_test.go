package resilience

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/core"
)

var errRefused = fmt.Errorf("fake: connection refused: %w", core.ErrNotExecuted)

func newFailover(t *testing.T, cfg FailoverConfig, gws ...core.Gateway) *Failover {
	t.Helper()
	for i, g := range gws {
		cfg.Acquirers = append(cfg.Acquirers, Acquirer{Name: fmt.Sprintf("acq%d", i+1), Gateway: g})
	}
	f, err := NewFailover(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFailoverAuthorize(t *testing.T) {
	cases := []struct {
		name          string
		primary       func(f *fakeGW)
		secondary     func(f *fakeGW)
		ctxTimeout    time.Duration
		wantErr       func(error) bool
		wantRefPrefix string
		wantOutcome   core.AuthorizeOutcome
		wantCalls     [2]int
	}{
		{name: "primary healthy", wantRefPrefix: "acq1:", wantOutcome: core.OutcomeAuthorized, wantCalls: [2]int{1, 0}},
		{name: "primary declines: an answer, no failover",
			primary:       func(f *fakeGW) { f.declined = true },
			wantRefPrefix: "acq1:", wantOutcome: core.OutcomeDeclined, wantCalls: [2]int{1, 0}},
		{name: "primary not executed: secondary",
			primary:       func(f *fakeGW) { f.fail[core.ChannelCard] = errRefused },
			wantRefPrefix: "acq2:", wantOutcome: core.OutcomeAuthorized, wantCalls: [2]int{1, 1}},
		{name: "primary unknown outcome: returned, never failed over",
			primary:   func(f *fakeGW) { f.fail[core.ChannelCard] = errTransient },
			wantErr:   func(err error) bool { return errors.Is(err, errTransient) && !errors.Is(err, core.ErrNotExecuted) },
			wantCalls: [2]int{1, 0}},
		{name: "primary times out: unknown, never failed over",
			primary:    func(f *fakeGW) { f.hang = true },
			ctxTimeout: 50 * time.Millisecond,
			wantErr: func(err error) bool {
				return errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, core.ErrNotExecuted)
			},
			wantCalls: [2]int{1, 0}},
		{name: "both not executed",
			primary:   func(f *fakeGW) { f.fail[core.ChannelCard] = errRefused },
			secondary: func(f *fakeGW) { f.fail[core.ChannelCard] = errRefused },
			wantErr:   func(err error) bool { return errors.Is(err, core.ErrNotExecuted) },
			wantCalls: [2]int{1, 1}},
		{name: "secondary unknown outcome is returned",
			primary:   func(f *fakeGW) { f.fail[core.ChannelCard] = errRefused },
			secondary: func(f *fakeGW) { f.fail[core.ChannelCard] = errTransient },
			wantErr:   func(err error) bool { return errors.Is(err, errTransient) && !errors.Is(err, core.ErrNotExecuted) },
			wantCalls: [2]int{1, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, s := newFake(), newFake()
			if tc.primary != nil {
				p.set(tc.primary)
			}
			if tc.secondary != nil {
				s.set(tc.secondary)
			}
			fo := newFailover(t, FailoverConfig{}, p, s)
			ctx := context.Background()
			if tc.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
				defer cancel()
			}
			req := authReq(core.ChannelCard)
			res, err := fo.Authorize(ctx, req)
			if tc.wantErr != nil {
				if err == nil || !tc.wantErr(err) {
					t.Fatalf("got %+v, %v", res, err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if res.Outcome != tc.wantOutcome || res.Reference != tc.wantRefPrefix+"ref-"+req.Key {
					t.Fatalf("got %+v, want outcome %s and reference %sref-%s", res, tc.wantOutcome, tc.wantRefPrefix, req.Key)
				}
			}
			if got := [2]int{p.count(opAuthorize), s.count(opAuthorize)}; got != tc.wantCalls {
				t.Fatalf("authorisations at (primary, secondary) = %v, want %v", got, tc.wantCalls)
			}
		})
	}

	t.Run("primary breaker open: secondary", func(t *testing.T) {
		p, s := newFake(), newFake()
		pg := newGW(t, p, testConfig())
		trip(t, pg, p, core.ChannelCard)
		fo := newFailover(t, FailoverConfig{}, pg, s)
		before := p.total()
		res, err := fo.Authorize(context.Background(), authReq(core.ChannelCard))
		if err != nil || !strings.HasPrefix(res.Reference, "acq2:") {
			t.Fatalf("got %+v, %v", res, err)
		}
		if p.total() != before {
			t.Fatal("the open breaker let a call through")
		}
	})
}

func TestFailoverRouting(t *testing.T) {
	ctx := context.Background()
	// Authorise through acq2 (acq1 refuses), then heal acq1: later calls must still go to acq2.
	setup := func(t *testing.T) (p, s *fakeGW, fo *Failover, ref string) {
		p, s = newFake(), newFake()
		p.setFail(core.ChannelCard, errRefused)
		fo = newFailover(t, FailoverConfig{}, p, s)
		res, err := fo.Authorize(ctx, authReq(core.ChannelCard))
		if err != nil || !strings.HasPrefix(res.Reference, "acq2:") {
			t.Fatalf("authorize: %+v, %v", res, err)
		}
		p.setFail(core.ChannelCard, nil)
		return p, s, fo, res.Reference
	}
	ops := []struct {
		op   string
		call func(fo *Failover, ref string) (string, error)
	}{
		{opCapture, func(fo *Failover, ref string) (string, error) {
			r, err := fo.Capture(ctx, core.CaptureRequest{Key: "p:capture", Channel: core.ChannelCard, Reference: ref, Amount: 1})
			return r.Reference, err
		}},
		{opVoid, func(fo *Failover, ref string) (string, error) {
			r, err := fo.Void(ctx, core.VoidRequest{Key: "p:void", Channel: core.ChannelCard, Reference: ref})
			return r.Reference, err
		}},
		{opRefund, func(fo *Failover, ref string) (string, error) {
			r, err := fo.Refund(ctx, core.RefundRequest{Key: "r:refund", Channel: core.ChannelCard, Reference: ref, Amount: 1})
			return r.Reference, err
		}},
		{opQuery, func(fo *Failover, ref string) (string, error) {
			st, err := fo.QueryPayment(ctx, core.PaymentQuery{Key: "p:authorize", Channel: core.ChannelCard, Reference: ref})
			return st.Reference, err
		}},
	}
	for _, tc := range ops {
		t.Run(tc.op+"/goes to the authorising acquirer", func(t *testing.T) {
			p, s, fo, ref := setup(t)
			got, err := tc.call(fo, ref)
			if err != nil {
				t.Fatal(err)
			}
			if p.count(tc.op) != 0 || s.count(tc.op) != 1 {
				t.Fatalf("%s at (acq1, acq2) = (%d, %d), want (0, 1)", tc.op, p.count(tc.op), s.count(tc.op))
			}
			bare := strings.TrimPrefix(ref, "acq2:")
			if s.ref(tc.op) != bare {
				t.Fatalf("acq2 got reference %q, want the bare %q", s.ref(tc.op), bare)
			}
			if !strings.HasPrefix(got, "acq2:") {
				t.Fatalf("returned reference %q does not name acq2", got)
			}
		})
		t.Run(tc.op+"/not failed over", func(t *testing.T) {
			p, s, fo, ref := setup(t)
			s.setFail(core.ChannelCard, errRefused)
			if _, err := tc.call(fo, ref); !errors.Is(err, errRefused) {
				t.Fatalf("got %v", err)
			}
			if p.count(tc.op) != 0 {
				t.Fatalf("%s went to acq1, which does not hold the payment", tc.op)
			}
		})
		for _, bad := range []string{"acq9:ref-x", "ref-x", ""} {
			if bad == "" && tc.op == opQuery {
				continue // a query without reference asks everyone (TestFailoverQueryWithoutReference)
			}
			t.Run(fmt.Sprintf("%s/unknown reference %q", tc.op, bad), func(t *testing.T) {
				p, s, fo, _ := setup(t)
				_, err := tc.call(fo, bad)
				if !errors.Is(err, ErrUnknownAcquirer) || !errors.Is(err, core.ErrNotExecuted) {
					t.Fatalf("got %v", err)
				}
				if p.count(tc.op)+s.count(tc.op) != 0 {
					t.Fatal("an acquirer was called")
				}
			})
		}
	}
}

func TestFailoverQueryWithoutReference(t *testing.T) {
	q := core.PaymentQuery{Key: "p:authorize", PaymentID: "p", Channel: core.ChannelCard}
	found, notFound := func(*fakeGW) {}, func(f *fakeGW) { f.notFound = true }
	failing := func(f *fakeGW) { f.fail[core.ChannelCard] = errTransient }
	cases := []struct {
		name       string
		p, s       func(*fakeGW)
		wantFound  bool
		wantPrefix string
		wantErr    bool
		wantCalls  [2]int
	}{
		{"found at primary", found, found, true, "acq1:", false, [2]int{1, 0}},
		{"found at secondary", notFound, found, true, "acq2:", false, [2]int{1, 1}},
		{"nowhere", notFound, notFound, false, "", false, [2]int{1, 1}},
		{"primary fails, secondary has it", failing, found, true, "acq2:", false, [2]int{1, 1}},
		{"primary fails, secondary does not have it: unknown", failing, notFound, false, "", true, [2]int{1, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, s := newFake(), newFake()
			p.set(tc.p)
			s.set(tc.s)
			fo := newFailover(t, FailoverConfig{}, p, s)
			st, err := fo.QueryPayment(context.Background(), q)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %+v: \"not found\" while an acquirer did not answer", st)
				}
			} else if err != nil || st.Found != tc.wantFound || !strings.HasPrefix(st.Reference, tc.wantPrefix) {
				t.Fatalf("got %+v, %v", st, err)
			}
			if got := [2]int{p.count(opQuery), s.count(opQuery)}; got != tc.wantCalls {
				t.Fatalf("queries (acq1, acq2) = %v, want %v", got, tc.wantCalls)
			}
		})
	}
	t.Run("an acquirer that cannot query is not proof of absence", func(t *testing.T) {
		p, s := newFake(), newFake()
		s.notFound = true
		fo := newFailover(t, FailoverConfig{}, gatewayOnly{p}, s)
		if _, err := fo.QueryPayment(context.Background(), q); !errors.Is(err, ErrQueryUnsupported) {
			t.Fatalf("got %v", err)
		}
	})
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestFailoverRedrive(t *testing.T) {
	ctx := context.Background()
	type env struct {
		p, s  *fakeGW
		fo    *Failover
		clock *fakeClock
	}
	mk := func(t *testing.T, keys int) env {
		e := env{p: newFake(), s: newFake(), clock: newClock()}
		e.fo = newFailover(t, FailoverConfig{InDoubtKeys: keys, InDoubtTTL: time.Hour, Now: e.clock.Now}, e.p, e.s)
		return e
	}
	// reach sends req to acq1 with the given error (nil: answered), then makes acq1 refuse.
	reach := func(t *testing.T, e env, req core.AuthorizeRequest, first error) {
		t.Helper()
		e.p.setFail(core.ChannelCard, first)
		_, err := e.fo.Authorize(ctx, req)
		if !errors.Is(err, first) {
			t.Fatalf("first attempt: %v", err)
		}
		e.p.setFail(core.ChannelCard, errRefused)
	}
	pinned := func(t *testing.T, e env, req core.AuthorizeRequest) {
		t.Helper()
		before := e.s.count(opAuthorize)
		_, err := e.fo.Authorize(ctx, req)
		if !errors.Is(err, core.ErrNotExecuted) {
			t.Fatalf("re-drive: %v, want acq1's refusal", err)
		}
		if e.s.count(opAuthorize) != before {
			t.Fatal("the re-drive failed over to acq2: the payer could be charged twice")
		}
	}
	failsOver := func(t *testing.T, e env, req core.AuthorizeRequest) {
		t.Helper()
		res, err := e.fo.Authorize(ctx, req)
		if err != nil || !strings.HasPrefix(res.Reference, "acq2:") {
			t.Fatalf("got %+v, %v; want acq2", res, err)
		}
	}

	t.Run("after an unknown outcome", func(t *testing.T) {
		e := mk(t, 0)
		req := authReq(core.ChannelCard)
		reach(t, e, req, errTransient)
		pinned(t, e, req)
		failsOver(t, e, authReq(core.ChannelCard)) // other keys still fail over
		e.p.setFail(core.ChannelCard, nil)
		if res, err := e.fo.Authorize(ctx, req); err != nil || !strings.HasPrefix(res.Reference, "acq1:") {
			t.Fatalf("healed: %+v, %v", res, err)
		}
	})
	t.Run("after an answer the platform may have lost", func(t *testing.T) {
		e := mk(t, 0)
		req := authReq(core.ChannelCard)
		reach(t, e, req, nil)
		pinned(t, e, req)
	})
	t.Run("released when no acquirer has the payment", func(t *testing.T) {
		e := mk(t, 0)
		req := authReq(core.ChannelCard)
		reach(t, e, req, errTransient)
		e.p.set(func(f *fakeGW) { f.notFound = true })
		e.s.set(func(f *fakeGW) { f.notFound = true })
		e.p.setFail(core.ChannelCard, nil) // acq1 answers the query, then refuses again

		st, err := e.fo.QueryPayment(ctx, core.PaymentQuery{Key: req.Key, PaymentID: req.PaymentID, Channel: core.ChannelCard})
		if err != nil || st.Found {
			t.Fatalf("query: %+v, %v", st, err)
		}
		e.p.setFail(core.ChannelCard, errRefused)
		failsOver(t, e, req)
	})
	t.Run("forgotten after the TTL", func(t *testing.T) {
		e := mk(t, 0)
		req := authReq(core.ChannelCard)
		reach(t, e, req, errTransient)
		e.clock.Advance(30 * time.Minute)
		pinned(t, e, req)
		e.clock.Advance(2 * time.Hour)
		failsOver(t, e, req)
	})
	t.Run("bounded memory drops the oldest", func(t *testing.T) {
		e := mk(t, 2)
		reqs := []core.AuthorizeRequest{authReq(core.ChannelCard), authReq(core.ChannelCard), authReq(core.ChannelCard)}
		for _, r := range reqs {
			reach(t, e, r, errTransient)
		}
		e.fo.mu.Lock()
		n := len(e.fo.inDoubt)
		e.fo.mu.Unlock()
		if n != 2 {
			t.Fatalf("remembers %d keys, want 2", n)
		}
		pinned(t, e, reqs[2])
		pinned(t, e, reqs[1])
		failsOver(t, e, reqs[0])
	})
}

// TestFailoverSimchannels runs payments through two simulated acquirers, each behind its own
// resilience.Gateway, while the primary is down.
func TestFailoverSimchannels(t *testing.T) {
	ctx := context.Background()
	sim1, sim2 := inprocsim.New(), inprocsim.New()
	sim1.SetFaults(inprocsim.Faults{Unavailable: 1000})
	cfg1, cfg2 := testConfig(), testConfig()
	cfg1.Name, cfg2.Name = "acq1", "acq2"
	cfg1.Breaker.CoolDown = time.Minute
	g1, g2 := newGW(t, sim1, cfg1), newGW(t, sim2, cfg2)
	fo := newFailover(t, FailoverConfig{}, g1, g2)

	for i := range 6 {
		req := authReq(core.ChannelCard)
		res, err := fo.Authorize(ctx, req)
		if err != nil || res.Outcome != core.OutcomeAuthorized || !strings.HasPrefix(res.Reference, "acq2:") {
			t.Fatalf("payment %d: %+v, %v", i, res, err)
		}
		capt, err := fo.Capture(ctx, core.CaptureRequest{Key: core.CaptureKey(req.PaymentID), PaymentID: req.PaymentID,
			Channel: core.ChannelCard, Reference: res.Reference, Amount: req.Amount, Currency: req.Currency})
		if err != nil || !capt.OK {
			t.Fatalf("capture %d: %+v, %v", i, capt, err)
		}
		rf, err := fo.Refund(ctx, core.RefundRequest{Key: core.RefundKey("re_" + req.PaymentID), PaymentID: req.PaymentID,
			RefundID: "re_" + req.PaymentID, Channel: core.ChannelCard, Reference: res.Reference, Amount: 300, Currency: req.Currency})
		if err != nil || !rf.OK {
			t.Fatalf("refund %d: %+v, %v", i, rf, err)
		}
		st, err := fo.QueryPayment(ctx, core.PaymentQuery{Key: req.Key, PaymentID: req.PaymentID, Channel: core.ChannelCard, Reference: res.Reference})
		if err != nil || !st.Found || st.AmountCaptured != req.Amount || st.AmountRefunded != 300 || st.Reference != res.Reference {
			t.Fatalf("query %d: %+v, %v", i, st, err)
		}
		if sim2.Charges(req.PaymentID) != 1 || sim1.Charges(req.PaymentID) != 0 || sim2.Refunded(req.PaymentID) != 300 {
			t.Fatalf("payment %d: charges acq1 %d acq2 %d, refunded %d", i,
				sim1.Charges(req.PaymentID), sim2.Charges(req.PaymentID), sim2.Refunded(req.PaymentID))
		}
	}
	if sim1.TotalCharges() != 0 {
		t.Fatalf("acq1 charged %d times while down", sim1.TotalCharges())
	}
	// acq1's breaker opened after MinRequests refusals; the rest never reached it.
	if got := sim1.Calls(); got != 4 {
		t.Fatalf("calls reaching acq1: %d, want 4", got)
	}
}

func TestNewFailoverValidation(t *testing.T) {
	g := newFake()
	for _, tc := range []struct {
		name string
		acqs []Acquirer
	}{
		{"none", nil},
		{"empty name", []Acquirer{{Name: "", Gateway: g}}},
		{"separator in name", []Acquirer{{Name: "a:b", Gateway: g}}},
		{"nil gateway", []Acquirer{{Name: "a"}}},
		{"duplicate", []Acquirer{{Name: "a", Gateway: g}, {Name: "a", Gateway: g}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewFailover(FailoverConfig{Acquirers: tc.acqs}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
