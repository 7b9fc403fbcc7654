package core

import (
	"net/url"
	"slices"
	"strings"
	"time"
)

// ID prefixes of webhook endpoints ("we_us-east_…") and of their audit trail's entries.
const (
	PrefixWebhookEndpoint = "we"
	PrefixEndpointEvent   = "wev"
)

// EventRetention is how long events are kept, as Stripe's events API keeps them: GET
// /v1/events lists and GET /v1/events/{id} finds the events of the last 30 days; older ones
// whose fan-out is done are deleted, with their webhook deliveries and attempts.
const EventRetention = 30 * 24 * time.Hour

// MinEventRetention is the shortest retention a node accepts: the webhook retry schedule
// (ten attempts over 3 days 3 hours) must be over for every delivery of a deleted event.
const MinEventRetention = 4 * 24 * time.Hour

// EventTypes lists every event type, in the order the API documents them. Every status
// change of a payment and a refund raises one of them.
var EventTypes = []string{
	EventPaymentProcessing, EventPaymentRequiresAction, EventPaymentRequiresCapture,
	EventPaymentSucceeded, EventPaymentFailed, EventPaymentCanceled,
	EventRefundSucceeded, EventRefundFailed,
	EventKYCVerified, EventKYCRejected,
	EventTransferCreated, EventTransferReversed, EventAdjustmentCreated,
	EventSettlementClosed,
	EventPayoutCreated, EventPayoutPaid, EventPayoutFailed,
}

// Webhook endpoint statuses.
const (
	WebhookEnabled  = "enabled"
	WebhookDisabled = "disabled"
)

// Limits of webhook endpoints.
const (
	MaxWebhookEndpoints   = 16   // per merchant
	MaxWebhookURLLen      = 2048 // bytes
	MaxWebhookDescription = 500  // characters
	// MaxSecretOverlap is the longest a rotated secret keeps signing beside the new one.
	MaxSecretOverlap = 24 * time.Hour
)

