package paysdk

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Defaults and limits of Config.
const (
	// DefaultTimeout is the per-attempt timeout of the default HTTP client.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxRetries is the number of retries when Config.MaxRetries is 0.
	DefaultMaxRetries = 4
	// DefaultBackoff is the backoff base when Config.Backoff is 0.
	DefaultBackoff = 100 * time.Millisecond
	// MaxBackoff caps the wait between two attempts, including a 409's Retry-After; only a
	// 429's Retry-After may be longer.
	MaxBackoff = 5 * time.Second
)

// Header names of the protocol.
const (
	headerIdempotencyKey = "Idempotency-Key"
	headerReplayed       = "Idempotent-Replayed"
	headerRequestID      = "Request-Id"
	headerRegion         = "Payd-Region"
)

// maxResponseBytes bounds how much of an answer is read.
const maxResponseBytes = 8 << 20

// userAgent is sent with every request.
const userAgent = "paycenter-paysdk-go/1"

// Config configures a Client.
type Config struct {
	// Endpoints are the base URLs of region endpoints, nearest first, such as
	// "http://127.0.0.1:8080" or "https://eu-west.pay.example/api". At least one is
	// required. Every call starts at the first and moves on after a network error or a
	// 5xx answer.
	Endpoints []string
	// SecretKey is the merchant's secret key, "sk_...". Required.
	SecretKey string
	// HTTPClient sends the requests. Default: a client with a 30 s timeout per attempt.
	HTTPClient *http.Client
	// MaxRetries is how many times a call is retried after its first attempt. 0 means the
	// default, 4; a negative value disables retries.
	MaxRetries int
	// Backoff is the base of the capped, jittered exponential wait between attempts: the
	// n-th retry waits between half and all of min(Backoff·2ⁿ⁻¹, MaxBackoff), unless a
	// Retry-After says otherwise. Default 100 ms.
	Backoff time.Duration
	// Logger, if set, receives retries (debug) and failovers between endpoints (info).
	Logger *slog.Logger
}

// Client calls the merchant API. Make one with New; it is safe for concurrent use.
type Client struct {
	endpoints  []string
	secretKey  string
	http       *http.Client
	maxRetries int
	backoff    time.Duration
	maxBackoff time.Duration
	log        *slog.Logger
}

// New makes a Client from cfg, applying defaults, or reports what is wrong with cfg.
func New(cfg Config) (*Client, error) {
	return build(cfg, "a secret key", "secret key")
}

