package resilience

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/metric"
	"golang.org/x/time/rate"

	"github.com/paycenter/paycenter/core"
)

// Defaults applied by Config.withDefaults to fields left at their zero value.
const (
	DefaultGatewayName = "default"

	DefaultBreakerWindow         = 30 * time.Second
	DefaultBreakerBuckets        = 10
	DefaultBreakerMinRequests    = 20
	DefaultBreakerFailureRatio   = 0.5
	DefaultBreakerCoolDown       = 30 * time.Second
	DefaultBreakerHalfOpenProbes = 3

	DefaultChannelRate    = rate.Limit(100) // requests per second
	DefaultChannelBurst   = 100
	DefaultChannelTimeout = 10 * time.Second
	DefaultChannelMaxWait = 50 * time.Millisecond
	// DefaultStatementTimeout bounds a statement download: a day's lines, more than one
	// payment's call has to carry.
	DefaultStatementTimeout = 30 * time.Second

	DefaultQueryAttempts  = 3
	DefaultRetryBaseDelay = 100 * time.Millisecond
	DefaultRetryMaxDelay  = 2 * time.Second
)

// Config configures a Gateway. Every zero field takes the default named in its comment.
type Config struct {
	// Region is the region the Gateway serves (required). Breakers and limiters are per
	// (region, channel); the region is also a metric attribute and is passed to
	// OnStateChange.
	Region string

	// Name names the wrapped gateway (the acquirer) in metrics and breaker names, so two
	// acquirers of the same channel in one region stay apart. Default "default".
	Name string

	// Breaker configures the circuit breaker of every channel.
	Breaker BreakerConfig

	// Default is the quota, timeout and limiter wait of channels without an entry in
	// Channels; its zero fields take DefaultChannel* values.
	Default ChannelConfig

	// Channels overrides Default per channel; zero fields of an entry inherit from Default.
	Channels map[core.Channel]ChannelConfig

	// QueryAttempts is how many times QueryPayment is tried in all (1 = no retry).
	// Default 3.
	QueryAttempts int
	// RetryBaseDelay is the backoff before the first QueryPayment retry; it doubles per
	// retry, is capped by RetryMaxDelay and jittered (a random point in [d/2, d]).
	// Default 100 ms; RetryMaxDelay default 2 s.
	RetryBaseDelay time.Duration
	RetryMaxDelay  time.Duration

	// OnStateChange, when set, is called on every breaker transition. gobreaker calls it
	// with the breaker's lock held: it must be quick and must not call back into this
	// Gateway (State, or a channel call) for the same channel, or it deadlocks.
	OnStateChange func(region string, ch core.Channel, from, to gobreaker.State)

	// MeterProvider provides the meter for the Gateway's instruments. Default: the global
	// provider (otel.GetMeterProvider()).
	MeterProvider metric.MeterProvider
}

// BreakerConfig configures the circuit breaker of each (region, channel).
type BreakerConfig struct {
	// Window is the rolling window over which failures are counted (default 30 s), split
	// into Buckets buckets (default 10) that age out one at a time.
	Window  time.Duration
	Buckets int
	// MinRequests is how many calls must have completed in the window before the breaker
	// may trip (default 20).
	MinRequests uint32
	// FailureRatio: the breaker trips when failures / completed calls in the window reaches
	// it (default 0.5). A failure is an error from the inner gateway; a declined payment or
	// an OpResult with OK false is a success.
	FailureRatio float64
	// CoolDown is how long the breaker stays open before it lets probes through (default
	// 30 s).
	CoolDown time.Duration
	// HalfOpenProbes is how many calls may pass while half-open; that many consecutive
	// successes close the breaker, one failure opens it again (default 3).
	HalfOpenProbes uint32
}

// ChannelConfig is a channel's quota at the channel (its rate limiter), its per-call
// timeouts and how long a call may wait for quota.
//
// The Gateway is the one owner of the per-call timeout: the channel adapters add none of
// their own (only a far longer transport-level safety net, see channelauth.BaseConfig and
// cardacq.Config.RequestTimeout), and the payment logic gives the Gateway the caller's
// context, so the shorter of its deadline and Timeout ends the call.
type ChannelConfig struct {
	// Rate is the channel's quota in requests per second (default 100; rate.Inf for none).
	Rate rate.Limit
	// Burst is how many requests may go at once above the rate (default 100).
	Burst int
	// Timeout bounds each call to the channel: Authorize, Capture, Void, Refund and each
	// attempt of QueryPayment (default 10 s). A timeout is an unknown outcome, not a
	// failure of the payment: the caller learns the outcome later.
	Timeout time.Duration
	// StatementTimeout bounds each Statement download (default 30 s).
	StatementTimeout time.Duration
	// MaxWait is how long a call may wait for quota before failing with ErrRateLimited
	// (default 50 ms). Negative means never wait.
	MaxWait time.Duration
}

