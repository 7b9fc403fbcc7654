package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/webhook"
)

// Webhook delivery. Fan-out happens in the worker, not in the transaction that writes the
// event: the payment's transaction (the hot path, see Performance in the README) stays as it
// was, with no read of the merchant's endpoints in it and no serialization conflict with an
// endpoint's change; an event is fanned out within one worker interval of its commit.
//
// Each round, in every node:
//  1. fan-out: claim outbox events not yet fanned out (FOR UPDATE SKIP LOCKED), insert one
//     delivery per enabled endpoint subscribed to the event's type, mark them fanned out
//     (outbox_events.delivered_at) — one transaction, so a dead node's fan-out is redone whole;
//  2. claim: due deliveries (FOR UPDATE SKIP LOCKED), as many per endpoint as this node has
//     free slots for it; claiming moves next_attempt_at a lease ahead and sets a claim token,
//     so no other node sees it due while the attempt runs, and a node killed mid-attempt
//     leaves it due again when the lease ends;
//  3. attempt each claimed delivery in its own goroutine (at most PerEndpoint at once per
//     endpoint, so a slow endpoint cannot hold up others), then record the attempt and the
//     delivery's next state, fenced by the claim token.

// WebhookSender sends one attempt; *webhook.Sender is the real one.
type WebhookSender interface {
	Deliver(ctx context.Context, url string, m webhook.Message) webhook.Result
}

// WebhookConfig configures webhook delivery.
type WebhookConfig struct {
	// Sender sends the attempts. Required.
	Sender WebhookSender
	// Interval is how often a round runs. Default 250ms.
	Interval time.Duration
	// Batch is how many deliveries a round claims at most (and ten times as many events it
	// fans out). Default 100.
	Batch int
	// PerEndpoint bounds the attempts in flight to one endpoint from this node. Default 4.
	PerEndpoint int
	// Claim is the lease of a claimed delivery: how soon after a node died mid-attempt the
	// delivery is due again. It must exceed the sender's timeout. Default 60s.
	Claim time.Duration
	// Schedule is the wait before each retry. Default webhook.Schedule (about three days).
	Schedule []time.Duration
	// DisableAfter disables an endpoint whose every attempt failed for this long. Default 72h.
	DisableAfter time.Duration
	// NodeID is recorded with each attempt. Default the service's liveness node ID, or region.
	NodeID string
}

func (c *WebhookConfig) withDefaults(s *Service) {
	if c.Interval == 0 {
		c.Interval = 250 * time.Millisecond
	}
	if c.Batch == 0 {
		c.Batch = 100
	}
	if c.PerEndpoint == 0 {
		c.PerEndpoint = 4
	}
	if c.Claim == 0 {
		c.Claim = 60 * time.Second
	}
	if c.Schedule == nil {
		c.Schedule = webhook.Schedule
	}
	if c.DisableAfter == 0 {
		c.DisableAfter = 72 * time.Hour
	}
	if c.NodeID == "" {
		c.NodeID = s.cfg.Liveness.NodeID
	}
	if c.NodeID == "" {
		c.NodeID = s.cfg.Region
	}
}

func (c *WebhookConfig) validate() error {
	switch {
	case c.Sender == nil:
		return errors.New("webhooks: a sender is required")
	case c.Claim <= webhook.Timeout:
		return fmt.Errorf("webhooks: the claim lease (%s) must exceed the attempt timeout (%s)", c.Claim, webhook.Timeout)
	case c.Batch < 1 || c.PerEndpoint < 1:
		return errors.New("webhooks: batch and per-endpoint bound must be positive")
	}
	return nil
}

// WebhookDeliverer delivers webhooks from one node.
type WebhookDeliverer struct {
	s     *Service
	cfg   WebhookConfig
	round sync.Mutex // one round at a time
	mu    sync.Mutex
	busy  map[string]int // attempts in flight per endpoint
	wg    sync.WaitGroup
}

// NewWebhookDeliverer makes a deliverer; Worker runs it in the background, or Round runs
// one round (tests).
func NewWebhookDeliverer(s *Service, cfg WebhookConfig) (*WebhookDeliverer, error) {
	cfg.withDefaults(s)
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &WebhookDeliverer{s: s, cfg: cfg, busy: map[string]int{}}, nil
}

