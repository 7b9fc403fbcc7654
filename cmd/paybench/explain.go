package main

// paybench -explain prints EXPLAIN (ANALYZE, BUFFERS) of each hot statement of a payment, and
// of the list queries and reapers, once the last step's runs are over: at the largest history
// measured. The statements are the platform's (core/postgres), with the parameters of a
// real payment of a benchmark merchant; the writes run in a transaction that is rolled back.

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// explained is one statement to explain, with its arguments; args may refer to the sample.
type explained struct {
	name string
	sql  string
	args func(s *explainSample) []any
}

// explainSample is what the statements' parameters are taken from: the latest card payment
// (after the runs, the load generator's) and a fresh one's values.
type explainSample struct {
	merchant, region, payment, currency, fingerprint string
	created                                          time.Time
	newID, newKey, newRef                            string
}

// hotStatements are the statements of one payment (create with automatic capture), in the
// order the payment runs them, then the reads and the reapers whose cost could grow with the
// history.
var hotStatements = []explained{
	{"risk signals (before the first phase; the merchant average read at most every 10 s)", `
		SELECT
			(SELECT COALESCE(array_agg(l.name || ' ' || i.value), '{}') FROM risk_list_items i
				JOIN risk_lists l ON l.id = i.list_id WHERE l.name = ANY($1) AND i.value = ANY($2)),
			(SELECT count(*) FROM (SELECT 1 FROM payments WHERE merchant_id = $3 AND payment_method->>'fingerprint' = $4
				AND created_at > $5 LIMIT 100) x),
			(SELECT COALESCE(array_agg(status), '{}') FROM (SELECT status FROM payments WHERE merchant_id = $3
				AND payment_method->>'fingerprint' = $4 ORDER BY created_at DESC LIMIT 5) x),
			(SELECT ARRAY[count(*), COALESCE(avg(amount), 0)::INT8] FROM (SELECT amount FROM payments
				WHERE merchant_id = $3 AND currency = $6 AND created_at > $7 ORDER BY created_at DESC LIMIT 200) x),
			(SELECT ARRAY[count(*), count(*) FILTER (WHERE fp = $4)] FROM (SELECT payment_method->>'fingerprint' AS fp
				FROM payments WHERE merchant_id = $3 AND customer->>'id' = $8 ORDER BY created_at DESC LIMIT 50) x),
			ARRAY[(SELECT count(*) FROM customer_verifications v WHERE v.merchant_id = $3 AND v.customer_id = $9
					AND v.phone_verified_at IS NOT NULL AND ($10 = '' OR v.phone = $10)),
				(SELECT count(*) FROM customer_cards c WHERE c.merchant_id = $3 AND c.customer_id = $9 AND c.fingerprint = $4)]`,
		func(s *explainSample) []any {
			return []any{[]string{}, []string{}, s.merchant, s.fingerprint, time.Now().Add(-time.Hour), s.currency,
				time.Now().Add(-30 * 24 * time.Hour), "", "", ""}
		}},
	{"fee schedule and settlement terms", `
		SELECT f.percent_bps, f.fixed, f.refund_fees, t.delay_days, t.time_zone
		FROM (SELECT 1) one
		LEFT JOIN LATERAL (SELECT percent_bps, fixed, refund_fees FROM fee_schedules
			WHERE merchant_id IN ($1, $3) AND channel IN ($2, $3)
			ORDER BY merchant_id = $3, channel = $3 LIMIT 1) f ON true
		LEFT JOIN merchant_settlement_terms t ON t.merchant_id = $1`,
		func(s *explainSample) []any { return []any{s.merchant, "card", "*"} }},
	{"first phase: claim the Idempotency-Key", `
		INSERT INTO idempotency_keys (merchant_id, idem_key, region, request_method, request_path,
			request_hash, lock_token, locked_until, recovery_point, payment_id, refund_id, created_at, updated_at, holder, payout_id)
		VALUES ($1, $2, $3, 'POST', '/v1/payments', 'h', 't', now() + INTERVAL '30 seconds', 'started', $4, NULL, now(), now(), 'n', NULL)
		ON CONFLICT (merchant_id, idem_key) DO NOTHING`,
		func(s *explainSample) []any { return []any{s.merchant, s.newKey, s.region, s.newID} }},
	{"first phase: insert the payment (the key's lease guard left out)", `
		INSERT INTO payments (id, merchant_id, region, status, amount, currency, channel,
			capture_method, merchant_reference, description, customer, payment_method, metadata,
			created_at, updated_at, terms, risk)
		SELECT $1::TEXT, $2::TEXT, $3::TEXT, 'processing', 1000, $4::TEXT, 'card', 'automatic', $5::TEXT,
			'explain', NULL, $6::JSONB, '{}', now(), now(), '{}', '{}'
		WHERE NOT EXISTS (SELECT 1 FROM merchant_channels WHERE merchant_id = $2 AND channel = 'card' AND NOT enabled)
		ON CONFLICT (merchant_id, merchant_reference) DO NOTHING`,
		func(s *explainSample) []any {
			return []any{s.newID, s.merchant, s.region, s.currency, s.newRef, `{"type":"card","fingerprint":"` + s.fingerprint + `"}`}
		}},
	{"first phase: the KYC volume counter", `
		INSERT INTO merchant_volume (merchant_id, currency, slot, region, amount) VALUES ($1, $2, 3, $3, 1000)
		ON CONFLICT (merchant_id, currency, slot) DO UPDATE SET amount = merchant_volume.amount + EXCLUDED.amount`,
		func(s *explainSample) []any { return []any{s.merchant, s.currency, s.region} }},
	{"second phase: the status change (compare-and-set)", `
		UPDATE payments SET status = 'succeeded', amount_captured = amount, channel_reference = 'sim_x', updated_at = now()
		WHERE id = $1 AND status = 'succeeded'`,
		func(s *explainSample) []any { return []any{s.payment} }},
	{"second phase: the sale journal", `
		INSERT INTO ledger_entries (id, journal_id, merchant_id, region, account, currency, amount, kind, payment_id, refund_id, created_at, available_on, source_id)
		VALUES ($1 || '.0', $1, $2, $3, 'channel_receivable', $4, 1000, 'sale', $5, NULL, now(), now() + INTERVAL '2 days', NULL),
			($1 || '.1', $1, $2, $3, 'merchant_available', $4, -1000, 'sale', $5, NULL, now(), now() + INTERVAL '2 days', NULL)`,
		func(s *explainSample) []any {
			return []any{"jnl" + s.newID[3:], s.merchant, s.region, s.currency, s.newID}
		}},
	{"second phase: the outbox event", `
		INSERT INTO outbox_events (id, merchant_id, region, type, object_id, payload, created_at, next_attempt_at)
		VALUES ($1, $2, $3, 'payment.succeeded', $4, '{}', now(), now())`,
		func(s *explainSample) []any { return []any{"evt" + s.newID[3:], s.merchant, s.region, s.newID} }},
	{"second phase: save the key's reply", `
		UPDATE idempotency_keys SET recovery_point = 'finished', response_status = 200, response_body = 'x',
			lock_token = NULL, locked_until = NULL, updated_at = now()
		WHERE merchant_id = $1 AND idem_key = $2 AND lock_token = 't'`,
		func(s *explainSample) []any { return []any{s.merchant, s.newKey} }},
	{"list payments (GET /v1/payments, first page)", `
		SELECT * FROM payments WHERE merchant_id = $1 ORDER BY created_at DESC, id DESC LIMIT 11`,
		func(s *explainSample) []any { return []any{s.merchant} }},
	{"list payments (a page deep in the history: starting_after)", `
		SELECT * FROM payments WHERE merchant_id = $1 AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT 11`,
		func(s *explainSample) []any {
			return []any{s.merchant, time.Now().Add(-60 * 24 * time.Hour), "pay_" + s.region + "_zzzzzzzzzzzzzzzzzzzzzzzz"}
		}},
	{"list events (GET /v1/events, first page)", `
		SELECT e.id, e.type, e.object_id, e.payload, e.created_at FROM outbox_events e WHERE e.merchant_id = $1
		ORDER BY e.created_at DESC, e.id DESC LIMIT 11`,
		func(s *explainSample) []any { return []any{s.merchant} }},
	{"webhook fan-out: new events", `
		SELECT id FROM outbox_events WHERE delivered_at IS NULL AND next_attempt_at <= now()
		ORDER BY next_attempt_at LIMIT 500 FOR UPDATE SKIP LOCKED`,
		func(s *explainSample) []any { return nil }},
	{"idempotency key reaper (one batch)", `
		DELETE FROM idempotency_keys WHERE (merchant_id, idem_key) IN (
			SELECT merchant_id, idem_key FROM idempotency_keys
			WHERE created_at < now() - INTERVAL '24 hours' AND response_status IS NOT NULL LIMIT 1000)`,
		func(s *explainSample) []any { return nil }},
	{"event reaper (one batch's selection)", `
		SELECT e.id FROM outbox_events e
		WHERE e.merchant_id = $1 AND e.created_at < now() - INTERVAL '30 days' AND e.delivered_at IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')
		ORDER BY e.created_at LIMIT 1000`,
		func(s *explainSample) []any { return []any{s.merchant} }},
}

