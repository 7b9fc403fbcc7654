package paysdk

import "time"

// The SDK declares its own copies of the API's request and response shapes, field for field
// as the server writes and reads them, rather than importing the platform's domain package:
// a merchant's go get then pulls this module alone. A test in the platform's module checks
// that both sides still agree.

// Channel is a payment channel a payment is made through.
type Channel string

// The channels. Card and debit card go through a card acquirer; WeChat Pay and Alipay are
// pay-then-notify wallets; bank transfer settles later.
const (
	ChannelCard         Channel = "card"
	ChannelDebitCard    Channel = "debit_card"
	ChannelWeChatPay    Channel = "wechat_pay"
	ChannelAlipay       Channel = "alipay"
	ChannelBankTransfer Channel = "bank_transfer"
	// ChannelWallet pays from a customer's stored-value wallet.
	ChannelWallet Channel = "wallet"
)

// CaptureMethod says whether funds are captured with the authorisation or later.
type CaptureMethod string

// Capture methods.
const (
	CaptureAutomatic CaptureMethod = "automatic"
	CaptureManual    CaptureMethod = "manual" // card and debit_card only
)

// Status is where a payment is in its life: processing, then requires_action (the payer
// must act), requires_capture (authorised, funds held), requires_review (authorised and held
// for the platform's risk review), succeeded, failed or canceled.
// succeeded, failed and canceled are final.
type Status string

// Payment statuses.
const (
	StatusProcessing      Status = "processing"
	StatusRequiresAction  Status = "requires_action"
	StatusRequiresCapture Status = "requires_capture"
	StatusSucceeded       Status = "succeeded"
	StatusFailed          Status = "failed"
	StatusCanceled        Status = "canceled"
	StatusRequiresReview  Status = "requires_review"
)

// Final reports whether no further transition can leave s.
func (s Status) Final() bool {
	return s == StatusSucceeded || s == StatusFailed || s == StatusCanceled
}

// Refund statuses.
const (
	RefundPending   = "pending"
	RefundSucceeded = "succeeded"
	RefundFailed    = "failed"
)

// Refund reasons a merchant may give.
const (
	ReasonRequestedByCustomer = "requested_by_customer"
	ReasonDuplicate           = "duplicate"
	ReasonFraudulent          = "fraudulent"
)

// MaxIdempotencyKey is the longest Idempotency-Key the server takes, in bytes.
const MaxIdempotencyKey = 255

// Payment is a merchant's request to move money from a payer, and what became of it.
// Amounts are integers in the currency's minor units.
type Payment struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	Status            Status            `json:"status"`
	Amount            int64             `json:"amount"`
	AmountCapturable  int64             `json:"amount_capturable"`
	AmountCaptured    int64             `json:"amount_captured"`
	AmountRefunded    int64             `json:"amount_refunded"`
	Currency          string            `json:"currency"`
	Channel           Channel           `json:"channel"`
	CaptureMethod     CaptureMethod     `json:"capture_method"`
	MerchantReference string            `json:"merchant_reference"`
	Description       string            `json:"description"`
	Customer          *Customer         `json:"customer"`
	PaymentMethod     *PaymentMethod    `json:"payment_method"`
	Metadata          map[string]string `json:"metadata"`
	// Region is the merchant's home region, where the payment lives.
	Region         string  `json:"region"`
	FailureCode    *string `json:"failure_code"`
	FailureMessage *string `json:"failure_message"`
	// NextAction says what the payer must do while Status is requires_action.
	NextAction       *NextAction `json:"next_action"`
	ChannelReference *string     `json:"channel_reference"`
	CreatedAt        time.Time   `json:"created_at"`
	UpdatedAt        time.Time   `json:"updated_at"`
	CanceledAt       *time.Time  `json:"canceled_at"`
	// CancellationReason is the reason given with the cancel, if any.
	CancellationReason *string `json:"cancellation_reason"`
	// Risk is the platform's risk evaluation of the payment, made before its channel call.
	Risk *Risk `json:"risk"`
}

// Risk is a payment's risk evaluation: a score from 0 to 99, its level (normal, elevated,
// highest), the ID of the rule that decided, if any, and the outcome (allowed, blocked,
// review).
type Risk struct {
	Score   int     `json:"score"`
	Level   string  `json:"level"`
	Rule    *string `json:"rule,omitempty"`
	Outcome string  `json:"outcome"`
}

// Customer is who pays, as the merchant knows them.
type Customer struct {
	ID    string `json:"id,omitempty"`
	Name  string `json:"name,omitempty"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	// IP is the payer's IP address as the merchant saw it, for risk rules.
	IP string `json:"ip,omitempty"`
}

// PaymentMethod is what the payer paid with, as stored: for cards, never the number, only
// the brand, last four digits, expiry and a keyed fingerprint that is equal for equal numbers.
type PaymentMethod struct {
	Type        string `json:"type"`
	Brand       string `json:"brand,omitempty"`
	Last4       string `json:"last4,omitempty"`
	ExpMonth    int    `json:"exp_month,omitempty"`
	ExpYear     int    `json:"exp_year,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// Customer is the wallet's owner, for wallet payments.
	Customer string `json:"customer,omitempty"`
}

// Next action types.
const (
	NextActionWeChatPayQRCode  = "wechat_pay_display_qr_code"
	NextActionAlipayRedirect   = "alipay_redirect"
	NextActionBankInstructions = "bank_transfer_instructions"
)

