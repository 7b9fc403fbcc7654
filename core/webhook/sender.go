package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// Timeout is the longest one delivery attempt may take, connection included.
const Timeout = 15 * time.Second

// ErrForbiddenAddress is a delivery refused because its host resolved to an address webhooks
// may not reach (loopback, private, link-local, metadata, ...).
var ErrForbiddenAddress = errors.New("webhook: address not allowed")

// SenderConfig configures a Sender.
type SenderConfig struct {
	// AllowPrivate lets deliveries reach loopback, private and link-local addresses. Off in
	// production; the local platform and tests turn it on to receive on loopback.
	AllowPrivate bool
	// Timeout bounds one attempt. Default Timeout (15 s).
	Timeout time.Duration
	// UserAgent is sent with every delivery. Default "paycenter-webhooks/1".
	UserAgent string
}

// Sender POSTs signed webhooks. Its dialer checks the address every connection really goes
// to, after name resolution (a Control function), so a host name that resolves to a private
// address, or is re-pointed there between a check and the connection, is refused too. It
// uses no proxy from the environment (a proxy would be the address checked) and follows no
// redirect (a 3xx is a failed attempt).
type Sender struct {
	client *http.Client
	cfg    SenderConfig
}

// NewSender makes a Sender.
func NewSender(cfg SenderConfig) *Sender {
	if cfg.Timeout == 0 {
		cfg.Timeout = Timeout
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "paycenter-webhooks/1"
	}
	d := &net.Dialer{Timeout: cfg.Timeout, KeepAlive: 30 * time.Second}
	if !cfg.AllowPrivate {
		d.Control = guard
	}
	tr := &http.Transport{
		Proxy: nil, DialContext: d.DialContext, ForceAttemptHTTP2: true,
		MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
	}
	return &Sender{cfg: cfg, client: &http.Client{Transport: tr, Timeout: cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Message is one delivery attempt's content.
type Message struct {
	ID        string    // the event ID: webhook-id
	Timestamp time.Time // this attempt's time: webhook-timestamp
	Body      []byte    // the event JSON
	Keys      [][]byte  // the endpoint's live secrets' keys, newest first
}

// Result is what one attempt got.
type Result struct {
	Status     int           // the HTTP status; 0 when no answer came
	Err        error         // why no 2xx came: a transport error or the status
	RetryAfter time.Duration // the answer's Retry-After, on 429, 502 and 503
	HasRetry   bool          // RetryAfter was given
	Duration   time.Duration
}

// OK reports whether the attempt succeeded: a 2xx answer, nothing else.
func (r Result) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Deliver POSTs m to url once.
func (s *Sender) Deliver(ctx context.Context, url string, m Message) Result {
	start := time.Now()
	res := s.deliver(ctx, url, m)
	res.Duration = time.Since(start)
	return res
}

func (s *Sender) deliver(ctx context.Context, url string, m Message) Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(m.Body))
	if err != nil {
		return Result{Err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	req.Header.Set(HeaderID, m.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(m.Timestamp.Unix(), 10))
	req.Header.Set(HeaderSignature, SignatureHeader(m.Keys, m.ID, m.Timestamp, m.Body))
	resp, err := s.client.Do(req)
	if err != nil {
		return Result{Err: err}
	}
	// Read a little of the answer so the connection can be reused; its content is ignored.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	res := Result{Status: resp.StatusCode}
	if !res.OK() {
		res.Err = fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	if HonoursRetryAfter(resp.StatusCode) {
		res.RetryAfter, res.HasRetry = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return res
}

// Close lets idle connections go.
func (s *Sender) Close() { s.client.CloseIdleConnections() }

// guard is the dialer's Control: it runs with the resolved address of each connection.
func guard(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || Forbidden(ip) {
		return fmt.Errorf("%w: %s is not a public address", ErrForbiddenAddress, host)
	}
	return nil
}

// forbiddenPrefixes are ranges beyond netip's predicates that are never a merchant's public
// server: "this network", carrier-grade NAT, IETF protocol assignments, benchmarking,
// reserved, and NAT64 (which can reach private IPv4 through a translator).
var forbiddenPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
}

// Forbidden reports whether webhooks may not go to ip: loopback, private (RFC 1918, IPv6
// ULA, which holds fd00:ec2::254), link-local (169.254.169.254, the cloud metadata address,
// is one), multicast, unspecified and the ranges above.
func Forbidden(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() || !ip.IsValid() {
		return true
	}
	for _, p := range forbiddenPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
