package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/webhook"
)

// Webhook endpoints: a merchant's URLs, the events each takes and its signing secrets,
// sealed like channel credentials under a key of their own derived from the node secret.

const webhookSecretPurpose = "webhook-secrets-v1"

func (s *Service) webhookKey() []byte { return deriveKey(s.cfg.SecretKey, webhookSecretPurpose) }

// sealSecret seals a whsec_ secret, bound to its endpoint.
func (s *Service) sealSecret(endpointID, secret string) ([]byte, error) {
	return seal(s.webhookKey(), []byte(secret), []byte("webhook/"+endpointID))
}

// openSecretKey opens a sealed secret and gives its HMAC key.
func (s *Service) openSecretKey(endpointID string, sealed []byte) ([]byte, error) {
	plain, err := open(s.webhookKey(), sealed, []byte("webhook/"+endpointID))
	if err != nil {
		return nil, fmt.Errorf("webhook secret of %s: %w", endpointID, err)
	}
	return webhook.DecodeSecret(string(plain))
}

const endpointColumns = `id, merchant_id, url, description, enabled_events, status, disabled_reason,
	previous_secret_expires_at, created_at, updated_at`

func scanEndpoint(row pgx.Row, now time.Time) (*core.WebhookEndpoint, error) {
	e := &core.WebhookEndpoint{Object: "webhook_endpoint"}
	if err := row.Scan(&e.ID, &e.MerchantID, &e.URL, &e.Description, &e.EnabledEvents, &e.Status, &e.DisabledReason,
		&e.PreviousSecretExpiresAt, &e.CreatedAt, &e.UpdatedAt); err != nil {
		return nil, err
	}
	if e.PreviousSecretExpiresAt != nil && !e.PreviousSecretExpiresAt.After(now) {
		e.PreviousSecretExpiresAt = nil
	}
	return e, nil
}

// auditEndpoint appends to the merchant's webhook endpoint audit trail.
func auditEndpoint(ctx context.Context, tx pgx.Tx, merchantID, region, endpointID, action, actor, detail string, now time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO webhook_endpoint_events (id, merchant_id, region, endpoint_id, action, actor, detail, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, core.NewID(core.PrefixEndpointEvent, region), merchantID, region, endpointID, action, actor, detail, now)
	if err != nil {
		return fmt.Errorf("audit webhook endpoint change: %w", err)
	}
	return nil
}

func merchantActor(merchantID string) string { return "merchant:" + merchantID }

func endpointNotFound(param, id string) *core.Error {
	return core.ParamError(core.CodeNotFound, param, "No such webhook endpoint: '%s'.", id)
}

// CreateWebhookEndpoint registers an endpoint; its secret is in this answer only.
func (s *Service) CreateWebhookEndpoint(ctx context.Context, merchantID string, p core.CreateWebhookEndpointParams) (*core.WebhookEndpoint, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var out *core.WebhookEndpoint
	err := s.db.WriteTx(ctx, "webhook.create_endpoint", func(tx pgx.Tx) error {
		var region string
		var n int
		if err := tx.QueryRow(ctx, `SELECT m.region, (SELECT count(*) FROM webhook_endpoints WHERE merchant_id = m.id)
			FROM merchants m WHERE m.id = $1`, merchantID).Scan(&region, &n); err != nil {
			return err
		}
		if n >= core.MaxWebhookEndpoints {
			return core.ParamError(core.CodeParameterInvalid, "url", "An account may have at most %d webhook endpoints; delete one first.", core.MaxWebhookEndpoints)
		}
		now := s.now()
		id := core.NewID(core.PrefixWebhookEndpoint, region)
		secret := webhook.NewSecret()
		sealed, err := s.sealSecret(id, secret)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_endpoints (id, merchant_id, region, url, description, enabled_events,
			status, secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)`,
			id, merchantID, region, p.URL, p.Description, p.EnabledEvents, core.WebhookEnabled, sealed, now); err != nil {
			return err
		}
		if err := auditEndpoint(ctx, tx, merchantID, region, id, "created", actorOr(ctx, merchantActor(merchantID)),
			fmt.Sprintf("url=%s enabled_events=%s", p.URL, strings.Join(p.EnabledEvents, ",")), now); err != nil {
			return err
		}
		if err := s.consoleAudit(ctx, tx, merchantID, "webhook_endpoint.created", id, p.URL); err != nil {
			return err
		}
		out = &core.WebhookEndpoint{ID: id, Object: "webhook_endpoint", URL: p.URL, Description: p.Description,
			EnabledEvents: p.EnabledEvents, Status: core.WebhookEnabled, CreatedAt: now, UpdatedAt: now, Secret: secret, MerchantID: merchantID}
		return nil
	})
	if err != nil {
		return nil, core.AsError(err)
	}
	return out, nil
}

// WebhookEndpoint reads one of a merchant's endpoints.
func (s *Service) WebhookEndpoint(ctx context.Context, merchantID, id string) (*core.WebhookEndpoint, error) {
	e, err := scanEndpoint(s.db.Pool.QueryRow(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints
		WHERE id = $1 AND merchant_id = $2`, id, merchantID), s.now())
	if errNoRows(err) {
		return nil, endpointNotFound("id", id)
	}
	if err != nil {
		return nil, core.Internal(err)
	}
	return e, nil
}

