package verify

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// dashboardMetrics are the series the dashboard may name: what payd and payedge expose
// (OpenTelemetry instruments through the Prometheus exporter, payedge's client_golang
// registry) and Prometheus's own ALERTS.
var dashboardMetrics = map[string]bool{
	"paycenter_payments_created_total": true, "http_server_request_duration_seconds_bucket": true,
	"paycenter_edge_requests_total": true, "paycenter_edge_request_duration_seconds_bucket": true,
	"paycenter_channel_latency_milliseconds_bucket": true, "paycenter_channel_calls_total": true,
	"paycenter_channel_breaker_state": true, "paycenter_node_ready": true, "paycenter_payments_in_doubt": true,
	"paycenter_recovery_backlog": true, "paycenter_outbox_backlog": true, "paycenter_outbox_oldest_age_seconds": true,
	"paycenter_db_serialization_retries_total": true, "paycenter_merchant_limiter_rejections_total": true,
	"paycenter_alerts_firing": true, "ALERTS": true,
}

// The Grafana dashboard parses, and every panel's query is a valid PromQL expression (by
// Prometheus's own parser) over series the platform exposes; it has the panels operators
// need.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "grafana", "paycenter.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			ID      int    `json:"id"`
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&dash); err != nil {
		t.Fatal(err)
	}
	if dash.UID == "" || len(dash.Panels) < 10 {
		t.Fatalf("dashboard uid %q with %d panels", dash.UID, len(dash.Panels))
	}
	// Grafana's variables, as Grafana substitutes them ($region's "All" is .+).
	vars := strings.NewReplacer(`$region`, `.+`)
	promql := parser.NewParser(parser.Options{})
	ids := map[int]bool{}
	var titles []string
	for _, p := range dash.Panels {
		if ids[p.ID] || p.Title == "" || len(p.Targets) == 0 {
			t.Errorf("panel %d %q: duplicate id, no title or no query", p.ID, p.Title)
		}
		ids[p.ID] = true
		titles = append(titles, strings.ToLower(p.Title))
		for _, tg := range p.Targets {
			expr, err := promql.ParseExpr(vars.Replace(tg.Expr))
			if err != nil {
				t.Errorf("panel %q: %q: %v", p.Title, tg.Expr, err)
				continue
			}
			for _, vs := range parser.ExtractSelectors(expr) {
				for _, m := range vs {
					if m.Name == labels.MetricName && !dashboardMetrics[m.Value] {
						t.Errorf("panel %q: %s is not a series the platform exposes", p.Title, m.Value)
					}
				}
			}
		}
	}
	all := strings.Join(titles, "\n")
	for _, want := range []string{"payments per second", "success rate", "p50 / p99", "breaker", "backlog", "firing alerts"} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(all) {
			t.Errorf("no panel about %q", want)
		}
	}
}
