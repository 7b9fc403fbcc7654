package paysdk

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// AdminConfig configures an Admin client.
type AdminConfig struct {
	// Endpoints are the base URLs of region endpoints, nearest first, as in Config. At
	// least one is required.
	Endpoints []string
	// Token is the operator's admin token. Required.
	Token string
	// HTTPClient sends the requests. Default: a client with a 30 s timeout per attempt.
	HTTPClient *http.Client
	// MaxRetries is how many times a call is retried after its first attempt. 0 means the
	// default, 4; a negative value disables retries.
	MaxRetries int
	// Backoff is the base of the wait between attempts, as in Config. Default 100 ms.
	Backoff time.Duration
	// Logger, if set, receives retries (debug) and failovers between endpoints (info).
	Logger *slog.Logger
}

// Admin calls the operator routes of the API (/v1/admin/...) with the admin token: it
// onboards merchants, reads and sets their channel authorisations, checks the ledger and
// reconciles a channel's statement. Make one with NewAdmin; it is safe for concurrent use.
//
// Its calls are retried and fail over between endpoints as a Client's reads are: after a
// network error or a 5xx on the next endpoint, after a 429 on the same one. None of the
// operator routes takes an Idempotency-Key: setting a channel and reconciling a day give
// the same result when repeated, but a CreateMerchant whose answer was lost and that is
// retried may leave an extra merchant behind, one whose secret key nobody has seen.
//
// Errors are *Error values, as the merchant client's are: a wrong token is a 401 with Code
// CodeUnauthenticated, an unknown merchant a 404 CodeNotFound.
//
// Draining a region and per-merchant rate limits are switches in Consul's KV store, not
// API routes; payctl throws them through the platform's regions package.
type Admin struct {
	c *Client
}

// NewAdmin makes an Admin from cfg, applying defaults, or reports what is wrong with cfg.
func NewAdmin(cfg AdminConfig) (*Admin, error) {
	c, err := build(Config{Endpoints: cfg.Endpoints, SecretKey: cfg.Token, HTTPClient: cfg.HTTPClient,
		MaxRetries: cfg.MaxRetries, Backoff: cfg.Backoff, Logger: cfg.Logger}, "an admin token", "admin token")
	if err != nil {
		return nil, err
	}
	return &Admin{c: c}, nil
}

// CreateMerchantParams is a request to onboard a merchant.
type CreateMerchantParams struct {
	Name string `json:"name"`
	// HomeRegion is the region whose database holds the merchant's payments, e.g. "us-east".
	HomeRegion string `json:"home_region"`
}

// SetChannelParams authorises or forbids a channel for a merchant.
type SetChannelParams struct {
	// Enabled authorises (true) or forbids (false) the channel.
	Enabled bool `json:"enabled"`
	// Credentials, if set, are the merchant's own credentials for the channel (e.g. its
	// own app ID and key); they are stored encrypted and never shown again.
	Credentials map[string]string `json:"credentials,omitempty"`
}

// ReconcileParams names the statement to reconcile.
type ReconcileParams struct {
	Channel Channel `json:"channel"`
	// Date is the day, YYYY-MM-DD in UTC.
	Date string `json:"date"`
}

// ChannelAuthorization says whether a merchant may use a channel, and whether it has its own
// credentials for it (never shown).
type ChannelAuthorization struct {
	Object         string    `json:"object"`
	Merchant       string    `json:"merchant"`
	Channel        Channel   `json:"channel"`
	Enabled        bool      `json:"enabled"`
	HasCredentials bool      `json:"has_credentials"`
	UpdatedAt      time.Time `json:"updated_at,omitzero"` // zero if no operator ever set it
}

// LedgerReport is the result of a whole-ledger check.
type LedgerReport struct {
	// Balanced is true when every journal sums to zero and every payment's amounts agree
	// with its postings.
	Balanced bool  `json:"balanced"`
	Journals int64 `json:"journals"`
	Entries  int64 `json:"entries"`
	// UnbalancedJournals lists journals whose entries do not sum to zero.
	UnbalancedJournals []string `json:"unbalanced_journals"`
	// PaymentMismatches lists payments whose amounts disagree with their postings.
	PaymentMismatches []string `json:"payment_mismatches"`
	// WalletMismatches lists customer wallets that disagree with their balance
	// transactions or with the ledger's customer_wallet postings.
	WalletMismatches []string `json:"wallet_mismatches"`
	// BalanceMismatches lists merchants' balances whose available and pending parts do not
	// add up to their postings, and payouts whose postings disagree with their status.
	BalanceMismatches []string `json:"balance_mismatches"`
	// NegativeBalances lists moments a merchant's available balance was below zero after a
	// movement that must never overdraw it.
	NegativeBalances []string `json:"negative_balances"`
}

