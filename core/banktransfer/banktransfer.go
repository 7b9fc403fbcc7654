// Package banktransfer is the bank-transfer channel adapter, for a generic virtual-account
// collections API that cmd/channelsim/netsim speaks ("Simbank", documented there and in
// docs/channels.md): the platform opens a pending transfer and tells the payer which
// account to pay into, quoting which reference; the bank notifies NotifyURL when the money
// arrived (or the transfer expired). Requests carry an Authorization header (client ID,
// nonce, timestamp, key serial and a signature over method, URI, timestamp, nonce and body:
// SHA256withRSA by default, HMAC-SHA256 with Config.HMACSecret; mutual TLS goes in
// BaseConfig.HTTPClient's transport) and the channel key as Idempotency-Key; answers and
// notifications carry Simbank-Timestamp/-Nonce/-Signature/-Serial headers and are verified.
//
// Banks' APIs differ: this is one honest shape, not any bank's. Connecting a real bank means
// changing this package (paths, field names, the signature scheme in sign.go) and keeping
// its tests and the conformance suite passing.
//
// Errors: a refused connection, a 503 or a refused signature wrap core.ErrNotExecuted; a
// timeout, another 5xx, a dropped connection or an answer that does not verify are plain
// errors (outcome unknown); business refusals are results.
package banktransfer

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

// DefaultOrderTTL is Config.OrderTTL's default: three days to make the transfer.
const DefaultOrderTTL = 72 * time.Hour

// Config configures a Gateway. Zero fields take the documented defaults. The embedded
// channelauth.BaseConfig holds what every signed-channel adapter shares (BaseURL, keys,
// NotifyURL, OrderTTL, default DefaultOrderTTL, MaxClockSkew, HTTPClient, Now); there is no
// per-call timeout: resilience.Gateway bounds each call.
type Config struct {
	channelauth.BaseConfig
	// ClientID is the platform's client ID at the bank. Required.
	ClientID string
	// HMACSecret, when set, authenticates with HMAC-SHA256 under this secret instead of
	// RSA (BaseConfig.PrivateKey and ChannelPublicKey are then unused). Default: RSA, and
	// both keys are required.
	HMACSecret string
}

func (c Config) withDefaults() Config {
	c.BaseConfig = c.BaseConfig.WithDefaults(DefaultOrderTTL)
	return c
}

