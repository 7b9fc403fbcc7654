// Package wechatpay is the WeChat Pay channel adapter: Native (QR code) payments over the
// WeChat Pay API v3 shape that cmd/channelsim/netsim speaks (documented there), with Ed25519
// signatures in place of RSA and notifications in plain text instead of AES-GCM.
//
// A payment is an order whose out_trade_no is the payment ID; the payer scans the code_url
// and WeChat Pay notifies NotifyURL when they paid. Every create, close and refund carries
// the platform's channel key as Idempotency-Key, so repeating a call cannot act twice.
// Requests are signed with the merchant's key; answers and notifications are verified with
// WeChat Pay's key, and notifications whose signature, timestamp or nonce do not check out
// are refused with an error wrapping core.ErrBadSignature.
//
// Errors: a refused connection or a 503 (the channel is down) wrap core.ErrNotExecuted; a
// timeout, another 5xx, a dropped connection or an answer that does not verify are plain
// errors (the outcome is unknown: ask QueryPayment or repeat the call with the same key);
// business refusals are results, not errors.
package wechatpay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
)

// DefaultOrderTTL is Config.OrderTTL's default: WeChat Pay's own.
const DefaultOrderTTL = 2 * time.Hour

// Config configures a Gateway. Zero fields take the documented defaults. The embedded
// channelauth.BaseConfig holds what every signed-channel adapter shares (BaseURL, keys,
// NotifyURL, OrderTTL, default DefaultOrderTTL, MaxClockSkew, HTTPClient, Now); there is no
// per-call timeout: resilience.Gateway bounds each call.
type Config struct {
	channelauth.BaseConfig
	// MerchantID is the WeChat Pay merchant ID (mchid) the requests are signed as. Required.
	MerchantID string
	// AppID is sent as appid with new orders. Default: empty.
	AppID string
}

func (c Config) withDefaults() Config {
	c.BaseConfig = c.BaseConfig.WithDefaults(DefaultOrderTTL)
	return c
}

