package channelauth

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults applied by BaseConfig.WithDefaults to fields left at their zero value.
const (
	// DefaultMaxClockSkew is how far the timestamp of an answer or a notification may be
	// from our clock.
	DefaultMaxClockSkew = 5 * time.Minute

	// DefaultResponseHeaderTimeout bounds, on the default HTTP client's transport, the wait
	// for an answer's headers once the request is written. It is a safety net for a call
	// made without a deadline (a hung channel must not hold a connection and a goroutine
	// for ever), not the per-call timeout: that is resilience.Gateway's
	// (resilience.ChannelConfig.Timeout, default 10 s), and this is well above it so that
	// resilience's always fires first.
	DefaultResponseHeaderTimeout = time.Minute
)

// BaseConfig is the part of an adapter's Config that every adapter of a signed channel API
// shares (core/wechatpay, core/alipay, core/banktransfer embed it): where the channel is,
// the keys, where it sends notifications, the order lifetime, the clock skew allowed, the
// HTTP client and the clock. Zero fields take the defaults named in their comments.
//
// There is deliberately no per-call timeout: resilience.Gateway bounds every channel call
// (ChannelConfig.Timeout), and a second timeout here would only be a second number to keep
// in step. The default HTTP client's transport has a far longer safety net
// (DefaultResponseHeaderTimeout) for calls made without a deadline.
type BaseConfig struct {
	// BaseURL is the channel API's base, e.g. a channelsim URL; a trailing "/" is dropped.
	// Required.
	BaseURL string
	// PrivateKey (RSA-2048 or larger) signs our requests: WeChat Pay's merchant API key
	// (apiclient_key.pem), Alipay's application private key, the bank's client key. Each
	// adapter says whether it is required.
	PrivateKey *rsa.PrivateKey
	// ChannelPublicKey verifies the channel's answers and notifications: the WeChat Pay
	// public key, Alipay's public key, the bank's key. Each adapter says whether it is
	// required (WeChat Pay can download its platform certificates instead).
	ChannelPublicKey *rsa.PublicKey
	// NotifyURL is where the channel sends payment and refund notifications. Required.
	NotifyURL string
	// OrderTTL is how long the payer has to pay, rounded up to a whole second. Default: the
	// adapter's (WeChat Pay and Alipay 2 hours, bank transfer 72 hours).
	OrderTTL time.Duration
	// MaxClockSkew is how far the timestamp of an answer or notification may be from our
	// clock; notification nonces are remembered twice as long. Default
	// DefaultMaxClockSkew (5 minutes).
	MaxClockSkew time.Duration
	// HTTPClient makes the calls. Default: a client with a transport of its own (a clone of
	// http.DefaultTransport) whose ResponseHeaderTimeout is DefaultResponseHeaderTimeout,
	// and no Client.Timeout.
	HTTPClient *http.Client
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// WithDefaults returns c with every zero field set to its default; orderTTL is the
// adapter's default OrderTTL.
func (c BaseConfig) WithDefaults(orderTTL time.Duration) BaseConfig {
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.OrderTTL == 0 {
		c.OrderTTL = orderTTL
	}
	if c.MaxClockSkew == 0 {
		c.MaxClockSkew = DefaultMaxClockSkew
	}
	if c.HTTPClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
		c.HTTPClient = &http.Client{Transport: t}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every missing or malformed field of a BaseConfig that went through
// WithDefaults, joined in one error. The keys are the adapter's to require.
func (c BaseConfig) Validate() error {
	var errs []error
	if u, err := url.Parse(c.BaseURL); c.BaseURL == "" {
		errs = append(errs, errors.New("BaseURL is required"))
	} else if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("BaseURL %q: want http(s)://host[:port][/path]", c.BaseURL))
	}
	if c.PrivateKey != nil && c.PrivateKey.N.BitLen() < RSAKeyBits {
		errs = append(errs, fmt.Errorf("PrivateKey has %d bits, want at least %d", c.PrivateKey.N.BitLen(), RSAKeyBits))
	}
	if c.NotifyURL == "" {
		errs = append(errs, errors.New("NotifyURL is required"))
	}
	if c.OrderTTL <= 0 {
		errs = append(errs, fmt.Errorf("OrderTTL %s must be positive", c.OrderTTL))
	}
	if c.MaxClockSkew <= 0 {
		errs = append(errs, fmt.Errorf("MaxClockSkew %s must be positive", c.MaxClockSkew))
	}
	return errors.Join(errs...)
}
