package paysdk

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// FeeScheduleParams set a fee schedule: for one channel, or all when Channel is empty.
type FeeScheduleParams struct {
	Channel    Channel `json:"channel,omitempty"`
	PercentBps int64   `json:"percent_bps"`
	Fixed      int64   `json:"fixed"`
	RefundFees bool    `json:"refund_fees"`
}

// FeeSchedule is a fee schedule as stored: merchant "*" is the platform's default, channel
// "*" every channel without its own.
type FeeSchedule struct {
	Object     string    `json:"object"`
	Merchant   string    `json:"merchant"`
	Channel    string    `json:"channel"`
	PercentBps int64     `json:"percent_bps"`
	Fixed      int64     `json:"fixed"`
	RefundFees bool      `json:"refund_fees"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// KYC is a merchant's verification; the details are kept as the API sends them.
type KYC struct {
	Object       string `json:"object"`
	Merchant     string `json:"merchant"`
	Status       string `json:"status"`
	Requirements struct {
		CurrentlyDue        []string `json:"currently_due"`
		PendingVerification []string `json:"pending_verification"`
	} `json:"requirements"`
	RejectedReason *string        `json:"rejected_reason"`
	ChargesEnabled bool           `json:"charges_enabled"`
	PayoutsEnabled bool           `json:"payouts_enabled"`
	Details        map[string]any `json:"details"`
	SubmittedAt    *time.Time     `json:"submitted_at"`
	DecidedAt      *time.Time     `json:"decided_at"`
}

// AdjustmentParams are an operator's adjustment of a merchant's available balance.
type AdjustmentParams struct {
	Merchant      string `json:"merchant"`
	Amount        int64  `json:"amount"`
	Currency      string `json:"currency"`
	Reason        string `json:"reason"`
	AllowNegative bool   `json:"allow_negative,omitempty"`
}

// Adjustment is an adjustment as recorded.
type Adjustment struct {
	Object    string    `json:"object"`
	ID        string    `json:"id"`
	Merchant  string    `json:"merchant"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
}

func merchantPath(merchantID, rest string) (string, error) {
	if merchantID == "" {
		return "", localError(CodeParameterMissing, "merchant", "A merchant ID is required.")
	}
	return "/v1/admin/merchants/" + url.PathEscape(merchantID) + rest, nil
}

// SetFees sets a merchant's fee schedule (POST /v1/admin/merchants/{id}/fees), or the
// platform's default when merchantID is "*" (POST /v1/admin/fees).
func (a *Admin) SetFees(ctx context.Context, merchantID string, p FeeScheduleParams) (*FeeSchedule, error) {
	path := "/v1/admin/fees"
	if merchantID != "*" {
		var err error
		if path, err = merchantPath(merchantID, "/fees"); err != nil {
			return nil, err
		}
	}
	var out FeeSchedule
	if err := a.post(ctx, path, p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// MerchantKYC reads a merchant's KYC verification (GET /v1/admin/merchants/{id}/kyc).
func (a *Admin) MerchantKYC(ctx context.Context, merchantID string) (*KYC, error) {
	path, err := merchantPath(merchantID, "/kyc")
	if err != nil {
		return nil, err
	}
	var out KYC
	if err := a.c.get(ctx, path, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DecideKYC approves (reason "") or rejects (with a reason) a merchant's pending KYC
// submission (POST /v1/admin/merchants/{id}/kyc/approve or /reject).
func (a *Admin) DecideKYC(ctx context.Context, merchantID string, approve bool, reason string) (*KYC, error) {
	rest, body := "/kyc/approve", map[string]string{}
	if !approve {
		rest, body = "/kyc/reject", map[string]string{"reason": reason}
	}
	path, err := merchantPath(merchantID, rest)
	if err != nil {
		return nil, err
	}
	var out KYC
	if err := a.post(ctx, path, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateAdjustment credits or debits a merchant's available balance (POST /v1/admin/adjustments).
func (a *Admin) CreateAdjustment(ctx context.Context, p AdjustmentParams) (*Adjustment, error) {
	var out Adjustment
	if err := a.post(ctx, "/v1/admin/adjustments", p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// KYCSubmissions lists merchants' KYC verifications in status (pending: the review queue;
// "" for all), oldest submission first, at most limit (0: the server's default, 10) (GET
// /v1/admin/kyc).
func (a *Admin) KYCSubmissions(ctx context.Context, status string, limit int) (*List[*KYC], error) {
	q := url.Values{}
	if status != "" {
		q.Set("status", status)
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out List[*KYC]
	if err := a.c.get(ctx, "/v1/admin/kyc", q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Fees lists the fee schedules that apply to a merchant, its own first, then the
// platform's (GET /v1/admin/merchants/{id}/fees); merchantID "*" lists the platform's only
// (GET /v1/admin/fees).
func (a *Admin) Fees(ctx context.Context, merchantID string) (*List[*FeeSchedule], error) {
	path := "/v1/admin/fees"
	if merchantID != "*" {
		var err error
		if path, err = merchantPath(merchantID, "/fees"); err != nil {
			return nil, err
		}
	}
	var out List[*FeeSchedule]
	if err := a.c.get(ctx, path, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SettlementFilter selects settlements across merchants for operators.
type SettlementFilter struct {
	Reconciliation string // unchecked, matched or mismatch; "" for all
	Limit          int
}

// ReviewSettlements lists every merchant's settlements by reconciliation state, newest day
// first (GET /v1/admin/settlements): mismatch lists the days a statement disagreed with.
func (a *Admin) ReviewSettlements(ctx context.Context, f SettlementFilter) (*List[*Settlement], error) {
	q := url.Values{}
	if f.Reconciliation != "" {
		q.Set("reconciliation", f.Reconciliation)
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	var out List[*Settlement]
	if err := a.c.get(ctx, "/v1/admin/settlements", q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
