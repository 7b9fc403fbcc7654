package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"
)

// AlertSeen is an alert the platform raised during an experiment: a detector's, or a
// Prometheus alert that Alertmanager notified payd of (GET /v1/admin/alerts).
type AlertSeen struct {
	Name     string            `json:"name"`   // the detector's or the Prometheus alert's name
	Source   string            `json:"source"` // detector or alertmanager
	Severity string            `json:"severity"`
	Labels   map[string]string `json:"labels"`
	// DetectMS is the time from the fault's injection to the alert's first record (time to
	// detect; for Alertmanager's alerts, to the notification reaching payd).
	DetectMS int64 `json:"detect_ms"`
	// ResolvedAfterHealMS is the time from healing to the alert's resolution; -1 while it
	// still fired when the experiment ended.
	ResolvedAfterHealMS int64 `json:"resolved_after_heal_ms"`
}

// alertsSince lists the alerts first recorded at or after inject, from the first endpoint
// that answers, in the order they were raised.
func alertsSince(ctx context.Context, t *Target, inject, heal time.Time) ([]AlertSeen, error) {
	var lastErr error
	for _, r := range t.Regions {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.Endpoint+"/v1/admin/alerts?limit=100", nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+t.AdminToken)
		res, err := t.http.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		var list struct {
			Data []struct {
				Detector, Source, Severity string
				Labels                     map[string]string
				FirstSeenAt                time.Time  `json:"first_seen_at"`
				ResolvedAt                 *time.Time `json:"resolved_at"`
			} `json:"data"`
		}
		err = json.NewDecoder(res.Body).Decode(&list)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || err != nil {
			lastErr = fmt.Errorf("GET %s/v1/admin/alerts: %d %v", r.Endpoint, res.StatusCode, err)
			continue
		}
		var out []AlertSeen
		for _, a := range list.Data {
			if a.FirstSeenAt.Before(inject) {
				continue
			}
			s := AlertSeen{Name: a.Detector, Source: a.Source, Severity: a.Severity, Labels: a.Labels,
				DetectMS: a.FirstSeenAt.Sub(inject).Milliseconds(), ResolvedAfterHealMS: -1}
			if a.ResolvedAt != nil {
				s.ResolvedAfterHealMS = a.ResolvedAt.Sub(heal).Milliseconds()
			}
			out = append(out, s)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].DetectMS < out[j].DetectMS })
		return out, nil
	}
	return nil, lastErr
}

// alertLine describes the alerts of an experiment in one line.
func alertLine(as []AlertSeen) string {
	parts := make([]string, 0, len(as))
	for _, a := range as {
		where := make([]string, 0, 2)
		for _, k := range []string{"channel", "detector", "region", "merchant", "decline_code"} {
			if v := a.Labels[k]; v != "" && v != a.Name {
				where = append(where, k+"="+v)
			}
		}
		resolved := "still firing"
		if a.ResolvedAfterHealMS >= 0 {
			resolved = fmt.Sprintf("resolved %.1f s after healing", float64(a.ResolvedAfterHealMS)/1000)
		}
		parts = append(parts, fmt.Sprintf("%s [%s %s %s] detected %.1f s after the fault, %s",
			a.Name, a.Source, a.Severity, strings.Join(where, " "), float64(a.DetectMS)/1000, resolved))
	}
	return strings.Join(parts, "; ")
}
