package core

import (
	"encoding/json"
	"time"
)

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
	// ChannelWallet pays from a customer's stored-value wallet (core/wallet.go).
	ChannelWallet Channel = "wallet"
)

// Channels lists every channel that is a payment channel behind the gateway, in a stable
// order. ChannelWallet is not one: it is the platform's own ledger.
var Channels = []Channel{ChannelCard, ChannelDebitCard, ChannelWeChatPay, ChannelAlipay, ChannelBankTransfer}

// Valid reports whether c is a known channel.
func (c Channel) Valid() bool {
	if c == ChannelWallet {
		return true
	}
	for _, k := range Channels {
		if c == k {
			return true
		}
	}
	return false
}

// IsCard reports whether the channel takes card details and supports manual capture.
func (c Channel) IsCard() bool { return c == ChannelCard || c == ChannelDebitCard }

// CaptureMethod says whether funds are captured with the authorisation or later.
type CaptureMethod string

// Capture methods.
const (
	CaptureAutomatic CaptureMethod = "automatic"
	CaptureManual    CaptureMethod = "manual"
)

// Status is where a payment is in its life.
//
//	processing ──► requires_action ──► requires_capture | succeeded | failed | canceled
//	     │
//	     ├──► requires_capture ──► succeeded (capture) | canceled (cancel)
//	     ├──► requires_review ──► requires_capture | succeeded (approved) | canceled (rejected)
//	     ├──► succeeded
//	     └──► failed
//
// processing: created, the channel has not (yet) answered; a timed-out channel call leaves
// the payment here until the channel's answer is known. requires_action: the payer must act
// (scan a QR code, approve in a wallet, send a bank transfer). requires_capture: authorised,
// funds held, waiting for capture. requires_review: authorised and held
// by a risk rule's review, waiting for an operator to approve (capture, or requires_capture
// for manual capture) or reject it (void, cancellation_reason fraudulent). succeeded, failed and canceled are final; refunds do not
// change a succeeded payment's status, only its amount_refunded.
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

// Statuses lists every status.
var Statuses = []Status{StatusProcessing, StatusRequiresAction, StatusRequiresCapture, StatusSucceeded, StatusFailed, StatusCanceled, StatusRequiresReview}

var transitions = map[Status][]Status{
	StatusProcessing:      {StatusRequiresAction, StatusRequiresCapture, StatusRequiresReview, StatusSucceeded, StatusFailed},
	StatusRequiresAction:  {StatusRequiresCapture, StatusSucceeded, StatusFailed, StatusCanceled},
	StatusRequiresCapture: {StatusSucceeded, StatusCanceled},
	StatusRequiresReview:  {StatusRequiresCapture, StatusCanceled},
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	for _, k := range Statuses {
		if s == k {
			return true
		}
	}
	return false
}

// Final reports whether no further transition can leave s.
func (s Status) Final() bool { return len(transitions[s]) == 0 }

// CanTransition reports whether a payment in status s may move to status to.
func (s Status) CanTransition(to Status) bool {
	for _, t := range transitions[s] {
		if t == to {
			return true
		}
	}
	return false
}

// Payment is a merchant's request to move money from a payer, and what became of it.
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
	Region            string            `json:"region"`
	FailureCode       *string           `json:"failure_code"`
	FailureMessage    *string           `json:"failure_message"`
	NextAction        *NextAction       `json:"next_action"`
	ChannelReference  *string           `json:"channel_reference"`
	CreatedAt         time.Time         `json:"created_at"`
	UpdatedAt         time.Time         `json:"updated_at"`
	CanceledAt        *time.Time        `json:"canceled_at"`
	// CancellationReason is the merchant's reason given with the cancel, if any.
	CancellationReason *string `json:"cancellation_reason"`
	// Risk is the risk evaluation made before the channel call; nil for payments made before
	// risk evaluation existed.
	Risk *Risk `json:"risk"`
	// Terms are the fees and settlement delay the payment was made under, fixed at its
	// creation; nil for payments made before terms existed (no fee, available at once).
	Terms      *Terms `json:"-"`
	MerchantID string `json:"-"`
	// Internal bookkeeping, never shown: refunds reserved but not settled, and the capture
	// or cancel under way (with its amount) that reserves the payment.
	AmountRefundPending int64   `json:"-"`
	PendingOp           *string `json:"-"`
	PendingAmount       *int64  `json:"-"`
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

// NextAction tells the merchant what the payer must do for a requires_action payment.
type NextAction struct {
	Type string `json:"type"` // wechat_pay_display_qr_code, alipay_redirect, bank_transfer_instructions
	// QRCode is the content to render as a QR code (WeChat Pay).
	QRCode string `json:"qr_code,omitempty"`
	// RedirectURL is where to send the payer (Alipay).
	RedirectURL string `json:"redirect_url,omitempty"`
	// Bank transfer instructions: pay Amount to this account quoting Reference.
	BankAccount string     `json:"bank_account,omitempty"`
	Reference   string     `json:"reference,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
}

// Refund returns captured money to the payer.
type Refund struct {
	ID               string    `json:"id"`
	Object           string    `json:"object"`
	Payment          string    `json:"payment"`
	Amount           int64     `json:"amount"`
	Currency         string    `json:"currency"`
	Status           string    `json:"status"` // pending, succeeded, failed
	Reason           string    `json:"reason"`
	Region           string    `json:"region"`
	FailureCode      *string   `json:"failure_code"`
	ChannelReference *string   `json:"channel_reference"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
	MerchantID       string    `json:"-"`
}

