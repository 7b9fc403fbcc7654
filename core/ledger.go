package core

import (
	"fmt"
	"time"
)

// Ledger accounts, kept per merchant and currency. Amounts are signed: debits positive,
// credits negative, and every journal sums to zero.
//
//	authorise A:   channel_holds +A          merchant_holds -A
//	sale A (authorised and captured by the channel in one call, with no hold in between):
//	               channel_receivable +A     merchant_available -A
//	capture C of a hold H:
//	               channel_holds -H          merchant_holds +H     (release the hold)
//	               channel_receivable +C     merchant_available -C (money owed to the merchant)
//	void a hold H: channel_holds -H          merchant_holds +H
//	refund R:      merchant_available +R     channel_receivable -R
//
// Wallets (stored value a customer holds with the merchant; the balance is -sum):
//
//	top-up A succeeded (after its sale):   merchant_available +A   customer_wallet -A
//	wallet payment A (a sale from the balance): customer_wallet +A  merchant_available -A
//	refund R of a wallet payment:          merchant_available +R   customer_wallet -R
//
// With fees (the payment's Terms), a capture or sale of C with fee F credits the merchant
// C-F and platform_fees F, in the same journal; a refund that returns fees debits
// platform_fees its part of F. The merchant's credit in a capture or sale becomes available
// at the journal's AvailableOn (T+N); until then it counts as pending.
const (
	AccountChannelHolds      = "channel_holds"
	AccountMerchantHolds     = "merchant_holds"
	AccountChannelReceivable = "channel_receivable"
	AccountMerchantAvailable = "merchant_available"
	AccountCustomerWallet    = "customer_wallet"
	AccountPlatformFees      = "platform_fees"
)

// Journal kinds.
const (
	JournalAuthorize = "authorize"
	JournalSale      = "sale"
	JournalCapture   = "capture"
	JournalVoid      = "void"
	JournalRefund    = "refund"
	JournalTopUp     = "top_up"
)

// Posting is one entry of a journal: an amount on one account.
type Posting struct {
	Account string
	Amount  int64
}

// Journal is one balanced movement of money, recorded in the same transaction as the change
// that moved it.
type Journal struct {
	Kind       string
	MerchantID string
	Region     string
	Currency   string
	PaymentID  string
	RefundID   *string
	// Customer owns the journal's customer_wallet postings, if it has any.
	Customer string
	// SourceID is the transfer or adjustment that moved the money, for journals of no payment.
	SourceID string
	Postings []Posting
	// AvailableOn is when the journal's merchant_available postings become available;
	// nil: at once.
	AvailableOn *time.Time
}

// Balanced reports an error unless the journal's postings sum to zero.
func (j Journal) Balanced() error {
	var sum int64
	for _, p := range j.Postings {
		sum += p.Amount
	}
	if sum != 0 {
		return fmt.Errorf("ledger: %s journal for %s does not balance (sum %d)", j.Kind, j.PaymentID, sum)
	}
	return nil
}

func paymentJournal(p *Payment, kind string, postings ...Posting) Journal {
	j := Journal{Kind: kind, MerchantID: p.MerchantID, Region: p.Region, Currency: p.Currency,
		PaymentID: p.ID, Postings: postings}
	if c := p.WalletCustomer(); c != "" {
		j.Customer = c
		for i := range j.Postings {
			if j.Postings[i].Account == AccountChannelReceivable {
				j.Postings[i].Account = AccountCustomerWallet // the wallet is the channel
			}
		}
	}
	return j
}

// TopUpJournal credits a top-up's captured amount to its customer's wallet.
func TopUpJournal(p *Payment, customer string, amount int64) Journal {
	return Journal{Kind: JournalTopUp, MerchantID: p.MerchantID, Region: p.Region, Currency: p.Currency,
		PaymentID: p.ID, Customer: customer,
		Postings: []Posting{{AccountMerchantAvailable, amount}, {AccountCustomerWallet, -amount}}}
}

// AuthorizeJournal holds amount of p's money at the channel.
func AuthorizeJournal(p *Payment, amount int64) Journal {
	return paymentJournal(p, JournalAuthorize, Posting{AccountChannelHolds, amount}, Posting{AccountMerchantHolds, -amount})
}

// SaleJournal records amount authorised and captured in one call: owed to the merchant, less
// the fee, available T+N after p's UpdatedAt.
func SaleJournal(p *Payment, amount int64) Journal {
	j := paymentJournal(p, JournalSale, capturedPostings(p, amount)...)
	j.AvailableOn = availableOn(p)
	return j
}

// CaptureJournal releases a hold and records the captured part of it as owed to the merchant,
// less the fee, available T+N after p's UpdatedAt.
func CaptureJournal(p *Payment, hold, captured int64) Journal {
	j := paymentJournal(p, JournalCapture, append([]Posting{
		{AccountChannelHolds, -hold}, {AccountMerchantHolds, hold}}, capturedPostings(p, captured)...)...)
	j.AvailableOn = availableOn(p)
	return j
}

// capturedPostings are the postings of captured money: owed by the channel, to the merchant
// less the platform's fee.
func capturedPostings(p *Payment, captured int64) []Posting {
	fee := p.Terms.fee(captured)
	ps := []Posting{{AccountChannelReceivable, captured}, {AccountMerchantAvailable, -(captured - fee)}}
	if fee > 0 {
		ps = append(ps, Posting{AccountPlatformFees, -fee})
	}
	return ps
}

func availableOn(p *Payment) *time.Time {
	if p.Terms == nil {
		return nil
	}
	t := p.Terms.AvailableOn(p.UpdatedAt)
	return &t
}

// PaymentFee is the fee the platform took on p's capture, in minor units.
func PaymentFee(p *Payment) int64 { return p.Terms.fee(p.AmountCaptured) }

// VoidJournal releases a hold.
func VoidJournal(p *Payment, hold int64) Journal {
	return paymentJournal(p, JournalVoid, Posting{AccountChannelHolds, -hold}, Posting{AccountMerchantHolds, hold})
}

// RefundJournal returns a refund's amount from the merchant's available money; when the
// terms say so, the platform gives back its fee in proportion. p is the payment with the
// refund counted in AmountRefunded.
func RefundJournal(p *Payment, r *Refund) Journal {
	back := p.Terms.refundedFee(p.AmountCaptured, p.AmountRefunded) - p.Terms.refundedFee(p.AmountCaptured, p.AmountRefunded-r.Amount)
	ps := []Posting{{AccountMerchantAvailable, r.Amount - back}, {AccountChannelReceivable, -r.Amount}}
	if back > 0 {
		ps = append(ps, Posting{AccountPlatformFees, back})
	}
	j := paymentJournal(p, JournalRefund, ps...)
	id := r.ID
	j.RefundID = &id
	return j
}
