package resilience

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/time/rate"

	"github.com/paycenter/paycenter/core"
)

var (
	// ErrBreakerOpen marks calls refused because the channel's circuit breaker is open (or
	// half-open with all its probes in flight). It wraps core.ErrNotExecuted: the channel
	// was not called.
	ErrBreakerOpen = fmt.Errorf("resilience: circuit breaker open: %w", core.ErrNotExecuted)

	// ErrRateLimited marks calls refused because the channel's quota was spent and did not
	// come back within the allowed wait (or the caller's context ended while waiting). It
	// wraps core.ErrNotExecuted: the channel was not called.
	ErrRateLimited = fmt.Errorf("resilience: channel rate limit exceeded: %w", core.ErrNotExecuted)

	// ErrQueryUnsupported is returned by QueryPayment when the wrapped gateway does not
	// implement core.Querier. It wraps core.ErrNotExecuted and errors.ErrUnsupported.
	ErrQueryUnsupported = fmt.Errorf("resilience: gateway cannot query payments: %w: %w",
		errors.ErrUnsupported, core.ErrNotExecuted)
)

// Call outcomes, the "outcome" attribute of the calls counter.
const (
	OutcomeOK          = "ok"           // the channel answered (a decline is an answer)
	OutcomeError       = "error"        // the channel call failed: the outcome may be unknown
	OutcomeBreakerOpen = "breaker_open" // refused by the breaker, not executed
	OutcomeRateLimited = "rate_limited" // refused by the rate limiter, not executed
)

// Operation names, the "op" metric attribute.
const (
	opAuthorize = "authorize"
	opCapture   = "capture"
	opVoid      = "void"
	opRefund    = "refund"
	opQuery     = "query_payment"
	opPayout    = "payout"
	opPayoutQ   = "query_payout"
)

// Gateway decorates a core.Gateway of one region with a circuit breaker, a rate limiter and
// a timeout per channel, QueryPayment retries and metrics. It is safe for concurrent use.
// It owns the per-call timeout: every call, Statement included, runs under the channel's
// timeout (see ChannelConfig), and the adapters it wraps add none of their own.
//
// Gateway always has a QueryPayment method; when the wrapped gateway is not a core.Querier
// it returns ErrQueryUnsupported (see CanQuery).
type Gateway struct {
	inner   core.Gateway
	querier core.Querier // nil when inner cannot query
	cfg     Config
	metrics *metrics

	mu       sync.Mutex
	channels map[core.Channel]*channelState
}

// channelState is the breaker and the limiter of one channel.
type channelState struct {
	ch      core.Channel
	cfg     ChannelConfig
	breaker *gobreaker.CircuitBreaker[struct{}]
	// limMu makes "reserve, then cancel if the wait is too long" atomic: a reservation
	// gives its tokens back in full only if no later reservation was made in between, so
	// without it concurrent rejected calls would eat the channel's quota.
	limMu   sync.Mutex
	limiter *rate.Limiter
}

var (
	_ core.Gateway = (*Gateway)(nil)
	_ core.Querier = (*Gateway)(nil)
)

