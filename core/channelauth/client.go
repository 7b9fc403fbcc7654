package channelauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	"github.com/paycenter/paycenter/core"
)

// Client sends signed JSON requests to a channel that answers in the header scheme, and
// classifies what went wrong: errors wrapping core.ErrNotExecuted when the channel certainly
// did nothing (not sent, connection refused, 503, our signature refused), plain errors when
// the outcome is unknown (timeouts, other 5xx, answers that do not verify).
type Client struct {
	Name    string // for error messages, e.g. "wechatpay"
	BaseURL string
	HTTP    *http.Client
	Signer  *Signer
	// ParseError reads the channel's error code and message from an answer body.
	ParseError func(raw []byte) (code, msg string)
}

// Call sends a signed request (in marshalled as JSON, key as Idempotency-Key when set) and
// returns the status and verified body of the answer. ctx alone bounds the call: the
// per-call timeout is resilience.Gateway's, which wraps every adapter (see BaseConfig).
func (c *Client) Call(ctx context.Context, method, path string, in any, key string) (int, []byte, error) {
	status, h, raw, err := c.CallUnverified(ctx, method, path, in, key)
	if err != nil {
		return 0, nil, err
	}
	if err := c.Signer.Verify(h, raw, false); err != nil {
		return 0, nil, fmt.Errorf("%s %s %s: answer %d does not verify, outcome unknown: %w", c.Name, method, path, status, err)
	}
	return status, raw, nil
}

// CallUnverified is Call without the answer's verification: it returns the answer's headers
// for a caller that must read the answer before it can verify it (WeChat Pay's certificate
// download, whose answer is signed by a certificate it carries).
func (c *Client) CallUnverified(ctx context.Context, method, path string, in any, key string) (int, http.Header, []byte, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s %s: not sent: %w: %w", c.Name, method, path, err, core.ErrNotExecuted)
	}
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return 0, nil, nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s %s: %v: %w", c.Name, method, path, err, core.ErrNotExecuted)
	}
	// No GetBody: net/http would silently resend a request carrying Idempotency-Key after a
	// dropped connection, with the same nonce, which the channel refuses as a replay. A lost
	// answer is for the caller to resolve, with the same key.
	req.GetBody = nil
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	auth, err := c.Signer.Authorization(method, req.URL.RequestURI(), body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s %s: signing: %v: %w", c.Name, method, path, err, core.ErrNotExecuted)
	}
	req.Header.Set("Authorization", auth)
	resp, err := c.HTTP.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return 0, nil, nil, fmt.Errorf("%s %s %s: %v: %w", c.Name, method, path, err, core.ErrNotExecuted)
		}
		return 0, nil, nil, fmt.Errorf("%s %s %s: outcome unknown: %w", c.Name, method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("%s %s %s: reading the answer, outcome unknown: %w", c.Name, method, path, err)
	}
	code, msg := c.ParseError(raw)
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		return 0, nil, nil, fmt.Errorf("%s %s %s: unavailable (%s %s): %w", c.Name, method, path, code, msg, core.ErrNotExecuted)
	case resp.StatusCode >= 500:
		return 0, nil, nil, fmt.Errorf("%s %s %s: status %d, outcome unknown", c.Name, method, path, resp.StatusCode)
	case resp.StatusCode == http.StatusUnauthorized:
		return 0, nil, nil, fmt.Errorf("%s %s %s: our signature was refused (%s: %s): %w", c.Name, method, path, code, msg, core.ErrNotExecuted)
	}
	return resp.StatusCode, resp.Header, raw, nil
}
