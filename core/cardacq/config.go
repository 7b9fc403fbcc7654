package cardacq

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/stripe/stripe-go/v82"

	"github.com/paycenter/paycenter/core"
)

// Defaults for Config.
const (
	// DefaultBackendURL is Stripe's API.
	DefaultBackendURL = "https://api.stripe.com"
	// DefaultConnectTimeout bounds establishing a connection (TCP and TLS).
	DefaultConnectTimeout = 5 * time.Second
	// DefaultRequestTimeout bounds one HTTP attempt, from sending to the end of the answer:
	// a safety net well above resilience.DefaultChannelTimeout.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultMaxNetworkRetries is how often stripe-go repeats a request that failed on the
	// network or answered 429 lock_timeout (always with the same Idempotency-Key).
	DefaultMaxNetworkRetries = 2
)

// Config configures an Acquirer. The zero value of every field but APIKey is replaced by its
// documented default.
type Config struct {
	// APIKey is the acquirer's secret API key (sk_test_… / sk_live_…; any "sk_test_…" for
	// stripe-mock). Required.
	APIKey string

	// BackendURL is where the API is: DefaultBackendURL, stripe-mock
	// ("http://127.0.0.1:12111"), or a channel simulator speaking the same API. A trailing
	// "/" or "/v1" is ignored.
	BackendURL string

	// HTTPClient, if set, sends the requests; its Transport is wrapped (never modified) to
	// tell refused connections from requests that may have been sent. When it is set,
	// ConnectTimeout is not applied (its transport dials) and RequestTimeout applies only if
	// the client has no Timeout of its own.
	HTTPClient *http.Client

	// ConnectTimeout bounds establishing a connection; default DefaultConnectTimeout. A
	// connection that cannot be established means nothing was sent (core.ErrNotExecuted).
	ConnectTimeout time.Duration

	// RequestTimeout bounds each HTTP attempt; default DefaultRequestTimeout. It is a
	// transport-level safety net for calls made without a deadline, not the per-call
	// timeout: that is resilience.Gateway's (ChannelConfig.Timeout, payd's -channel-timeout,
	// 10 s), which reaches here as the context's deadline and bounds the whole call,
	// retries included. Keep this one longer, so that resilience's fires first.
	RequestTimeout time.Duration

	// MaxNetworkRetries is how often stripe-go retries a request, with the same
	// Idempotency-Key, that failed on the network (refused, reset, timed out, an answer
	// that is not Stripe's JSON) or answered 429 lock_timeout; stripe-go v82 does not retry
	// other API errors (5xx, 409). 0 means DefaultMaxNetworkRetries, a negative value
	// disables retries. stripe-go sleeps 0.5 s to 5 s between attempts without watching the
	// context (it stops retrying once the context has ended), so a call can outlive its
	// context by up to that sleep.
	MaxNetworkRetries int

	// Channels are the channels this acquirer serves; default card and debit_card. Only card
	// channels are allowed. Calls for other channels fail with core.ErrNotExecuted.
	Channels []core.Channel

	// TrustSearchMisses makes QueryPayment answer Found false when a payment is looked up by
	// key alone (no Reference) and the search finds nothing. Leave it false against Stripe:
	// its search is eventually consistent (usually under a minute, up to an hour during
	// incidents), so a miss does not prove that the authorisation never executed, and the
	// recovery worker fails payments that are not found. Set it for a backend whose search
	// is immediate. See QueryPayment.
	TrustSearchMisses bool

	// Logger receives stripe-go's log lines; default none.
	Logger stripe.LeveledLoggerInterface
}

func (c Config) withDefaults() Config {
	if c.BackendURL == "" {
		c.BackendURL = DefaultBackendURL
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxNetworkRetries == 0 {
		c.MaxNetworkRetries = DefaultMaxNetworkRetries
	} else if c.MaxNetworkRetries < 0 {
		c.MaxNetworkRetries = -1
	}
	if len(c.Channels) == 0 {
		c.Channels = []core.Channel{core.ChannelCard, core.ChannelDebitCard}
	}
	if c.Logger == nil {
		c.Logger = &stripe.LeveledLogger{Level: stripe.LevelNull}
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.APIKey == "" {
		errs = append(errs, errors.New("APIKey is required"))
	}
	if u, err := url.Parse(c.BackendURL); err != nil {
		errs = append(errs, fmt.Errorf("BackendURL: %v", err))
	} else if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("BackendURL %q: want http(s)://host[:port]", c.BackendURL))
	}
	if c.ConnectTimeout < 0 || c.RequestTimeout < 0 {
		errs = append(errs, errors.New("timeouts must not be negative"))
	}
	seen := map[core.Channel]bool{}
	for _, ch := range c.Channels {
		switch {
		case !ch.IsCard():
			errs = append(errs, fmt.Errorf("channel %q is not a card channel", ch))
		case seen[ch]:
			errs = append(errs, fmt.Errorf("channel %q listed twice", ch))
		}
		seen[ch] = true
	}
	if len(errs) > 0 {
		return fmt.Errorf("cardacq: invalid config: %w", errors.Join(errs...))
	}
	return nil
}

// httpClient is the client stripe-go sends with: the configured one or one built from the
// timeouts, with its transport wrapped to record how each attempt ended.
func (c Config) httpClient() *http.Client {
	var hc http.Client
	if c.HTTPClient != nil {
		hc = *c.HTTPClient
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = (&net.Dialer{Timeout: c.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
		t.TLSHandshakeTimeout = c.ConnectTimeout
		hc.Transport = t
	}
	if hc.Timeout == 0 {
		hc.Timeout = c.RequestTimeout
	}
	inner := hc.Transport
	if inner == nil {
		inner = http.DefaultTransport
	}
	hc.Transport = &recordingTransport{inner: inner}
	return &hc
}
