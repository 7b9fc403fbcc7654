package loadtest

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
)

// Defaults of Config: a zero field takes these values.
const (
	DefaultConcurrency         = 16
	DefaultMaxInFlight         = 512
	DefaultDuration            = 30 * time.Second
	DefaultMerchants           = 16
	DefaultDeclineShare        = 0.05
	DefaultPartialCaptureShare = 0.2
	DefaultMinAmount           = 100
	DefaultMaxAmount           = 100_000
	DefaultOpTimeout           = 60 * time.Second
	DefaultAttemptTimeout      = 30 * time.Second
	DefaultGrace               = 30 * time.Second
	DefaultKnownPayments       = 10_000
)

// DefaultCurrencies are the currencies payments are drawn from when Config.Currencies is
// empty.
var DefaultCurrencies = []string{"usd", "eur", "gbp", "jpy", "cny"}

// Config configures a Generator. Every zero field has a documented default.
type Config struct {
	// Rate, when positive, makes the run open-loop: operations are scheduled at Rate per
	// second whatever the latency. Zero makes it closed-loop.
	Rate float64
	// Concurrency is the number of closed-loop workers. Default 16; ignored in open loop.
	Concurrency int
	// MaxInFlight bounds the operations running at once in open loop; an operation whose
	// time comes while MaxInFlight are running is dropped (counted, not sent). Default 512.
	MaxInFlight int
	// Duration is how long the measured part of the run lasts (after Warmup). Default 30 s.
	Duration time.Duration
	// Warmup runs before Duration; its operations are executed and written to the history
	// but excluded from the results. Default 0.
	Warmup time.Duration
	// Ops, when positive, ends the run after that many operations (counting the warmup's
	// and, in open loop, dropped ones), or at the end of Duration if that comes first.
	Ops int64
	// OpTimeout bounds each operation, all its calls and retries included. Default 60 s.
	OpTimeout time.Duration
	// Grace is how long in-flight operations may finish once scheduling stops (at the end,
	// or when Run's context is cancelled) before they are cancelled. Default 30 s.
	Grace time.Duration

	// Mix is the operation mix. Default ParseMix(DefaultMix).
	Mix Mix
	// Seed seeds every operation's choices (see the package documentation).
	Seed uint64
	// ClientRegion, if set, is the region every simulated client sits in: its SDK tries that
	// region's endpoint first, then the others nearest first. Default: each merchant's home
	// region.
	ClientRegion string
	// Currencies payments are drawn from (ISO 4217, any case). Default DefaultCurrencies.
	Currencies []string
	// Channels is create_auto's channel mix; create_capture uses its card channels only
	// (card if it has none). Default ParseChannels(DefaultChannels).
	Channels Weighted[core.Channel]
	// DeclineShare is the share of card payments sent with the declining test card, in
	// [0, 1]. Default 0.05; set NoDeclines for none.
	DeclineShare float64
	// NoDeclines sends no declining cards (DeclineShare 0 would mean the default).
	NoDeclines bool
	// PartialCaptureShare is the share of create_capture operations that capture only part
	// of the amount. Default 0.2.
	PartialCaptureShare float64
	// MinAmount and MaxAmount bound payment amounts, in minor units. Default 100 and 100000.
	MinAmount, MaxAmount int64

	// MaxRetries and Backoff configure the SDK (see paysdk.Config); zero means the SDK's
	// defaults (4 retries, 100 ms).
	MaxRetries int
	Backoff    time.Duration
	// AttemptTimeout bounds each HTTP attempt of the SDK. Default 30 s (the SDK's): an
	// attempt abandoned while the platform still works on it only meets 409
	// idempotency_key_in_use on its retries until the platform is done.
	AttemptTimeout time.Duration
	// HTTPClient, if set, replaces the SDK's HTTP client (AttemptTimeout is then unused).
	HTTPClient *http.Client
	// KnownPayments is how many recent payment IDs get operations pick from. Default 10000.
	KnownPayments int

	// Progress, if set, receives a progress line every second.
	Progress io.Writer
	// History, if set, receives one HistoryRecord per operation.
	History *HistoryWriter
	// Logger receives the SDK's failovers and the generator's notices. Default: discarded.
	Logger *slog.Logger
	// RunID names the run in idempotency keys and merchant references. Default: random.
	RunID string

	// Clock is the time source. Default RealClock().
	Clock Clock
	// Executor performs the operations. Default: the merchant SDK against the target given
	// to New.
	Executor Executor
}

// withDefaults returns c with its zero fields set to their defaults.
func (c Config) withDefaults() Config {
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.Duration == 0 {
		c.Duration = DefaultDuration
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.Grace == 0 {
		c.Grace = DefaultGrace
	}
	if c.Mix.Empty() {
		c.Mix, _ = ParseMix(DefaultMix)
	}
	if len(c.Currencies) == 0 {
		c.Currencies = DefaultCurrencies
	}
	if c.Channels.Empty() {
		c.Channels, _ = ParseChannels(DefaultChannels)
	}
	if c.NoDeclines {
		c.DeclineShare = 0
	} else if c.DeclineShare == 0 {
		c.DeclineShare = DefaultDeclineShare
	}
	if c.PartialCaptureShare == 0 {
		c.PartialCaptureShare = DefaultPartialCaptureShare
	}
	if c.MinAmount == 0 {
		c.MinAmount = DefaultMinAmount
	}
	if c.MaxAmount == 0 {
		c.MaxAmount = DefaultMaxAmount
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.KnownPayments == 0 {
		c.KnownPayments = DefaultKnownPayments
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.RunID == "" {
		c.RunID = strings.ToLower(core.RandomToken(6))
	}
	if c.Clock == nil {
		c.Clock = RealClock()
	}
	return c
}

// validate checks a Config that has its defaults.
func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Rate < 0 || c.Rate > 1e6 {
		bad("rate %v must be between 0 and 1000000 per second", c.Rate)
	}
	if c.Concurrency < 0 || c.Concurrency > 100_000 {
		bad("concurrency %d must be between 1 and 100000", c.Concurrency)
	}
	if c.MaxInFlight < 0 || c.MaxInFlight > 1_000_000 {
		bad("max in-flight %d must be between 1 and 1000000", c.MaxInFlight)
	}
	if c.Duration < 0 || c.Warmup < 0 || c.Ops < 0 || c.OpTimeout < 0 || c.Grace < 0 || c.AttemptTimeout < 0 {
		bad("durations and counts must not be negative")
	}
	if c.DeclineShare < 0 || c.DeclineShare > 1 {
		bad("decline share %v must be between 0 and 1", c.DeclineShare)
	}
	if c.PartialCaptureShare < 0 || c.PartialCaptureShare > 1 {
		bad("partial capture share %v must be between 0 and 1", c.PartialCaptureShare)
	}
	if c.MinAmount < 1 || c.MaxAmount > core.MaxAmount || c.MinAmount > c.MaxAmount {
		bad("amounts must satisfy 1 <= min (%d) <= max (%d) <= %d", c.MinAmount, c.MaxAmount, core.MaxAmount)
	}
	for _, cur := range c.Currencies {
		if _, ok := core.NormalizeCurrency(cur); !ok {
			bad("unsupported currency %q", cur)
		}
	}
	if c.KnownPayments < 1 {
		bad("known payments must be at least 1")
	}
	if strings.IndexFunc(c.RunID, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 || len(c.RunID) > 40 {
		bad("run ID %q must be at most 40 printable characters without spaces", c.RunID)
	}
	return errors.Join(errs...)
}

// OpenLoop reports whether c describes an open-loop run.
func (c Config) OpenLoop() bool { return c.Rate > 0 }