// Worker runs a round every Interval; its Stop waits for attempts in flight.
func (d *WebhookDeliverer) Worker() *Worker {
	w := NewWorker("webhook delivery", d.cfg.Interval, d.s.log, func(ctx context.Context) error {
		_, err := d.Round(ctx)
		return err
	})
	w.drain = d.Wait
	return w
}

// WebhookRound is what one round did.
type WebhookRound struct {
	FannedOut int // events fanned out
	Started   int // attempts started
	Canceled  int // deliveries to deleted or disabled endpoints, dropped
}

// Round fans out new events and starts the attempts of due deliveries; Wait waits for them.
func (d *WebhookDeliverer) Round(ctx context.Context) (WebhookRound, error) {
	d.round.Lock()
	defer d.round.Unlock()
	var r WebhookRound
	var err error
	if r.FannedOut, err = d.fanOut(ctx); err != nil {
		return r, fmt.Errorf("webhook fan-out: %w", err)
	}
	claims, canceled, err := d.claim(ctx, "")
	r.Canceled = canceled
	if err != nil {
		return r, fmt.Errorf("webhook claim: %w", err)
	}
	for _, c := range claims {
		r.Started++
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			defer d.release(c.endpointID)
			d.attempt(ctx, c)
			// The slot stays with the endpoint while it has due deliveries, so a backlog
			// drains at the endpoint's pace rather than a batch per interval.
			for ctx.Err() == nil {
				next, _, err := d.claim(ctx, c.endpointID)
				if err != nil || len(next) == 0 {
					return
				}
				d.attempt(ctx, next[0])
			}
		}()
	}
	return r, nil
}

// Wait waits for the attempts in flight.
func (d *WebhookDeliverer) Wait() { d.wg.Wait() }

func (d *WebhookDeliverer) release(endpointID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.busy[endpointID]--; d.busy[endpointID] <= 0 {
		delete(d.busy, endpointID)
	}
}

func (d *WebhookDeliverer) fanOut(ctx context.Context) (int, error) {
	s := d.s
	n := 0
	err := s.db.WriteTx(ctx, "webhook.fan_out", func(tx pgx.Tx) error {
		now := s.now()
		rows, err := tx.Query(ctx, `SELECT id FROM outbox_events WHERE delivered_at IS NULL AND next_attempt_at <= $1
			ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED`, now, d.cfg.Batch*10)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(ids) == 0 {
			n = 0
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, merchant_id, region, status,
				attempts, max_attempts, next_attempt_at, created_at, updated_at)
			SELECT e.id || ':' || w.id, e.id, w.id, e.merchant_id, e.region, 'pending', 0, $2, $3, $3, $3
			FROM outbox_events e JOIN webhook_endpoints w ON w.merchant_id = e.merchant_id
			WHERE e.id = ANY($1) AND w.status = 'enabled' AND (e.type = ANY(w.enabled_events) OR '*' = ANY(w.enabled_events))
			ON CONFLICT (id) DO NOTHING`, ids, len(d.cfg.Schedule)+1, now); err != nil {
			return err
		}
		if err := fanOutNotices(ctx, tx, ids, now); err != nil { // the payers' notices (notices.go)
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE outbox_events SET delivered_at = $2, attempts = attempts + 1 WHERE id = ANY($1)`, ids, now)
		n = len(ids)
		return err
	})
	return n, err
}

// claimed is a delivery this node is attempting.
type claimed struct {
	id, eventID, endpointID string
	attempt, maxAttempts    int
	token                   string
	url                     string
	keys                    [][]byte
	event                   *core.Event
	claimedAt               time.Time
	failing                 bool // the endpoint had failed since its last success, at the claim
}

