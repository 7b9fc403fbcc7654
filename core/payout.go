package core

import (
	"context"
	"fmt"
	"time"
)

// Payouts move a merchant's available money to its verified bank account through the bank
// channel. Accounts and journals, per merchant and currency (debits positive):
//
//	created A (reserve): merchant_available +A   payouts_in_transit −A
//	paid A:              payouts_in_transit +A   payouts_paid −A
//	failed A:            payouts_in_transit +A   merchant_available −A   (payout_failure)
//	returned A (after paid):
//	                     payouts_paid +A         merchant_available −A   (payout_failure)
//
// payouts_in_transit is what the bank has been asked to pay and has not confirmed;
// payouts_paid is what left the platform. A payout's money leaves available when it is
// created, so it never exceeds the available balance, and comes back exactly once when the
// payout fails or is returned.
const (
	AccountPayoutsInTransit = "payouts_in_transit"
	AccountPayoutsPaid      = "payouts_paid"

	JournalPayout        = "payout"
	JournalPayoutPaid    = "payout_paid"
	JournalPayoutFailure = "payout_failure"
)

// Balance transaction types of payouts.
const (
	TxnPayout        = "payout"
	TxnPayoutFailure = "payout_failure"
)

// Payout statuses: pending (funds reserved, the bank not yet answered) → in_transit (the
// bank accepted it) → paid | failed. A paid payout the bank returns becomes failed.
const (
	PayoutPending   = "pending"
	PayoutInTransit = "in_transit"
	PayoutPaid      = "paid"
	PayoutFailed    = "failed"
)

// Event types of payouts.
const (
	EventPayoutCreated = "payout.created"
	EventPayoutPaid    = "payout.paid"
	EventPayoutFailed  = "payout.failed"
)

// Failure codes of payouts.
const (
	PayoutCodeReturned = "payout_returned"
	PayoutCodeFailed   = "payout_failed"
)

