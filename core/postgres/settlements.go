package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// settlementLines are the balance transactions of a settlement's day, oldest first.
func (s *Service) settlementLines(ctx context.Context, merchantID, currency string, from, before time.Time) ([]*core.BalanceTransaction, error) {
	var out []*core.BalanceTransaction
	f := core.BalanceTransactionFilter{Limit: core.MaxListLimit, CreatedFrom: &from, CreatedBefore: &before, Currency: currency}
	for {
		page, err := s.BalanceTransactions(ctx, merchantID, f)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Data...)
		if !page.HasMore {
			break
		}
		f.StartingAfter = page.Data[len(page.Data)-1].ID
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}

// CloseSettlements closes, for every merchant, the settlement day before today in its
// settlement time zone (default UTC): one settlement per currency the day moved, summed from
// its balance transactions, with a settlement.closed event. It is safe on every node at once:
// the (merchant, day, currency) key is the claim, and a day closed already is left alone.
// It reports how many settlements it closed.
func (s *Service) CloseSettlements(ctx context.Context) (int, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT m.id, m.region, COALESCE(t.time_zone, 'UTC')
		FROM merchants m LEFT JOIN merchant_settlement_terms t ON t.merchant_id = m.id`)
	if err != nil {
		return 0, fmt.Errorf("close settlements: %w", err)
	}
	type merchant struct{ id, region, zone string }
	var ms []merchant
	for rows.Next() {
		var m merchant
		if err := rows.Scan(&m.id, &m.region, &m.zone); err != nil {
			rows.Close()
			return 0, err
		}
		ms = append(ms, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	closed := 0
	for _, m := range ms {
		loc, err := time.LoadLocation(m.zone)
		if err != nil {
			loc = time.UTC
		}
		n, err := s.closeDay(ctx, m.id, m.region, loc)
		if err != nil {
			return closed, err
		}
		closed += n
	}
	return closed, nil
}

func (s *Service) closeDay(ctx context.Context, merchantID, region string, loc *time.Location) (int, error) {
	l := s.now().In(loc)
	end := time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	start := time.Date(l.Year(), l.Month(), l.Day()-1, 0, 0, 0, 0, loc)
	day := start.Format(time.DateOnly)
	rows, err := s.db.Pool.Query(ctx, `SELECT DISTINCT currency FROM ledger_entries
		WHERE merchant_id = $1 AND account = $2 AND created_at >= $3 AND created_at < $4
			AND NOT EXISTS (SELECT 1 FROM settlements st WHERE st.merchant_id = $1 AND st.day = $5::DATE AND st.currency = ledger_entries.currency)`,
		merchantID, core.AccountMerchantAvailable, start, end, day)
	if err != nil {
		return 0, fmt.Errorf("close settlements: %w", err)
	}
	var currencies []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return 0, err
		}
		currencies = append(currencies, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	n := 0
	for _, c := range currencies {
		lines, err := s.settlementLines(ctx, merchantID, c, start, end)
		if err != nil {
			return n, err
		}
		st := &core.Settlement{Object: "settlement", ID: core.NewID(core.PrefixSettlement, region), Merchant: merchantID,
			Date: day, Currency: c, Status: core.SettlementClosed, CreatedAt: s.now(),
			Reconciliation: core.SettlementUnchecked, ReconciliationDetail: []string{}}
		st.Summarize(lines)
		inserted := false
		err = s.db.WriteTx(ctx, "settlement.close", func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `INSERT INTO settlements (id, merchant_id, region, day, day_start, day_end, currency, count, gross, refunds, fees, net, status, created_at)
				VALUES ($1, $2, $3, $4::DATE, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
				ON CONFLICT (merchant_id, day, currency) DO NOTHING`,
				st.ID, merchantID, region, day, start, end, c, st.Count, st.Gross, st.Refunds, st.Fees, st.Net, st.Status, st.CreatedAt)
			if err != nil {
				return err
			}
			inserted = tag.RowsAffected() == 1
			if !inserted {
				return nil // another node closed it
			}
			var w writeBatch
			s.emit(&w, core.OutboxEvent{Type: core.EventSettlementClosed, MerchantID: merchantID, Region: region, ObjectID: st.ID, Object: st})
			return w.commit(ctx, tx)
		})
		if err != nil {
			return n, fmt.Errorf("close settlement %s %s %s: %w", merchantID, day, c, err)
		}
		if inserted {
			n++
		}
	}
	return n, nil
}

const settlementColumns = `id, merchant_id, to_char(day, 'YYYY-MM-DD'), currency, count, gross, refunds, fees, net, status, created_at, day_start, day_end,
	COALESCE(reconciliation, 'unchecked'), COALESCE(reconciliation_detail, '[]'::JSONB)`

func scanSettlement(row interface{ Scan(...any) error }) (*core.Settlement, time.Time, time.Time, error) {
	st := &core.Settlement{Object: "settlement"}
	var from, to time.Time
	err := row.Scan(&st.ID, &st.Merchant, &st.Date, &st.Currency, &st.Count, &st.Gross, &st.Refunds, &st.Fees, &st.Net,
		&st.Status, &st.CreatedAt, &from, &to, &st.Reconciliation, &st.ReconciliationDetail)
	if st.ReconciliationDetail == nil {
		st.ReconciliationDetail = []string{}
	}
	return st, from, to, err
}

// ReviewSettlements lists settlements of every merchant for operators, newest day first,
// by their reconciliation state (mismatch: the days reconciliation flagged).
func (s *Service) ReviewSettlements(ctx context.Context, f core.SettlementFilter) (*core.List[*core.Settlement], error) {
	limit := f.Limit
	if limit == 0 {
		limit = 10
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+settlementColumns+` FROM settlements
		WHERE $1 = '' OR COALESCE(reconciliation, 'unchecked') = $1
		ORDER BY day DESC, id DESC LIMIT $2`, f.Reconciliation, limit+1)
	if err != nil {
		return nil, fmt.Errorf("review settlements: %w", err)
	}
	defer rows.Close()
	list := &core.List[*core.Settlement]{Object: "list", Data: []*core.Settlement{}}
	for rows.Next() {
		st, _, _, err := scanSettlement(rows)
		if err != nil {
			return nil, fmt.Errorf("review settlements: %w", err)
		}
		list.Data = append(list.Data, st)
	}
	if len(list.Data) > limit {
		list.Data, list.HasMore = list.Data[:limit], true
	}
	return list, rows.Err()
}

// Settlements lists a merchant's settlements, newest day first (at most limit, default 10).
func (s *Service) Settlements(ctx context.Context, merchantID string, limit int) (*core.List[*core.Settlement], error) {
	if limit == 0 {
		limit = 10
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+settlementColumns+` FROM settlements WHERE merchant_id = $1
		ORDER BY day DESC, id DESC LIMIT $2`, merchantID, limit+1)
	if err != nil {
		return nil, fmt.Errorf("list settlements: %w", err)
	}
	defer rows.Close()
	list := &core.List[*core.Settlement]{Object: "list", Data: []*core.Settlement{}}
	for rows.Next() {
		st, _, _, err := scanSettlement(rows)
		if err != nil {
			return nil, fmt.Errorf("list settlements: %w", err)
		}
		list.Data = append(list.Data, st)
	}
	if len(list.Data) > limit {
		list.Data, list.HasMore = list.Data[:limit], true
	}
	return list, rows.Err()
}

// Settlement reads one of a merchant's settlements with its lines (the day's balance
// transactions, oldest first).
func (s *Service) Settlement(ctx context.Context, merchantID, id string) (*core.Settlement, []*core.BalanceTransaction, error) {
	st, from, to, err := scanSettlement(s.db.Pool.QueryRow(ctx, `SELECT `+settlementColumns+` FROM settlements
		WHERE id = $1 AND merchant_id = $2`, id, merchantID))
	if errNoRows(err) {
		return nil, nil, core.ParamError(core.CodeNotFound, "id", "No such settlement: '%s'.", id)
	}
	if err != nil {
		return nil, nil, core.AsError(err)
	}
	lines, err := s.settlementLines(ctx, merchantID, st.Currency, from, to)
	if err != nil {
		return nil, nil, core.AsError(err)
	}
	return st, lines, nil
}

// NewSettlementJob makes the worker that closes every merchant's finished settlement day
// every interval (default 10 minutes), on every node: CloseSettlements is safe everywhere.
func NewSettlementJob(s *Service, interval time.Duration) *Worker {
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	return NewWorker("settlement", interval, s.log, func(ctx context.Context) error {
		n, err := s.CloseSettlements(ctx)
		if n > 0 {
			s.log.Info("closed settlement days", "settlements", n)
		}
		return err
	})
}