// WebhookEndpoints lists a merchant's endpoints, newest first.
func (s *Service) WebhookEndpoints(ctx context.Context, merchantID string, f core.WebhookEndpointFilter) (*core.List[*core.WebhookEndpoint], error) {
	limit := f.Limit
	if limit == 0 {
		limit = core.DefaultListLimit
	}
	sql := `SELECT ` + endpointColumns + ` FROM webhook_endpoints WHERE merchant_id = $1`
	args := []any{merchantID}
	if f.StartingAfter != "" {
		var at time.Time
		err := s.db.Pool.QueryRow(ctx, `SELECT created_at FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2`,
			f.StartingAfter, merchantID).Scan(&at)
		if errNoRows(err) {
			return nil, endpointNotFound("starting_after", f.StartingAfter)
		}
		if err != nil {
			return nil, core.Internal(err)
		}
		sql += ` AND (created_at, id) < ($2, $3)`
		args = append(args, at, f.StartingAfter)
	}
	sql += fmt.Sprintf(` ORDER BY created_at DESC, id DESC LIMIT %d`, limit+1)
	rows, err := s.db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, core.Internal(err)
	}
	defer rows.Close()
	list := &core.List[*core.WebhookEndpoint]{Object: "list", Data: []*core.WebhookEndpoint{}}
	now := s.now()
	for rows.Next() {
		e, err := scanEndpoint(rows, now)
		if err != nil {
			return nil, core.Internal(err)
		}
		list.Data = append(list.Data, e)
	}
	if err := rows.Err(); err != nil {
		return nil, core.Internal(err)
	}
	if len(list.Data) > limit {
		list.Data, list.HasMore = list.Data[:limit], true
	}
	return list, nil
}

