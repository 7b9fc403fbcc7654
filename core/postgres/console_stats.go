package postgres

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// paidStatuses are the statuses a payment counts as successful in the overview: its money
// was captured, or authorised and held for capture.
const paidStatuses = `('succeeded', 'requires_capture')`

// ConsoleOverview computes a merchant's overview: closed days from the daily rollups the
// rollup worker keeps (see RollUpConsoleStats), today (and any day of the window not rolled
// up yet) live from the payments and refunds tables, bounded to those days. Today's and the
// 30 days' figures by currency, channel and region, and the chart's days, are summed from
// those groups.
func (s *Service) ConsoleOverview(ctx context.Context, merchantID string, now time.Time) (*core.Overview, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -29)
	type key = statKey
	groups, covered, err := s.rolledUp(ctx, merchantID, from, today)
	if err != nil {
		return nil, err
	}
	liveFrom := today
	for d := from; d.Before(today); d = d.AddDate(0, 0, 1) {
		if !covered[d] {
			liveFrom = d
			break
		}
	}
	live, err := s.liveStats(ctx, merchantID, liveFrom, today.AddDate(0, 0, 1))
	if err != nil {
		return nil, err
	}
	for k, g := range live {
		if !covered[k.day] {
			groups[k] = g
		}
	}
	order := make([]key, 0, len(groups))
	for k := range groups {
		order = append(order, k)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].day.Before(order[j].day) })
	sum := func(keep func(key) bool) []core.PaymentStats {
		byCC := map[[3]string]*core.PaymentStats{}
		var out []core.PaymentStats
		var idx [][3]string
		for _, k := range order {
			if !keep(k) {
				continue
			}
			g := groups[k]
			cc := [3]string{k.currency, string(k.channel), k.region}
			t, ok := byCC[cc]
			if !ok {
				t = &core.PaymentStats{Currency: k.currency, Channel: k.channel, Region: k.region}
				byCC[cc] = t
				idx = append(idx, cc)
			}
			t.Count += g.Count
			t.Succeeded += g.Succeeded
			t.Volume += g.Volume
			t.RefundCount += g.RefundCount
			t.RefundVolume += g.RefundVolume
		}
		sort.Slice(idx, func(i, j int) bool {
			return idx[i][0]+" "+idx[i][1]+" "+idx[i][2] < idx[j][0]+" "+idx[j][1]+" "+idx[j][2]
		})
		for _, cc := range idx {
			out = append(out, *byCC[cc])
		}
		return out
	}
	ov := &core.Overview{
		Today:  sum(func(k key) bool { return !k.day.Before(today) }),
		Last30: sum(func(key) bool { return true }),
	}
	days := map[string]map[time.Time]*core.DayVolume{}
	var currencies []string
	for _, k := range order {
		g := groups[k]
		if days[k.currency] == nil {
			days[k.currency] = map[time.Time]*core.DayVolume{}
			currencies = append(currencies, k.currency)
		}
		d := days[k.currency][k.day]
		if d == nil {
			d = &core.DayVolume{Day: k.day, Currency: k.currency}
			days[k.currency][k.day] = d
		}
		d.Count += g.Succeeded
		d.Volume += g.Volume
	}
	sort.Strings(currencies)
	for _, c := range currencies {
		for day := from; !day.After(today); day = day.AddDate(0, 0, 1) {
			if d := days[c][day]; d != nil {
				ov.Days = append(ov.Days, *d)
			} else {
				ov.Days = append(ov.Days, core.DayVolume{Day: day, Currency: c})
			}
		}
	}
	return ov, nil
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
	if payments {
		where += consolePaymentFilters(arg, f.Channel, f.AmountGTE, f.AmountLTE, f.Customer)
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

// consolePaymentFilters is the SQL of the back office's payment filters (channel, amount
// range, customer), for the list and the export. The customer is matched on the
// expressions the risk indexes hold (payments_risk_customer, payments_risk_email), so a
// customer's payments are found by index; channel and amount filter rows read in
// payments_merchant_created order (TestConsolePaymentFiltersUseIndexes).
func consolePaymentFilters(arg func(any) string, channel core.Channel, gte, lte *int64, customer string) string {
	var sql string
	if channel != "" {
		sql += ` AND channel = ` + arg(channel)
	}
	if gte != nil {
		sql += ` AND amount >= ` + arg(*gte)
	}
	if lte != nil {
		sql += ` AND amount <= ` + arg(*lte)
	}
	switch {
	case strings.Contains(customer, "@"):
		sql += ` AND customer->>'email' = ` + arg(customer)
	case customer != "":
		sql += ` AND customer->>'id' = ` + arg(customer)
	}
	return sql
}
