package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// platformScope is the fee_schedules merchant (and channel) of the platform's defaults.
const platformScope = "*"

// Audit actions of merchant operations.
const (
	opsFeesSet       = "fees.set"
	opsSettlementSet = "settlement_terms.set"
)

// queueTerms queues on b the read of the terms a merchant's new payment on ch is made
// under: the most specific fee schedule (merchant and channel, merchant, platform and
// channel, platform; none: no fee) and the merchant's settlement terms (default T+2, UTC).
// The terms it returns are filled in when b's results are read. Read before the payment's
// transaction, in the round trip of the risk screening's reads (prelude): a schedule changed
// meanwhile applies from the next payment.
func queueTerms(b *pgx.Batch, merchantID string, ch core.Channel) *core.Terms {
	t := &core.Terms{DelayDays: core.DefaultDelayDays, TimeZone: "UTC"}
	// One statement for both; either may be missing.
	b.Queue(`
		SELECT f.percent_bps, f.fixed, f.refund_fees, t.delay_days, t.time_zone
		FROM (SELECT 1) one
		LEFT JOIN LATERAL (SELECT percent_bps, fixed, refund_fees FROM fee_schedules
			WHERE merchant_id IN ($1, $3) AND channel IN ($2, $3)
			ORDER BY merchant_id = $3, channel = $3 LIMIT 1) f ON true
		LEFT JOIN merchant_settlement_terms t ON t.merchant_id = $1`, merchantID, string(ch), platformScope).
		QueryRow(func(row pgx.Row) error {
			var (
				bps, fixed *int64
				refundFees *bool
				delay      *int
				zone       *string
			)
			if err := row.Scan(&bps, &fixed, &refundFees, &delay, &zone); err != nil {
				return fmt.Errorf("read fee schedule and settlement terms: %w", err)
			}
			if bps != nil {
				t.Fees.PercentBps, t.Fees.Fixed, t.Fees.RefundFees = *bps, *fixed, *refundFees
			}
			if delay != nil {
				t.DelayDays, t.TimeZone = *delay, *zone
			}
			return nil
		})
	return t
}

func merchantRegion(ctx context.Context, tx pgx.Tx, merchantID string) (string, error) {
	var region string
	err := tx.QueryRow(ctx, `SELECT region FROM merchants WHERE id = $1`, merchantID).Scan(&region)
	if errNoRows(err) {
		return "", core.ParamError(core.CodeNotFound, "id", "No such merchant: '%s'.", merchantID)
	}
	return region, err
}

// auditOps appends an operator's action on a merchant to merchant_ops_events.
func auditOps(ctx context.Context, tx pgx.Tx, merchantID, region, action, actor string, detail any, now time.Time) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO merchant_ops_events (id, merchant_id, region, action, actor, detail, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, core.NewID(core.PrefixOpsEvent, region), merchantID, region, action, actor, b, now)
	return err
}

// SetFeeSchedule sets a merchant's fee schedule (merchantID "*": the platform's default) for
// one channel or all, audited. It applies to payments created from then on.
func (s *Service) SetFeeSchedule(ctx context.Context, merchantID string, p core.FeeScheduleParams) (*core.FeeScheduleSet, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	ch := string(p.Channel)
	if ch == "" {
		ch = platformScope
	}
	out := &core.FeeScheduleSet{Object: "fee_schedule", Merchant: merchantID, Channel: ch, FeeSchedule: p.FeeSchedule}
	err := s.db.WriteTx(ctx, "merchant.set_fees", func(tx pgx.Tx) error {
		region := s.Region()
		if merchantID != platformScope {
			var err error
			if region, err = merchantRegion(ctx, tx, merchantID); err != nil {
				return err
			}
		}
		now := s.now()
		out.UpdatedAt = now
		if _, err := tx.Exec(ctx, `
			INSERT INTO fee_schedules (merchant_id, channel, region, percent_bps, fixed, refund_fees, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (merchant_id, channel) DO UPDATE SET percent_bps = excluded.percent_bps,
				fixed = excluded.fixed, refund_fees = excluded.refund_fees, updated_at = excluded.updated_at`,
			merchantID, ch, region, p.PercentBps, p.Fixed, p.RefundFees, now); err != nil {
			return err
		}
		detail := fmt.Sprintf("%s: %d bps + %d, refund fees %v", out.Channel, out.PercentBps, out.Fixed, out.RefundFees)
		if err := s.consoleAudit(ctx, tx, merchantID, opsFeesSet, merchantID, detail); err != nil {
			return err
		}
		return auditOps(ctx, tx, merchantID, region, opsFeesSet, actorOr(ctx, actorOperator), out, now)
	})
	if err != nil {
		return nil, core.AsError(err)
	}
	return out, nil
}

