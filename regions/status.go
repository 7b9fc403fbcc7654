package regions

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/consul/api"
)

// NodeHealth is one registered instance of a service and the aggregate of its checks
// (passing, warning or critical), as Consul reports them.
type NodeHealth struct {
	ID      string
	Address string
	Port    int
	Health  string
	// Output is the first failing check's output, if any.
	Output string
}

// RegionHealth is one region: its instances (healthy or not) and its drain switch.
type RegionHealth struct {
	Region  string
	Drained bool
	Nodes   []NodeHealth
}

// Health reads every region of sw's topology from Consul: the service's instances, each
// with its checks' aggregate status, and the region's drain switch. Instances whose region
// is not in the topology are left out.
func Health(ctx context.Context, client *api.Client, sw *Switches, service string) ([]RegionHealth, error) {
	entries, _, err := client.Health().Service(service, "", false, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("health of %s: %w", service, err)
	}
	topo := sw.cfg.Topology
	byRegion := map[string][]NodeHealth{}
	for _, e := range entries {
		s := e.Service
		if s == nil {
			continue
		}
		region := instanceRegion(topo, s)
		if region == "" {
			continue
		}
		addr := s.Address
		if addr == "" && e.Node != nil {
			addr = e.Node.Address
		}
		n := NodeHealth{ID: s.ID, Address: addr, Port: s.Port, Health: e.Checks.AggregatedStatus()}
		for _, c := range e.Checks {
			if c.Status != api.HealthPassing && n.Output == "" {
				n.Output = strings.TrimSpace(c.Output)
			}
		}
		byRegion[region] = append(byRegion[region], n)
	}
	var out []RegionHealth
	for _, region := range topo.Regions() {
		drained, err := sw.Drained(ctx, region)
		if err != nil {
			return nil, err
		}
		nodes := byRegion[region]
		slices.SortFunc(nodes, func(a, b NodeHealth) int { return strings.Compare(a.ID, b.ID) })
		out = append(out, RegionHealth{Region: region, Drained: drained, Nodes: nodes})
	}
	return out, nil
}

// instanceRegion is an instance's region: Meta["region"], else its first tag that is a
// region of the topology.
func instanceRegion(t *Topology, s *api.AgentService) string {
	if region := s.Meta[MetaRegion]; region != "" {
		return region
	}
	for _, tag := range s.Tags {
		if t.Has(tag) {
			return tag
		}
	}
	return ""
}
