package paysdk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Webhooks are signed as the Standard Webhooks specification (standardwebhooks.com) says:
// the webhook-id, webhook-timestamp and webhook-signature headers, the signature being
// "v1," + base64(HMAC-SHA256(secret, "{webhook-id}.{webhook-timestamp}.{body}")), with the
// secret's bytes the base64 after its "whsec_" prefix. During a secret's rotation the header
// carries two signatures, separated by a space; either verifies.

// Webhook header names.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// WebhookTolerance is how far a webhook's timestamp may be from the receiver's clock.
const WebhookTolerance = 5 * time.Minute

// Errors of Verify; wrapped, so test them with errors.Is.
var (
	ErrWebhookHeaders   = errors.New("paysdk: webhook headers missing or malformed")
	ErrWebhookTimestamp = errors.New("paysdk: webhook timestamp outside the tolerance")
	ErrWebhookSignature = errors.New("paysdk: no webhook signature matches")
)

// Verify checks that a webhook (its body exactly as received, and its headers) was signed
// with secret ("whsec_…", as the endpoint's creation or rotation gave it) within
// WebhookTolerance of now. Only a verified body should be trusted; decode it with
// ParseEvent. A receiver de-duplicates by the webhook-id header (the event ID): delivery is
// at least once.
func Verify(secret string, header http.Header, body []byte) error {
	return VerifyAt(secret, header, body, time.Now(), WebhookTolerance)
}

// VerifyAt is Verify at a given time with a given tolerance (0: the timestamp is not
// checked, only the signature).
func VerifyAt(secret string, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil || len(key) == 0 {
		return fmt.Errorf("paysdk: the webhook secret is not whsec_ followed by base64")
	}
	id, ts, sigs := header.Get(HeaderWebhookID), header.Get(HeaderWebhookTimestamp), header.Get(HeaderWebhookSignature)
	if id == "" || ts == "" || sigs == "" {
		return fmt.Errorf("%w: need %s, %s and %s", ErrWebhookHeaders, HeaderWebhookID, HeaderWebhookTimestamp, HeaderWebhookSignature)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not Unix seconds", ErrWebhookHeaders, HeaderWebhookTimestamp)
	}
	if tolerance > 0 {
		at := time.Unix(unix, 0)
		if now.Sub(at) > tolerance || at.Sub(now) > tolerance {
			return fmt.Errorf("%w: %s is %s from now", ErrWebhookTimestamp, HeaderWebhookTimestamp, now.Sub(at).Round(time.Second))
		}
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + ts + "."))
	m.Write(body)
	want := m.Sum(nil)
	for _, sig := range strings.Fields(sigs) {
		version, value, ok := strings.Cut(sig, ",")
		if !ok || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(value)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrWebhookSignature
}

