package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/paycenter/paycenter/core"
)

// Webhooks is what the API needs for webhook endpoints and events.
type Webhooks interface {
	CreateWebhookEndpoint(ctx context.Context, merchantID string, p core.CreateWebhookEndpointParams) (*core.WebhookEndpoint, error)
	WebhookEndpoints(ctx context.Context, merchantID string, f core.WebhookEndpointFilter) (*core.List[*core.WebhookEndpoint], error)
	WebhookEndpoint(ctx context.Context, merchantID, id string) (*core.WebhookEndpoint, error)
	UpdateWebhookEndpoint(ctx context.Context, merchantID, id string, p core.UpdateWebhookEndpointParams) (*core.WebhookEndpoint, error)
	DeleteWebhookEndpoint(ctx context.Context, merchantID, id string) error
	RotateWebhookSecret(ctx context.Context, merchantID, id string, overlap time.Duration) (*core.WebhookEndpoint, error)
	ListEvents(ctx context.Context, merchantID string, f core.EventFilter) (*core.List[*core.Event], error)
	Event(ctx context.Context, merchantID, id string) (*core.Event, error)
	EventDeliveries(ctx context.Context, merchantID, eventID string) (*core.List[*core.WebhookDelivery], error)
	Redeliver(ctx context.Context, merchantID, eventID, endpointID string) (*core.Event, error)
}

// webhookRoutes registers the webhook endpoint and event routes (merchant-authenticated).
func (s *Server) webhookRoutes() {
	s.handle("POST /v1/webhook_endpoints", s.merchant(s.noQuery(s.createWebhookEndpoint)))
	s.handle("GET /v1/webhook_endpoints", s.merchant(s.listWebhookEndpoints))
	s.handle("GET /v1/webhook_endpoints/{id}", s.merchant(s.noQuery(s.getWebhookEndpoint)))
	s.handle("POST /v1/webhook_endpoints/{id}", s.merchant(s.noQuery(s.updateWebhookEndpoint)))
	s.handle("DELETE /v1/webhook_endpoints/{id}", s.merchant(s.noQuery(s.deleteWebhookEndpoint)))
	s.handle("POST /v1/webhook_endpoints/{id}/rotate_secret", s.merchant(s.noQuery(s.rotateWebhookSecret)))
	s.handle("GET /v1/events", s.merchant(s.listEvents))
	s.handle("GET /v1/events/{id}", s.merchant(s.noQuery(s.getEvent)))
	s.handle("GET /v1/events/{id}/deliveries", s.merchant(s.noQuery(s.listEventDeliveries)))
	s.handle("POST /v1/events/{id}/redeliver", s.merchant(s.noQuery(s.redeliverEvent)))
}

func (s *Server) webhooks(w http.ResponseWriter, r *http.Request) (Webhooks, bool) {
	if s.cfg.Webhooks == nil {
		s.writeError(w, r, core.Errorf(core.CodeUnavailable, "Webhooks are not configured on this node."))
		return nil, false
	}
	return s.cfg.Webhooks, true
}

// webhookCall is the common shape of the webhook routes: the service, the path's ID if the
// route has one, the body if it takes one (decoded strictly and validated), then op.
func webhookCall[P any](s *Server, w http.ResponseWriter, r *http.Request, kind string, params *P, validate func() error,
	op func(Webhooks, string) (any, error), required ...string) {
	svc, ok := s.webhooks(w, r)
	if !ok {
		return
	}
	if kind != "" {
		if err := pathID(r, kind); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if params != nil {
		if err := s.decodeRequiring(w, r, params, required...); err != nil {
			s.writeError(w, r, err)
			return
		}
		if validate != nil {
			if err := validate(); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
	}
	v, err := op(svc, merchantID(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if e, ok := v.(*core.WebhookEndpoint); ok && e.Secret != "" {
		noStore(w) // the answer carries a signing secret
	}
	s.writeJSON(w, r, v)
}

func (s *Server) createWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	var p core.CreateWebhookEndpointParams
	webhookCall(s, w, r, "", &p, p.Validate, func(svc Webhooks, m string) (any, error) {
		return svc.CreateWebhookEndpoint(r.Context(), m, p)
	}, "url", "enabled_events")
}

func (s *Server) getWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	webhookCall[struct{}](s, w, r, "webhook endpoint", nil, nil, func(svc Webhooks, m string) (any, error) {
		return svc.WebhookEndpoint(r.Context(), m, r.PathValue("id"))
	})
}

func (s *Server) updateWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	var p core.UpdateWebhookEndpointParams
	webhookCall(s, w, r, "webhook endpoint", &p, p.Validate, func(svc Webhooks, m string) (any, error) {
		return svc.UpdateWebhookEndpoint(r.Context(), m, r.PathValue("id"), p)
	})
}

func (s *Server) deleteWebhookEndpoint(w http.ResponseWriter, r *http.Request) {
	webhookCall[struct{}](s, w, r, "webhook endpoint", nil, nil, func(svc Webhooks, m string) (any, error) {
		id := r.PathValue("id")
		if err := svc.DeleteWebhookEndpoint(r.Context(), m, id); err != nil {
			return nil, err
		}
		return map[string]any{"id": id, "object": "webhook_endpoint", "deleted": true}, nil
	})
}

func (s *Server) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	var p core.RotateWebhookSecretParams
	webhookCall(s, w, r, "webhook endpoint", &p, p.Validate, func(svc Webhooks, m string) (any, error) {
		return svc.RotateWebhookSecret(r.Context(), m, r.PathValue("id"), time.Duration(p.ExpireCurrentIn)*time.Second)
	})
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) {
	webhookCall[struct{}](s, w, r, "event", nil, nil, func(svc Webhooks, m string) (any, error) {
		return svc.Event(r.Context(), m, r.PathValue("id"))
	})
}