// NewGateway wraps inner for cfg.Region. Call Close when the Gateway is dropped to
// unregister its breaker-state gauge callback.
func NewGateway(inner core.Gateway, cfg Config) (*Gateway, error) {
	if inner == nil {
		return nil, errors.New("resilience: nil inner gateway")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g := &Gateway{inner: inner, cfg: cfg, channels: map[core.Channel]*channelState{}}
	g.querier, _ = inner.(core.Querier)
	m, err := newMetrics(cfg.MeterProvider, g)
	if err != nil {
		return nil, err
	}
	g.metrics = m
	return g, nil
}

// Close unregisters the Gateway's metric callback. The Gateway still works afterwards.
func (g *Gateway) Close() error { return g.metrics.close() }

// Region is the region the Gateway serves.
func (g *Gateway) Region() string { return g.cfg.Region }

// Name is the gateway name used in metrics (Config.Name).
func (g *Gateway) Name() string { return g.cfg.Name }

// Unwrap returns the wrapped gateway.
func (g *Gateway) Unwrap() core.Gateway { return g.inner }

// CanQuery reports whether the wrapped gateway implements core.Querier.
func (g *Gateway) CanQuery() bool { return g.querier != nil }

// State is the state of ch's breaker (closed for a channel never called). Like the breaker
// itself it moves an open breaker whose cool-down has passed to half-open.
func (g *Gateway) State(ch core.Channel) gobreaker.State {
	g.mu.Lock()
	cs := g.channels[ch]
	g.mu.Unlock()
	if cs == nil {
		return gobreaker.StateClosed
	}
	return cs.breaker.State()
}

// Counts are the counts of ch's breaker in its current window, for health output.
func (g *Gateway) Counts(ch core.Channel) gobreaker.Counts {
	g.mu.Lock()
	cs := g.channels[ch]
	g.mu.Unlock()
	if cs == nil {
		return gobreaker.Counts{}
	}
	return cs.breaker.Counts()
}

// states snapshots every channel's breaker state (for the gauge).
func (g *Gateway) states() map[core.Channel]gobreaker.State {
	g.mu.Lock()
	css := make([]*channelState, 0, len(g.channels))
	for _, cs := range g.channels {
		css = append(css, cs)
	}
	g.mu.Unlock()
	out := make(map[core.Channel]gobreaker.State, len(css))
	for _, cs := range css {
		out[cs.ch] = cs.breaker.State()
	}
	return out
}

// channel returns ch's state, creating it on first use.
func (g *Gateway) channel(ch core.Channel) *channelState {
	g.mu.Lock()
	defer g.mu.Unlock()
	if cs := g.channels[ch]; cs != nil {
		return cs
	}
	cc := g.cfg.channel(ch)
	b := g.cfg.Breaker
	cs := &channelState{ch: ch, cfg: cc, limiter: rate.NewLimiter(cc.Rate, cc.Burst)}
	settings := gobreaker.Settings{
		Name:         g.cfg.Region + "/" + g.cfg.Name + "/" + string(ch),
		MaxRequests:  b.HalfOpenProbes,
		Interval:     b.Window,
		BucketPeriod: b.Window / time.Duration(b.Buckets),
		Timeout:      b.CoolDown,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			done := c.TotalSuccesses + c.TotalFailures
			return done >= b.MinRequests && float64(c.TotalFailures) >= b.FailureRatio*float64(done)
		},
		// Only errors are failures; declines come back as results with a nil error.
		IsSuccessful: func(err error) bool { return err == nil },
		IsExcluded:   func(err error) bool { return errors.As(err, new(*excluded)) },
	}
	if hook := g.cfg.OnStateChange; hook != nil {
		region := g.cfg.Region
		settings.OnStateChange = func(_ string, from, to gobreaker.State) { hook(region, ch, from, to) }
	}
	cs.breaker = gobreaker.NewCircuitBreaker[struct{}](settings)
	g.channels[ch] = cs
	return cs
}

// excluded wraps errors that say nothing about the channel's health (the caller went away,
// the call was rate-limited before it started), so the breaker neither counts them as
// failures nor as successes. call unwraps them before returning.
type excluded struct{ err error }

func (e *excluded) Error() string { return e.err.Error() }
func (e *excluded) Unwrap() error { return e.err }

// call runs fn for channel ch through the breaker, the limiter and the timeout, and records
// metrics. It never retries.
func call[T any](ctx context.Context, g *Gateway, ch core.Channel, op string, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		g.metrics.count(ctx, g, ch, op, OutcomeError)
		return zero, fmt.Errorf("resilience: %s %s not sent: %w: %w", ch, op, core.ErrNotExecuted, err)
	}
	cs := g.channel(ch)
	var (
		res     T
		outcome = OutcomeOK
	)
	_, err := cs.breaker.Execute(func() (struct{}, error) {
		if err := g.wait(ctx, cs); err != nil {
			outcome = OutcomeRateLimited
			return struct{}{}, &excluded{err}
		}
		cctx, cancel := context.WithTimeout(ctx, cs.cfg.Timeout)
		defer cancel()
		start := time.Now()
		r, err := fn(cctx)
		g.metrics.latency(ctx, g, ch, op, time.Since(start))
		if err == nil {
			res = r
			return struct{}{}, nil
		}
		outcome = OutcomeError
		if errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("resilience: %s %s timed out after %s (outcome unknown): %w", ch, op, cs.cfg.Timeout, err)
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			// The caller gave up: not the channel's fault.
			return struct{}{}, &excluded{err}
		}
		return struct{}{}, err
	})
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		outcome = OutcomeBreakerOpen
		err = fmt.Errorf("%w (%s/%s %s): %w", ErrBreakerOpen, g.cfg.Region, ch, op, err)
	}
	if ex, ok := err.(*excluded); ok {
		err = ex.err
	}
	g.metrics.count(ctx, g, ch, op, outcome)
	if err != nil {
		return zero, err
	}
	return res, nil
}

