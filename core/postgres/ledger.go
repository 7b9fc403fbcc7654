package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/paycenter/paycenter/core"
)

// post queues a journal's entries, refusing one that does not balance. The accounts and the
// journals' shapes are the domain's (core/ledger.go).
func (s *Service) post(w *writeBatch, j core.Journal) error {
	if err := j.Balanced(); err != nil {
		return err
	}
	id := core.NewID(core.PrefixJournal, j.Region)
	now := s.now()
	var sb strings.Builder
	args := make([]any, 0, len(j.Postings)*13)
	availableOn := now
	if j.AvailableOn != nil {
		availableOn = *j.AvailableOn
	}
	sb.WriteString(`INSERT INTO ledger_entries (id, journal_id, merchant_id, region, account, currency, amount, kind, payment_id, refund_id, created_at, available_on, source_id) VALUES `)
	for i, p := range j.Postings {
		if i > 0 {
			sb.WriteString(", ")
		}
		n := len(args)
		fmt.Fprintf(&sb, "($%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11, n+12, n+13)
		args = append(args, fmt.Sprintf("%s.%d", id, i), id, j.MerchantID, j.Region, p.Account, j.Currency, p.Amount, j.Kind, nullIfEmpty(j.PaymentID), j.RefundID, now, availableOn, nullIfEmpty(j.SourceID))
	}
	w.queue(sb.String(), args...)
	return s.postWallet(w, j, id) // wallets.go
}

// Balance sums a merchant's ledger per currency: merchant_available postings whose
// available_on has come are available, the later ones pending.
func (s *Service) Balance(ctx context.Context, merchantID string) (*core.Balance, error) {
	rows, err := s.db.Pool.Query(ctx, `
		SELECT currency,
			COALESCE(-SUM(amount) FILTER (WHERE account = $2 AND (available_on IS NULL OR available_on <= $4)), 0),
			COALESCE(-SUM(amount) FILTER (WHERE account = $3), 0),
			COALESCE(-SUM(amount) FILTER (WHERE account = $2 AND available_on > $4), 0)
		FROM ledger_entries WHERE merchant_id = $1 AND account IN ($2, $3)
		GROUP BY currency ORDER BY currency`, merchantID, core.AccountMerchantAvailable, core.AccountMerchantHolds, s.now())
	if err != nil {
		return nil, fmt.Errorf("balance: %w", err)
	}
	defer rows.Close()
	b := &core.Balance{Object: "balance", Data: []core.CurrencyTotal{}}
	for rows.Next() {
		var t core.CurrencyTotal
		if err := rows.Scan(&t.Currency, &t.Available, &t.OnHold, &t.Pending); err != nil {
			return nil, fmt.Errorf("balance: %w", err)
		}
		b.Data = append(b.Data, t)
	}
	return b, rows.Err()
}

// CheckLedger verifies the whole ledger: every journal sums to zero, every payment's
// captured, refunded and held amounts equal the sums of its postings, the wallets agree with
// theirs, and the merchants' balances and payouts pass the proofs of ledger_proofs.go.
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
	// A payment's captured less refunded money went to the merchant and, for fees, to the
	// platform: the two accounts together.
	rows, err = s.db.Pool.Query(ctx, `
		SELECT p.id, p.amount_captured - p.amount_refunded, p.amount_capturable,
			COALESCE(-SUM(e.amount) FILTER (WHERE e.account IN ($1, $3)), 0),
			COALESCE(-SUM(e.amount) FILTER (WHERE e.account = $2), 0)
		FROM payments p LEFT JOIN ledger_entries e ON e.payment_id = p.id AND e.kind <> 'top_up'
		GROUP BY p.id, p.amount_captured, p.amount_refunded, p.amount_capturable
		HAVING p.amount_captured - p.amount_refunded <> COALESCE(-SUM(e.amount) FILTER (WHERE e.account IN ($1, $3)), 0)
			OR p.amount_capturable <> COALESCE(-SUM(e.amount) FILTER (WHERE e.account = $2), 0)
		LIMIT 100`, core.AccountMerchantAvailable, core.AccountMerchantHolds, core.AccountPlatformFees)
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
	if err := s.checkWallets(ctx, r); err != nil {
		return nil, err
	}
	if err := s.checkMerchantBalances(ctx, r); err != nil { // ledger_proofs.go
		return nil, err
	}
	r.Balanced = len(r.UnbalancedJournals) == 0 && len(r.PaymentMismatches) == 0 && len(r.WalletMismatches) == 0 &&
		len(r.BalanceMismatches) == 0 && len(r.NegativeBalances) == 0
	return r, nil
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
