package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/paycenter/paycenter/core"
)

// ExportBalanceTransactions calls fn with each of a merchant's balance transactions created
// in f's date range, newest first. It reads them through BalanceTransactions in keyset pages
// of exportPage (one statement each, on ledger_entries_merchant_created), so memory stays
// constant and no statement outlives the statement timeout, as ExportPayments.
func (s *Service) ExportBalanceTransactions(ctx context.Context, merchantID string, f core.ExportFilter, fn func(*core.BalanceTransaction) error) error {
	bf := core.BalanceTransactionFilter{Limit: exportPage, CreatedFrom: f.CreatedGTE, CreatedBefore: f.CreatedLT}
	for {
		list, err := s.BalanceTransactions(ctx, merchantID, bf)
		if err != nil {
			return err
		}
		for _, t := range list.Data {
			if err := fn(t); err != nil {
				return err
			}
		}
		if !list.HasMore || len(list.Data) == 0 {
			return nil
		}
		bf.StartingAfter = list.Data[len(list.Data)-1].ID
	}
}

// ExportSettlements calls fn with each of a merchant's settlements whose day starts in f's
// date range, newest day first, in keyset pages of exportPage on (day, id) (the
// settlements_merchant index).
func (s *Service) ExportSettlements(ctx context.Context, merchantID string, f core.ExportFilter, fn func(*core.Settlement) error) error {
	args := []any{merchantID}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	where := `merchant_id = $1`
	if f.CreatedGTE != nil {
		where += ` AND day_start >= ` + arg(*f.CreatedGTE)
	}
	if f.CreatedLT != nil {
		where += ` AND day_start < ` + arg(*f.CreatedLT)
	}
	base := `SELECT ` + settlementColumns + `, day FROM settlements WHERE ` + where
	order := fmt.Sprintf(` ORDER BY day DESC, id DESC LIMIT %d`, exportPage)
	q, qargs := base+order, args
	n := len(args)
	for {
		rows, err := s.db.Pool.Query(ctx, q, qargs...)
		if err != nil {
			return core.Internal(fmt.Errorf("export settlements: %w", err))
		}
		count := 0
		var day time.Time
		var id string
		for rows.Next() {
			count++
			st := &core.Settlement{Object: "settlement"}
			var from, to time.Time
			if err := rows.Scan(&st.ID, &st.Merchant, &st.Date, &st.Currency, &st.Count, &st.Gross, &st.Refunds, &st.Fees, &st.Net,
				&st.Status, &st.CreatedAt, &from, &to, &st.Reconciliation, &st.ReconciliationDetail, &day); err != nil {
				rows.Close()
				return core.Internal(fmt.Errorf("export settlements: %w", err))
			}
			id = st.ID
			if err := fn(st); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return core.Internal(fmt.Errorf("export settlements: %w", err))
		}
		if count < exportPage {
			return nil
		}
		q = base + fmt.Sprintf(` AND (day, id) < ($%d, $%d)`, n+1, n+2) + order
		qargs = append(append([]any(nil), args...), day, id)
	}
}

// ExportCount counts the rows an export of kind (core.ExportPayments, ExportRefunds,
// ExportBalanceTransactions or ExportSettlements) would write for f, with the export's own
// conditions, on the indexes its pages read (merchant and time first), so that the back
// office can show a large export's progress. Rows written meanwhile may make the export
// differ from it by as many.
func (s *Service) ExportCount(ctx context.Context, merchantID, kind string, f core.ExportFilter) (int64, error) {
	var sql string
	var args []any
	switch kind {
	case core.ExportPayments:
		where, a := exportWhere(merchantID, f, true)
		sql, args = `SELECT count(*) FROM payments WHERE `+where, a
	case core.ExportRefunds:
		where, a := exportWhere(merchantID, core.ExportFilter{CreatedGTE: f.CreatedGTE, CreatedLT: f.CreatedLT}, false)
		sql, args = `SELECT count(*) FROM refunds WHERE `+where, a
	case core.ExportBalanceTransactions, core.ExportSettlements:
		args = []any{merchantID}
		arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
		col := "day_start"
		sql = `SELECT count(*) FROM settlements WHERE merchant_id = $1`
		if kind == core.ExportBalanceTransactions {
			col, sql = "created_at", `SELECT count(*) FROM ledger_entries WHERE merchant_id = $1 AND account = `+arg(core.AccountMerchantAvailable)
		}
		if f.CreatedGTE != nil {
			sql += ` AND ` + col + ` >= ` + arg(*f.CreatedGTE)
		}
		if f.CreatedLT != nil {
			sql += ` AND ` + col + ` < ` + arg(*f.CreatedLT)
		}
	default:
		return 0, core.Internal(fmt.Errorf("export count: unknown export %q", kind))
	}
	var n int64
	if err := s.db.Pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		return 0, core.Internal(fmt.Errorf("export count: %w", err))
	}
	return n, nil
}