// UpdateWebhookEndpoint changes what p gives. Enabling an endpoint again clears its failures.
func (s *Service) UpdateWebhookEndpoint(ctx context.Context, merchantID, id string, p core.UpdateWebhookEndpointParams) (*core.WebhookEndpoint, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	err := s.db.WriteTx(ctx, "webhook.update_endpoint", func(tx pgx.Tx) error {
		var status, region string
		if err := tx.QueryRow(ctx, `SELECT status, region FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2 FOR UPDATE`,
			id, merchantID).Scan(&status, &region); err != nil {
			if errNoRows(err) {
				return endpointNotFound("id", id)
			}
			return err
		}
		now := s.now()
		sets := []string{"updated_at = $3"}
		args := []any{id, merchantID, now}
		set := func(col string, v any) {
			args = append(args, v)
			sets = append(sets, fmt.Sprintf("%s = $%d", col, len(args)))
		}
		var changed []string
		action := "updated"
		if p.URL != nil {
			set("url", *p.URL)
			changed = append(changed, "url="+*p.URL)
		}
		if p.EnabledEvents != nil {
			set("enabled_events", p.EnabledEvents)
			changed = append(changed, "enabled_events="+strings.Join(p.EnabledEvents, ","))
		}
		if p.Description != nil {
			set("description", *p.Description)
			changed = append(changed, "description")
		}
		if p.Disabled != nil {
			if *p.Disabled && status == core.WebhookEnabled {
				set("status", core.WebhookDisabled)
				set("disabled_reason", "Disabled by the merchant on "+now.Format(time.RFC3339)+".")
				action = "disabled"
			} else if !*p.Disabled && status == core.WebhookDisabled {
				set("status", core.WebhookEnabled)
				sets = append(sets, "disabled_reason = NULL", "failing_since = NULL")
				action = "enabled"
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE webhook_endpoints SET `+strings.Join(sets, ", ")+` WHERE id = $1 AND merchant_id = $2`, args...); err != nil {
			return err
		}
		return auditEndpoint(ctx, tx, merchantID, region, id, action, merchantActor(merchantID), strings.Join(changed, " "), now)
	})
	if err != nil {
		return nil, core.AsError(err)
	}
	return s.WebhookEndpoint(ctx, merchantID, id)
}

// DeleteWebhookEndpoint removes an endpoint; its pending deliveries are canceled, its
// attempts kept.
func (s *Service) DeleteWebhookEndpoint(ctx context.Context, merchantID, id string) error {
	return errOrNil(s.db.WriteTx(ctx, "webhook.delete_endpoint", func(tx pgx.Tx) error {
		var region string
		err := tx.QueryRow(ctx, `DELETE FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2 RETURNING region`, id, merchantID).Scan(&region)
		if errNoRows(err) {
			return endpointNotFound("id", id)
		}
		if err != nil {
			return err
		}
		now := s.now()
		if _, err = tx.Exec(ctx, `UPDATE webhook_deliveries SET status = 'canceled', claim_token = NULL, updated_at = $2,
			last_error = 'The endpoint was deleted.' WHERE endpoint_id = $1 AND status = 'pending'`, id, now); err != nil {
			return err
		}
		return auditEndpoint(ctx, tx, merchantID, region, id, "deleted", merchantActor(merchantID), "", now)
	}))
}

// RotateWebhookSecret gives an endpoint a new secret (in this answer only). The current one
// keeps signing beside it for overlap (0: it stops at once), so that a merchant can deploy
// the new secret while both signatures are sent.
func (s *Service) RotateWebhookSecret(ctx context.Context, merchantID, id string, overlap time.Duration) (*core.WebhookEndpoint, error) {
	if overlap < 0 || overlap > core.MaxSecretOverlap {
		return nil, core.ParamError(core.CodeParameterInvalid, "expire_current_in", "expire_current_in must be from 0 to %d seconds.", int64(core.MaxSecretOverlap/time.Second))
	}
	secret := webhook.NewSecret()
	sealed, err := s.sealSecret(id, secret)
	if err != nil {
		return nil, core.Internal(err)
	}
	err = s.db.WriteTx(ctx, "webhook.rotate_secret", func(tx pgx.Tx) error {
		now := s.now()
		var expires *time.Time
		if overlap > 0 {
			t := now.Add(overlap)
			expires = &t
		}
		var region string
		err := tx.QueryRow(ctx, `UPDATE webhook_endpoints SET previous_secret = CASE WHEN $3::timestamptz IS NULL THEN NULL ELSE secret END,
			previous_secret_expires_at = $3, secret = $4, updated_at = $5 WHERE id = $1 AND merchant_id = $2 RETURNING region`,
			id, merchantID, expires, sealed, now).Scan(&region)
		if errNoRows(err) {
			return endpointNotFound("id", id)
		}
		if err != nil {
			return err
		}
		detail := fmt.Sprintf("the previous secret signs for %s more", overlap)
		if err := s.consoleAudit(ctx, tx, merchantID, "webhook_endpoint.secret_rotated", id, detail); err != nil {
			return err
		}
		return auditEndpoint(ctx, tx, merchantID, region, id, "secret_rotated", actorOr(ctx, merchantActor(merchantID)), detail, now)
	})
	if err != nil {
		return nil, core.AsError(err)
	}
	e, err := s.WebhookEndpoint(ctx, merchantID, id)
	if err != nil {
		return nil, err
	}
	e.Secret = secret
	return e, nil
}

// Event reads one of a merchant's events, as delivered.
func (s *Service) Event(ctx context.Context, merchantID, id string) (*core.Event, error) {
	var typ string
	var payload []byte
	var at time.Time
	var objectID string
	err := s.db.Pool.QueryRow(ctx, `SELECT type, object_id, payload, created_at FROM outbox_events WHERE id = $1 AND merchant_id = $2`,
		id, merchantID).Scan(&typ, &objectID, &payload, &at)
	if errNoRows(err) {
		return nil, core.ParamError(core.CodeNotFound, "id", "No such event: '%s'.", id)
	}
	if err != nil {
		return nil, core.Internal(err)
	}
	return renderEvent(id, typ, objectID, payload, at)
}

// renderEvent makes the event as the API shows it, its object rendered by the API's own type
// (the stored payload is JSONB, whose key order is not the API's).
func renderEvent(id, typ, objectID string, payload []byte, at time.Time) (*core.Event, error) {
	var obj any
	switch {
	case strings.HasPrefix(typ, "payment."):
		obj = &core.Payment{}
	case strings.HasPrefix(typ, "refund."):
		obj = &core.Refund{}
	}
	data := json.RawMessage(payload)
	if obj != nil {
		if err := json.Unmarshal(payload, obj); err != nil {
			return nil, core.Internal(fmt.Errorf("event %s: %w", id, err))
		}
		b, err := json.Marshal(obj)
		if err != nil {
			return nil, core.Internal(err)
		}
		data = b
	}
	return &core.Event{ID: id, Object: "event", Type: typ, CreatedAt: at.UTC(), ObjectID: objectID, Data: core.EventData{Object: data}}, nil
}

// ListEvents lists a merchant's events, newest first.
func (s *Service) ListEvents(ctx context.Context, merchantID string, f core.EventFilter) (*core.List[*core.Event], error) {
	limit := f.Limit
	if limit == 0 {
		limit = core.DefaultListLimit
	}
	sql := `SELECT e.id, e.type, e.object_id, e.payload, e.created_at FROM outbox_events e WHERE e.merchant_id = $1`
	args := []any{merchantID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Type != "" {
		sql += ` AND e.type = ` + arg(f.Type)
	}
	if f.CreatedGTE != nil {
		sql += ` AND e.created_at >= ` + arg(*f.CreatedGTE)
	}
	if f.CreatedLTE != nil {
		sql += ` AND e.created_at <= ` + arg(*f.CreatedLTE)
	}
	if f.DeliveryFailing {
		sql += ` AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status <> 'succeeded' AND d.status <> 'canceled')`
	}
	if f.StartingAfter != "" {
		var at time.Time
		err := s.db.Pool.QueryRow(ctx, `SELECT created_at FROM outbox_events WHERE id = $1 AND merchant_id = $2`,
			f.StartingAfter, merchantID).Scan(&at)
		if errNoRows(err) {
			return nil, core.ParamError(core.CodeNotFound, "starting_after", "No such event: '%s'.", f.StartingAfter)
		}
		if err != nil {
			return nil, core.Internal(err)
		}
		sql += fmt.Sprintf(` AND (e.created_at, e.id) < (%s, %s)`, arg(at), arg(f.StartingAfter))
	}
	sql += ` ORDER BY e.created_at DESC, e.id DESC LIMIT ` + arg(limit+1)
	rows, err := s.db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, core.Internal(err)
	}
	defer rows.Close()
	list := &core.List[*core.Event]{Object: "list", Data: []*core.Event{}}
	for rows.Next() {
		var id, typ, objectID string
		var payload []byte
		var at time.Time
		if err := rows.Scan(&id, &typ, &objectID, &payload, &at); err != nil {
			return nil, core.Internal(err)
		}
		e, err := renderEvent(id, typ, objectID, payload, at)
		if err != nil {
			return nil, err
		}
		list.Data = append(list.Data, e)
	}
	if err := rows.Err(); err != nil {
		return nil, core.Internal(err)
	}
	if len(list.Data) > limit {
		list.Data, list.HasMore = list.Data[:limit], true
	}
	return list, nil
}

// EventDeliveries lists every attempt to deliver one of a merchant's events, oldest first.
func (s *Service) EventDeliveries(ctx context.Context, merchantID, eventID string) (*core.List[*core.WebhookDelivery], error) {
	var exists bool
	if err := s.db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM outbox_events WHERE id = $1 AND merchant_id = $2)`,
		eventID, merchantID).Scan(&exists); err != nil {
		return nil, core.Internal(err)
	}
	if !exists {
		return nil, core.ParamError(core.CodeNotFound, "id", "No such event: '%s'.", eventID)
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT event_id, endpoint_id, attempt, attempted_at, status, http_status, duration_ms, error
		FROM webhook_delivery_attempts WHERE event_id = $1 AND merchant_id = $2 ORDER BY attempted_at, endpoint_id, attempt`, eventID, merchantID)
	if err != nil {
		return nil, core.Internal(err)
	}
	defer rows.Close()
	list := &core.List[*core.WebhookDelivery]{Object: "list", Data: []*core.WebhookDelivery{}}
	for rows.Next() {
		d := &core.WebhookDelivery{Object: "webhook_delivery"}
		if err := rows.Scan(&d.Event, &d.Endpoint, &d.Attempt, &d.AttemptedAt, &d.Status, &d.HTTPStatus, &d.DurationMS, &d.Error); err != nil {
			return nil, core.Internal(err)
		}
		list.Data = append(list.Data, d)
	}
	return list, errOrNil(rows.Err())
}

// Redeliver queues one more attempt to deliver an event to an endpoint, due now, whether or
// not it was delivered before (the same webhook-id, as on every attempt).
func (s *Service) Redeliver(ctx context.Context, merchantID, eventID, endpointID string) (*core.Event, error) {
	err := s.db.WriteTx(ctx, "webhook.redeliver", func(tx pgx.Tx) error {
		var region string
		if err := tx.QueryRow(ctx, `SELECT region FROM outbox_events WHERE id = $1 AND merchant_id = $2`, eventID, merchantID).Scan(&region); err != nil {
			if errNoRows(err) {
				return core.ParamError(core.CodeNotFound, "id", "No such event: '%s'.", eventID)
			}
			return err
		}
		var status string
		if err := tx.QueryRow(ctx, `SELECT status FROM webhook_endpoints WHERE id = $1 AND merchant_id = $2`, endpointID, merchantID).Scan(&status); err != nil {
			if errNoRows(err) {
				return endpointNotFound("endpoint", endpointID)
			}
			return err
		}
		if status != core.WebhookEnabled {
			return core.ParamError(core.CodeParameterInvalid, "endpoint", "Webhook endpoint '%s' is disabled; enable it first.", endpointID)
		}
		now := s.now()
		// A delivery being attempted right now keeps its claim: the extra attempt follows it.
		_, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, merchant_id, region, status, attempts,
			max_attempts, next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'pending', 0, 1, $6, $6, $6)
			ON CONFLICT (id) DO UPDATE SET status = 'pending', max_attempts = webhook_deliveries.attempts + 1,
				next_attempt_at = CASE WHEN webhook_deliveries.claim_token IS NULL THEN excluded.next_attempt_at
					ELSE webhook_deliveries.next_attempt_at END, updated_at = excluded.updated_at`,
			deliveryID(eventID, endpointID), eventID, endpointID, merchantID, region, now)
		if err != nil {
			return err
		}
		return s.consoleAudit(ctx, tx, merchantID, "event.redelivered", eventID, "to "+endpointID)
	})
	if err != nil {
		return nil, core.AsError(err)
	}
	return s.Event(ctx, merchantID, eventID)
}

func deliveryID(eventID, endpointID string) string { return eventID + ":" + endpointID }

// errOrNil is core.AsError for an error that may be nil.
func errOrNil(err error) error {
	if err == nil {
		return nil
	}
	return core.AsError(err)
}
