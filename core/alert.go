package core

import "time"

// Alert statuses.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// Alert is one alert record: an abnormal condition a detector found (Source "detector",
// Detector its name) or an alert Alertmanager notified (Source "alertmanager", Detector the
// alert's name). One row per occurrence: while the condition holds its row is renewed
// (LastSeenAt); once it ends the row is resolved, and a new occurrence is a new row.
type Alert struct {
	Object      string            `json:"object"`
	ID          string            `json:"id"`
	Fingerprint string            `json:"fingerprint"`
	Source      string            `json:"source"`
	Detector    string            `json:"detector"`
	Severity    string            `json:"severity"`
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Summary     string            `json:"summary"`
	// Value is the detector's measure (a rate, a count, seconds); 0 from Alertmanager.
	Value float64 `json:"value"`
	// EvidenceQuery is what shows the rows behind it: the SQL for a detector's alert, the
	// Prometheus graph URL for Alertmanager's.
	EvidenceQuery string     `json:"evidence_query"`
	FirstSeenAt   time.Time  `json:"first_seen_at"`
	LastSeenAt    time.Time  `json:"last_seen_at"`
	ResolvedAt    *time.Time `json:"resolved_at"`
	// Notifications counts the Alertmanager notifications received for it.
	Notifications int `json:"notifications"`
}

// AlertNotification is one alert of an Alertmanager webhook notification.
type AlertNotification struct {
	Status       string // firing or resolved
	Fingerprint  string // Alertmanager's
	Labels       map[string]string
	Summary      string
	GeneratorURL string
}