// WebhookEndpoint is where a merchant receives its events.
type WebhookEndpoint struct {
	ID            string    `json:"id"`
	Object        string    `json:"object"`
	URL           string    `json:"url"`
	Description   string    `json:"description"`
	EnabledEvents []string  `json:"enabled_events"`
	Status        string    `json:"status"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	// DisabledReason says why the endpoint is disabled (by the merchant, a 410 Gone answer,
	// or three days of failed deliveries); null while enabled.
	DisabledReason *string `json:"disabled_reason"`
	// PreviousSecretExpiresAt is when the secret replaced by the last rotation stops signing;
	// null when only one secret signs.
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	// Secret appears only in the answers that created or rotated it.
	Secret     string `json:"secret,omitempty"`
	MerchantID string `json:"-"`
}

// CreateWebhookEndpointParams are POST /v1/webhook_endpoints's.
type CreateWebhookEndpointParams struct {
	URL           string   `json:"url"`
	EnabledEvents []string `json:"enabled_events"`
	Description   string   `json:"description"`
}

// Validate checks the parameters, naming the one at fault.
func (p *CreateWebhookEndpointParams) Validate() error {
	if err := ValidateWebhookURL("url", p.URL); err != nil {
		return err
	}
	events, err := ValidateEventTypes("enabled_events", p.EnabledEvents)
	if err != nil {
		return err
	}
	p.EnabledEvents = events
	return ValidateText("description", p.Description, MaxWebhookDescription, SingleLine)
}

// UpdateWebhookEndpointParams are POST /v1/webhook_endpoints/{id}'s: what is given changes.
type UpdateWebhookEndpointParams struct {
	URL           *string  `json:"url"`
	EnabledEvents []string `json:"enabled_events"`
	Description   *string  `json:"description"`
	// Disabled true disables the endpoint; false enables it again (and clears its failures).
	Disabled *bool `json:"disabled"`
}

// Validate checks the parameters, naming the one at fault.
func (p *UpdateWebhookEndpointParams) Validate() error {
	if p.URL != nil {
		if err := ValidateWebhookURL("url", *p.URL); err != nil {
			return err
		}
	}
	if p.EnabledEvents != nil {
		events, err := ValidateEventTypes("enabled_events", p.EnabledEvents)
		if err != nil {
			return err
		}
		p.EnabledEvents = events
	}
	if p.Description != nil {
		return ValidateText("description", *p.Description, MaxWebhookDescription, SingleLine)
	}
	return nil
}

// ValidateWebhookURL checks an endpoint's URL: http or https, with a host, at most
// MaxWebhookURLLen bytes, no user name or password. Where it resolves is checked at
// delivery time, on every connection.
func ValidateWebhookURL(param, raw string) error {
	if raw == "" {
		return ParamError(CodeParameterMissing, param, "%s is required.", param)
	}
	if len(raw) > MaxWebhookURLLen {
		return ParamError(CodeParameterInvalid, param, "%s must be at most %d bytes (got %d).", param, MaxWebhookURLLen, len(raw))
	}
	if err := ValidateText(param, raw, MaxWebhookURLLen, SingleLine); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return ParamError(CodeParameterInvalid, param, "%s is not a valid URL.", param)
	case u.Scheme != "http" && u.Scheme != "https":
		return ParamError(CodeParameterInvalid, param, "%s must be an http or https URL.", param)
	case u.Hostname() == "":
		return ParamError(CodeParameterInvalid, param, "%s must name a host.", param)
	case u.User != nil:
		return ParamError(CodeParameterInvalid, param, "%s must not carry a user name or password.", param)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return ParamError(CodeParameterInvalid, param, "%s must not have a fragment.", param)
	}
	return nil
}

// ValidateEventTypes checks a list of event types ("*" is every type) and returns it sorted
// without repeats.
func ValidateEventTypes(param string, types []string) ([]string, error) {
	if len(types) == 0 {
		return nil, ParamError(CodeParameterMissing, param, "%s must list at least one event type, or \"*\".", param)
	}
	out := make([]string, 0, len(types))
	for _, t := range types {
		if t != "*" && !slices.Contains(EventTypes, t) {
			return nil, ParamError(CodeParameterInvalid, param, "Unknown event type %q: use \"*\" or one of %s.", clipText(t), strings.Join(EventTypes, ", "))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	if slices.Contains(out, "*") {
		return []string{"*"}, nil
	}
	slices.Sort(out)
	return out, nil
}

// ValidEventType reports whether t is an event type.
func ValidEventType(t string) bool { return slices.Contains(EventTypes, t) }

func clipText(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// RotateWebhookSecretParams are POST /v1/webhook_endpoints/{id}/rotate_secret's.
type RotateWebhookSecretParams struct {
	// ExpireCurrentIn is how many seconds the current secret keeps signing beside the new
	// one: 0 to 86400.
	ExpireCurrentIn int64 `json:"expire_current_in"`
}

// Validate checks the parameters.
func (p *RotateWebhookSecretParams) Validate() error {
	if p.ExpireCurrentIn < 0 || p.ExpireCurrentIn > int64(MaxSecretOverlap/time.Second) {
		return ParamError(CodeParameterInvalid, "expire_current_in", "expire_current_in must be from 0 to %d seconds.", int64(MaxSecretOverlap/time.Second))
	}
	return nil
}

// WebhookEndpointFilter pages a merchant's endpoints, newest first.
type WebhookEndpointFilter struct {
	Limit         int
	StartingAfter string
}

// EventFilter selects and pages a merchant's events, newest first.
type EventFilter struct {
	Type       string
	CreatedGTE *time.Time
	CreatedLTE *time.Time
	// DeliveryFailing, with delivery_success=false, keeps events with a delivery not
	// (yet) succeeded.
	DeliveryFailing bool
	Limit           int
	StartingAfter   string
}

// WebhookDelivery is one attempt to deliver an event to an endpoint.
type WebhookDelivery struct {
	Object      string    `json:"object"`
	Event       string    `json:"event"`
	Endpoint    string    `json:"endpoint"`
	Attempt     int       `json:"attempt"`
	AttemptedAt time.Time `json:"attempted_at"`
	// Status is succeeded (a 2xx answer) or failed.
	Status     string  `json:"status"`
	HTTPStatus *int    `json:"http_status"`
	DurationMS int64   `json:"duration_ms"`
	Error      *string `json:"error"`
}

// RedeliverParams are POST /v1/events/{id}/redeliver's.
type RedeliverParams struct {
	Endpoint string `json:"endpoint"`
}

// Validate checks the parameters.
func (p *RedeliverParams) Validate() error {
	if p.Endpoint == "" {
		return ParamError(CodeParameterMissing, "endpoint", "endpoint is required: the ID of the webhook endpoint to deliver to.")
	}
	return ValidateID("endpoint", p.Endpoint)
}
