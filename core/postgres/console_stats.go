package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// paidStatuses are the statuses a payment counts as successful in the overview: its money
// was captured, or authorised and held for capture.
const paidStatuses = `('succeeded', 'requires_capture')`

// ConsoleOverview computes a merchant's overview from the payments and refunds tables, on
// their (merchant_id, created_at) indexes: today (since 00:00 UTC of now) and the last 30 days.
func (s *Service) ConsoleOverview(ctx context.Context, merchantID string, now time.Time) (*core.Overview, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -29)
	ov := &core.Overview{}
	var err error
	if ov.Today, err = s.stats(ctx, merchantID, today); err != nil {
		return nil, err
	}
	if ov.Last30, err = s.stats(ctx, merchantID, from); err != nil {
		return nil, err
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT date_trunc('day', created_at AT TIME ZONE 'UTC'), currency,
			count(*) FILTER (WHERE status IN `+paidStatuses+`), COALESCE(sum(amount) FILTER (WHERE status IN `+paidStatuses+`), 0)
		FROM payments WHERE merchant_id = $1 AND created_at >= $2 GROUP BY 1, 2 ORDER BY 2, 1`, merchantID, from)
	if err != nil {
		return nil, core.Internal(fmt.Errorf("overview days: %w", err))
	}
	got := map[string]map[time.Time]core.DayVolume{}
	var currencies []string
	for rows.Next() {
		var d core.DayVolume
		if err := rows.Scan(&d.Day, &d.Currency, &d.Count, &d.Volume); err != nil {
			rows.Close()
			return nil, core.Internal(err)
		}
		d.Day = time.Date(d.Day.Year(), d.Day.Month(), d.Day.Day(), 0, 0, 0, 0, time.UTC)
		if got[d.Currency] == nil {
			got[d.Currency] = map[time.Time]core.DayVolume{}
			currencies = append(currencies, d.Currency)
		}
		got[d.Currency][d.Day] = d
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, core.Internal(err)
	}
	for _, c := range currencies {
		for day := from; !day.After(today); day = day.AddDate(0, 0, 1) {
			d, ok := got[c][day]
			if !ok {
				d = core.DayVolume{Day: day, Currency: c}
			}
			ov.Days = append(ov.Days, d)
		}
	}
	return ov, nil
}

func (s *Service) stats(ctx context.Context, merchantID string, from time.Time) ([]core.PaymentStats, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT currency, channel, count(*),
			count(*) FILTER (WHERE status IN `+paidStatuses+`),
			COALESCE(sum(amount) FILTER (WHERE status IN `+paidStatuses+`), 0)
		FROM payments WHERE merchant_id = $1 AND created_at >= $2 GROUP BY 1, 2 ORDER BY 1, 2`, merchantID, from)
	if err != nil {
		return nil, core.Internal(fmt.Errorf("overview: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (core.PaymentStats, error) {
		var st core.PaymentStats
		err := r.Scan(&st.Currency, &st.Channel, &st.Count, &st.Succeeded, &st.Volume)
		return st, err
	})
	if err != nil {
		return nil, core.Internal(fmt.Errorf("overview: %w", err))
	}
	rows, err = s.db.Pool.Query(ctx, `SELECT p.currency, p.channel, count(*), COALESCE(sum(r.amount), 0)
		FROM refunds r JOIN payments p ON p.id = r.payment_id
		WHERE r.merchant_id = $1 AND r.created_at >= $2 AND r.status = 'succeeded' GROUP BY 1, 2`, merchantID, from)
	if err != nil {
		return nil, core.Internal(fmt.Errorf("overview refunds: %w", err))
	}
	defer rows.Close()
	for rows.Next() {
		var cur string
		var ch core.Channel
		var n, v int64
		if err := rows.Scan(&cur, &ch, &n, &v); err != nil {
			return nil, core.Internal(err)
		}
		found := false
		for i := range out {
			if out[i].Currency == cur && out[i].Channel == ch {
				out[i].RefundCount, out[i].RefundVolume, found = n, v, true
			}
		}
		if !found {
			out = append(out, core.PaymentStats{Currency: cur, Channel: ch, RefundCount: n, RefundVolume: v})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, core.Internal(err)
	}
	return out, nil
}

// exportPage is how many rows an export reads per statement.
const exportPage = 1000

// ExportPayments calls fn with each of a merchant's payments that f selects, newest first.
// It reads them in keyset pages of exportPage rows, each one statement, so memory stays
// constant however many rows there are, the first row comes at once, and no statement
// outlives the node's statement timeout. An error from fn stops the export and is returned.
func (s *Service) ExportPayments(ctx context.Context, merchantID string, f core.ExportFilter, fn func(*core.Payment) error) error {
	where, args := exportWhere(merchantID, f, true)
	return s.paged(ctx, `SELECT `+paymentColumns+` FROM payments WHERE `+where, args, func(r pgx.Rows) (time.Time, string, error) {
		p, err := scanPayment(r)
		if err != nil {
			return time.Time{}, "", err
		}
		return p.CreatedAt, p.ID, fn(p)
	})
}

// ExportRefunds calls fn with each of a merchant's refunds created in f's date range, newest
// first, read like ExportPayments.
func (s *Service) ExportRefunds(ctx context.Context, merchantID string, f core.ExportFilter, fn func(*core.Refund) error) error {
	where, args := exportWhere(merchantID, core.ExportFilter{CreatedGTE: f.CreatedGTE, CreatedLT: f.CreatedLT}, false)
	return s.paged(ctx, `SELECT id, payment_id, amount, currency, status, reason, region, created_at FROM refunds WHERE `+where, args,
		func(r pgx.Rows) (time.Time, string, error) {
			ref := &core.Refund{Object: "refund", MerchantID: merchantID}
			if err := r.Scan(&ref.ID, &ref.Payment, &ref.Amount, &ref.Currency, &ref.Status, &ref.Reason, &ref.Region, &ref.CreatedAt); err != nil {
				return time.Time{}, "", err
			}
			return ref.CreatedAt, ref.ID, fn(ref)
		})
}

func exportWhere(merchantID string, f core.ExportFilter, payments bool) (string, []any) {
	where := `merchant_id = $1`
	args := []any{merchantID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if payments && f.Status != "" {
		where += ` AND status = ` + arg(f.Status)
	}
	if payments && f.Channel != "" {
		where += ` AND channel = ` + arg(f.Channel)
	}
	if payments && f.MerchantReference != "" {
		where += ` AND merchant_reference = ` + arg(f.MerchantReference)
	}
	if f.CreatedGTE != nil {
		where += ` AND created_at >= ` + arg(*f.CreatedGTE)
	}
	if f.CreatedLT != nil {
		where += ` AND created_at < ` + arg(*f.CreatedLT)
	}
	return where, args
}

// paged runs sql (a SELECT ending in its WHERE clause over a table with created_at and id)
// page by page, newest first, handing each row to fn, which returns the row's keyset.
func (s *Service) paged(ctx context.Context, sql string, args []any, fn func(pgx.Rows) (time.Time, string, error)) error {
	n := len(args)
	first := sql + fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT %d`, exportPage)
	next := sql + fmt.Sprintf(` AND (created_at, id) < ($%d, $%d) ORDER BY created_at DESC, id DESC LIMIT %d`, n+1, n+2, exportPage)
	q, qargs := first, args
	for {
		rows, err := s.db.Pool.Query(ctx, q, qargs...)
		if err != nil {
			return core.Internal(fmt.Errorf("export: %w", err))
		}
		count := 0
		var at time.Time
		var id string
		for rows.Next() {
			count++
			if at, id, err = fn(rows); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return core.Internal(fmt.Errorf("export: %w", err))
		}
		if count < exportPage {
			return nil
		}
		q, qargs = next, append(append([]any(nil), args...), at, id)
	}
}

// PaymentEvents lists the events of a payment and of its refunds, oldest first: the
// payment's timeline.
func (s *Service) PaymentEvents(ctx context.Context, merchantID, paymentID string) ([]*core.Event, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT id, type, object_id, payload, created_at FROM outbox_events
		WHERE merchant_id = $1 AND (object_id = $2 OR object_id IN (SELECT id FROM refunds WHERE payment_id = $2 AND merchant_id = $1))
		ORDER BY created_at, id`, merchantID, paymentID)
	if err != nil {
		return nil, core.Internal(err)
	}
	defer rows.Close()
	var out []*core.Event
	for rows.Next() {
		var id, typ, obj string
		var payload []byte
		var at time.Time
		if err := rows.Scan(&id, &typ, &obj, &payload, &at); err != nil {
			return nil, core.Internal(err)
		}
		e, err := renderEvent(id, typ, obj, payload, at)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, core.Internal(err)
	}
	return out, nil
}
