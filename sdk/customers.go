package paysdk

import (
	"context"
	"net/url"
	"time"
)

// CustomerObject is one of the merchant's payers (cus_…), with its wallet balances.
type CustomerObject struct {
	ID       string            `json:"id"`
	Object   string            `json:"object"`
	Email    *string           `json:"email"`
	Phone    *string           `json:"phone"`
	Name     *string           `json:"name"`
	Language string            `json:"language"`
	Metadata map[string]string `json:"metadata"`
	// Balances is the wallet balance per currency, in minor units.
	Balances            map[string]int64 `json:"balances"`
	LowBalanceThreshold map[string]int64 `json:"low_balance_threshold"`
	EmailOptOut         bool             `json:"email_opt_out"`
	SMSOptOut           bool             `json:"sms_opt_out"`
	Deleted             bool             `json:"deleted,omitempty"`
	CreatedAt           time.Time        `json:"created_at"`
	UpdatedAt           time.Time        `json:"updated_at"`
}

// CustomerParams creates or updates a customer; nil fields are left as they are.
type CustomerParams struct {
	Email               *string           `json:"email,omitempty"`
	Phone               *string           `json:"phone,omitempty"` // E.164: +8613800138000
	Name                *string           `json:"name,omitempty"`
	Language            *string           `json:"language,omitempty"` // en or zh
	Metadata            map[string]string `json:"metadata,omitempty"`
	LowBalanceThreshold map[string]int64  `json:"low_balance_threshold,omitempty"`
	EmailOptOut         *bool             `json:"email_opt_out,omitempty"`
	SMSOptOut           *bool             `json:"sms_opt_out,omitempty"`
}

// TopUpParams tops a customer's wallet up through a channel.
type TopUpParams struct {
	Amount            int64              `json:"amount"`
	Currency          string             `json:"currency"`
	Channel           Channel            `json:"channel"`
	PaymentMethod     *PaymentMethodData `json:"payment_method,omitempty"`
	MerchantReference string             `json:"merchant_reference,omitempty"`
}

// CustomerBalanceTransaction is one change of a customer's wallet balance.
type CustomerBalanceTransaction struct {
	ID           string    `json:"id"`
	Object       string    `json:"object"`
	Customer     string    `json:"customer"`
	Type         string    `json:"type"` // top_up, payment, refund
	Amount       int64     `json:"amount"`
	Currency     string    `json:"currency"`
	BalanceAfter int64     `json:"balance_after"`
	Payment      *string   `json:"payment"`
	Refund       *string   `json:"refund"`
	CreatedAt    time.Time `json:"created_at"`
}

// Notification is a notice sent (or to be sent) to a customer.
type Notification struct {
	ID        string     `json:"id"`
	Object    string     `json:"object"`
	Customer  string     `json:"customer"`
	Event     *string    `json:"event"`
	Template  string     `json:"template"`
	Channel   string     `json:"channel"`
	Language  string     `json:"language"`
	Status    string     `json:"status"`
	Attempts  int        `json:"attempts"`
	LastError *string    `json:"last_error"`
	SentAt    *time.Time `json:"sent_at"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// CreateCustomer creates a customer (POST /v1/customers).
func (c *Client) CreateCustomer(ctx context.Context, p CustomerParams) (*CustomerObject, error) {
	var out CustomerObject
	if err := c.post(ctx, "/v1/customers", p, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetCustomer reads a customer with its balances (GET /v1/customers/{id}).
func (c *Client) GetCustomer(ctx context.Context, id string) (*CustomerObject, error) {
	if id == "" {
		return nil, localError(CodeParameterMissing, "id", "A customer ID is required.")
	}
	var out CustomerObject
	if err := c.get(ctx, "/v1/customers/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// TopUp tops a customer's wallet up (POST /v1/customers/{id}/top_ups): a payment whose
// success credits the wallet.
func (c *Client) TopUp(ctx context.Context, customer string, p TopUpParams, opts ...CallOption) (*Payment, error) {
	if customer == "" {
		return nil, localError(CodeParameterMissing, "id", "A customer ID is required.")
	}
	var out Payment
	if err := c.post(ctx, "/v1/customers/"+url.PathEscape(customer)+"/top_ups", p, &out, opts); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListCustomerBalanceTransactions reads a customer's wallet movements, newest first.
func (c *Client) ListCustomerBalanceTransactions(ctx context.Context, customer string) (*List[*CustomerBalanceTransaction], error) {
	var out List[*CustomerBalanceTransaction]
	if err := c.get(ctx, "/v1/customers/"+url.PathEscape(customer)+"/balance_transactions", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListNotifications reads the notices sent to a customer, newest first.
func (c *Client) ListNotifications(ctx context.Context, customer string) (*List[*Notification], error) {
	var out List[*Notification]
	if err := c.get(ctx, "/v1/customers/"+url.PathEscape(customer)+"/notifications", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