func (s *Server) listEventDeliveries(w http.ResponseWriter, r *http.Request) {
	webhookCall[struct{}](s, w, r, "event", nil, nil, func(svc Webhooks, m string) (any, error) {
		return svc.EventDeliveries(r.Context(), m, r.PathValue("id"))
	})
}

func (s *Server) redeliverEvent(w http.ResponseWriter, r *http.Request) {
	var p core.RedeliverParams
	webhookCall(s, w, r, "event", &p, p.Validate, func(svc Webhooks, m string) (any, error) {
		return svc.Redeliver(r.Context(), m, r.PathValue("id"), p.Endpoint)
	}, "endpoint")
}

func (s *Server) listWebhookEndpoints(w http.ResponseWriter, r *http.Request) {
	var f core.WebhookEndpointFilter
	err := parseListQuery(r.URL.Query(), &f.Limit, &f.StartingAfter, nil)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	webhookCall[struct{}](s, w, r, "", nil, nil, func(svc Webhooks, m string) (any, error) {
		return svc.WebhookEndpoints(r.Context(), m, f)
	})
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	var f core.EventFilter
	err := parseListQuery(r.URL.Query(), &f.Limit, &f.StartingAfter, func(k, val string) (bool, error) {
		switch k {
		case "type":
			if !core.ValidEventType(val) {
				return true, core.ParamError(core.CodeParameterInvalid, k, "Unknown event type %q.", clip(val))
			}
			f.Type = val
		case "delivery_success":
			if val != "false" {
				return true, core.ParamError(core.CodeParameterInvalid, k, "delivery_success takes only false: events with a delivery not (yet) succeeded.")
			}
			f.DeliveryFailing = true
		case "created[gte]", "created[lte]":
			t, err := parseTime(val)
			if err != nil {
				return true, core.ParamError(core.CodeParameterInvalid, k, "%s must be a Unix time in seconds or an RFC 3339 time.", k)
			}
			if k == "created[gte]" {
				f.CreatedGTE = &t
			} else {
				f.CreatedLTE = &t
			}
		default:
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	webhookCall[struct{}](s, w, r, "", nil, nil, func(svc Webhooks, m string) (any, error) {
		return svc.ListEvents(r.Context(), m, f)
	})
}

// parseListQuery reads limit and starting_after, and gives other names to more (which says
// whether it knew the name); any other name is parameter_unknown.
func parseListQuery(q url.Values, limit *int, startingAfter *string, more func(k, v string) (bool, error)) error {
	for k, v := range q {
		k = clip(k)
		if len(v) != 1 {
			return core.ParamError(core.CodeParameterInvalid, k, "%s may be given once.", k)
		}
		val := v[0]
		switch k {
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > core.MaxListLimit {
				return core.ParamError(core.CodeParameterInvalid, k, "limit must be an integer from 1 to %d.", core.MaxListLimit)
			}
			*limit = n
		case "starting_after":
			if err := core.ValidateID(k, val); err != nil {
				return err
			}
			*startingAfter = val
		default:
			known := false
			if more != nil {
				var err error
				if known, err = more(k, val); err != nil {
					return err
				}
			}
			if !known {
				return core.ParamError(core.CodeParameterUnknown, k, "Received unknown parameter: %s.", k)
			}
		}
	}
	return nil
}