func (c Config) validate() error {
	errs := []error{c.BaseConfig.Validate()}
	if c.ClientID == "" {
		errs = append(errs, errors.New("ClientID is required"))
	}
	if c.HMACSecret == "" && (c.PrivateKey == nil || c.ChannelPublicKey == nil) {
		errs = append(errs, errors.New("PrivateKey and ChannelPublicKey are required (or HMACSecret)"))
	}
	if c.HMACSecret != "" && len(c.HMACSecret) < 16 {
		errs = append(errs, errors.New("HMACSecret must have at least 16 bytes"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("banktransfer: invalid config: %w", err)
	}
	return nil
}

// Gateway is the bank-transfer adapter. It implements core.Gateway, core.Querier,
// core.Statements and core.Payouter (payouts from the platform's account), and parses
// notifications.
type Gateway struct {
	cfg    Config
	signer *channelauth.Signer
	client *channelauth.Client
}

var (
	_ core.Gateway    = (*Gateway)(nil)
	_ core.Querier    = (*Gateway)(nil)
	_ core.Statements = (*Gateway)(nil)
	_ core.Payouter   = (*Gateway)(nil)
)

// New makes a Gateway.
func New(cfg Config) (*Gateway, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	signer := newSigner(cfg)
	return &Gateway{cfg: cfg, signer: signer, client: &channelauth.Client{Name: "banktransfer", BaseURL: cfg.BaseURL,
		HTTP: cfg.HTTPClient, Signer: signer, ParseError: parseError}}, nil
}

// apiError is the bank's error body.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func parseError(raw []byte) (code, msg string) {
	var e apiError
	json.Unmarshal(raw, &e)
	return e.Error.Code, e.Error.Message
}

// call sends a signed request and returns the status and verified body of the answer.
func (g *Gateway) call(ctx context.Context, method, path string, in any, key string) (int, []byte, error) {
	return g.client.Call(ctx, method, path, in, key)
}

// checkChannel refuses calls meant for another channel.
func checkChannel(ch core.Channel) error {
	if ch != "" && ch != core.ChannelBankTransfer {
		return fmt.Errorf("banktransfer: a %s call reached the bank-transfer adapter: %w", ch, core.ErrNotExecuted)
	}
	return nil
}

// transfer is the bank's account of a pending or settled transfer.
type transfer struct {
	TransferID  string `json:"transfer_id"`
	OutTradeNo  string `json:"out_trade_no"`
	Status      string `json:"status"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Beneficiary struct {
		Name    string `json:"name"`
		Account string `json:"account"`
	} `json:"beneficiary"`
	Reference     string     `json:"reference"`
	ExpiresAt     time.Time  `json:"expires_at"`
	ReceivedAt    *time.Time `json:"received_at"`
	ClosedAt      *time.Time `json:"closed_at"`
	CreatedAt     time.Time  `json:"created_at"`
	FailureReason string     `json:"failure_reason"`
	Refunded      int64      `json:"refunded"`
}

// Authorize opens a pending transfer; the answer tells the payer where to send the money.
func (g *Gateway) Authorize(ctx context.Context, req core.AuthorizeRequest) (core.AuthorizeResult, error) {
	if err := checkChannel(req.Channel); err != nil {
		return core.AuthorizeResult{}, err
	}
	expires := g.cfg.Now().Add(g.cfg.OrderTTL)
	if r := expires.Truncate(time.Second); !r.Equal(expires) {
		expires = r.Add(time.Second)
	}
	desc := req.Reference
	if desc == "" {
		desc = "Payment " + req.PaymentID
	}
	body := map[string]any{"out_trade_no": req.PaymentID, "amount": req.Amount, "currency": strings.ToUpper(req.Currency),
		"description": desc, "notify_url": g.cfg.NotifyURL, "expires_at": expires.UTC().Format(time.RFC3339)}
	status, raw, err := g.call(ctx, http.MethodPost, "/bank/v1/transfers", body, req.Key)
	if err != nil {
		return core.AuthorizeResult{}, err
	}
	if status != http.StatusOK && status != http.StatusCreated {
		code, msg := parseError(raw)
		return core.AuthorizeResult{Outcome: core.OutcomeDeclined, DeclineCode: core.CodeProcessingError,
			DeclineMessage: fmt.Sprintf("The bank refused the transfer: %s: %s", code, msg)}, nil
	}
	var tr transfer
	if err := json.Unmarshal(raw, &tr); err != nil || tr.Beneficiary.Account == "" || tr.Reference == "" {
		return core.AuthorizeResult{}, fmt.Errorf("banktransfer: malformed transfer answer %q, outcome unknown", raw)
	}
	exp := tr.ExpiresAt.UTC()
	return core.AuthorizeResult{Outcome: core.OutcomeActionRequired, Reference: tr.TransferID,
		NextAction: &core.NextAction{Type: "bank_transfer_instructions", BankAccount: tr.Beneficiary.Account,
			Reference: tr.Reference, ExpiresAt: &exp}}, nil
}

// Capture is not supported: a transfer is captured when the money arrives.
func (g *Gateway) Capture(ctx context.Context, req core.CaptureRequest) (core.OpResult, error) {
	return core.OpResult{FailureCode: core.CodeInvalidState,
		FailureMessage: "Bank transfers are captured when the money arrives; there is nothing to capture."}, nil
}

// Void cancels a pending transfer. It fails (OK false) when the money already arrived.
func (g *Gateway) Void(ctx context.Context, req core.VoidRequest) (core.OpResult, error) {
	if err := checkChannel(req.Channel); err != nil {
		return core.OpResult{}, err
	}
	status, raw, err := g.call(ctx, http.MethodPost, "/bank/v1/transfers/"+url.PathEscape(req.PaymentID)+"/cancel", nil, req.Key)
	if err != nil {
		return core.OpResult{}, err
	}
	if status == http.StatusOK {
		var tr transfer
		json.Unmarshal(raw, &tr)
		return core.OpResult{OK: true, Amount: tr.Amount, Reference: tr.TransferID}, nil
	}
	code, msg := parseError(raw)
	switch code {
	case "transfer_received":
		return core.OpResult{FailureCode: core.CodeInvalidState, FailureMessage: "The transfer was already received."}, nil
	case "transfer_not_found":
		return core.OpResult{FailureCode: core.CodeInvalidState, FailureMessage: "The bank has no such transfer."}, nil
	}
	return core.OpResult{FailureCode: core.CodeProcessingError, FailureMessage: fmt.Sprintf("The bank refused to cancel: %s: %s", code, msg)}, nil
}

// Refund sends money of a received transfer back to the payer.
func (g *Gateway) Refund(ctx context.Context, req core.RefundRequest) (core.OpResult, error) {
	if err := checkChannel(req.Channel); err != nil {
		return core.OpResult{}, err
	}
	refundID := req.RefundID
	if refundID == "" {
		refundID = strings.TrimSuffix(req.Key, ":refund")
	}
	body := map[string]any{"out_trade_no": req.PaymentID, "out_refund_no": refundID, "amount": req.Amount,
		"currency": strings.ToUpper(req.Currency), "notify_url": g.cfg.NotifyURL}
	status, raw, err := g.call(ctx, http.MethodPost, "/bank/v1/refunds", body, req.Key)
	if err != nil {
		return core.OpResult{}, err
	}
	if status == http.StatusOK || status == http.StatusCreated {
		var rf struct {
			RefundID string `json:"refund_id"`
			Amount   int64  `json:"amount"`
			Status   string `json:"status"`
		}
		if err := json.Unmarshal(raw, &rf); err != nil {
			return core.OpResult{}, fmt.Errorf("banktransfer: malformed refund answer %q, outcome unknown", raw)
		}
		if rf.Status == "succeeded" {
			return core.OpResult{OK: true, Amount: rf.Amount, Reference: rf.RefundID}, nil
		}
		return core.OpResult{}, fmt.Errorf("banktransfer: refund %s is %s, outcome unknown", refundID, rf.Status)
	}
	code, msg := parseError(raw)
	switch code {
	case "amount_exceeds_received":
		return core.OpResult{FailureCode: core.CodeAmountTooLarge, FailureMessage: "The refund exceeds what is left of the transfer."}, nil
	case "transfer_not_received", "transfer_not_found":
		return core.OpResult{FailureCode: core.CodeInvalidState, FailureMessage: "The transfer was not received: " + msg}, nil
	}
	return core.OpResult{FailureCode: core.CodeProcessingError, FailureMessage: fmt.Sprintf("The bank refused the refund: %s: %s", code, msg)}, nil
}

// QueryPayment asks the bank about the transfer of a payment.
func (g *Gateway) QueryPayment(ctx context.Context, q core.PaymentQuery) (core.PaymentState, error) {
	if err := checkChannel(q.Channel); err != nil {
		return core.PaymentState{}, err
	}
	status, raw, err := g.call(ctx, http.MethodGet, "/bank/v1/transfers/"+url.PathEscape(q.PaymentID), nil, "")
	if err != nil {
		return core.PaymentState{}, err
	}
	if status == http.StatusNotFound {
		return core.PaymentState{Found: false}, nil
	}
	if status != http.StatusOK {
		return core.PaymentState{}, fmt.Errorf("banktransfer: transfer query answered %d: %s", status, raw)
	}
	var tr transfer
	if err := json.Unmarshal(raw, &tr); err != nil {
		return core.PaymentState{}, fmt.Errorf("banktransfer: malformed transfer %q", raw)
	}
	st := core.PaymentState{Found: true, Reference: tr.TransferID}
	switch tr.Status {
	case "pending":
		st.Outcome = core.OutcomeActionRequired
	case "received":
		st.Outcome, st.AmountCaptured, st.AmountRefunded = core.OutcomeCaptured, tr.Amount, tr.Refunded
	case "expired", "canceled":
		st.Outcome, st.Closed = core.OutcomeClosed, true
	case "rejected":
		st.Outcome, st.DeclineCode, st.DeclineMessage = core.OutcomeDeclined, core.CodeProcessingError, tr.FailureReason
	default:
		return core.PaymentState{}, fmt.Errorf("banktransfer: unknown transfer status %q", tr.Status)
	}
	return st, nil
}

// Statement lists the day's received transfers and refunds (UTC day).
func (g *Gateway) Statement(ctx context.Context, channel core.Channel, day time.Time) ([]core.StatementLine, error) {
	if err := checkChannel(channel); err != nil {
		return nil, err
	}
	status, raw, err := g.call(ctx, http.MethodGet, "/bank_transfer/statements?date="+day.UTC().Format(time.DateOnly), nil, "")
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("banktransfer: statement answered %d: %s", status, raw)
	}
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
		return nil, fmt.Errorf("banktransfer: malformed statement: %w", err)
	}
	out := make([]core.StatementLine, 0, len(st.Lines))
	for _, l := range st.Lines {
		out = append(out, core.StatementLine{Kind: l.Kind, PaymentID: l.OutTradeNo, RefundID: l.OutRefundNo,
			Reference: l.Reference, Amount: l.Amount, Currency: l.Currency, At: l.Time})
	}
	return out, nil
}

// ParseNotification verifies a bank notification (signature, timestamp, nonce) and maps
// it. Unverifiable notifications are errors wrapping core.ErrBadSignature; they must change
// nothing.
func (g *Gateway) ParseNotification(r *http.Request) (core.Notification, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return core.Notification{}, fmt.Errorf("banktransfer: reading the notification: %w", err)
	}
	if err := g.signer.Verify(r.Header, body, true); err != nil {
		return core.Notification{}, fmt.Errorf("banktransfer notification: %w", err)
	}
	var ev struct {
		EventID   string    `json:"event_id"`
		EventType string    `json:"event_type"`
		CreatedAt time.Time `json:"created_at"`
		Data      struct {
			Payout   *bankPayout `json:"payout"`
			Transfer transfer    `json:"transfer"`
			Refund   *struct {
				RefundID    string `json:"refund_id"`
				OutRefundNo string `json:"out_refund_no"`
				Amount      int64  `json:"amount"`
				Currency    string `json:"currency"`
				Status      string `json:"status"`
			} `json:"refund"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.EventID == "" {
		return core.Notification{}, fmt.Errorf("banktransfer: malformed notification %q", body)
	}
	if po := ev.Data.Payout; po != nil && strings.HasPrefix(ev.EventType, "payout.") {
		res, err := po.result()
		if err != nil {
			return core.Notification{}, err
		}
		n := core.Notification{Channel: core.ChannelBankTransfer, EventID: ev.EventID, PayoutID: po.OutPayoutNo,
			PayoutOutcome: res.Outcome, Reference: po.PayoutID, Amount: po.Amount, Currency: po.Currency,
			DeclineCode: res.FailureCode, DeclineMessage: res.FailureMessage, OccurredAt: ev.CreatedAt}
		n.Nonce, n.NonceExpires = g.signer.NotificationNonce(r.Header)
		return n, nil
	}
	tr := ev.Data.Transfer
	n := core.Notification{Channel: core.ChannelBankTransfer, EventID: ev.EventID, PaymentID: tr.OutTradeNo,
		Reference: tr.TransferID, Amount: tr.Amount, Currency: tr.Currency, OccurredAt: ev.CreatedAt}
	n.Nonce, n.NonceExpires = g.signer.NotificationNonce(r.Header)
	switch ev.EventType {
	case "transfer.received":
		n.Outcome = core.OutcomeCaptured
	case "transfer.rejected":
		n.Outcome, n.DeclineCode, n.DeclineMessage = core.OutcomeDeclined, core.CodeProcessingError, tr.FailureReason
	case "transfer.expired", "transfer.canceled":
		n.Outcome = core.OutcomeClosed
	case "transfer.pending":
		n.Outcome = core.OutcomeActionRequired
	case "refund.succeeded", "refund.failed":
		rf := ev.Data.Refund
		if rf == nil {
			return core.Notification{}, fmt.Errorf("banktransfer: refund notification without a refund %q", body)
		}
		n.RefundID, n.Reference, n.Amount, n.Currency = rf.OutRefundNo, rf.RefundID, rf.Amount, rf.Currency
		n.Outcome = core.OutcomeCaptured
		if ev.EventType == "refund.failed" {
			n.Outcome, n.DeclineCode = core.OutcomeDeclined, core.CodeProcessingError
		}
	default:
		return core.Notification{}, fmt.Errorf("banktransfer: unknown event_type %q", ev.EventType)
	}
	return n, nil
}

// NotificationHandler serves NotifyURL: it parses each notification and hands it to sink.
// It answers 204 when sink accepted it (the bank stops retrying), 401 for notifications
// that do not verify, and 500 when sink fails (the bank redelivers).
func (g *Gateway) NotificationHandler(sink func(context.Context, core.Notification) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := g.ParseNotification(r)
		switch {
		case errors.Is(err, core.ErrBadSignature):
			http.Error(w, err.Error(), http.StatusUnauthorized)
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
		case sink(r.Context(), n) != nil:
			http.Error(w, "not processed; retry later", http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

// bankPayout is the bank's account of a payout.
type bankPayout struct {
	PayoutID    string `json:"payout_id"`
	OutPayoutNo string `json:"out_payout_no"`
	Status      string `json:"status"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	FailureCode string `json:"failure_code"`
}

func (po *bankPayout) result() (core.PayoutResult, error) {
	r := core.PayoutResult{Found: true, Reference: po.PayoutID, FailureCode: po.FailureCode}
	switch po.Status {
	case "in_transit":
		r.Outcome = core.PayoutOutcomeInTransit
	case "paid":
		r.Outcome = core.PayoutOutcomePaid
	case "failed":
		r.Outcome, r.FailureMessage = core.PayoutOutcomeFailed, "The bank could not pay the payout: "+po.FailureCode
	case "returned":
		r.Outcome, r.FailureMessage = core.PayoutOutcomeReturned, "The receiving bank returned the payout: "+po.FailureCode
	default:
		return core.PayoutResult{}, fmt.Errorf("banktransfer: unknown payout status %q", po.Status)
	}
	return r, nil
}

// Payout asks the bank to pay a merchant's account from the platform's, with the payout ID
// as out_payout_no and req.Key as the Idempotency-Key. A refusal (a bad account) is a failed
// payout; an answer that cannot be read leaves the outcome unknown.
func (g *Gateway) Payout(ctx context.Context, req core.PayoutRequest) (core.PayoutResult, error) {
	body := map[string]any{"out_payout_no": req.PayoutID, "amount": req.Amount, "currency": strings.ToUpper(req.Currency),
		"beneficiary": map[string]string{"name": req.HolderName, "account": req.AccountNumber, "bank_code": req.BankCode},
		"description": req.Description, "notify_url": g.cfg.NotifyURL}
	status, raw, err := g.call(ctx, http.MethodPost, "/bank/v1/payouts", body, req.Key)
	if err != nil {
		return core.PayoutResult{}, err
	}
	if status != http.StatusOK && status != http.StatusCreated {
		code, msg := parseError(raw)
		if status >= 400 && status < 500 && status != http.StatusConflict {
			return core.PayoutResult{Found: true, Outcome: core.PayoutOutcomeFailed, FailureCode: core.PayoutCodeFailed,
				FailureMessage: fmt.Sprintf("The bank refused the payout: %s: %s", code, msg)}, nil
		}
		return core.PayoutResult{}, fmt.Errorf("banktransfer: payout %s answered %d %s, outcome unknown", req.PayoutID, status, code)
	}
	var po bankPayout
	if err := json.Unmarshal(raw, &po); err != nil {
		return core.PayoutResult{}, fmt.Errorf("banktransfer: malformed payout answer %q, outcome unknown", raw)
	}
	return po.result()
}

// QueryPayout asks the bank about a payout by its ID; Found is false when it has none.
func (g *Gateway) QueryPayout(ctx context.Context, q core.PayoutQuery) (core.PayoutResult, error) {
	status, raw, err := g.call(ctx, http.MethodGet, "/bank/v1/payouts/"+url.PathEscape(q.PayoutID), nil, "")
	if err != nil {
		return core.PayoutResult{}, err
	}
	if status == http.StatusNotFound {
		return core.PayoutResult{}, nil
	}
	if status != http.StatusOK {
		return core.PayoutResult{}, fmt.Errorf("banktransfer: payout query answered %d: %s", status, raw)
	}
	var po bankPayout
	if err := json.Unmarshal(raw, &po); err != nil {
		return core.PayoutResult{}, fmt.Errorf("banktransfer: malformed payout %q", raw)
	}
	return po.result()
}