// SetSettlementTerms sets a merchant's T+N delay and settlement time zone, audited. It
// applies to payments created from then on.
func (s *Service) SetSettlementTerms(ctx context.Context, merchantID string, delayDays int, zone string) error {
	if err := core.ValidateSettlement(delayDays, zone); err != nil {
		return err
	}
	err := s.db.WriteTx(ctx, "merchant.set_settlement_terms", func(tx pgx.Tx) error {
		region, err := merchantRegion(ctx, tx, merchantID)
		if err != nil {
			return err
		}
		now := s.now()
		if _, err := tx.Exec(ctx, `
			INSERT INTO merchant_settlement_terms (merchant_id, region, delay_days, time_zone, updated_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (merchant_id) DO UPDATE SET delay_days = excluded.delay_days,
				time_zone = excluded.time_zone, updated_at = excluded.updated_at`,
			merchantID, region, delayDays, zone, now); err != nil {
			return err
		}
		return auditOps(ctx, tx, merchantID, region, opsSettlementSet, actorOperator,
			map[string]any{"delay_days": delayDays, "time_zone": zone}, now)
	})
	if err != nil {
		return core.AsError(err)
	}
	return nil
}

// BalanceTransactions lists a merchant's balance transactions, newest first: one per journal
// that moved its merchant_available account, read from the ledger (ledger_entries_merchant_created).
func (s *Service) BalanceTransactions(ctx context.Context, merchantID string, f core.BalanceTransactionFilter) (*core.List[*core.BalanceTransaction], error) {
	limit := f.Limit
	if limit == 0 {
		limit = 10
	}
	args := []any{merchantID, core.AccountMerchantAvailable}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	where := `merchant_id = $1 AND account = $2`
	switch f.Type {
	case core.TxnPayment:
		where += ` AND kind IN (` + arg(core.JournalCapture) + `, ` + arg(core.JournalSale) + `)`
	case core.TxnRefund, core.TxnTransfer, core.TxnTransferReversal, core.TxnAdjustment, core.TxnPayout, core.TxnPayoutFailure:
		where += ` AND kind = ` + arg(f.Type) // the kinds are named as the types
	}
	if f.AvailableOnGTE != nil {
		where += ` AND COALESCE(available_on, created_at) >= ` + arg(*f.AvailableOnGTE)
	}
	if f.AvailableOnLTE != nil {
		where += ` AND COALESCE(available_on, created_at) <= ` + arg(*f.AvailableOnLTE)
	}
	if f.CreatedFrom != nil {
		where += ` AND created_at >= ` + arg(*f.CreatedFrom)
	}
	if f.CreatedBefore != nil {
		where += ` AND created_at < ` + arg(*f.CreatedBefore)
	}
	if f.Currency != "" {
		where += ` AND currency = ` + arg(f.Currency)
	}
	if f.Source != "" {
		where += ` AND source_id = ` + arg(f.Source)
	}
	if f.StartingAfter != "" {
		var at time.Time
		err := s.db.Pool.QueryRow(ctx, `SELECT created_at FROM ledger_entries WHERE journal_id = $1 AND merchant_id = $2 AND account = $3 LIMIT 1`,
			f.StartingAfter, merchantID, core.AccountMerchantAvailable).Scan(&at)
		if errNoRows(err) {
			return nil, core.ParamError(core.CodeNotFound, "starting_after", "No such balance transaction: '%s'.", f.StartingAfter)
		}
		if err != nil {
			return nil, fmt.Errorf("list balance transactions: %w", err)
		}
		where += fmt.Sprintf(` AND (created_at, journal_id) < (%s, %s)`, arg(at), arg(f.StartingAfter))
	}
	now := arg(s.now())
	sql := `
		WITH page AS (
			SELECT journal_id, kind, currency, COALESCE(available_on, created_at) AS available_on, created_at,
				COALESCE(payment_id, source_id, '') AS payment_id, COALESCE(refund_id, '') AS refund_id
			FROM ledger_entries WHERE ` + where + `
			ORDER BY created_at DESC, journal_id DESC LIMIT ` + arg(limit+1) + `)
		SELECT page.journal_id, page.kind, page.currency, page.available_on, page.created_at, page.payment_id, page.refund_id,
			COALESCE(-SUM(e.amount) FILTER (WHERE e.account = $2), 0),
			COALESCE(-SUM(e.amount) FILTER (WHERE e.account = ` + arg(core.AccountPlatformFees) + `), 0),
			page.available_on <= ` + now + `
		FROM page JOIN ledger_entries e ON e.journal_id = page.journal_id
		GROUP BY page.journal_id, page.kind, page.currency, page.available_on, page.created_at, page.payment_id, page.refund_id
		ORDER BY page.created_at DESC, page.journal_id DESC`
	rows, err := s.db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list balance transactions: %w", err)
	}
	defer rows.Close()
	list := &core.List[*core.BalanceTransaction]{Object: "list", Data: []*core.BalanceTransaction{}}
	for rows.Next() {
		t := &core.BalanceTransaction{Object: "balance_transaction"}
		var kind, paymentID, refundID string
		var available bool
		if err := rows.Scan(&t.ID, &kind, &t.Currency, &t.AvailableOn, &t.CreatedAt, &paymentID, &refundID,
			&t.Net, &t.Fee, &available); err != nil {
			return nil, fmt.Errorf("list balance transactions: %w", err)
		}
		t.Type, t.Amount, t.Source = core.BalanceTransactionType(kind), t.Net+t.Fee, paymentID
		if refundID != "" {
			t.Source = refundID
		}
		t.Status = core.TxnPending
		if available {
			t.Status = core.TxnAvailable
		}
		list.Data = append(list.Data, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list balance transactions: %w", err)
	}
	if len(list.Data) > limit {
		list.Data, list.HasMore = list.Data[:limit], true
	}
	return list, nil
}

