package localprom

import (
	"encoding/json"
	"net/http"
	"sort"

	"github.com/hashicorp/consul/api"
)

// Debian's Prometheus 2.42 is built without consul_sd_configs (its changelog: "Disable
// Consul SD until its Debian package is back in shape"), so Prometheus discovers the
// platform through http_sd_configs from SDHandler, which answers every refresh from
// Consul's health API: the same registrations, health and metadata consul_sd_configs
// would read, followed as nodes die and come back.

// target is one http_sd_configs target group.
type target struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// SDHandler serves Prometheus's HTTP service discovery for the given Consul services: one
// target per instance that advertises MetaMetricsAddr (unhealthy ones too: a drained or
// stopping node is still scraped), labelled with its region, node ID (instance) and
// service, and its Consul health (__meta_consul_health, for relabelling; not kept, so a drain does not start new series).
func SDHandler(client *api.Client, services []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out := []target{}
		for _, svc := range services {
			entries, _, err := client.Health().Service(svc, "", false, (&api.QueryOptions{}).WithContext(r.Context()))
			if err != nil {
				// An error, not an empty list: Prometheus keeps the targets it had.
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			for _, e := range entries {
				addr := e.Service.Meta[MetaMetricsAddr]
				if addr == "" {
					continue
				}
				out = append(out, target{Targets: []string{addr}, Labels: map[string]string{
					"region": e.Service.Meta["region"], "instance": e.Service.Meta["node_id"], "service": svc,
					"__meta_consul_health": e.Checks.AggregatedStatus()}})
			}
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Targets[0] < out[j].Targets[0] })
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(out)
	})
}
