package core

import "time"

// Balance transaction types: what moved a merchant's balance.
const (
	TxnPayment = "payment"
	TxnRefund  = "refund"
)

// BalanceTransactionType is the type of balance transaction a journal kind makes, or "".
func BalanceTransactionType(kind string) string {
	switch kind {
	case JournalCapture, JournalSale:
		return TxnPayment
	case JournalRefund:
		return TxnRefund
	case JournalTransfer:
		return TxnTransfer
	case JournalTransferReversal:
		return TxnTransferReversal
	case JournalAdjustment:
		return TxnAdjustment
	case JournalPayout:
		return TxnPayout
	case JournalPayoutFailure:
		return TxnPayoutFailure
	}
	return ""
}

// BalanceTransaction is one movement of a merchant's balance: the merchant_available
// postings of one journal. Amounts are in minor units of Currency: Amount is the gross
// movement, Fee the platform's part of it, Net = Amount - Fee what the balance moved.
type BalanceTransaction struct {
	Object   string `json:"object"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	Amount   int64  `json:"amount"`
	Fee      int64  `json:"fee"`
	Net      int64  `json:"net"`
	Currency string `json:"currency"`
	// Status is pending until AvailableOn, then available.
	Status      string    `json:"status"`
	AvailableOn time.Time `json:"available_on"`
	// Source is the payment or refund that moved the money.
	Source    string    `json:"source"`
	CreatedAt time.Time `json:"created_at"`
}

// Balance transaction statuses.
const (
	TxnPending   = "pending"
	TxnAvailable = "available"
)

// BalanceTransactionFilter selects and pages a merchant's balance transactions, newest first.
type BalanceTransactionFilter struct {
	Type           string // payment or refund; "" for all
	AvailableOnGTE *time.Time
	AvailableOnLTE *time.Time
	Limit          int    // 1..100; default 10
	StartingAfter  string // a balance transaction ID: the page starts after it
	// A settlement's lines: made in [CreatedFrom, CreatedBefore), in Currency.
	CreatedFrom, CreatedBefore *time.Time
	Currency                   string
	// Source keeps the transactions of one transfer, adjustment or payout ("" for all).
	Source string
}

// FeeScheduleParams are an operator's fee schedule for a merchant: for one channel, or for
// all its channels without a schedule of their own when Channel is "".
type FeeScheduleParams struct {
	Channel Channel `json:"channel,omitempty"`
	FeeSchedule
}

// Validate reports a parameter error naming the wrong field.
func (p *FeeScheduleParams) Validate() error {
	if p.Channel != "" && !p.Channel.Valid() {
		return ParamError(CodeParameterInvalid, "channel", "Unknown channel %q.", p.Channel)
	}
	return p.FeeSchedule.Validate()
}

// FeeScheduleSet is a fee schedule as stored: whose, for which channel ("*": every other).
type FeeScheduleSet struct {
	Object   string `json:"object"`
	Merchant string `json:"merchant"`
	Channel  string `json:"channel"`
	FeeSchedule
	UpdatedAt time.Time `json:"updated_at"`
}