// build makes the client behind both Client and Admin: cfg.SecretKey is the bearer
// credential, named in errors as what (with an article) and noun.
func build(cfg Config, what, noun string) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("paysdk: at least one endpoint is required")
	}
	c := &Client{
		secretKey:  cfg.SecretKey,
		http:       cfg.HTTPClient,
		maxRetries: cfg.MaxRetries,
		backoff:    cfg.Backoff,
		maxBackoff: MaxBackoff,
		log:        cfg.Logger,
	}
	for _, raw := range cfg.Endpoints {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, fmt.Errorf("paysdk: endpoint %q: %w", raw, err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			return nil, fmt.Errorf("paysdk: endpoint %q must be an http or https base URL such as \"https://host:port\"", raw)
		}
		c.endpoints = append(c.endpoints, strings.TrimRight(raw, "/"))
	}
	if cfg.SecretKey == "" {
		return nil, fmt.Errorf("paysdk: %s is required", what)
	}
	if strings.IndexFunc(cfg.SecretKey, func(r rune) bool { return r <= ' ' || r > '~' }) >= 0 {
		return nil, fmt.Errorf("paysdk: the %s holds characters that cannot be sent in a header", noun)
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout}
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.backoff <= 0 {
		c.backoff = DefaultBackoff
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// request is one logical call.
type request struct {
	method string
	path   string // escaped, starting with "/"
	query  url.Values
	body   []byte // nil: no body
	key    string // Idempotency-Key, "" for none
}

// answer is what one attempt got back.
type answer struct {
	status   int
	header   http.Header
	body     []byte
	endpoint string
}

// newIdempotencyKey makes a random UUIDv4.
func newIdempotencyKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// validKey mirrors the server's rule for Idempotency-Key values.
func validKey(key string) bool {
	if key == "" || len(key) > MaxIdempotencyKey {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// get runs an idempotent read.
func (c *Client) get(ctx context.Context, path string, query url.Values, out any) error {
	return c.do(ctx, request{method: http.MethodGet, path: path, query: query}, out, nil)
}

// post runs a money-moving call with an Idempotency-Key.
func (c *Client) post(ctx context.Context, path string, in, out any, opts []CallOption) error {
	o := collect(opts)
	key := o.key
	if !o.keySet {
		key = newIdempotencyKey()
	}
	if o.info != nil {
		*o.info = ResponseInfo{IdempotencyKey: key}
	}
	if !validKey(key) {
		return localError(CodeIdempotencyKeyInvalid, "Idempotency-Key",
			"The Idempotency-Key must be 1 to %d printable ASCII characters without spaces.", MaxIdempotencyKey)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("paysdk: encoding request: %w", err)
	}
	return c.do(ctx, request{method: http.MethodPost, path: path, body: body, key: key}, out, o.info)
}

// do runs one logical call: attempts, retries, failover, and decoding into out.
func (c *Client) do(ctx context.Context, req request, out any, info *ResponseInfo) error {
	ri := ResponseInfo{IdempotencyKey: req.key}
	defer func() {
		if info != nil {
			*info = ri
		}
	}()
	var (
		ep      int     // index of the endpoint of the next attempt
		pending *answer // the last 202: the object as it stood, outcome unknown
		lastErr error   // the error to return when the retries run out
	)
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return c.ctxError(req, &ri, err)
		}
		ri.Attempts = attempt + 1
		ri.Endpoint = c.endpoints[ep]
		ans, netErr := c.send(ctx, c.endpoints[ep], req)

		var (
			wait     time.Duration
			failover bool
			reason   string
		)
		backoff := c.delay(attempt)
		switch {
		case netErr != nil:
			if err := ctx.Err(); err != nil {
				return c.ctxError(req, &ri, err)
			}
			ri.clearAnswer()
			lastErr = fmt.Errorf("paysdk: %s %s: %w", req.method, req.path, netErr)
			wait, failover, reason = backoff, true, netErr.Error()
		default:
			c.describe(&ri, ans)
			replayed := ri.Replayed
			switch {
			case ans.status == http.StatusAccepted:
				pending = ans
				lastErr = nil
				wait, reason = backoff, "outcome not known yet (202)"
			case ans.status >= 200 && ans.status < 300:
				if raw, ok := out.(*rawBody); ok { // a download (CSV), kept as sent
					*raw = append((*raw)[:0], ans.body...)
					return nil
				}
				if out != nil && len(bytes.TrimSpace(ans.body)) > 0 {
					if err := json.Unmarshal(ans.body, out); err != nil {
						return fmt.Errorf("paysdk: %s %s: decoding the %d answer: %w", req.method, req.path, ans.status, err)
					}
				}
				return nil
			default:
				apiErr := decodeError(ans.status, ans.header, ans.body)
				switch {
				case ans.status >= 500 && !replayed:
					lastErr = apiErr
					wait, failover, reason = backoff, true, apiErr.Error()
				case ans.status == http.StatusConflict && apiErr.Code == CodeIdempotencyKeyInUse:
					lastErr = apiErr
					wait, reason = backoff, apiErr.Error()
					if apiErr.RetryAfter > 0 {
						wait = min(apiErr.RetryAfter, c.maxBackoff)
					}
				case ans.status == http.StatusTooManyRequests:
					lastErr = apiErr
					wait, reason = backoff, apiErr.Error()
					if apiErr.RetryAfter > 0 {
						wait = apiErr.RetryAfter
					}
				default:
					// Any other 4xx, or a stored 5xx replayed by the server: retrying would
					// get the same answer.
					return apiErr
				}
			}
		}

		if attempt >= c.maxRetries || !fits(ctx, wait) {
			if pending != nil {
				return c.settle(req, pending, out, &ri)
			}
			return lastErr
		}
		if failover && len(c.endpoints) > 1 {
			next := (ep + 1) % len(c.endpoints)
			c.log.LogAttrs(ctx, slog.LevelInfo, "paysdk: failing over to the next endpoint",
				slog.String("method", req.method), slog.String("path", req.path),
				slog.String("from", c.endpoints[ep]), slog.String("to", c.endpoints[next]),
				slog.Int("attempt", attempt+1), slog.String("reason", reason))
			ep = next
		}
		c.log.LogAttrs(ctx, slog.LevelDebug, "paysdk: retrying",
			slog.String("method", req.method), slog.String("path", req.path),
			slog.String("idempotency_key", req.key), slog.Int("attempt", attempt+1),
			slog.Duration("wait", wait), slog.String("reason", reason))
		if err := sleep(ctx, wait); err != nil {
			return c.ctxError(req, &ri, err)
		}
	}
}

// settle ends a call whose retries ran out after a 202: the object as it stood is the
// answer, and ResponseInfo describes that 202.
func (c *Client) settle(req request, pending *answer, out any, ri *ResponseInfo) error {
	c.describe(ri, pending)
	if out != nil {
		if err := json.Unmarshal(pending.body, out); err != nil {
			return fmt.Errorf("paysdk: %s %s: decoding the 202 answer: %w", req.method, req.path, err)
		}
	}
	return nil
}

// describe records an answer in ri.
func (c *Client) describe(ri *ResponseInfo, a *answer) {
	ri.Status = a.status
	ri.Endpoint = a.endpoint
	ri.Replayed = strings.EqualFold(a.header.Get(headerReplayed), "true")
	ri.RequestID = a.header.Get(headerRequestID)
	ri.Region = a.header.Get(headerRegion)
}

// fits reports whether waiting d still leaves time before ctx's deadline.
func fits(ctx context.Context, d time.Duration) bool {
	dl, ok := ctx.Deadline()
	return !ok || time.Until(dl) > d
}

// ctxError ends a call stopped by its context: no answer is returned.
func (c *Client) ctxError(req request, ri *ResponseInfo, err error) error {
	ri.clearAnswer()
	return fmt.Errorf("paysdk: %s %s: %w", req.method, req.path, err)
}

// clearAnswer forgets the answer of an earlier attempt.
func (ri *ResponseInfo) clearAnswer() {
	ri.Status, ri.Replayed, ri.RequestID, ri.Region = 0, false, "", ""
}

// send makes one attempt at one endpoint. A non-nil error means no answer was received.
func (c *Client) send(ctx context.Context, endpoint string, req request) (*answer, error) {
	u := endpoint + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Authorization", "Bearer "+c.secretKey)
	hr.Header.Set("Accept", "application/json")
	hr.Header.Set("User-Agent", userAgent)
	if req.body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	if req.key != "" {
		hr.Header.Set(headerIdempotencyKey, req.key)
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("reading the %d answer: %w", resp.StatusCode, err)
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: b, endpoint: endpoint}, nil
}

// delay is the jittered wait before retry number attempt+1: uniformly between half and all
// of min(backoff·2^attempt, maxBackoff).
func (c *Client) delay(attempt int) time.Duration {
	d := c.backoff
	for i := 0; i < attempt && d < c.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.maxBackoff)
	half := d / 2
	return half + mrand.N(d-half+1)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
