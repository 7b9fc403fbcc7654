package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
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
const (
	AccountChannelHolds      = "channel_holds"
	AccountMerchantHolds     = "merchant_holds"
	AccountChannelReceivable = "channel_receivable"
	AccountMerchantAvailable = "merchant_available"
)

type posting struct {
	account string
	amount  int64
}

type journal struct {
	kind       string
	merchantID string
	region     string
	currency   string
	paymentID  string
	refundID   *string
	postings   []posting
}

func authorizeJournal(p *core.Payment, amount int64) journal {
	return journal{kind: "authorize", merchantID: p.MerchantID, region: p.Region, currency: p.Currency, paymentID: p.ID,
		postings: []posting{{AccountChannelHolds, amount}, {AccountMerchantHolds, -amount}}}
}

func saleJournal(p *core.Payment, amount int64) journal {
	return journal{kind: "sale", merchantID: p.MerchantID, region: p.Region, currency: p.Currency, paymentID: p.ID,
		postings: []posting{{AccountChannelReceivable, amount}, {AccountMerchantAvailable, -amount}}}
}

func captureJournal(p *core.Payment, hold, captured int64) journal {
	return journal{kind: "capture", merchantID: p.MerchantID, region: p.Region, currency: p.Currency, paymentID: p.ID,
		postings: []posting{
			{AccountChannelHolds, -hold}, {AccountMerchantHolds, hold},
			{AccountChannelReceivable, captured}, {AccountMerchantAvailable, -captured},
		}}
}

func voidJournal(p *core.Payment, hold int64) journal {
	return journal{kind: "void", merchantID: p.MerchantID, region: p.Region, currency: p.Currency, paymentID: p.ID,
		postings: []posting{{AccountChannelHolds, -hold}, {AccountMerchantHolds, hold}}}
}

func refundJournal(p *core.Payment, r *core.Refund) journal {
	return journal{kind: "refund", merchantID: p.MerchantID, region: p.Region, currency: p.Currency, paymentID: p.ID, refundID: &r.ID,
		postings: []posting{{AccountMerchantAvailable, r.Amount}, {AccountChannelReceivable, -r.Amount}}}
}

// post writes a journal's entries, refusing one that does not balance.
func (s *Service) post(ctx context.Context, tx pgx.Tx, j journal) error {
	var sum int64
	for _, p := range j.postings {
		sum += p.amount
	}
	if sum != 0 {
		return fmt.Errorf("ledger: %s journal for %s does not balance (sum %d)", j.kind, j.paymentID, sum)
	}
	id := core.NewID(core.PrefixJournal, j.region)
	now := s.now()
	var sb strings.Builder
	args := make([]any, 0, len(j.postings)*11)
	sb.WriteString(`INSERT INTO ledger_entries (id, journal_id, merchant_id, region, account, currency, amount, kind, payment_id, refund_id, created_at) VALUES `)
	for i, p := range j.postings {
		if i > 0 {
			sb.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11)
		args = append(args, fmt.Sprintf("%s.%d", id, i), id, j.merchantID, j.region, p.account, j.currency, p.amount, j.kind, j.paymentID, j.refundID, now)
	}
	if _, err := tx.Exec(ctx, sb.String(), args...); err != nil {
		return fmt.Errorf("ledger: post %s journal: %w", j.kind, err)
	}
	return nil
}

// Balance sums a merchant's ledger per currency.
func (s *Service) Balance(ctx context.Context, merchantID string) (*core.Balance, error) {
	rows, err := s.db.Pool.Query(ctx, `
		SELECT currency,
			COALESCE(-SUM(amount) FILTER (WHERE account = $2), 0),
			COALESCE(-SUM(amount) FILTER (WHERE account = $3), 0)
		FROM ledger_entries WHERE merchant_id = $1 AND account IN ($2, $3)
		GROUP BY currency ORDER BY currency`, merchantID, AccountMerchantAvailable, AccountMerchantHolds)
	if err != nil {
		return nil, fmt.Errorf("balance: %w", err)
	}
	defer rows.Close()
	b := &core.Balance{Object: "balance", Data: []core.CurrencyTotal{}}
	for rows.Next() {
		var t core.CurrencyTotal
		if err := rows.Scan(&t.Currency, &t.Available, &t.OnHold); err != nil {
			return nil, fmt.Errorf("balance: %w", err)
		}
		b.Data = append(b.Data, t)
	}
	return b, rows.Err()
}

// CheckLedger verifies the whole ledger: every journal sums to zero, and every payment's
// captured, refunded and held amounts equal the sums of its postings.
func (s *Service) CheckLedger(ctx context.Context) (*core.LedgerReport, error) {
	r := &core.LedgerReport{UnbalancedJournals: []string{}, PaymentMismatches: []string{}}
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(DISTINCT journal_id), count(*) FROM ledger_entries`).Scan(&r.Journals, &r.Entries); err != nil {
		return nil, fmt.Errorf("ledger check: %w", err)
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT journal_id, SUM(amount) FROM ledger_entries GROUP BY journal_id HAVING SUM(amount) <> 0 LIMIT 100`)
	if err != nil {
		return nil, fmt.Errorf("ledger check: %w", err)
	}
	for rows.Next() {
		var id string
		var sum int64
		if err := rows.Scan(&id, &sum); err != nil {
			rows.Close()
			return nil, err
		}
		r.UnbalancedJournals = append(r.UnbalancedJournals, fmt.Sprintf("%s sums to %d", id, sum))
	}
	rows.Close()
	rows, err = s.db.Pool.Query(ctx, `
		SELECT p.id, p.amount_captured - p.amount_refunded, p.amount_capturable,
			COALESCE(-SUM(e.amount) FILTER (WHERE e.account = $1), 0),
			COALESCE(-SUM(e.amount) FILTER (WHERE e.account = $2), 0)
		FROM payments p LEFT JOIN ledger_entries e ON e.payment_id = p.id
		GROUP BY p.id, p.amount_captured, p.amount_refunded, p.amount_capturable
		HAVING p.amount_captured - p.amount_refunded <> COALESCE(-SUM(e.amount) FILTER (WHERE e.account = $1), 0)
			OR p.amount_capturable <> COALESCE(-SUM(e.amount) FILTER (WHERE e.account = $2), 0)
		LIMIT 100`, AccountMerchantAvailable, AccountMerchantHolds)
	if err != nil {
		return nil, fmt.Errorf("ledger check: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var net, hold, postedNet, postedHold int64
		if err := rows.Scan(&id, &net, &hold, &postedNet, &postedHold); err != nil {
			return nil, err
		}
		r.PaymentMismatches = append(r.PaymentMismatches, fmt.Sprintf(
			"%s: captured-refunded %d vs posted %d, held %d vs posted %d", id, net, postedNet, hold, postedHold))
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	r.Balanced = len(r.UnbalancedJournals) == 0 && len(r.PaymentMismatches) == 0
	return r, nil
}
