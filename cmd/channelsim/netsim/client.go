package netsim

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
)

// Control is a typed client of the simulator's /sim control API, for tests and tools.
type Control struct {
	// BaseURL is the simulator's address, e.g. "http://127.0.0.1:41000".
	BaseURL string
	// HTTPClient makes the calls. Default http.DefaultClient.
	HTTPClient *http.Client
}

// ControlError is a control call the simulator refused.
type ControlError struct {
	StatusCode int
	Message    string
}

func (e *ControlError) Error() string {
	return fmt.Sprintf("channelsim: %d %s", e.StatusCode, e.Message)
}

func (c Control) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("channelsim %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e controlError
		json.Unmarshal(raw, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(raw))
		}
		return &ControlError{StatusCode: resp.StatusCode, Message: e.Error}
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

// PublicKey fetches the key the simulator signs with.
func (c Control) PublicKey(ctx context.Context) (*rsa.PublicKey, error) {
	var info PublicKeyInfo
	if err := c.do(ctx, http.MethodGet, "/sim/public-key", nil, &info); err != nil {
		return nil, err
	}
	return channelauth.ParsePublicKey([]byte(info.PublicKey))
}

// RegisterClient registers what the simulator learns about client id ("*": any client).
func (c Control) RegisterClient(ctx context.Context, id string, reg ClientRegistration) error {
	return c.do(ctx, http.MethodPut, "/sim/clients/"+url.PathEscape(id), reg, nil)
}

// SetFaults replaces one channel's faults.
func (c Control) SetFaults(ctx context.Context, ch core.Channel, f Faults) error {
	return c.do(ctx, http.MethodPost, "/sim/faults", map[core.Channel]Faults{ch: f}, nil)
}

// Faults reads every channel's faults, with counters as far as they are used up.
func (c Control) Faults(ctx context.Context) (map[core.Channel]Faults, error) {
	var out map[core.Channel]Faults
	return out, c.do(ctx, http.MethodGet, "/sim/faults", nil, &out)
}

// ClearFaults removes every fault.
func (c Control) ClearFaults(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/sim/faults", nil, nil)
}

// Pay is the payer paying an order: the simulator notifies the order's notify_url.
func (c Control) Pay(ctx context.Context, ch core.Channel, outTradeNo string) (Order, error) {
	var o Order
	return o, c.do(ctx, http.MethodPost, "/sim/pay", PayRequest{Channel: ch, OutTradeNo: outTradeNo}, &o)
}

// Fail is the payer's payment of an order failing, with reason as its description.
func (c Control) Fail(ctx context.Context, ch core.Channel, outTradeNo, reason string) (Order, error) {
	var o Order
	return o, c.do(ctx, http.MethodPost, "/sim/pay", PayRequest{Channel: ch, OutTradeNo: outTradeNo, Fail: true, FailReason: reason}, &o)
}

// Expire closes a pending order now, as its expiry would, and notifies it.
func (c Control) Expire(ctx context.Context, ch core.Channel, outTradeNo string) (Order, error) {
	var o Order
	return o, c.do(ctx, http.MethodPost, "/sim/expire", PayRequest{Channel: ch, OutTradeNo: outTradeNo}, &o)
}

// Order reads the simulator's account of an order.
func (c Control) Order(ctx context.Context, ch core.Channel, outTradeNo string) (Order, error) {
	var o Order
	return o, c.do(ctx, http.MethodGet, "/sim/orders/"+url.PathEscape(string(ch))+"/"+url.PathEscape(outTradeNo), nil, &o)
}

// Charges reads what the simulator did per payment and per idempotency key.
func (c Control) Charges(ctx context.Context) (Charges, error) {
	var out Charges
	return out, c.do(ctx, http.MethodGet, "/sim/charges", nil, &out)
}

// Notifications lists the notification deliveries so far.
func (c Control) Notifications(ctx context.Context) ([]NotificationRecord, error) {
	var out []NotificationRecord
	return out, c.do(ctx, http.MethodGet, "/sim/notifications", nil, &out)
}

// MovePayout moves a bank payout by hand (status paid, failed or returned) and notifies it:
// a delayed payout paid now, a paid one returned by the receiving bank.
func (c Control) MovePayout(ctx context.Context, outPayoutNo, status string) error {
	return c.do(ctx, http.MethodPost, "/sim/payouts/"+url.PathEscape(outPayoutNo)+"/"+url.PathEscape(status), nil, nil)
}