// Event is something that happened to the merchant's payments or refunds: the body of a
// webhook, and what GET /v1/events answers.
type Event struct {
	ID        string    `json:"id"`
	Object    string    `json:"object"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Data      struct {
		// Object is the payment or refund as the API rendered it when the event happened;
		// its updated_at orders the events of one object.
		Object json.RawMessage `json:"object"`
	} `json:"data"`
}

// Payment decodes the event's object as a payment (for payment.* events).
func (e *Event) Payment() (*Payment, error) {
	var p Payment
	return &p, json.Unmarshal(e.Data.Object, &p)
}

// Refund decodes the event's object as a refund (for refund.* events).
func (e *Event) Refund() (*Refund, error) {
	var r Refund
	return &r, json.Unmarshal(e.Data.Object, &r)
}

// ParseEvent verifies a webhook (as Verify) and decodes its event.
func ParseEvent(secret string, header http.Header, body []byte) (*Event, error) {
	if err := Verify(secret, header, body); err != nil {
		return nil, err
	}
	var e Event
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, fmt.Errorf("paysdk: webhook body: %w", err)
	}
	return &e, nil
}

// WebhookEndpoint is where the merchant receives events.
type WebhookEndpoint struct {
	ID                      string     `json:"id"`
	Object                  string     `json:"object"`
	URL                     string     `json:"url"`
	Description             string     `json:"description"`
	EnabledEvents           []string   `json:"enabled_events"`
	Status                  string     `json:"status"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
	DisabledReason          *string    `json:"disabled_reason"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	// Secret is present only in the answers of creation and rotation.
	Secret string `json:"secret,omitempty"`
}

// WebhookEndpointParams creates an endpoint.
type WebhookEndpointParams struct {
	URL           string   `json:"url"`
	EnabledEvents []string `json:"enabled_events"` // event types, or "*"
	Description   string   `json:"description"`
}

// WebhookDelivery is one attempt to deliver an event.
type WebhookDelivery struct {
	Object      string    `json:"object"`
	Event       string    `json:"event"`
	Endpoint    string    `json:"endpoint"`
	Attempt     int       `json:"attempt"`
	AttemptedAt time.Time `json:"attempted_at"`
	Status      string    `json:"status"`
	HTTPStatus  *int      `json:"http_status"`
	DurationMS  int64     `json:"duration_ms"`
	Error       *string   `json:"error"`
}

// CreateWebhookEndpoint registers an endpoint (POST /v1/webhook_endpoints); the answer
// carries its signing secret, shown only here.
func (c *Client) CreateWebhookEndpoint(ctx context.Context, p WebhookEndpointParams) (*WebhookEndpoint, error) {
	var out WebhookEndpoint
	if err := c.post(ctx, "/v1/webhook_endpoints", p, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteWebhookEndpoint removes an endpoint (DELETE /v1/webhook_endpoints/{id}).
func (c *Client) DeleteWebhookEndpoint(ctx context.Context, id string) error {
	if id == "" {
		return localError(CodeParameterMissing, "id", "A webhook endpoint ID is required.")
	}
	return c.do(ctx, request{method: http.MethodDelete, path: "/v1/webhook_endpoints/" + url.PathEscape(id)}, nil, nil)
}

// GetEvent reads an event (GET /v1/events/{id}).
func (c *Client) GetEvent(ctx context.Context, id string) (*Event, error) {
	if id == "" {
		return nil, localError(CodeParameterMissing, "id", "An event ID is required.")
	}
	var out Event
	if err := c.get(ctx, "/v1/events/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// EventDeliveries lists every attempt to deliver an event (GET /v1/events/{id}/deliveries).
func (c *Client) EventDeliveries(ctx context.Context, id string) (*List[*WebhookDelivery], error) {
	if id == "" {
		return nil, localError(CodeParameterMissing, "id", "An event ID is required.")
	}
	var out List[*WebhookDelivery]
	if err := c.get(ctx, "/v1/events/"+url.PathEscape(id)+"/deliveries", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RedeliverEvent queues one more delivery of an event to an endpoint, due now
// (POST /v1/events/{id}/redeliver).
func (c *Client) RedeliverEvent(ctx context.Context, id, endpoint string) (*Event, error) {
	if id == "" {
		return nil, localError(CodeParameterMissing, "id", "An event ID is required.")
	}
	var out Event
	in := struct {
		Endpoint string `json:"endpoint"`
	}{endpoint}
	if err := c.post(ctx, "/v1/events/"+url.PathEscape(id)+"/redeliver", in, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// EventFilter selects and pages events (GET /v1/events). Zero fields are not sent.
type EventFilter struct {
	Type string
	// Undelivered keeps events with a delivery that has not succeeded (yet):
	// delivery_success=false.
	Undelivered   bool
	Limit         int
	StartingAfter string
}

// ListEvents reads one page of the merchant's events, newest first (GET /v1/events).
func (c *Client) ListEvents(ctx context.Context, f EventFilter) (*List[*Event], error) {
	q := url.Values{}
	if f.Type != "" {
		q.Set("type", f.Type)
	}
	if f.Undelivered {
		q.Set("delivery_success", "false")
	}
	if f.Limit != 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.StartingAfter != "" {
		q.Set("starting_after", f.StartingAfter)
	}
	var out List[*Event]
	if err := c.get(ctx, "/v1/events", q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