// wait takes one unit of cs's quota, waiting up to the channel's MaxWait (and never past
// ctx's end) for it. It fails with an error wrapping ErrRateLimited.
func (g *Gateway) wait(ctx context.Context, cs *channelState) error {
	cs.limMu.Lock()
	now := time.Now()
	r := cs.limiter.ReserveN(now, 1)
	if !r.OK() {
		cs.limMu.Unlock()
		return fmt.Errorf("%w (%s/%s)", ErrRateLimited, g.cfg.Region, cs.ch)
	}
	d := r.DelayFrom(now)
	if d == 0 {
		cs.limMu.Unlock()
		return nil
	}
	if d > cs.cfg.MaxWait {
		r.CancelAt(now)
		cs.limMu.Unlock()
		return fmt.Errorf("%w (%s/%s: next slot in %s, max wait %s)", ErrRateLimited, g.cfg.Region, cs.ch, d, max(cs.cfg.MaxWait, 0))
	}
	if dl, ok := ctx.Deadline(); ok && dl.Sub(now) < d {
		r.CancelAt(now)
		cs.limMu.Unlock()
		return fmt.Errorf("%w (%s/%s: next slot after the caller's deadline): %w", ErrRateLimited, g.cfg.Region, cs.ch, context.DeadlineExceeded)
	}
	cs.limMu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		// Gives back what it can: less if other calls reserved after this one.
		cs.limMu.Lock()
		r.Cancel()
		cs.limMu.Unlock()
		return fmt.Errorf("%w (%s/%s: gave up waiting): %w", ErrRateLimited, g.cfg.Region, cs.ch, ctx.Err())
	}
}

// Authorize implements core.Gateway. It is never retried here (see Capture).
func (g *Gateway) Authorize(ctx context.Context, req core.AuthorizeRequest) (core.AuthorizeResult, error) {
	return call(ctx, g, req.Channel, opAuthorize, func(ctx context.Context) (core.AuthorizeResult, error) {
		return g.inner.Authorize(ctx, req)
	})
}

// Capture implements core.Gateway.
//
// Money-moving calls (Authorize, Capture, Void, Refund) are tried exactly once here. Their
// errors mean "outcome unknown", and the payment's phase machinery must learn that: it
// records the attempt, and re-drives the same phase with the same channel key (or asks the
// channel with QueryPayment) under its lease, from whichever node holds the payment. A
// retry loop at this layer would hide the unknown outcome from it, stretch the request far
// beyond its lease and the caller's deadline, multiply load on a channel that is already
// failing, and lean entirely on the channel honouring its idempotency key (real acquirers
// keep keys for a limited time and some only per connection).
func (g *Gateway) Capture(ctx context.Context, req core.CaptureRequest) (core.OpResult, error) {
	return call(ctx, g, req.Channel, opCapture, func(ctx context.Context) (core.OpResult, error) {
		return g.inner.Capture(ctx, req)
	})
}

// Void implements core.Gateway. It is never retried here (see Capture).
func (g *Gateway) Void(ctx context.Context, req core.VoidRequest) (core.OpResult, error) {
	return call(ctx, g, req.Channel, opVoid, func(ctx context.Context) (core.OpResult, error) {
		return g.inner.Void(ctx, req)
	})
}

