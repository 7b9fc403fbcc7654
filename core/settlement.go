package core

import (
	"strconv"
	"time"
)

// Settlement is one merchant's closed day in one currency: the balance transactions made
// that day (in the merchant's settlement time zone), summed. Amounts in minor units: Gross
// is what payments captured, Refunds what refunds gave back (positive), Fees the platform's
// fees net of those returned, Net what the balance moved (including transfers and
// adjustments): the sum of the lines' nets.
type Settlement struct {
	Object    string    `json:"object"`
	ID        string    `json:"id"`
	Merchant  string    `json:"merchant"`
	Date      string    `json:"date"` // YYYY-MM-DD in the merchant's settlement time zone
	Currency  string    `json:"currency"`
	Count     int64     `json:"count"`
	Gross     int64     `json:"gross"`
	Refunds   int64     `json:"refunds"`
	Fees      int64     `json:"fees"`
	Net       int64     `json:"net"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	// Reconciliation is what reconciling the channels' statements found of the day:
	// unchecked, matched (no statement disagreed) or mismatch (ReconciliationDetail says
	// which movements disagreed).
	Reconciliation       string   `json:"reconciliation"`
	ReconciliationDetail []string `json:"reconciliation_detail"`
}

// SettlementClosed is the status of a settlement once its day is over and summed.
const SettlementClosed = "closed"

// Reconciliation states of a settlement.
const (
	SettlementUnchecked = "unchecked"
	SettlementMatched   = "matched"
	SettlementMismatch  = "mismatch"
)

// SettlementFilter selects settlements across merchants, for operators.
type SettlementFilter struct {
	Reconciliation string // "" for all
	Limit          int    // 1..100; default 10
}

// EventSettlementClosed is raised when a merchant's day is closed.
const EventSettlementClosed = "settlement.closed"

// Summarize sums a day's balance transactions into s.
func (s *Settlement) Summarize(lines []*BalanceTransaction) {
	s.Count, s.Gross, s.Refunds, s.Fees, s.Net = int64(len(lines)), 0, 0, 0, 0
	for _, l := range lines {
		switch l.Type {
		case TxnPayment:
			s.Gross += l.Amount
		case TxnRefund:
			s.Refunds -= l.Amount
		}
		s.Fees += l.Fee
		s.Net += l.Net
	}
}

// SettlementCSVHeader is the header row of a settlement's lines, as Stripe's reports: amounts
// in minor units and in decimal.
var SettlementCSVHeader = []string{"balance_transaction", "created_at", "available_on", "type", "source", "currency",
	"amount_minor", "fee_minor", "net_minor", "amount", "fee", "net"}

// SettlementCSVRow is one line of a settlement's CSV.
func SettlementCSVRow(l *BalanceTransaction) []string {
	dec := func(v int64) string { return DecimalAmount(v, l.Currency) }
	return []string{l.ID, l.CreatedAt.UTC().Format(time.RFC3339), l.AvailableOn.UTC().Format(time.RFC3339), l.Type, l.Source,
		l.Currency, strconv.FormatInt(l.Amount, 10), strconv.FormatInt(l.Fee, 10), strconv.FormatInt(l.Net, 10),
		dec(l.Amount), dec(l.Fee), dec(l.Net)}
}

// DecimalAmount renders minor units in major units without the currency, e.g. 1234 USD "12.34".
func DecimalAmount(amount int64, currency string) string {
	s := FormatAmount(amount, currency)
	return s[:len(s)-len(currency)-1]
}