func (c ChannelConfig) inherit(d ChannelConfig) ChannelConfig {
	if c.Rate == 0 {
		c.Rate = d.Rate
	}
	if c.Burst == 0 {
		c.Burst = d.Burst
	}
	if c.Timeout == 0 {
		c.Timeout = d.Timeout
	}
	if c.MaxWait == 0 {
		c.MaxWait = d.MaxWait
	}
	if c.StatementTimeout == 0 {
		c.StatementTimeout = d.StatementTimeout
	}
	return c
}

func (c ChannelConfig) validate() error {
	switch {
	case c.Rate <= 0 || math.IsNaN(float64(c.Rate)):
		return fmt.Errorf("rate %v must be positive", c.Rate)
	case c.Burst < 1:
		return fmt.Errorf("burst %d must be at least 1", c.Burst)
	case c.Timeout <= 0:
		return fmt.Errorf("timeout %s must be positive", c.Timeout)
	case c.StatementTimeout <= 0:
		return fmt.Errorf("statement timeout %s must be positive", c.StatementTimeout)
	}
	return nil
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.Name == "" {
		c.Name = DefaultGatewayName
	}
	b := &c.Breaker
	if b.Window == 0 {
		b.Window = DefaultBreakerWindow
	}
	if b.Buckets == 0 {
		b.Buckets = DefaultBreakerBuckets
	}
	if b.MinRequests == 0 {
		b.MinRequests = DefaultBreakerMinRequests
	}
	if b.FailureRatio == 0 {
		b.FailureRatio = DefaultBreakerFailureRatio
	}
	if b.CoolDown == 0 {
		b.CoolDown = DefaultBreakerCoolDown
	}
	if b.HalfOpenProbes == 0 {
		b.HalfOpenProbes = DefaultBreakerHalfOpenProbes
	}
	c.Default = c.Default.inherit(ChannelConfig{
		Rate: DefaultChannelRate, Burst: DefaultChannelBurst,
		Timeout: DefaultChannelTimeout, MaxWait: DefaultChannelMaxWait, StatementTimeout: DefaultStatementTimeout,
	})
	if c.Channels != nil {
		chs := make(map[core.Channel]ChannelConfig, len(c.Channels))
		for ch, cc := range c.Channels {
			chs[ch] = cc.inherit(c.Default)
		}
		c.Channels = chs
	}
	if c.QueryAttempts == 0 {
		c.QueryAttempts = DefaultQueryAttempts
	}
	if c.RetryBaseDelay == 0 {
		c.RetryBaseDelay = DefaultRetryBaseDelay
	}
	if c.RetryMaxDelay == 0 {
		c.RetryMaxDelay = DefaultRetryMaxDelay
	}
	return c
}

// validate reports the first invalid field of a Config that went through withDefaults.
func (c Config) validate() error {
	var errs []error
	if c.Region == "" {
		errs = append(errs, errors.New("region is required"))
	}
	b := c.Breaker
	if b.Window <= 0 {
		errs = append(errs, fmt.Errorf("breaker window %s must be positive", b.Window))
	}
	if b.Buckets < 1 {
		errs = append(errs, fmt.Errorf("breaker buckets %d must be at least 1", b.Buckets))
	} else if b.Window > 0 && b.Window/time.Duration(b.Buckets) <= 0 {
		errs = append(errs, fmt.Errorf("breaker window %s is too short for %d buckets", b.Window, b.Buckets))
	}
	if !(b.FailureRatio > 0 && b.FailureRatio <= 1) {
		errs = append(errs, fmt.Errorf("breaker failure ratio %v must be in (0, 1]", b.FailureRatio))
	}
	if b.CoolDown <= 0 {
		errs = append(errs, fmt.Errorf("breaker cool-down %s must be positive", b.CoolDown))
	}
	if err := c.Default.validate(); err != nil {
		errs = append(errs, fmt.Errorf("default channel config: %w", err))
	}
	for ch, cc := range c.Channels {
		if err := cc.validate(); err != nil {
			errs = append(errs, fmt.Errorf("channel %q config: %w", ch, err))
		}
	}
	if c.QueryAttempts < 1 {
		errs = append(errs, fmt.Errorf("query attempts %d must be at least 1", c.QueryAttempts))
	}
	if c.RetryBaseDelay < 0 || c.RetryMaxDelay < c.RetryBaseDelay {
		errs = append(errs, fmt.Errorf("retry delays base %s, max %s: need 0 <= base <= max", c.RetryBaseDelay, c.RetryMaxDelay))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("resilience: invalid config: %w", err)
	}
	return nil
}

// channel returns the resolved configuration of ch.
func (c Config) channel(ch core.Channel) ChannelConfig {
	if cc, ok := c.Channels[ch]; ok {
		return cc
	}
	return c.Default
}