// Refund implements core.Gateway. It is never retried here (see Capture).
func (g *Gateway) Refund(ctx context.Context, req core.RefundRequest) (core.OpResult, error) {
	return call(ctx, g, req.Channel, opRefund, func(ctx context.Context) (core.OpResult, error) {
		return g.inner.Refund(ctx, req)
	})
}

// QueryPayment implements core.Querier. A query is a read, safe to repeat, so it is retried
// up to Config.QueryAttempts times in all with capped, jittered exponential backoff. Every
// attempt passes the breaker, the limiter and the timeout. It does not retry after the
// breaker refused (the channel is known to be down), nor once ctx has ended.
func (g *Gateway) QueryPayment(ctx context.Context, q core.PaymentQuery) (core.PaymentState, error) {
	if g.querier == nil {
		return core.PaymentState{}, ErrQueryUnsupported
	}
	var (
		st  core.PaymentState
		err error
	)
	for attempt := 0; ; attempt++ {
		st, err = call(ctx, g, q.Channel, opQuery, func(ctx context.Context) (core.PaymentState, error) {
			return g.querier.QueryPayment(ctx, q)
		})
		if err == nil || errors.Is(err, ErrBreakerOpen) || ctx.Err() != nil || attempt+1 >= g.cfg.QueryAttempts {
			break
		}
		t := time.NewTimer(g.backoff(attempt))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return core.PaymentState{}, fmt.Errorf("resilience: query gave up after %d attempts: %w (last error: %w)", attempt+1, ctx.Err(), err)
		}
	}
	if err != nil {
		return core.PaymentState{}, err
	}
	return st, nil
}

// backoff is the wait before retry number attempt+1: base·2^attempt capped at max, jittered
// to a random point in [d/2, d] so that nodes retrying together spread out.
func (g *Gateway) backoff(attempt int) time.Duration {
	d := g.cfg.RetryBaseDelay
	for i := 0; i < attempt && d < g.cfg.RetryMaxDelay; i++ {
		d *= 2
	}
	d = min(d, g.cfg.RetryMaxDelay)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// Statement forwards core.Statements to the wrapped gateway with the channel's
// StatementTimeout, outside the breaker and limiter: a daily statement download is an
// operator's batch read, not a payment's call.
func (g *Gateway) Statement(ctx context.Context, ch core.Channel, day time.Time) ([]core.StatementLine, error) {
	st, ok := g.inner.(core.Statements)
	if !ok {
		return nil, fmt.Errorf("%s publishes no statements: %w", ch, errors.ErrUnsupported)
	}
	timeout := g.cfg.channel(ch).StatementTimeout
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	lines, err := st.Statement(cctx, ch, day)
	if err != nil && errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
		err = fmt.Errorf("resilience: %s statement timed out after %s: %w", ch, timeout, err)
	}
	return lines, err
}

var _ core.Statements = (*Gateway)(nil)

// Payout implements core.Payouter for a wrapped gateway that pays out (the bank), through the
// bank channel's breaker, limiter and timeout. Like the other money-moving calls it is tried
// once (see Capture).
func (g *Gateway) Payout(ctx context.Context, req core.PayoutRequest) (core.PayoutResult, error) {
	p, ok := g.inner.(core.Payouter)
	if !ok {
		return core.PayoutResult{}, fmt.Errorf("%s makes no payouts: %w", g.cfg.Name, core.ErrNotExecuted)
	}
	return call(ctx, g, core.ChannelBankTransfer, opPayout, func(ctx context.Context) (core.PayoutResult, error) {
		return p.Payout(ctx, req)
	})
}

// QueryPayout implements core.Payouter: one query through the bank channel's breaker,
// limiter and timeout (the recovery worker asks again next sweep).
func (g *Gateway) QueryPayout(ctx context.Context, q core.PayoutQuery) (core.PayoutResult, error) {
	p, ok := g.inner.(core.Payouter)
	if !ok {
		return core.PayoutResult{}, fmt.Errorf("%s makes no payouts: %w", g.cfg.Name, core.ErrNotExecuted)
	}
	return call(ctx, g, core.ChannelBankTransfer, opPayoutQ, func(ctx context.Context) (core.PayoutResult, error) {
		return p.QueryPayout(ctx, q)
	})
}

var _ core.Payouter = (*Gateway)(nil)