// ReconciliationReport compares a channel's statement for a day with the platform's records.
type ReconciliationReport struct {
	Object  string  `json:"object"`
	Channel Channel `json:"channel"`
	// Date is the day reconciled, YYYY-MM-DD in UTC.
	Date          string `json:"date"`
	ChannelLines  int    `json:"channel_lines"`
	PlatformLines int    `json:"platform_lines"`
	Matched       int    `json:"matched"`
	// Balanced is true when every line matches.
	Balanced bool `json:"balanced"`
	// MissingOnPlatform: money the channel moved that the platform has no record of.
	MissingOnPlatform []ReconciliationLine `json:"missing_on_platform"`
	// MissingOnChannel: money the platform recorded that the channel's statement lacks.
	MissingOnChannel []ReconciliationLine `json:"missing_on_channel"`
	// AmountMismatches: both sides have it, with different amounts.
	AmountMismatches []ReconciliationMismatch `json:"amount_mismatches"`
}

// ReconciliationLine is one charge or refund.
type ReconciliationLine struct {
	// Kind is "charge" or "refund".
	Kind      string `json:"kind"`
	PaymentID string `json:"payment_id"`
	RefundID  string `json:"refund_id,omitempty"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
}

// ReconciliationMismatch is a charge or refund whose amounts differ.
type ReconciliationMismatch struct {
	Kind           string `json:"kind"`
	PaymentID      string `json:"payment_id"`
	RefundID       string `json:"refund_id,omitempty"`
	Currency       string `json:"currency"`
	PlatformAmount int64  `json:"platform_amount"`
	ChannelAmount  int64  `json:"channel_amount"`
}

// Disagreements is how many lines of the report do not match.
func (r *ReconciliationReport) Disagreements() int {
	return len(r.MissingOnPlatform) + len(r.MissingOnChannel) + len(r.AmountMismatches)
}

// CreateMerchant onboards a merchant (POST /v1/admin/merchants). The answer's SecretKey is
// the merchant's secret key; it is shown only in this answer.
func (a *Admin) CreateMerchant(ctx context.Context, p CreateMerchantParams) (*Merchant, error) {
	var out Merchant
	if err := a.post(ctx, "/v1/admin/merchants", p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ChannelAuthorizations lists a merchant's channel authorisations
// (GET /v1/admin/merchants/{id}/channels).
func (a *Admin) ChannelAuthorizations(ctx context.Context, merchantID string) (*List[ChannelAuthorization], error) {
	if merchantID == "" {
		return nil, localError(CodeParameterMissing, "merchant", "A merchant ID is required.")
	}
	var out List[ChannelAuthorization]
	if err := a.c.get(ctx, "/v1/admin/merchants/"+url.PathEscape(merchantID)+"/channels", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetChannel authorises or forbids a channel for a merchant, optionally storing the
// merchant's own credentials for it (POST /v1/admin/merchants/{id}/channels/{channel}).
func (a *Admin) SetChannel(ctx context.Context, merchantID string, ch Channel, p SetChannelParams) (*ChannelAuthorization, error) {
	if merchantID == "" {
		return nil, localError(CodeParameterMissing, "merchant", "A merchant ID is required.")
	}
	if ch == "" {
		return nil, localError(CodeParameterMissing, "channel", "A channel is required.")
	}
	var out ChannelAuthorization
	path := "/v1/admin/merchants/" + url.PathEscape(merchantID) + "/channels/" + url.PathEscape(string(ch))
	if err := a.post(ctx, path, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CheckLedger checks the whole ledger (GET /v1/admin/ledger/check). A ledger that does not
// balance is a report with Balanced false, not an error.
func (a *Admin) CheckLedger(ctx context.Context) (*LedgerReport, error) {
	var out LedgerReport
	if err := a.c.get(ctx, "/v1/admin/ledger/check", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Reconcile compares a channel's statement for a day with the platform's records
// (POST /v1/admin/reconciliations). Lines that disagree are in the report (Balanced false),
// not an error.
func (a *Admin) Reconcile(ctx context.Context, p ReconcileParams) (*ReconciliationReport, error) {
	if p.Channel == "" {
		return nil, localError(CodeParameterMissing, "channel", "A channel is required.")
	}
	if _, err := time.Parse(time.DateOnly, p.Date); err != nil {
		return nil, localError(CodeParameterInvalid, "date", "date must be a day as YYYY-MM-DD (UTC), not %q.", p.Date)
	}
	var out ReconciliationReport
	if err := a.post(ctx, "/v1/admin/reconciliations", p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// post sends an operator POST; the operator routes take no Idempotency-Key.
func (a *Admin) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("paysdk: encoding request: %w", err)
	}
	return a.c.do(ctx, request{method: http.MethodPost, path: path, body: body}, out, nil)
}
