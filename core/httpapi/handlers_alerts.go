package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/paycenter/paycenter/core"
)

// Alerts is what the API needs for the monitoring routes: the alert records, and recording
// Alertmanager's notifications. The Operations given to NewServer serves them when it
// implements Alerts (core/postgres.Service does); otherwise the routes answer 503.
type Alerts interface {
	Alerts(ctx context.Context, status string, limit int) ([]core.Alert, error)
	RecordNotifications(ctx context.Context, ns []core.AlertNotification) error
}

// alertRoutes registers the monitoring routes.
func (s *Server) alertRoutes() {
	s.handle("GET /v1/admin/alerts", s.admin(s.listAlerts))
	s.handle("POST /v1/admin/alertmanager", s.admin(s.noQuery(s.alertmanagerWebhook)))
}

func (s *Server) alerts(w http.ResponseWriter, r *http.Request) (Alerts, bool) {
	a, ok := lookup[Alerts](s)
	if !ok || a == nil {
		s.writeError(w, r, core.Errorf(core.CodeUnavailable, "Alerts are not served by this node."))
		return nil, false
	}
	return a, true
}

// alertList is the answer of GET /v1/admin/alerts.
type alertList struct {
	Object string       `json:"object"`
	Data   []core.Alert `json:"data"`
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	status, limit := "", 100
	for k, v := range r.URL.Query() {
		k = clip(k)
		if len(v) != 1 {
			s.writeError(w, r, core.ParamError(core.CodeParameterInvalid, k, "%s may be given once.", k))
			return
		}
		switch k {
		case "status":
			if v[0] != core.AlertFiring && v[0] != core.AlertResolved {
				s.writeError(w, r, core.ParamError(core.CodeParameterInvalid, k, "status must be firing or resolved."))
				return
			}
			status = v[0]
		case "limit":
			n, err := strconv.Atoi(v[0])
			if err != nil || n < 1 || n > core.MaxListLimit {
				s.writeError(w, r, core.ParamError(core.CodeParameterInvalid, k, "limit must be an integer from 1 to %d.", core.MaxListLimit))
				return
			}
			limit = n
		default:
			s.writeError(w, r, core.ParamError(core.CodeParameterUnknown, k, "Received unknown parameter: %s.", k))
			return
		}
	}
	a, ok := s.alerts(w, r)
	if !ok {
		return
	}
	list, err := a.Alerts(r.Context(), status, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if list == nil {
		list = []core.Alert{}
	}
	s.writeJSON(w, r, alertList{Object: "list", Data: list})
}

// amNotification is Alertmanager's webhook payload (version 4), every field named so that
// strict decoding accepts it and a changed format is refused rather than misread.
type amNotification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []amAlert         `json:"alerts"`
}

type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// alertmanagerWebhook records an Alertmanager notification (its webhook receiver points
// here, with the admin token as bearer credentials) and logs each alert for operators.
func (s *Server) alertmanagerWebhook(w http.ResponseWriter, r *http.Request) {
	var n amNotification
	if err := s.decode(w, r, &n); err != nil {
		s.writeError(w, r, err)
		return
	}
	if n.Version != "4" {
		s.writeError(w, r, core.ParamError(core.CodeParameterInvalid, "version", "Only Alertmanager's webhook version 4 is understood, not %q.", clip(n.Version)))
		return
	}
	ns := make([]core.AlertNotification, 0, len(n.Alerts))
	for i, a := range n.Alerts {
		if (a.Status != core.AlertFiring && a.Status != core.AlertResolved) || a.Fingerprint == "" || a.Labels["alertname"] == "" {
			s.writeError(w, r, core.ParamError(core.CodeParameterInvalid, "alerts["+strconv.Itoa(i)+"]",
				"Each alert needs a status (firing or resolved), a fingerprint and an alertname label."))
			return
		}
		ns = append(ns, core.AlertNotification{Status: a.Status, Fingerprint: a.Fingerprint, Labels: a.Labels,
			Summary: a.Annotations["summary"], GeneratorURL: a.GeneratorURL})
	}
	al, ok := s.alerts(w, r)
	if !ok {
		return
	}
	if err := al.RecordNotifications(r.Context(), ns); err != nil {
		s.writeError(w, r, err)
		return
	}
	for _, a := range ns {
		s.log.WarnContext(r.Context(), "alert", "status", a.Status, "alertname", a.Labels["alertname"],
			"severity", a.Labels["severity"], "labels", a.Labels, "summary", a.Summary, "receiver", clip(n.Receiver))
	}
	s.writeJSON(w, r, map[string]any{"object": "alertmanager_notification", "recorded": len(ns)})
}
