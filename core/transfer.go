package core

import (
	"fmt"
	"time"
)

// Accounts and journal kinds of transfers between merchants and operator adjustments. A
// transfer of A from S to D is two journals, one per merchant, through the clearing account:
//
//	S: merchant_available +A   transfers_clearing −A
//	D: transfers_clearing +A   merchant_available −A
//
// (a reversal is the same the other way); transfers_clearing sums to zero over both. An
// operator adjustment of A (credit positive) posts merchant_available −A, platform_adjustments +A.
const (
	AccountTransfersClearing   = "transfers_clearing"
	AccountPlatformAdjustments = "platform_adjustments"

	JournalTransfer         = "transfer"
	JournalTransferReversal = "transfer_reversal"
	JournalAdjustment       = "adjustment"
)

// Balance transaction types of transfers and adjustments.
const (
	TxnTransfer         = "transfer"
	TxnTransferReversal = "transfer_reversal"
	TxnAdjustment       = "adjustment"
)

// Event types of transfers.
const (
	EventTransferCreated  = "transfer.created"
	EventTransferReversed = "transfer.reversed"
)

// Transfer is money moved from the calling merchant's available balance to another's.
type Transfer struct {
	Object         string    `json:"object"`
	ID             string    `json:"id"`
	Amount         int64     `json:"amount"`
	AmountReversed int64     `json:"amount_reversed"`
	Currency       string    `json:"currency"`
	Destination    string    `json:"destination"`
	Description    string    `json:"description"`
	CreatedAt      time.Time `json:"created_at"`
	MerchantID     string    `json:"-"`
	Region         string    `json:"-"`
	DestRegion     string    `json:"-"`
}

