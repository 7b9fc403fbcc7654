package paysdk

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// Payout statuses.
const (
	PayoutPending   = "pending"
	PayoutInTransit = "in_transit"
	PayoutPaid      = "paid"
	PayoutFailed    = "failed"
)

// CreatePayoutParams ask for a payout of the available balance to the merchant's verified
// bank account, in that account's currency.
type CreatePayoutParams struct {
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Description string `json:"description,omitempty"`
}

// Payout is money sent from the merchant's available balance to its bank account.
type Payout struct {
	Object           string            `json:"object"`
	ID               string            `json:"id"`
	Amount           int64             `json:"amount"`
	Currency         string            `json:"currency"`
	Description      string            `json:"description"`
	Status           string            `json:"status"`
	Automatic        bool              `json:"automatic"`
	Destination      PayoutDestination `json:"destination"`
	FailureCode      *string           `json:"failure_code"`
	FailureMessage   *string           `json:"failure_message"`
	ChannelReference *string           `json:"channel_reference"`
	CreatedAt        time.Time         `json:"created_at"`
	UpdatedAt        time.Time         `json:"updated_at"`
}

// PayoutDestination is the bank account a payout goes to, as shown.
type PayoutDestination struct {
	BankCode   string `json:"bank_code"`
	Last4      string `json:"last4"`
	HolderName string `json:"holder_name"`
}

// PayoutFilter pages the merchant's payouts, newest first.
type PayoutFilter struct {
	Status string
	// Limit is the page size, 1 to 100; 0 means the server's default, 10.
	Limit int
	// StartingAfter is a payout ID: the page starts after it.
	StartingAfter string
}

// PayoutScheduleParams set the merchant's payout schedule: Interval daily, weekly (on
// WeeklyAnchor, default monday) or manual; DelayDays holds back money that became
// available less than that many days ago.
type PayoutScheduleParams struct {
	Interval     string `json:"interval"`
	WeeklyAnchor string `json:"weekly_anchor,omitempty"`
	DelayDays    *int   `json:"delay_days,omitempty"`
}

// PayoutSchedule is a merchant's payout schedule.
type PayoutSchedule struct {
	Object       string     `json:"object"`
	Merchant     string     `json:"merchant"`
	Interval     string     `json:"interval"`
	WeeklyAnchor string     `json:"weekly_anchor,omitempty"`
	DelayDays    int        `json:"delay_days"`
	UpdatedAt    *time.Time `json:"updated_at"`
}

// Settlement is one of the merchant's closed days in one currency (minor units).
type Settlement struct {
	Object               string    `json:"object"`
	ID                   string    `json:"id"`
	Merchant             string    `json:"merchant"`
	Date                 string    `json:"date"`
	Currency             string    `json:"currency"`
	Count                int64     `json:"count"`
	Gross                int64     `json:"gross"`
	Refunds              int64     `json:"refunds"`
	Fees                 int64     `json:"fees"`
	Net                  int64     `json:"net"`
	Status               string    `json:"status"`
	CreatedAt            time.Time `json:"created_at"`
	Reconciliation       string    `json:"reconciliation"`
	ReconciliationDetail []string  `json:"reconciliation_detail"`
}

// rawBody receives an answer's body as sent (a CSV download).
type rawBody []byte

// CreatePayout pays some of the available balance to the merchant's bank account (POST
// /v1/payouts), exactly once per Idempotency-Key (WithIdempotencyKey to choose it). The
// answer's Status is in_transit, paid or failed, or pending while the bank's answer is not
// known. An unverified merchant gets an *Error with Code kyc_required; more than is
// available, balance_insufficient (Param "amount").
func (c *Client) CreatePayout(ctx context.Context, p CreatePayoutParams, opts ...CallOption) (*Payout, error) {
	var out Payout
	if err := c.post(ctx, "/v1/payouts", p, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetPayout reads one of the merchant's payouts (GET /v1/payouts/{id}).
func (c *Client) GetPayout(ctx context.Context, id string) (*Payout, error) {
	if id == "" {
		return nil, localError(CodeParameterMissing, "id", "A payout ID is required.")
	}
	var out Payout
	if err := c.get(ctx, "/v1/payouts/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListPayouts reads one page of the merchant's payouts, newest first (GET /v1/payouts).
// Paging works as in ListPayments.
func (c *Client) ListPayouts(ctx context.Context, f PayoutFilter) (*List[*Payout], error) {
	q := url.Values{}
	if f.Status != "" {
		q.Set("status", f.Status)
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.StartingAfter != "" {
		q.Set("starting_after", f.StartingAfter)
	}
	var out List[*Payout]
	if err := c.get(ctx, "/v1/payouts", q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PayoutSchedule reads the merchant's payout schedule (GET /v1/merchant/payout_schedule).
func (c *Client) PayoutSchedule(ctx context.Context) (*PayoutSchedule, error) {
	var out PayoutSchedule
	if err := c.get(ctx, "/v1/merchant/payout_schedule", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetPayoutSchedule sets the merchant's payout schedule (POST /v1/merchant/payout_schedule).
func (c *Client) SetPayoutSchedule(ctx context.Context, p PayoutScheduleParams) (*PayoutSchedule, error) {
	var out PayoutSchedule
	if err := c.post(ctx, "/v1/merchant/payout_schedule", p, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListSettlements reads the merchant's settlements, newest day first (GET /v1/settlements);
// limit 0 means the server's default, 10.
func (c *Client) ListSettlements(ctx context.Context, limit int) (*List[*Settlement], error) {
	q := url.Values{}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out List[*Settlement]
	if err := c.get(ctx, "/v1/settlements", q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetSettlement reads one of the merchant's settlements (GET /v1/settlements/{id}).
func (c *Client) GetSettlement(ctx context.Context, id string) (*Settlement, error) {
	if id == "" {
		return nil, localError(CodeParameterMissing, "id", "A settlement ID is required.")
	}
	var out Settlement
	if err := c.get(ctx, "/v1/settlements/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SettlementLinesCSV downloads a settlement's lines as CSV, one row per balance
// transaction, amounts in minor units and in decimal (GET /v1/settlements/{id}/lines.csv).
func (c *Client) SettlementLinesCSV(ctx context.Context, id string) ([]byte, error) {
	if id == "" {
		return nil, localError(CodeParameterMissing, "id", "A settlement ID is required.")
	}
	var out rawBody
	if err := c.get(ctx, "/v1/settlements/"+url.PathEscape(id)+"/lines.csv", nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}
