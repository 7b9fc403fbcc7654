package httpapi

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
)

// oaWebhooks answers the webhook routes for the document's tests: IDs containing "missing"
// name nothing; otherwise the answer is a full object, or the payments fake's err.
type oaWebhooks struct{ p *oaPayments }

func (w oaWebhooks) fail(id string) error {
	if w.p != nil && w.p.err != nil {
		return w.p.err
	}
	if strings.Contains(id, "missing") {
		return core.ParamError(core.CodeNotFound, "id", "No such object: '%s'.", id)
	}
	return nil
}

func oaEndpoint(secret bool) *core.WebhookEndpoint {
	e := &core.WebhookEndpoint{ID: "we_us-east_5z8kq3v0c2m9x1b7r4t6", Object: "webhook_endpoint", URL: "https://shop.example/hooks",
		Description: "orders", EnabledEvents: []string{core.EventPaymentSucceeded}, Status: core.WebhookDisabled,
		CreatedAt: oaTime, UpdatedAt: oaTime, DisabledReason: oaPtr("The endpoint answered 410 Gone."), PreviousSecretExpiresAt: oaPtr(oaTime)}
	if secret {
		e.Secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	}
	return e
}

func oaEvent() *core.Event {
	b, _ := json.Marshal(oaFullPayment())
	return &core.Event{ID: "evt_us-east_5z8kq3v0c2m9x1b7r4t6", Object: "event", Type: core.EventPaymentSucceeded, CreatedAt: oaTime,
		Data: core.EventData{Object: b}}
}

func (w oaWebhooks) CreateWebhookEndpoint(context.Context, string, core.CreateWebhookEndpointParams) (*core.WebhookEndpoint, error) {
	return oaEndpoint(true), w.fail("")
}

func (w oaWebhooks) WebhookEndpoints(_ context.Context, _ string, f core.WebhookEndpointFilter) (*core.List[*core.WebhookEndpoint], error) {
	return &core.List[*core.WebhookEndpoint]{Object: "list", Data: []*core.WebhookEndpoint{oaEndpoint(false)}}, w.fail(f.StartingAfter)
}

func (w oaWebhooks) WebhookEndpoint(_ context.Context, _, id string) (*core.WebhookEndpoint, error) {
	return oaEndpoint(false), w.fail(id)
}

func (w oaWebhooks) UpdateWebhookEndpoint(_ context.Context, _, id string, _ core.UpdateWebhookEndpointParams) (*core.WebhookEndpoint, error) {
	return oaEndpoint(false), w.fail(id)
}

func (w oaWebhooks) DeleteWebhookEndpoint(_ context.Context, _, id string) error { return w.fail(id) }

func (w oaWebhooks) RotateWebhookSecret(_ context.Context, _, id string, _ time.Duration) (*core.WebhookEndpoint, error) {
	return oaEndpoint(true), w.fail(id)
}

func (w oaWebhooks) ListEvents(_ context.Context, _ string, f core.EventFilter) (*core.List[*core.Event], error) {
	return &core.List[*core.Event]{Object: "list", Data: []*core.Event{oaEvent()}}, w.fail(f.StartingAfter)
}

func (w oaWebhooks) Event(_ context.Context, _, id string) (*core.Event, error) {
	return oaEvent(), w.fail(id)
}

func (w oaWebhooks) EventDeliveries(_ context.Context, _, id string) (*core.List[*core.WebhookDelivery], error) {
	return &core.List[*core.WebhookDelivery]{Object: "list", Data: []*core.WebhookDelivery{{Object: "webhook_delivery",
		Event: "evt_us-east_5z8kq3v0c2m9x1b7r4t6", Endpoint: "we_us-east_5z8kq3v0c2m9x1b7r4t6", Attempt: 1, AttemptedAt: oaTime,
		Status: "failed", HTTPStatus: oaPtr(500), DurationMS: 12, Error: oaPtr("HTTP 500")}}}, w.fail(id)
}

func (w oaWebhooks) Redeliver(_ context.Context, _, id, endpoint string) (*core.Event, error) {
	if err := w.fail(endpoint); err != nil {
		return nil, err
	}
	return oaEvent(), w.fail(id)
}