// TransferReversal moves some or all of a transfer back.
type TransferReversal struct {
	Object    string    `json:"object"`
	ID        string    `json:"id"`
	Transfer  string    `json:"transfer"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	CreatedAt time.Time `json:"created_at"`
}

// CreateTransferParams are a merchant's transfer request.
type CreateTransferParams struct {
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Destination string `json:"destination"`
	Description string `json:"description,omitempty"`
}

// Validate checks p and normalises its currency.
func (p *CreateTransferParams) Validate() error {
	if p.Amount < 1 || p.Amount > MaxAmount {
		return ParamError(CodeParameterInvalid, "amount", "amount must be a positive integer in minor units, at most %d.", MaxAmount)
	}
	c, ok := NormalizeCurrency(p.Currency)
	if !ok {
		return ParamError(CodeParameterInvalid, "currency", "Unknown or unsupported currency %q.", p.Currency)
	}
	p.Currency = c
	if err := ValidateID("destination", p.Destination); err != nil {
		return err
	}
	if len(p.Description) > 500 {
		return ParamError(CodeParameterInvalid, "description", "description is at most 500 characters.")
	}
	return nil
}

// CreateReversalParams are a transfer reversal's request; Amount nil reverses all that is left.
type CreateReversalParams struct {
	Amount *int64 `json:"amount"`
}

// AdjustmentParams are an operator's adjustment of a merchant's available balance: a credit
// (positive) or debit (negative), with a reason. AllowNegative lets a debit take the balance
// below zero.
type AdjustmentParams struct {
	Merchant      string `json:"merchant"`
	Amount        int64  `json:"amount"`
	Currency      string `json:"currency"`
	Reason        string `json:"reason"`
	AllowNegative bool   `json:"allow_negative"`
}

// Validate checks p and normalises its currency.
func (p *AdjustmentParams) Validate() error {
	if err := ValidateID("merchant", p.Merchant); err != nil {
		return err
	}
	if p.Amount == 0 || p.Amount > MaxAmount || p.Amount < -MaxAmount {
		return ParamError(CodeParameterInvalid, "amount", "amount must be a non-zero integer in minor units from -%d to %d.", MaxAmount, MaxAmount)
	}
	c, ok := NormalizeCurrency(p.Currency)
	if !ok {
		return ParamError(CodeParameterInvalid, "currency", "Unknown or unsupported currency %q.", p.Currency)
	}
	p.Currency = c
	if len(p.Reason) == 0 || len(p.Reason) > 500 {
		return ParamError(CodeParameterInvalid, "reason", "reason is required, at most 500 characters.")
	}
	return nil
}

// Adjustment is an operator's adjustment as recorded.
type Adjustment struct {
	Object    string    `json:"object"`
	ID        string    `json:"id"`
	Merchant  string    `json:"merchant"`
	Amount    int64     `json:"amount"`
	Currency  string    `json:"currency"`
	Reason    string    `json:"reason"`
	CreatedAt time.Time `json:"created_at"`
}

// CodeBalanceInsufficient refuses a movement larger than the available balance.
const CodeBalanceInsufficient = "balance_insufficient"

// InsufficientAvailable is the error of a movement larger than the available balance.
func InsufficientAvailable(param string, amount, available int64, currency string) *Error {
	return ParamError(CodeBalanceInsufficient, param, "The amount (%s) exceeds the available balance (%s).",
		FormatAmount(amount, currency), FormatAmount(available, currency))
}

func sourceJournal(kind, merchantID, region, currency, source string, postings ...Posting) Journal {
	return Journal{Kind: kind, MerchantID: merchantID, Region: region, Currency: currency, SourceID: source, Postings: postings}
}

// NewTransfer checks a transfer against the source's available balance and returns it with
// its two journals.
func NewTransfer(id, merchantID, region, destRegion string, p CreateTransferParams, available int64, now time.Time) (*Transfer, []Journal, error) {
	if p.Destination == merchantID {
		return nil, nil, ParamError(CodeParameterInvalid, "destination", "A transfer cannot go to its own merchant.")
	}
	if p.Amount > available {
		return nil, nil, InsufficientAvailable("amount", p.Amount, available, p.Currency)
	}
	t := &Transfer{Object: "transfer", ID: id, Amount: p.Amount, Currency: p.Currency, Destination: p.Destination,
		Description: p.Description, CreatedAt: now, MerchantID: merchantID, Region: region, DestRegion: destRegion}
	return t, t.journals(JournalTransfer, p.Amount, false), nil
}

func (t *Transfer) journals(kind string, a int64, back bool) []Journal {
	if back {
		a = -a
	}
	return []Journal{
		sourceJournal(kind, t.MerchantID, t.Region, t.Currency, t.ID, Posting{AccountMerchantAvailable, a}, Posting{AccountTransfersClearing, -a}),
		sourceJournal(kind, t.Destination, t.DestRegion, t.Currency, t.ID, Posting{AccountTransfersClearing, a}, Posting{AccountMerchantAvailable, -a}),
	}
}

// Reverse moves amount (nil: all that is left) of the transfer back, never more than is left
// nor more than the destination has available. It returns the transfer as it is after.
func (t *Transfer) Reverse(id string, amount *int64, destAvailable int64, now time.Time) (*Transfer, *TransferReversal, []Journal, error) {
	left := t.Amount - t.AmountReversed
	a := left
	if amount != nil {
		a = *amount
		if a < 1 {
			return nil, nil, nil, ParamError(CodeParameterInvalid, "amount", "amount must be a positive integer in minor units.")
		}
	}
	if left == 0 || a > left {
		return nil, nil, nil, ParamError(CodeAmountTooLarge, "amount", "The reversal (%s) exceeds what is left of transfer %s (%s).",
			FormatAmount(a, t.Currency), t.ID, FormatAmount(left, t.Currency))
	}
	if a > destAvailable {
		return nil, nil, nil, InsufficientAvailable("amount", a, destAvailable, t.Currency)
	}
	u := *t
	u.AmountReversed += a
	r := &TransferReversal{Object: "transfer_reversal", ID: id, Transfer: t.ID, Amount: a, Currency: t.Currency, CreatedAt: now}
	return &u, r, t.journals(JournalTransferReversal, a, true), nil
}

// AdjustmentJournal is an operator's adjustment of a merchant's available balance; it is
// refused when a debit would take available below zero, unless allowed.
func AdjustmentJournal(id, region string, p AdjustmentParams, available int64) (Journal, error) {
	if p.Amount < 0 && available+p.Amount < 0 && !p.AllowNegative {
		return Journal{}, InsufficientAvailable("amount", -p.Amount, available, p.Currency)
	}
	return sourceJournal(JournalAdjustment, p.Merchant, region, p.Currency, id,
		Posting{AccountMerchantAvailable, -p.Amount}, Posting{AccountPlatformAdjustments, p.Amount}), nil
}

// String names the transfer for logs.
func (t *Transfer) String() string {
	return fmt.Sprintf("transfer %s (%d %s)", t.ID, t.Amount, t.Currency)
}