// Refund statuses.
const (
	RefundPending   = "pending"
	RefundSucceeded = "succeeded"
	RefundFailed    = "failed"
)

// RefundReasons are the reasons a merchant may give for a refund.
var RefundReasons = []string{"requested_by_customer", "duplicate", "fraudulent"}

// Merchant is a business that takes payments through the platform.
type Merchant struct {
	ID         string    `json:"id"`
	Object     string    `json:"object"`
	Name       string    `json:"name"`
	HomeRegion string    `json:"home_region"`
	Status     string    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	// SecretKey is present only in the response that created (or rolled) it.
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

// Event is something that happened to a merchant's objects, written to the outbox in the
// same transaction as the change and delivered to the merchant's webhooks. Data.Object is the
// payment or refund as the API rendered it at that moment; its updated_at orders the events
// of one object.
type Event struct {
	ID        string    `json:"id"`
	Object    string    `json:"object"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Data      EventData `json:"data"`
	ObjectID  string    `json:"-"`
}

// EventData carries the object an event is about.
type EventData struct {
	Object json.RawMessage `json:"object"`
}

// Event types.
const (
	EventPaymentRequiresAction  = "payment.requires_action"
	EventPaymentRequiresCapture = "payment.requires_capture"
	EventPaymentSucceeded       = "payment.succeeded"
	EventPaymentFailed          = "payment.failed"
	EventPaymentCanceled        = "payment.canceled"
	EventPaymentProcessing      = "payment.processing"
	EventRefundSucceeded        = "refund.succeeded"
	EventRefundFailed           = "refund.failed"
	EventReviewOpened           = "review.opened"
	EventReviewClosed           = "review.closed"
	EventKYCVerified            = "kyc.verified"
	EventKYCRejected            = "kyc.rejected"
	EventAdjustmentCreated      = "adjustment.created"
)

// LedgerReport is the result of a whole-ledger check.
type LedgerReport struct {
	Balanced bool  `json:"balanced"`
	Journals int64 `json:"journals"`
	Entries  int64 `json:"entries"`
	// UnbalancedJournals lists journals whose entries do not sum to zero.
	UnbalancedJournals []string `json:"unbalanced_journals"`
	// PaymentMismatches lists payments whose amounts disagree with their postings.
	PaymentMismatches []string `json:"payment_mismatches"`
	// WalletMismatches lists customer wallets whose balance disagrees with their balance
	// transactions, or merchants whose wallets disagree with the customer_wallet postings.
	WalletMismatches []string `json:"wallet_mismatches"`
	// BalanceMismatches lists merchants' balances whose available and pending parts do not
	// add up to their merchant_available postings, and payouts whose postings disagree with
	// their status.
	BalanceMismatches []string `json:"balance_mismatches"`
	// NegativeBalances lists the moments a merchant's available balance was below zero just
	// after a movement that must never overdraw it (a payout, a transfer or reversal out, an
	// operator's debit without allow_negative).
	NegativeBalances []string `json:"negative_balances"`
}

// ChannelAuthorization says whether a merchant may use a channel, and whether it has its own
// credentials for it (never shown).
type ChannelAuthorization struct {
	Object         string  `json:"object"`
	Merchant       string  `json:"merchant"`
	Channel        Channel `json:"channel"`
	Enabled        bool    `json:"enabled"`
	HasCredentials bool    `json:"has_credentials"`
	// UpdatedAt is when an operator last set the authorisation; zero, and left out of the
	// JSON, if none ever did.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// ReconciliationReport compares a channel's statement for a day with the platform's records.
type ReconciliationReport struct {
	Object        string  `json:"object"`
	Channel       Channel `json:"channel"`
	Date          string  `json:"date"` // YYYY-MM-DD, UTC
	ChannelLines  int     `json:"channel_lines"`
	PlatformLines int     `json:"platform_lines"`
	Matched       int     `json:"matched"`
	Balanced      bool    `json:"balanced"`
	// MissingOnPlatform: money the channel moved that the platform has no record of.
	MissingOnPlatform []ReconciliationLine `json:"missing_on_platform"`
	// MissingOnChannel: money the platform recorded that the channel's statement lacks.
	MissingOnChannel []ReconciliationLine `json:"missing_on_channel"`
	// AmountMismatches: both sides have it, with different amounts.
	AmountMismatches []ReconciliationMismatch `json:"amount_mismatches"`
}

// ReconciliationLine is one charge or refund.
type ReconciliationLine struct {
	Kind      string `json:"kind"` // charge or refund
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