// claim claims due deliveries: for the round (endpoint ""), up to Batch, within each
// endpoint's free slots on this node; for a slot that just finished an attempt (endpoint
// set), one more of that endpoint's, in the slot it holds.
func (d *WebhookDeliverer) claim(ctx context.Context, endpoint string) ([]claimed, int, error) {
	s := d.s
	full := []string{}
	busy := map[string]int{}
	limit, perEndpoint := d.cfg.Batch, d.cfg.PerEndpoint
	if endpoint == "" {
		d.mu.Lock()
		for ep, n := range d.busy {
			if n >= d.cfg.PerEndpoint {
				full = append(full, ep)
			}
			busy[ep] = n
		}
		d.mu.Unlock()
	} else {
		limit, perEndpoint = 1, 1
	}

	var out []claimed
	var canceled int
	err := s.db.WriteTx(ctx, "webhook.claim", func(tx pgx.Tx) error {
		out, canceled = nil, 0
		now := s.now()
		rows, err := tx.Query(ctx, `SELECT d.id, d.event_id, d.endpoint_id, d.attempts, d.max_attempts,
				w.url, w.status, w.secret, w.previous_secret, w.previous_secret_expires_at, w.failing_since IS NOT NULL,
				e.type, e.object_id, e.payload, e.created_at
			FROM webhook_deliveries d
			JOIN outbox_events e ON e.id = d.event_id
			LEFT JOIN webhook_endpoints w ON w.id = d.endpoint_id
			WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND NOT (d.endpoint_id = ANY($2))
				AND ($4 = '' OR d.endpoint_id = $4)
			ORDER BY d.next_attempt_at LIMIT $3
			FOR UPDATE OF d SKIP LOCKED`, now, full, limit, endpoint)
		if err != nil {
			return err
		}
		defer rows.Close()
		taken := map[string]int{}
		var take, drop []string
		for rows.Next() {
			var c claimed
			var url, status *string
			var secret, prev []byte
			var prevExpires *time.Time
			var failing *bool
			var typ, objectID string
			var payload []byte
			var at time.Time
			if err := rows.Scan(&c.id, &c.eventID, &c.endpointID, &c.attempt, &c.maxAttempts, &url, &status, &secret, &prev,
				&prevExpires, &failing, &typ, &objectID, &payload, &at); err != nil {
				return err
			}
			if status == nil || *status != core.WebhookEnabled {
				drop = append(drop, c.id)
				continue
			}
			if busy[c.endpointID]+taken[c.endpointID] >= perEndpoint {
				continue // due, and left for the next round or another node
			}
			key, err := s.openSecretKey(c.endpointID, secret)
			if err != nil {
				return err
			}
			c.keys = [][]byte{key}
			if prev != nil && prevExpires != nil && prevExpires.After(now) {
				if key, err = s.openSecretKey(c.endpointID, prev); err != nil {
					return err
				}
				c.keys = append(c.keys, key)
			}
			if c.event, err = renderEvent(c.eventID, typ, objectID, payload, at); err != nil {
				return err
			}
			c.url, c.attempt, c.claimedAt, c.failing = *url, c.attempt+1, now, *failing
			taken[c.endpointID]++
			take = append(take, c.id)
			out = append(out, c)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		if len(drop) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = 'canceled', claim_token = NULL, updated_at = $2,
				last_error = 'The endpoint is disabled or deleted.' WHERE id = ANY($1)`, drop, now); err != nil {
				return err
			}
			canceled = len(drop)
		}
		if len(take) == 0 {
			return nil
		}
		token := core.RandomToken(15)
		for i := range out {
			out[i].token = token
		}
		_, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = $2, claim_token = $3,
			updated_at = $4 WHERE id = ANY($1)`, take, now.Add(d.cfg.Claim), token, now)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if endpoint == "" {
		d.mu.Lock()
		for _, c := range out {
			d.busy[c.endpointID]++
		}
		d.mu.Unlock()
	}
	return out, canceled, nil
}

// attempt sends one claimed delivery and records what came of it. An attempt cut short by
// the node stopping (ctx done) records nothing: the claim's lease makes the delivery due
// again. One that got its answer is recorded even while the node stops.
func (d *WebhookDeliverer) attempt(ctx context.Context, c claimed) {
	body, err := json.Marshal(c.event)
	if err != nil {
		d.s.log.Error("webhook body", "event", c.eventID, "err", err)
		return
	}
	ts := d.s.now()
	res := d.cfg.Sender.Deliver(ctx, c.url, webhook.Message{ID: c.eventID, Timestamp: ts, Body: body, Keys: c.keys})
	if res.Status == 0 && ctx.Err() != nil {
		return
	}
	// Recording is idempotent (the attempt's row is keyed, the delivery's update fenced), so
	// a record that failed (a slow or unreachable database) is tried again for a while: an
	// unrecorded attempt is sent again only when its claim's lease ends, a minute later.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for try := 1; ; try++ {
		err := d.record(rctx, c, ts, res)
		if err == nil {
			return
		}
		if rctx.Err() != nil || try == 5 {
			d.s.log.Warn("webhook record", "delivery", c.id, "tries", try, "err", err)
			return
		}
		select {
		case <-rctx.Done():
		case <-time.After(time.Duration(try) * 200 * time.Millisecond):
		}
	}
}

func (d *WebhookDeliverer) record(ctx context.Context, c claimed, ts time.Time, res webhook.Result) error {
	s := d.s
	status, next, deliveryStatus := "failed", ts, "pending"
	var httpStatus *int
	var errText *string
	if res.Status != 0 {
		httpStatus = &res.Status
	}
	if res.Err != nil {
		e := res.Err.Error()
		if len(e) > 500 {
			e = e[:500]
		}
		errText = &e
	}
	switch {
	case res.OK():
		status, deliveryStatus = "succeeded", "succeeded"
	case res.Status == http.StatusGone || c.attempt >= c.maxAttempts:
		deliveryStatus = "failed"
	case res.HasRetry:
		next = ts.Add(res.RetryAfter)
	default:
		delay, _ := webhook.NextDelay(d.cfg.Schedule, c.attempt)
		next = ts.Add(delay)
	}
	return s.db.WriteTx(ctx, "webhook.record", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_delivery_attempts (delivery_id, attempt, event_id, endpoint_id, merchant_id,
				region, status, attempted_at, http_status, duration_ms, error, node_id)
			SELECT d.id, $2, d.event_id, d.endpoint_id, d.merchant_id, d.region, $3, $4, $5, $6, $7, $8
			FROM webhook_deliveries d WHERE d.id = $1 ON CONFLICT DO NOTHING`,
			c.id, c.attempt, status, ts, httpStatus, res.Duration.Milliseconds(), errText, d.cfg.NodeID); err != nil {
			return err
		}
		// The fence: a delivery whose claim ran out and was taken by another node is theirs.
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = $3, next_attempt_at = $4, claim_token = NULL,
				last_attempt_at = $5, last_http_status = $6, last_error = $7, updated_at = $5
			WHERE id = $1 AND claim_token = $2`, c.id, c.token, deliveryStatus, next, ts, httpStatus, errText); err != nil {
			return err
		}
		if res.OK() {
			if !c.failing {
				return nil // nothing to clear: the endpoint's row is not touched
			}
			_, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL`, c.endpointID)
			return err
		}
		return d.endpointFailed(ctx, tx, c.endpointID, ts, res)
	})
}

// endpointFailed notes a failed attempt against its endpoint: a 410 Gone disables it, and
// so does a run of failures, with no success, as long as DisableAfter.
func (d *WebhookDeliverer) endpointFailed(ctx context.Context, tx pgx.Tx, endpointID string, ts time.Time, res webhook.Result) error {
	// Only the first failure of a run writes the row, so a failing endpoint is no hot row.
	if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET failing_since = $2 WHERE id = $1 AND failing_since IS NULL`, endpointID, ts); err != nil {
		return err
	}
	var since *time.Time
	var status, merchantID, region string
	err := tx.QueryRow(ctx, `SELECT failing_since, status, merchant_id, region FROM webhook_endpoints WHERE id = $1`, endpointID).Scan(&since, &status, &merchantID, &region)
	if errNoRows(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if status != core.WebhookEnabled {
		return nil
	}
	what := "no answer"
	if res.Status != 0 {
		what = fmt.Sprintf("HTTP %d", res.Status)
	} else if res.Err != nil {
		what = res.Err.Error()
	}
	var reason string
	switch {
	case res.Status == http.StatusGone:
		reason = fmt.Sprintf("The endpoint answered 410 Gone on %s.", ts.Format(time.RFC3339))
	case since != nil && ts.Sub(*since) >= d.cfg.DisableAfter:
		reason = fmt.Sprintf("Every delivery from %s to %s failed (the last: %s).", since.Format(time.RFC3339), ts.Format(time.RFC3339), what)
	default:
		return nil
	}
	if _, err = tx.Exec(ctx, `UPDATE webhook_endpoints SET status = $2, disabled_reason = $3, updated_at = $4 WHERE id = $1`,
		endpointID, core.WebhookDisabled, reason, ts); err != nil {
		return err
	}
	return auditEndpoint(ctx, tx, merchantID, region, endpointID, "disabled", "platform", reason, ts)
}