// explainHot prints the plans of hotStatements against the database at url.
func explainHot(ctx context.Context, url string, out io.Writer) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	defer conn.Close(ctx)
	var s explainSample
	if err := conn.QueryRow(ctx, `SELECT id, merchant_id, region, currency, COALESCE(payment_method->>'fingerprint', ''), created_at
		FROM payments WHERE payment_method->>'fingerprint' IS NOT NULL ORDER BY created_at DESC LIMIT 1`).Scan(
		&s.payment, &s.merchant, &s.region, &s.currency, &s.fingerprint, &s.created); err != nil {
		return fmt.Errorf("explain: a benchmark payment: %w", err)
	}
	s.newID = "pay_" + s.region + "_explain0000000000000000a"
	s.newKey, s.newRef = "explain-key", "explain-ref"
	var stored int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM payments`).Scan(&stored); err != nil {
		return err
	}
	fmt.Fprintf(out, "explain:        the hot statements with %d stored payments (EXPLAIN (ANALYZE, BUFFERS), writes rolled back)\n", stored)
	for _, st := range hotStatements {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "+st.sql, st.args(&s)...)
		if err != nil {
			tx.Rollback(ctx)
			return fmt.Errorf("explain %s: %w", st.name, err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		tx.Rollback(ctx)
		if err != nil {
			return fmt.Errorf("explain %s: %w", st.name, err)
		}
		fmt.Fprintf(out, "--- %s\n", st.name)
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), "Planning:") {
				continue
			}
			fmt.Fprintf(out, "    %s\n", l)
		}
	}
	return nil
}
