package core

import "fmt"

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
const (
	AccountChannelHolds      = "channel_holds"
	AccountMerchantHolds     = "merchant_holds"
	AccountChannelReceivable = "channel_receivable"
	AccountMerchantAvailable = "merchant_available"
	AccountCustomerWallet    = "customer_wallet"
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
	Postings []Posting
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

// SaleJournal records amount authorised and captured in one call: owed to the merchant.
func SaleJournal(p *Payment, amount int64) Journal {
	return paymentJournal(p, JournalSale, Posting{AccountChannelReceivable, amount}, Posting{AccountMerchantAvailable, -amount})
}

// CaptureJournal releases a hold and records the captured part of it as owed to the merchant.
func CaptureJournal(p *Payment, hold, captured int64) Journal {
	return paymentJournal(p, JournalCapture,
		Posting{AccountChannelHolds, -hold}, Posting{AccountMerchantHolds, hold},
		Posting{AccountChannelReceivable, captured}, Posting{AccountMerchantAvailable, -captured})
}

// VoidJournal releases a hold.
func VoidJournal(p *Payment, hold int64) Journal {
	return paymentJournal(p, JournalVoid, Posting{AccountChannelHolds, -hold}, Posting{AccountMerchantHolds, hold})
}

// RefundJournal returns a refund's amount from the merchant's available money.
func RefundJournal(p *Payment, r *Refund) Journal {
	j := paymentJournal(p, JournalRefund, Posting{AccountMerchantAvailable, r.Amount}, Posting{AccountChannelReceivable, -r.Amount})
	id := r.ID
	j.RefundID = &id
	return j
}
