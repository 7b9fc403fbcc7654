package paysdk

import (
	"context"
	"net/url"
	"strconv"
	"time"
)

// CreatePayment creates a payment (POST /v1/payments). The answer's Status says what
// became of it: succeeded, requires_capture, requires_action (see NextAction), or
// processing when the channel's answer is not known yet. A declined card is an *Error with
// Status 402, a card_error Type, the decline Code and the failed payment's PaymentID.
func (c *Client) CreatePayment(ctx context.Context, p CreatePaymentParams, opts ...CallOption) (*Payment, error) {
	var out Payment
	if err := c.post(ctx, "/v1/payments", p, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetPayment reads a payment by its ID (GET /v1/payments/{id}).
func (c *Client) GetPayment(ctx context.Context, id string) (*Payment, error) {
	if id == "" {
		return nil, localError(CodeParameterMissing, "id", "A payment ID is required.")
	}
	var out Payment
	if err := c.get(ctx, "/v1/payments/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListPayments reads one page of the merchant's payments, newest first (GET /v1/payments).
// Zero fields of f are not sent; the server's default page size is 10, at most 100. To
// read the next page, call again with f.StartingAfter set to the last payment's ID while
// HasMore is true.
func (c *Client) ListPayments(ctx context.Context, f PaymentFilter) (*List[*Payment], error) {
	var out List[*Payment]
	if err := c.get(ctx, "/v1/payments", filterQuery(f), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// filterQuery encodes f as the list route's query parameters.
func filterQuery(f PaymentFilter) url.Values {
	q := url.Values{}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.StartingAfter != "" {
		q.Set("starting_after", f.StartingAfter)
	}
	if f.Status != "" {
		q.Set("status", string(f.Status))
	}
	if f.MerchantReference != "" {
		q.Set("merchant_reference", f.MerchantReference)
	}
	if f.CreatedGTE != nil {
		q.Set("created[gte]", f.CreatedGTE.Format(time.RFC3339Nano))
	}
	if f.CreatedLTE != nil {
		q.Set("created[lte]", f.CreatedLTE.Format(time.RFC3339Nano))
	}
	if f.Channel != "" {
		q.Set("channel", string(f.Channel))
	}
	if f.AmountGTE != nil {
		q.Set("amount[gte]", strconv.FormatInt(*f.AmountGTE, 10))
	}
	if f.AmountLTE != nil {
		q.Set("amount[lte]", strconv.FormatInt(*f.AmountLTE, 10))
	}
	if f.Customer != "" {
		q.Set("customer", f.Customer)
	}
	return q
}

// CapturePayment captures a requires_capture payment (POST /v1/payments/{id}/capture):
// p.Amount, or everything authorised when nil. The rest of the hold is released.
func (c *Client) CapturePayment(ctx context.Context, id string, p CaptureParams, opts ...CallOption) (*Payment, error) {
	if id == "" {
		return nil, localFailure(opts, localError(CodeParameterMissing, "id", "A payment ID is required."))
	}
	var out Payment
	if err := c.post(ctx, "/v1/payments/"+url.PathEscape(id)+"/capture", p, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// CancelPayment cancels a payment that has not been captured, releasing any hold
// (POST /v1/payments/{id}/cancel).
func (c *Client) CancelPayment(ctx context.Context, id string, p CancelParams, opts ...CallOption) (*Payment, error) {
	if id == "" {
		return nil, localFailure(opts, localError(CodeParameterMissing, "id", "A payment ID is required."))
	}
	var out Payment
	if err := c.post(ctx, "/v1/payments/"+url.PathEscape(id)+"/cancel", p, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateRefund refunds some or all of a payment's captured amount (POST /v1/refunds). The
// answer's Status is succeeded, failed, or pending while the channel's answer is not known.
func (c *Client) CreateRefund(ctx context.Context, p CreateRefundParams, opts ...CallOption) (*Refund, error) {
	var out Refund
	if err := c.post(ctx, "/v1/refunds", p, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetRefund reads a refund by its ID (GET /v1/refunds/{id}).
func (c *Client) GetRefund(ctx context.Context, id string) (*Refund, error) {
	if id == "" {
		return nil, localError(CodeParameterMissing, "id", "A refund ID is required.")
	}
	var out Refund
	if err := c.get(ctx, "/v1/refunds/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListRefunds reads one page of the merchant's refunds, newest first (GET /v1/refunds),
// optionally only one payment's (f.Payment). Paging works as in ListPayments.
func (c *Client) ListRefunds(ctx context.Context, f RefundFilter) (*List[*Refund], error) {
	q := url.Values{}
	if f.Payment != "" {
		q.Set("payment", f.Payment)
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.StartingAfter != "" {
		q.Set("starting_after", f.StartingAfter)
	}
	var out List[*Refund]
	if err := c.get(ctx, "/v1/refunds", q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Balance reads what the ledger says the merchant holds, per currency (GET /v1/balance).
func (c *Client) Balance(ctx context.Context) (*Balance, error) {
	var out Balance
	if err := c.get(ctx, "/v1/balance", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Merchant reads the merchant the secret key belongs to (GET /v1/merchant).
func (c *Client) Merchant(ctx context.Context) (*Merchant, error) {
	var out Merchant
	if err := c.get(ctx, "/v1/merchant", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