func (c Config) validate() error {
	errs := []error{c.BaseConfig.Validate()}
	if c.MerchantID == "" {
		errs = append(errs, errors.New("MerchantID is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wechatpay: invalid config: %w", err)
	}
	return nil
}

// Gateway is the WeChat Pay adapter. It implements core.Gateway, core.Querier and
// core.Statements, and parses notifications.
type Gateway struct {
	cfg    Config
	signer *channelauth.Signer
	client *channelauth.Client
}

var (
	_ core.Gateway    = (*Gateway)(nil)
	_ core.Querier    = (*Gateway)(nil)
	_ core.Statements = (*Gateway)(nil)
)

// New makes a Gateway.
func New(cfg Config) (*Gateway, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	signer := channelauth.NewSigner(scheme, cfg.MerchantID, cfg.PrivateKey, cfg.ChannelPublicKey, cfg.MaxClockSkew, cfg.Now)
	return &Gateway{cfg: cfg, signer: signer, client: &channelauth.Client{Name: "wechatpay", BaseURL: cfg.BaseURL,
		HTTP: cfg.HTTPClient, Signer: signer, ParseError: func(raw []byte) (string, string) {
			var e apiError
			json.Unmarshal(raw, &e)
			return e.Code, e.Message
		}}}, nil
}

// chinaZone is WeChat Pay's time zone.
var chinaZone = time.FixedZone("CST", 8*60*60)

// apiError is WeChat Pay's error body.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// call sends a signed request and returns the status and verified body of the answer.
func (g *Gateway) call(ctx context.Context, method, path string, in any, key string) (int, []byte, error) {
	return g.client.Call(ctx, method, path, in, key)
}

// checkChannel refuses calls meant for another channel.
func checkChannel(ch core.Channel) error {
	if ch != "" && ch != core.ChannelWeChatPay {
		return fmt.Errorf("wechatpay: a %s call reached the WeChat Pay adapter: %w", ch, core.ErrNotExecuted)
	}
	return nil
}

// Authorize creates a Native order; the answer is the QR code for the payer to scan.
func (g *Gateway) Authorize(ctx context.Context, req core.AuthorizeRequest) (core.AuthorizeResult, error) {
	if err := checkChannel(req.Channel); err != nil {
		return core.AuthorizeResult{}, err
	}
	expires := ceilSecond(g.cfg.Now().Add(g.cfg.OrderTTL))
	desc := req.Reference
	if desc == "" {
		desc = "Payment " + req.PaymentID
	}
	if len(desc) > 127 {
		desc = desc[:127]
	}
	body := map[string]any{"appid": g.cfg.AppID, "mchid": g.cfg.MerchantID, "description": desc,
		"out_trade_no": req.PaymentID, "time_expire": expires.In(chinaZone).Format(time.RFC3339),
		"notify_url": g.cfg.NotifyURL, "amount": map[string]any{"total": req.Amount, "currency": strings.ToUpper(req.Currency)}}
	status, raw, err := g.call(ctx, http.MethodPost, "/v3/pay/transactions/native", body, req.Key)
	if err != nil {
		return core.AuthorizeResult{}, err
	}
	if status != http.StatusOK {
		var e apiError
		json.Unmarshal(raw, &e)
		return core.AuthorizeResult{Outcome: core.OutcomeDeclined, DeclineCode: core.CodeProcessingError,
			DeclineMessage: fmt.Sprintf("WeChat Pay refused the order: %s: %s", e.Code, e.Message)}, nil
	}
	var ans struct {
		CodeURL       string `json:"code_url"`
		TransactionID string `json:"transaction_id"`
		TimeExpire    string `json:"time_expire"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil || ans.CodeURL == "" {
		return core.AuthorizeResult{}, fmt.Errorf("wechatpay: malformed order answer %q, outcome unknown", raw)
	}
	// A repeated key replays the first answer, whose expiry is the order's; ours is the
	// fallback for a channel that does not echo it.
	if t, err := time.Parse(time.RFC3339, ans.TimeExpire); err == nil {
		expires = t
	}
	expires = expires.UTC()
	ref := ans.TransactionID
	if ref == "" {
		ref = req.PaymentID
	}
	return core.AuthorizeResult{Outcome: core.OutcomeActionRequired, Reference: ref,
		NextAction: &core.NextAction{Type: "wechat_pay_display_qr_code", QRCode: ans.CodeURL, ExpiresAt: &expires}}, nil
}

// Capture is not supported: WeChat Pay captures when the payer pays.
func (g *Gateway) Capture(ctx context.Context, req core.CaptureRequest) (core.OpResult, error) {
	return core.OpResult{FailureCode: core.CodeInvalidState,
		FailureMessage: "WeChat Pay payments are captured when the payer pays; there is nothing to capture."}, nil
}

// Void closes an unpaid order. It fails (OK false) when the order is already paid.
func (g *Gateway) Void(ctx context.Context, req core.VoidRequest) (core.OpResult, error) {
	if err := checkChannel(req.Channel); err != nil {
		return core.OpResult{}, err
	}
	status, raw, err := g.call(ctx, http.MethodPost, "/v3/pay/transactions/out-trade-no/"+url.PathEscape(req.PaymentID)+"/close",
		map[string]string{"mchid": g.cfg.MerchantID}, req.Key)
	if err != nil {
		return core.OpResult{}, err
	}
	if status == http.StatusNoContent || status == http.StatusOK {
		return core.OpResult{OK: true, Reference: req.PaymentID}, nil
	}
	var e apiError
	json.Unmarshal(raw, &e)
	switch e.Code {
	case "ORDERPAID":
		return core.OpResult{FailureCode: core.CodeInvalidState, FailureMessage: "The WeChat Pay order is already paid."}, nil
	case "ORDER_NOT_EXIST":
		return core.OpResult{FailureCode: core.CodeInvalidState, FailureMessage: "WeChat Pay has no such order."}, nil
	}
	return core.OpResult{FailureCode: core.CodeProcessingError, FailureMessage: fmt.Sprintf("WeChat Pay refused to close: %s: %s", e.Code, e.Message)}, nil
}

type refundAnswer struct {
	RefundID    string `json:"refund_id"`
	OutRefundNo string `json:"out_refund_no"`
	Status      string `json:"status"`
	Amount      struct {
		Refund int64 `json:"refund"`
	} `json:"amount"`
}

// Refund returns money of a paid order; out_refund_no is the refund ID.
func (g *Gateway) Refund(ctx context.Context, req core.RefundRequest) (core.OpResult, error) {
	if err := checkChannel(req.Channel); err != nil {
		return core.OpResult{}, err
	}
	refundID := req.RefundID
	if refundID == "" {
		refundID = strings.TrimSuffix(req.Key, ":refund")
	}
	body := map[string]any{"out_trade_no": req.PaymentID, "out_refund_no": refundID, "notify_url": g.cfg.NotifyURL,
		"amount": map[string]any{"refund": req.Amount, "currency": strings.ToUpper(req.Currency)}}
	status, raw, err := g.call(ctx, http.MethodPost, "/v3/refund/domestic/refunds", body, req.Key)
	if err != nil {
		return core.OpResult{}, err
	}
	if status == http.StatusOK {
		var ans refundAnswer
		if err := json.Unmarshal(raw, &ans); err != nil {
			return core.OpResult{}, fmt.Errorf("wechatpay: malformed refund answer %q, outcome unknown", raw)
		}
		switch ans.Status {
		case "SUCCESS":
			return core.OpResult{OK: true, Amount: ans.Amount.Refund, Reference: ans.RefundID}, nil
		case "PROCESSING":
			return core.OpResult{}, fmt.Errorf("wechatpay: refund %s is still processing, outcome unknown", refundID)
		}
		return core.OpResult{FailureCode: core.CodeProcessingError, FailureMessage: "WeChat Pay refund status " + ans.Status, Reference: ans.RefundID}, nil
	}
	var e apiError
	json.Unmarshal(raw, &e)
	switch e.Code {
	case "REFUND_AMOUNT_EXCEEDED":
		return core.OpResult{FailureCode: core.CodeAmountTooLarge, FailureMessage: "The refund exceeds what is left of the WeChat Pay payment."}, nil
	case "TRADE_STATE_ERROR", "ORDER_NOT_EXIST":
		return core.OpResult{FailureCode: core.CodeInvalidState, FailureMessage: "The WeChat Pay order is not paid: " + e.Message}, nil
	}
	return core.OpResult{FailureCode: core.CodeProcessingError, FailureMessage: fmt.Sprintf("WeChat Pay refused the refund: %s: %s", e.Code, e.Message)}, nil
}

// transaction is WeChat Pay's account of an order.
type transaction struct {
	MchID          string `json:"mchid"`
	OutTradeNo     string `json:"out_trade_no"`
	TransactionID  string `json:"transaction_id"`
	TradeState     string `json:"trade_state"`
	TradeStateDesc string `json:"trade_state_desc"`
	SuccessTime    string `json:"success_time"`
	Amount         struct {
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
		Refunded int64  `json:"refunded"`
	} `json:"amount"`
}

// QueryPayment asks WeChat Pay about the order of a payment.
func (g *Gateway) QueryPayment(ctx context.Context, q core.PaymentQuery) (core.PaymentState, error) {
	if err := checkChannel(q.Channel); err != nil {
		return core.PaymentState{}, err
	}
	status, raw, err := g.call(ctx, http.MethodGet, "/v3/pay/transactions/out-trade-no/"+url.PathEscape(q.PaymentID)+
		"?mchid="+url.QueryEscape(g.cfg.MerchantID), nil, "")
	if err != nil {
		return core.PaymentState{}, err
	}
	if status == http.StatusNotFound {
		return core.PaymentState{Found: false}, nil
	}
	if status != http.StatusOK {
		return core.PaymentState{}, fmt.Errorf("wechatpay: order query answered %d: %s", status, raw)
	}
	var tx transaction
	if err := json.Unmarshal(raw, &tx); err != nil {
		return core.PaymentState{}, fmt.Errorf("wechatpay: malformed order %q", raw)
	}
	st := core.PaymentState{Found: true, Reference: tx.TransactionID}
	switch tx.TradeState {
	case "SUCCESS", "REFUND":
		st.Outcome, st.AmountCaptured, st.AmountRefunded = core.OutcomeCaptured, tx.Amount.Total, tx.Amount.Refunded
	case "NOTPAY", "USERPAYING":
		st.Outcome = core.OutcomeActionRequired
	case "CLOSED", "REVOKED":
		st.Outcome, st.Closed = core.OutcomeClosed, true
	case "PAYERROR":
		st.Outcome, st.DeclineCode, st.DeclineMessage = core.OutcomeDeclined, core.CodeProcessingError, tx.TradeStateDesc
	default:
		return core.PaymentState{}, fmt.Errorf("wechatpay: unknown trade_state %q", tx.TradeState)
	}
	return st, nil
}

// Statement lists the day's charges and refunds (UTC day).
func (g *Gateway) Statement(ctx context.Context, channel core.Channel, day time.Time) ([]core.StatementLine, error) {
	if err := checkChannel(channel); err != nil {
		return nil, err
	}
	status, raw, err := g.call(ctx, http.MethodGet, "/wechat_pay/statements?date="+day.UTC().Format(time.DateOnly), nil, "")
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("wechatpay: statement answered %d: %s", status, raw)
	}
	return parseStatement(raw)
}

func parseStatement(raw []byte) ([]core.StatementLine, error) {
	var st struct {
		Lines []struct {
			Kind        string    `json:"kind"`
			OutTradeNo  string    `json:"out_trade_no"`
			OutRefundNo string    `json:"out_refund_no"`
			Reference   string    `json:"reference"`
			Amount      int64     `json:"amount"`
			Currency    string    `json:"currency"`
			Time        time.Time `json:"time"`
		} `json:"lines"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("wechatpay: malformed statement: %w", err)
	}
	out := make([]core.StatementLine, 0, len(st.Lines))
	for _, l := range st.Lines {
		out = append(out, core.StatementLine{Kind: l.Kind, PaymentID: l.OutTradeNo, RefundID: l.OutRefundNo,
			Reference: l.Reference, Amount: l.Amount, Currency: l.Currency, At: l.Time})
	}
	return out, nil
}

// ParseNotification verifies a WeChat Pay notification (signature, timestamp, nonce) and
// maps it. Unverifiable notifications are errors wrapping core.ErrBadSignature; they must
// change nothing.
func (g *Gateway) ParseNotification(r *http.Request) (core.Notification, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return core.Notification{}, fmt.Errorf("wechatpay: reading the notification: %w", err)
	}
	if err := g.verify(r.Header, body, true); err != nil {
		return core.Notification{}, fmt.Errorf("wechatpay notification: %w", err)
	}
	var n struct {
		ID         string `json:"id"`
		CreateTime string `json:"create_time"`
		EventType  string `json:"event_type"`
		Resource   struct {
			OriginalType string          `json:"original_type"`
			Data         json.RawMessage `json:"data"`
		} `json:"resource"`
	}
	if err := json.Unmarshal(body, &n); err != nil || n.ID == "" {
		return core.Notification{}, fmt.Errorf("wechatpay: malformed notification %q", body)
	}
	out := core.Notification{Channel: core.ChannelWeChatPay, EventID: n.ID}
	out.Nonce, out.NonceExpires = g.signer.NotificationNonce(r.Header)
	out.OccurredAt, _ = time.Parse(time.RFC3339, n.CreateTime)
	if strings.HasPrefix(n.EventType, "REFUND.") {
		var rf struct {
			RefundID    string `json:"refund_id"`
			OutRefundNo string `json:"out_refund_no"`
			OutTradeNo  string `json:"out_trade_no"`
			Amount      struct {
				Refund   int64  `json:"refund"`
				Currency string `json:"currency"`
			} `json:"amount"`
		}
		if err := json.Unmarshal(n.Resource.Data, &rf); err != nil {
			return core.Notification{}, fmt.Errorf("wechatpay: malformed refund notification %q", body)
		}
		out.PaymentID, out.RefundID, out.Reference = rf.OutTradeNo, rf.OutRefundNo, rf.RefundID
		out.Amount, out.Currency = rf.Amount.Refund, rf.Amount.Currency
		out.Outcome = core.OutcomeCaptured
		if n.EventType != "REFUND.SUCCESS" {
			out.Outcome, out.DeclineCode, out.DeclineMessage = core.OutcomeDeclined, core.CodeProcessingError, "WeChat Pay refund "+n.EventType
		}
		return out, nil
	}
	var tx transaction
	if err := json.Unmarshal(n.Resource.Data, &tx); err != nil {
		return core.Notification{}, fmt.Errorf("wechatpay: malformed transaction notification %q", body)
	}
	out.PaymentID, out.Reference, out.Amount, out.Currency = tx.OutTradeNo, tx.TransactionID, tx.Amount.Total, tx.Amount.Currency
	switch n.EventType {
	case "TRANSACTION.SUCCESS":
		out.Outcome = core.OutcomeCaptured
	case "TRANSACTION.PAYERROR":
		out.Outcome, out.DeclineCode, out.DeclineMessage = core.OutcomeDeclined, core.CodeProcessingError, tx.TradeStateDesc
	case "TRANSACTION.CLOSED":
		out.Outcome = core.OutcomeClosed
	case "TRANSACTION.NOTPAY":
		out.Outcome = core.OutcomeActionRequired
	default:
		return core.Notification{}, fmt.Errorf("wechatpay: unknown event_type %q", n.EventType)
	}
	return out, nil
}

// NotificationHandler serves NotifyURL: it parses each notification and hands it to sink.
// It answers 204 when sink accepted it (WeChat Pay stops retrying), 401 for notifications
// that do not verify, and 500 when sink fails (WeChat Pay will redeliver).
func (g *Gateway) NotificationHandler(sink func(context.Context, core.Notification) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := g.ParseNotification(r)
		switch {
		case errors.Is(err, core.ErrBadSignature):
			writeAck(w, http.StatusUnauthorized, "FAIL", err.Error())
		case err != nil:
			writeAck(w, http.StatusBadRequest, "FAIL", err.Error())
		case sink(r.Context(), n) != nil:
			writeAck(w, http.StatusInternalServerError, "FAIL", "not processed; retry later")
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

func writeAck(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(apiError{Code: code, Message: msg})
}

// ceilSecond rounds t up to a whole second: WeChat Pay times have no fractions.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}