// FeeSchedules lists the fee schedules that apply to a merchant's payments: its own (per
// channel, "*" for its default) and, after them, the platform's (merchant "*"). A merchant
// with none of its own pays the platform's; with none at all, no fee.
func (s *Service) FeeSchedules(ctx context.Context, merchantID string) (*core.List[*core.FeeScheduleSet], error) {
	if merchantID != platformScope {
		var n int
		if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM merchants WHERE id = $1`, merchantID).Scan(&n); err != nil {
			return nil, core.AsError(err)
		}
		if n == 0 {
			return nil, core.ParamError(core.CodeNotFound, "id", "No such merchant: '%s'.", merchantID)
		}
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT merchant_id, channel, percent_bps, fixed, refund_fees, updated_at FROM fee_schedules
		WHERE merchant_id IN ($1, $2) ORDER BY merchant_id = $2, channel`, merchantID, platformScope)
	if err != nil {
		return nil, core.AsError(fmt.Errorf("list fee schedules: %w", err))
	}
	defer rows.Close()
	list := &core.List[*core.FeeScheduleSet]{Object: "list", Data: []*core.FeeScheduleSet{}}
	for rows.Next() {
		f := &core.FeeScheduleSet{Object: "fee_schedule"}
		if err := rows.Scan(&f.Merchant, &f.Channel, &f.PercentBps, &f.Fixed, &f.RefundFees, &f.UpdatedAt); err != nil {
			return nil, core.AsError(fmt.Errorf("list fee schedules: %w", err))
		}
		list.Data = append(list.Data, f)
	}
	if err := rows.Err(); err != nil {
		return nil, core.AsError(err)
	}
	return list, nil
}