// Payout is money sent from a merchant's available balance to its bank account.
type Payout struct {
	Object      string `json:"object"`
	ID          string `json:"id"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Description string `json:"description"`
	Status      string `json:"status"`
	// Automatic: made by the merchant's payout schedule, not by a request.
	Automatic bool `json:"automatic"`
	// Destination is the bank account, as last four digits and bank code.
	Destination      PayoutDestination `json:"destination"`
	FailureCode      *string           `json:"failure_code"`
	FailureMessage   *string           `json:"failure_message"`
	ChannelReference *string           `json:"channel_reference"`
	CreatedAt        time.Time         `json:"created_at"`
	UpdatedAt        time.Time         `json:"updated_at"`
	MerchantID       string            `json:"-"`
	Region           string            `json:"-"`
}

// PayoutDestination is the bank account a payout goes to, as shown.
type PayoutDestination struct {
	BankCode   string `json:"bank_code"`
	Last4      string `json:"last4"`
	HolderName string `json:"holder_name"`
}

// CreatePayoutParams are a merchant's payout request.
type CreatePayoutParams struct {
	Amount      int64  `json:"amount"`
	Currency    string `json:"currency"`
	Description string `json:"description,omitempty"`
}

// Validate checks p and normalises its currency.
func (p *CreatePayoutParams) Validate() error {
	if p.Amount < 1 || p.Amount > MaxAmount {
		return ParamError(CodeParameterInvalid, "amount", "amount must be a positive integer in minor units, at most %d.", MaxAmount)
	}
	c, ok := NormalizeCurrency(p.Currency)
	if !ok {
		return ParamError(CodeParameterInvalid, "currency", "Unknown or unsupported currency %q.", p.Currency)
	}
	p.Currency = c
	if len(p.Description) > 500 {
		return ParamError(CodeParameterInvalid, "description", "description is at most 500 characters.")
	}
	return nil
}

// PayoutFilter pages a merchant's payouts, newest first.
type PayoutFilter struct {
	Status        string // "" for all
	Limit         int    // 1..100; default 10
	StartingAfter string
}

// PayoutAccount is what a payout needs of the merchant's verification: its KYC status and
// the bank account (with the number unsealed, for the bank only).
type PayoutAccount struct {
	KYCStatus     string
	HolderName    string
	AccountNumber string
	BankCode      string
	Currency      string
}

// NewPayout checks a payout request against the merchant's verification and available
// balance and returns the pending payout with its reserving journal and payout.created
// event. A merchant not verified is refused with kyc_required; a currency other than its bank
// account's, or an amount above available, names the param.
func NewPayout(id, merchantID, region string, p CreatePayoutParams, acct PayoutAccount, available int64, automatic bool, now time.Time) (*Payout, PayoutChange, error) {
	if acct.KYCStatus != KYCVerified {
		return nil, PayoutChange{}, Errorf(CodeKYCRequired, "Payouts need a verified merchant (payouts_enabled); the merchant's KYC is %s.", acct.KYCStatus)
	}
	if p.Currency != acct.Currency {
		return nil, PayoutChange{}, ParamError(CodeParameterInvalid, "currency", "The bank account takes %s; a payout in %s cannot go to it.", acct.Currency, p.Currency)
	}
	if p.Amount > available {
		return nil, PayoutChange{}, InsufficientAvailable("amount", p.Amount, available, p.Currency)
	}
	po := &Payout{Object: "payout", ID: id, Amount: p.Amount, Currency: p.Currency, Description: p.Description,
		Status: PayoutPending, Automatic: automatic, CreatedAt: now, UpdatedAt: now, MerchantID: merchantID, Region: region,
		Destination: PayoutDestination{BankCode: acct.BankCode, Last4: Last4(acct.AccountNumber), HolderName: acct.HolderName}}
	return po, PayoutChange{Payout: po, Journals: []Journal{po.journal(JournalPayout, AccountMerchantAvailable, AccountPayoutsInTransit)},
		Events: []OutboxEvent{po.event(EventPayoutCreated)}}, nil
}

// PayoutChange is what one payout transition did: the payout's new state, its journals and
// events, persisted together. The zero value changes nothing.
type PayoutChange struct {
	Payout   *Payout
	From     string // the status the transition started from
	Journals []Journal
	Events   []OutboxEvent
}

// Empty reports whether the change changes nothing.
func (c PayoutChange) Empty() bool { return c.Payout == nil }

func (po *Payout) journal(kind, debit, credit string) Journal {
	return sourceJournal(kind, po.MerchantID, po.Region, po.Currency, po.ID,
		Posting{debit, po.Amount}, Posting{credit, -po.Amount})
}

func (po *Payout) event(typ string) OutboxEvent {
	return OutboxEvent{Type: typ, MerchantID: po.MerchantID, Region: po.Region, ObjectID: po.ID, Object: po}
}

// PayoutOutcome is what the bank reports of a payout.
type PayoutOutcome string

// Bank outcomes of a payout.
const (
	PayoutOutcomeInTransit PayoutOutcome = "in_transit" // accepted, not yet paid
	PayoutOutcomePaid      PayoutOutcome = "paid"
	PayoutOutcomeFailed    PayoutOutcome = "failed"
	PayoutOutcomeReturned  PayoutOutcome = "returned" // paid, then sent back by the receiving bank
)

// PayoutResult is the bank's account of a payout.
type PayoutResult struct {
	// Found is false when the bank never executed the payout (a query's answer only).
	Found          bool
	Outcome        PayoutOutcome
	Reference      string
	FailureCode    string
	FailureMessage string
}

// Apply moves the payout to the bank's outcome and returns the change: the money back to
// available once when it failed or was returned, its payout.paid or payout.failed event. An
// outcome the payout has passed already changes nothing (a repeated notification, a query
// after the request finished), nor does anything after failed. A paid payout the bank calls
// failed (not returned) is an error: the bank contradicts itself.
func (po *Payout) Apply(res PayoutResult, now time.Time) (PayoutChange, error) {
	u := *po
	u.UpdatedAt = now
	if res.Reference != "" && u.ChannelReference == nil {
		r := res.Reference
		u.ChannelReference = &r
	}
	ch := PayoutChange{Payout: &u, From: po.Status}
	fail := func(code, msg string, from string) {
		if res.FailureCode != "" {
			code = res.FailureCode
		}
		if res.FailureMessage != "" {
			msg = res.FailureMessage
		}
		u.Status, u.FailureCode, u.FailureMessage = PayoutFailed, &code, &msg
		ch.Journals = []Journal{u.journal(JournalPayoutFailure, from, AccountMerchantAvailable)}
		ch.Events = []OutboxEvent{u.event(EventPayoutFailed)}
	}
	switch {
	case !res.Found:
		return PayoutChange{}, fmt.Errorf("payout %s: the bank has no record of it", po.ID)
	case po.Status == PayoutFailed:
		return PayoutChange{}, nil
	case res.Outcome == PayoutOutcomeInTransit && po.Status == PayoutPending:
		u.Status = PayoutInTransit
	case res.Outcome == PayoutOutcomeInTransit:
		return PayoutChange{}, nil // in transit or paid already
	case res.Outcome == PayoutOutcomePaid && po.Status == PayoutPaid:
		return PayoutChange{}, nil
	case res.Outcome == PayoutOutcomePaid:
		u.Status = PayoutPaid
		ch.Journals = []Journal{u.journal(JournalPayoutPaid, AccountPayoutsInTransit, AccountPayoutsPaid)}
		ch.Events = []OutboxEvent{u.event(EventPayoutPaid)}
	case res.Outcome == PayoutOutcomeFailed && po.Status == PayoutPaid:
		return PayoutChange{}, Errorf(CodeInvalidState, "Payout %s is paid; the bank can only return it now.", po.ID)
	case res.Outcome == PayoutOutcomeFailed:
		fail(PayoutCodeFailed, "The bank could not pay the payout.", AccountPayoutsInTransit)
	case res.Outcome == PayoutOutcomeReturned && po.Status == PayoutPaid:
		fail(PayoutCodeReturned, "The receiving bank returned the payout.", AccountPayoutsPaid)
	case res.Outcome == PayoutOutcomeReturned:
		// Returned before the bank confirmed it paid: the money is still in transit.
		fail(PayoutCodeReturned, "The receiving bank returned the payout.", AccountPayoutsInTransit)
	default:
		return PayoutChange{}, fmt.Errorf("payout %s: unknown bank outcome %q", po.ID, res.Outcome)
	}
	return ch, nil
}

// Terminal reports whether the payout waits for nothing more from the bank (a paid payout
// may still be returned, by notification).
func (po *Payout) Terminal() bool { return po.Status == PayoutPaid || po.Status == PayoutFailed }

// PayoutKey is the bank idempotency key of a payout.
func PayoutKey(payoutID string) string { return payoutID + ":payout" }

// PayoutRequest asks the bank to pay a merchant's bank account.
type PayoutRequest struct {
	Key           string // derived from the payout ID (PayoutKey)
	PayoutID      string
	MerchantID    string
	Amount        int64
	Currency      string
	HolderName    string
	AccountNumber string
	BankCode      string
	Description   string
}

// PayoutQuery asks the bank what became of a payout.
type PayoutQuery struct {
	Key      string
	PayoutID string
}

// Payouter is implemented by gateways that pay out to bank accounts (the bank channel).
// Like every channel call, Payout executes a key at most once: a repeat answers with the
// payout's current state and pays nothing more. An error means the outcome is unknown,
// unless it wraps ErrNotExecuted.
type Payouter interface {
	Payout(ctx context.Context, req PayoutRequest) (PayoutResult, error)
	QueryPayout(ctx context.Context, q PayoutQuery) (PayoutResult, error)
}
