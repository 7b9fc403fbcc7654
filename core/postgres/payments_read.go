package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

const paymentColumns = `id, merchant_id, region, status, amount, amount_capturable, amount_captured,
	amount_refunded, currency, channel, capture_method, merchant_reference, description, customer,
	payment_method, metadata, failure_code, failure_message, next_action, channel_reference,
	created_at, updated_at, canceled_at, cancellation_reason, amount_refund_pending, pending_op,
	pending_amount, risk, terms`

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func scanPayment(row pgx.Row) (*core.Payment, error) {
	p := &core.Payment{Object: "payment"}
	err := row.Scan(&p.ID, &p.MerchantID, &p.Region, &p.Status, &p.Amount, &p.AmountCapturable,
		&p.AmountCaptured, &p.AmountRefunded, &p.Currency, &p.Channel, &p.CaptureMethod,
		&p.MerchantReference, &p.Description, &p.Customer, &p.PaymentMethod, &p.Metadata,
		&p.FailureCode, &p.FailureMessage, &p.NextAction, &p.ChannelReference, &p.CreatedAt,
		&p.UpdatedAt, &p.CanceledAt, &p.CancellationReason, &p.AmountRefundPending, &p.PendingOp,
		&p.PendingAmount, &p.Risk, &p.Terms)
	if err != nil {
		return nil, err
	}
	if p.Metadata == nil {
		p.Metadata = map[string]string{}
	}
	return p, nil
}

// getPayment reads a merchant's payment; lock takes a row lock for the rest of tx.
func getPayment(ctx context.Context, q querier, merchantID, id string, lock bool) (*core.Payment, error) {
	sql := `SELECT ` + paymentColumns + ` FROM payments WHERE id = $1 AND merchant_id = $2`
	if lock {
		sql += ` FOR UPDATE`
	}
	p, err := scanPayment(q.QueryRow(ctx, sql, id, merchantID))
	if errNoRows(err) {
		return nil, paymentNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("read payment %s: %w", id, err)
	}
	return p, nil
}

func paymentNotFound(id string) *core.Error {
	return core.ParamError(core.CodeNotFound, "id", "No such payment: '%s'.", id)
}

// Payment reads one of a merchant's payments.
func (s *Service) Payment(ctx context.Context, merchantID, id string) (*core.Payment, error) {
	return getPayment(ctx, s.db.Pool, merchantID, id, false)
}

// paymentsSQL is the payments list's query: f's filters, the page after (created_at, id) of
// f.StartingAfter when after is set, newest first, at most limit rows.
func paymentsSQL(merchantID string, f core.PaymentFilter, after *time.Time, limit int) (string, []any) {
	sql := `SELECT ` + paymentColumns + ` FROM payments WHERE merchant_id = $1`
	args := []any{merchantID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Status != "" {
		sql += ` AND status = ` + arg(f.Status)
	}
	if f.MerchantReference != "" {
		sql += ` AND merchant_reference = ` + arg(f.MerchantReference)
	}
	if f.CreatedGTE != nil {
		sql += ` AND created_at >= ` + arg(*f.CreatedGTE)
	}
	if f.CreatedLTE != nil {
		sql += ` AND created_at <= ` + arg(*f.CreatedLTE)
	}
	sql += consolePaymentFilters(arg, f.Channel, f.AmountGTE, f.AmountLTE, f.Customer)
	if after != nil {
		sql += fmt.Sprintf(` AND (created_at, id) < (%s, %s)`, arg(*after), arg(f.StartingAfter))
	}
	sql += ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(limit)
	return sql, args
}

// Payments lists a merchant's payments, newest first.
func (s *Service) Payments(ctx context.Context, merchantID string, f core.PaymentFilter) (*core.List[*core.Payment], error) {
	limit := f.Limit
	if limit == 0 {
		limit = core.DefaultListLimit
	}
	var after *time.Time
	if f.StartingAfter != "" {
		var at time.Time
		err := s.db.Pool.QueryRow(ctx, `SELECT created_at FROM payments WHERE id = $1 AND merchant_id = $2`,
			f.StartingAfter, merchantID).Scan(&at)
		if errNoRows(err) {
			return nil, core.ParamError(core.CodeNotFound, "starting_after", "No such payment: '%s'.", f.StartingAfter)
		}
		if err != nil {
			return nil, fmt.Errorf("list payments: %w", err)
		}
		after = &at
	}
	sql, args := paymentsSQL(merchantID, f, after, limit+1)
	rows, err := s.db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	defer rows.Close()
	list := &core.List[*core.Payment]{Object: "list", Data: []*core.Payment{}}
	for rows.Next() {
		p, err := scanPayment(rows)
		if err != nil {
			return nil, fmt.Errorf("list payments: %w", err)
		}
		list.Data = append(list.Data, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list payments: %w", err)
	}
	if len(list.Data) > limit {
		list.Data, list.HasMore = list.Data[:limit], true
	}
	return list, nil
}
