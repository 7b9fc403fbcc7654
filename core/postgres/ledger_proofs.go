package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/paycenter/paycenter/core"
)

// checkMerchantBalances adds the merchant-balance proofs to a ledger report:
//
//   - Balances are sums, never stored: per merchant and currency, the available part
//     (postings whose available_on has come) and the pending part (the later ones) must add
//     up to all merchant_available postings — no posting counted twice or lost by the split.
//   - Every payout's postings agree with its status: merchant_available +amount unless it
//     failed (then 0), payouts_in_transit −amount while pending or in transit (else 0),
//     payouts_paid −amount once paid (0 when pending, in transit, or failed after a return).
//   - No balance went negative where it must not: at the moment of every journal that moves
//     money out of available by choice (a payout, the source side of a transfer, the
//     destination side of a reversal, an operator's debit), the available balance as of
//     that moment — every posting made by then and available by then — is at least zero,
//     unless the journal is an operator adjustment made with allow_negative. Journals of one
//     moment (the same created_at) are taken together. Refunds are not among them: a refund
//     returns the payer's money even when it takes available below zero (money still
//     pending, or a fee kept), as card networks require; later movements out are then
//     refused until the balance recovers.
func (s *Service) checkMerchantBalances(ctx context.Context, r *core.LedgerReport) error {
	r.BalanceMismatches, r.NegativeBalances = []string{}, []string{}
	rows, err := s.db.Pool.Query(ctx, `
		SELECT merchant_id, currency,
			COALESCE(-SUM(amount) FILTER (WHERE available_on IS NULL OR available_on <= $2), 0),
			COALESCE(-SUM(amount) FILTER (WHERE available_on > $2), 0),
			-SUM(amount)
		FROM ledger_entries WHERE account = $1
		GROUP BY merchant_id, currency
		HAVING COALESCE(-SUM(amount) FILTER (WHERE available_on IS NULL OR available_on <= $2), 0)
			+ COALESCE(-SUM(amount) FILTER (WHERE available_on > $2), 0) <> -SUM(amount)
		LIMIT 100`, core.AccountMerchantAvailable, s.now())
	if err != nil {
		return fmt.Errorf("ledger check: balances: %w", err)
	}
	for rows.Next() {
		var mer, cur string
		var avail, pending, total int64
		if err := rows.Scan(&mer, &cur, &avail, &pending, &total); err != nil {
			rows.Close()
			return err
		}
		r.BalanceMismatches = append(r.BalanceMismatches, fmt.Sprintf("%s %s: available %d + pending %d vs posted %d (minor units)", mer, cur, avail, pending, total))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if err := s.checkPayoutPostings(ctx, r); err != nil {
		return err
	}
	rows, err = s.db.Pool.Query(ctx, `
		WITH outs AS (
			SELECT DISTINCT e.merchant_id, e.currency, e.created_at FROM ledger_entries e
			WHERE e.account = $1 AND e.amount > 0 AND e.kind IN ($2, $3, $4, $5)
				AND NOT EXISTS (SELECT 1 FROM adjustments a WHERE a.id = e.source_id AND a.allow_negative))
		SELECT o.merchant_id, o.currency, o.created_at,
			(SELECT COALESCE(-SUM(x.amount), 0) FROM ledger_entries x
				WHERE x.merchant_id = o.merchant_id AND x.account = $1 AND x.currency = o.currency
					AND x.created_at <= o.created_at AND COALESCE(x.available_on, x.created_at) <= o.created_at) AS available
		FROM outs o
		WHERE (SELECT COALESCE(-SUM(x.amount), 0) FROM ledger_entries x
				WHERE x.merchant_id = o.merchant_id AND x.account = $1 AND x.currency = o.currency
					AND x.created_at <= o.created_at AND COALESCE(x.available_on, x.created_at) <= o.created_at) < 0
		ORDER BY o.created_at LIMIT 100`,
		core.AccountMerchantAvailable, core.JournalPayout, core.JournalTransfer, core.JournalTransferReversal, core.JournalAdjustment)
	if err != nil {
		return fmt.Errorf("ledger check: negative balances: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var mer, cur string
		var at time.Time
		var avail int64
		if err := rows.Scan(&mer, &cur, &at, &avail); err != nil {
			return err
		}
		r.NegativeBalances = append(r.NegativeBalances, fmt.Sprintf("%s %s: available %d at %s after a movement out (minor units)",
			mer, cur, avail, at.UTC().Format(time.RFC3339Nano)))
	}
	return rows.Err()
}

// checkPayoutPostings proves every payout's postings agree with its status.
func (s *Service) checkPayoutPostings(ctx context.Context, r *core.LedgerReport) error {
	rows, err := s.db.Pool.Query(ctx, `
		SELECT p.id, p.status, p.amount,
			COALESCE(SUM(e.amount) FILTER (WHERE e.account = $1), 0),
			COALESCE(SUM(e.amount) FILTER (WHERE e.account = $2), 0),
			COALESCE(SUM(e.amount) FILTER (WHERE e.account = $3), 0)
		FROM payouts p LEFT JOIN ledger_entries e ON e.source_id = p.id
		GROUP BY p.id, p.status, p.amount`, core.AccountMerchantAvailable, core.AccountPayoutsInTransit, core.AccountPayoutsPaid)
	if err != nil {
		return fmt.Errorf("ledger check: payouts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, status string
		var amount, avail, transit, paid int64
		if err := rows.Scan(&id, &status, &amount, &avail, &transit, &paid); err != nil {
			return err
		}
		want := [3]int64{amount, -amount, 0}
		switch status {
		case core.PayoutPaid:
			want = [3]int64{amount, 0, -amount}
		case core.PayoutFailed:
			want = [3]int64{0, 0, 0}
		}
		if got := [3]int64{avail, transit, paid}; got != want && len(r.BalanceMismatches) < 100 {
			r.BalanceMismatches = append(r.BalanceMismatches, fmt.Sprintf("%s (%s, %d): merchant_available, payouts_in_transit, payouts_paid posted %v, want %v",
				id, status, amount, got, want))
		}
	}
	return rows.Err()
}