// NextAction tells the merchant what the payer must do for a requires_action payment.
type NextAction struct {
	// Type is one of the NextAction* constants.
	Type string `json:"type"`
	// QRCode is the content to render as a QR code (WeChat Pay).
	QRCode string `json:"qr_code,omitempty"`
	// RedirectURL is where to send the payer (Alipay).
	RedirectURL string `json:"redirect_url,omitempty"`
	// Bank transfer instructions: pay the amount to this account quoting Reference.
	BankAccount string     `json:"bank_account,omitempty"`
	Reference   string     `json:"reference,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

// Refund returns captured money to the payer.
type Refund struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Payment string `json:"payment"`
	Amount  int64  `json:"amount"`
	// Currency is the payment's currency.
	Currency string `json:"currency"`
	// Status is RefundPending, RefundSucceeded or RefundFailed.
	Status           string    `json:"status"`
	Reason           string    `json:"reason"`
	Region           string    `json:"region"`
	FailureCode      *string   `json:"failure_code"`
	ChannelReference *string   `json:"channel_reference"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// Merchant is a business that takes payments through the platform.
type Merchant struct {
	ID         string    `json:"id"`
	Object     string    `json:"object"`
	Name       string    `json:"name"`
	HomeRegion string    `json:"home_region"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	// SecretKey is present only in the answer that created (or rolled) it.
	SecretKey string `json:"secret_key,omitempty"`
}

// Balance is what the ledger says a merchant holds, per currency, in minor units.
type Balance struct {
	Object string          `json:"object"`
	Data   []CurrencyTotal `json:"data"`
}

// CurrencyTotal is one currency's line of a balance.
type CurrencyTotal struct {
	Currency string `json:"currency"`
	// Available is captured money, less refunds, owed to the merchant.
	Available int64 `json:"available"`
	// OnHold is authorised but not yet captured.
	OnHold int64 `json:"on_hold"`
	// Pending is captured money, less fees, not yet available (T+N).
	Pending int64 `json:"pending"`
}

// List is one page of a list answer.
type List[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
}

// CreatePaymentParams is a request to create a payment.
type CreatePaymentParams struct {
	// Amount in the currency's minor units, 1 to 99,999,999.
	Amount int64 `json:"amount"`
	// Currency is an ISO 4217 code in any case, e.g. "usd".
	Currency string  `json:"currency"`
	Channel  Channel `json:"channel"`
	// CaptureMethod defaults to automatic.
	CaptureMethod CaptureMethod `json:"capture_method"`
	// MerchantReference is the merchant's own unique identifier of the payment: 1 to 128
	// printable ASCII characters without spaces.
	MerchantReference string    `json:"merchant_reference"`
	Description       string    `json:"description"`
	Customer          *Customer `json:"customer"`
	// PaymentMethod is required on the card channels (with Card), optional elsewhere.
	PaymentMethod *PaymentMethodData `json:"payment_method"`
	Metadata      map[string]string  `json:"metadata"`
}

// PaymentMethodData is how the payer pays, as sent by the merchant.
type PaymentMethodData struct {
	// Type is "card" on the card channels (the default there), else the channel's name.
	Type   string      `json:"type"`
	Card   *CardData   `json:"card"`
	Wallet *WalletData `json:"wallet"`
}

// WalletData names the customer whose wallet a wallet payment pays from.
type WalletData struct {
	Customer string `json:"customer"`
}

// CardData is a card as sent by the merchant; the platform passes it to the channel and
// never stores it.
type CardData struct {
	Number   string `json:"number"`
	ExpMonth int    `json:"exp_month"`
	ExpYear  int    `json:"exp_year"`
	CVC      string `json:"cvc"`
}

// CaptureParams is a request to capture a requires_capture payment.
type CaptureParams struct {
	// Amount to capture; nil captures everything authorised. The rest of the hold is released.
	Amount *int64 `json:"amount"`
}

// CancelParams is a request to cancel a payment that has not been captured.
type CancelParams struct {
	CancellationReason string `json:"cancellation_reason"`
}

// CreateRefundParams is a request to refund some or all of a payment's captured amount.
type CreateRefundParams struct {
	// Payment is the ID of the payment to refund.
	Payment string `json:"payment"`
	// Amount to refund; nil refunds everything still refundable.
	Amount *int64 `json:"amount"`
	// Reason is empty or one of the Reason* constants.
	Reason string `json:"reason"`
}

// RefundFilter selects and pages a merchant's refunds, newest first. Zero fields select
// everything.
type RefundFilter struct {
	// Payment, if set, lists only this payment's refunds.
	Payment string
	// Limit is the page size, 1 to 100; 0 means the server's default, 10.
	Limit int
	// StartingAfter is a refund ID: the page starts after it.
	StartingAfter string
}

// PaymentFilter selects and pages a merchant's payments, newest first. Zero fields select
// everything.
type PaymentFilter struct {
	Status            Status
	MerchantReference string
	CreatedGTE        *time.Time
	CreatedLTE        *time.Time
	// Limit is the page size, 1 to 100; 0 means the server's default, 10.
	Limit int
	// StartingAfter is a payment ID: the page starts after it.
	StartingAfter string
	// Channel selects the payments through one channel.
	Channel Channel
	// AmountGTE and AmountLTE bound the amount, in minor units, both included.
	AmountGTE *int64
	AmountLTE *int64
	// Customer selects one customer's payments: its customer ID, or its e-mail address
	// (a value with an @).
	Customer string
}
