package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
)

// connect opens a database connection, retrying for up to a minute (the database may just
// have been restarted or cut off).
func connect(ctx context.Context, url string) (*pgx.Conn, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		conn, err := pgx.Connect(cctx, url)
		cancel()
		if err == nil {
			return conn, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("connect to the database: %w", err)
		}
		sleep(ctx, 500*time.Millisecond)
	}
}

// InDoubt lists the merchants' payments and refunds that are not settled yet: payments
// processing or with a capture or cancel reserved or refunds pending, refunds pending.
func InDoubt(ctx context.Context, conn *pgx.Conn, merchants []string) ([]string, error) {
	rows, err := conn.Query(ctx, `
		SELECT id FROM payments WHERE merchant_id = ANY($1)
			AND (status NOT IN ('succeeded', 'failed', 'canceled', 'requires_capture', 'requires_action')
				OR pending_op IS NOT NULL OR amount_refund_pending <> 0)
		UNION ALL
		SELECT id FROM refunds WHERE merchant_id = ANY($1) AND status = 'pending'
		ORDER BY 1 LIMIT 100`, merchants)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Unreflected lists the merchants' payments the channel simulator has charged but the
// database does not show as charged yet (a payer's payment whose notification, or the
// recovery worker's query, has not been applied).
func Unreflected(ctx context.Context, conn *pgx.Conn, channelSim string, merchants []string) ([]string, error) {
	if channelSim == "" {
		return nil, nil
	}
	ch, err := netsim.Control{BaseURL: channelSim}.Charges(ctx)
	if err != nil {
		return nil, err
	}
	var charged []string
	for id, c := range ch.Payments {
		if c.Charges > 0 {
			charged = append(charged, id)
		}
	}
	rows, err := conn.Query(ctx, `SELECT id FROM payments WHERE id = ANY($1) AND merchant_id = ANY($2)
		AND status NOT IN ('succeeded', 'requires_capture', 'canceled') ORDER BY id LIMIT 100`, charged, merchants)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Gather collects the database's and the channel simulator's side for the merchants, and
// runs the admin ledger check.
func Gather(ctx context.Context, t *Target, merchants []string, history []Op, bound time.Duration) (Evidence, error) {
	e := Evidence{Merchants: merchants, History: history, Payments: map[string]PaymentRow{}, Refunds: map[string]RefundRow{},
		Elsewhere: map[string]PaymentRow{}, SettleBound: bound}
	conn, err := connect(ctx, t.DatabaseURL)
	if err != nil {
		return e, err
	}
	defer conn.Close(context.Background())

	rows, err := conn.Query(ctx, `SELECT id, merchant_id, status, amount, amount_capturable, amount_captured,
		amount_refunded, amount_refund_pending, currency, channel, capture_method, merchant_reference, COALESCE(pending_op, '')
		FROM payments WHERE merchant_id = ANY($1)`, merchants)
	if err != nil {
		return e, fmt.Errorf("read payments: %w", err)
	}
	ps, err := pgx.CollectRows(rows, scanPaymentRow)
	if err != nil {
		return e, fmt.Errorf("read payments: %w", err)
	}
	for _, p := range ps {
		e.Payments[p.ID] = p
	}

	rows, err = conn.Query(ctx, `SELECT id, merchant_id, payment_id, amount, status FROM refunds WHERE merchant_id = ANY($1)`, merchants)
	if err != nil {
		return e, fmt.Errorf("read refunds: %w", err)
	}
	rs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (RefundRow, error) {
		var r RefundRow
		return r, row.Scan(&r.ID, &r.MerchantID, &r.PaymentID, &r.Amount, &r.Status)
	})
	if err != nil {
		return e, fmt.Errorf("read refunds: %w", err)
	}
	for _, r := range rs {
		e.Refunds[r.ID] = r
	}

	rows, err = conn.Query(ctx, `SELECT merchant_id, idem_key, request_method, request_path, COALESCE(payment_id, ''),
		COALESCE(refund_id, ''), COALESCE(response_status, 0), recovery_point
		FROM idempotency_keys WHERE merchant_id = ANY($1)`, merchants)
	if err != nil {
		return e, fmt.Errorf("read idempotency keys: %w", err)
	}
	if e.Keys, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (KeyRow, error) {
		var k KeyRow
		return k, row.Scan(&k.MerchantID, &k.Key, &k.Method, &k.Path, &k.PaymentID, &k.RefundID, &k.ResponseStatus, &k.RecoveryPoint)
	}); err != nil {
		return e, fmt.Errorf("read idempotency keys: %w", err)
	}

	rows, err = conn.Query(ctx, `SELECT journal_id, MIN(kind), COALESCE(MIN(payment_id), ''), COALESCE(MIN(refund_id), ''),
		SUM(amount)::INT8, COUNT(*) FROM ledger_entries WHERE merchant_id = ANY($1) GROUP BY journal_id`, merchants)
	if err != nil {
		return e, fmt.Errorf("read ledger: %w", err)
	}
	if e.Journals, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (JournalRow, error) {
		var j JournalRow
		return j, row.Scan(&j.ID, &j.Kind, &j.PaymentID, &j.RefundID, &j.Sum, &j.Entries)
	}); err != nil {
		return e, fmt.Errorf("read ledger: %w", err)
	}

	rows, err = conn.Query(ctx, `SELECT id, type, object_id FROM outbox_events WHERE merchant_id = ANY($1)`, merchants)
	if err != nil {
		return e, fmt.Errorf("read outbox: %w", err)
	}
	if e.Events, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (EventRow, error) {
		var ev EventRow
		return ev, row.Scan(&ev.ID, &ev.Type, &ev.ObjectID)
	}); err != nil {
		return e, fmt.Errorf("read outbox: %w", err)
	}

	if t.ChannelSim != "" {
		ch, err := netsim.Control{BaseURL: t.ChannelSim}.Charges(ctx)
		if err != nil {
			return e, fmt.Errorf("read channel charges: %w", err)
		}
		e.Charges = &ch
		var others []string
		for id, c := range ch.Payments {
			if _, ok := e.Payments[id]; !ok && c.Charges > 0 {
				others = append(others, id)
			}
		}
		if len(others) > 0 {
			rows, err := conn.Query(ctx, `SELECT id, merchant_id, status, amount, amount_capturable, amount_captured,
				amount_refunded, amount_refund_pending, currency, channel, capture_method, merchant_reference, COALESCE(pending_op, '')
				FROM payments WHERE id = ANY($1)`, others)
			if err != nil {
				return e, fmt.Errorf("read charged payments: %w", err)
			}
			ps, err := pgx.CollectRows(rows, scanPaymentRow)
			if err != nil {
				return e, fmt.Errorf("read charged payments: %w", err)
			}
			for _, p := range ps {
				e.Elsewhere[p.ID] = p
			}
		}
	}

	for i := 0; i < 5; i++ {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		e.Ledger, err = t.LedgerCheck(cctx)
		cancel()
		if err == nil {
			break
		}
		e.LedgerErr = err.Error()
		sleep(ctx, time.Second)
	}
	return e, nil
}

func scanPaymentRow(row pgx.CollectableRow) (PaymentRow, error) {
	var p PaymentRow
	var status, channel, method string
	err := row.Scan(&p.ID, &p.MerchantID, &status, &p.Amount, &p.AmountCapturable, &p.AmountCaptured, &p.AmountRefunded,
		&p.AmountRefundPending, &p.Currency, &channel, &method, &p.Reference, &p.PendingOp)
	p.Status, p.Channel, p.CaptureMethod = core.Status(status), core.Channel(channel), core.CaptureMethod(method)
	return p, err
}
