// Package regions is the platform's view of its regions: where they are (a static latency
// Topology), which nodes of each are healthy (Consul's service catalog, through Registrar and
// Router) and which runtime switches operators have thrown (Consul KV, through Switches).
//
// # Registration and routing
//
// Every payd node registers itself in its local Consul agent as service "payd" (the regional
// endpoint as "payedge"), with its node ID as the service ID, its region as a tag and in
// Meta["region"], and an HTTP check on http://ADDR/readyz every second. A node that stops
// answering is critical within about a second and deregistered after a minute.
//
// A Router follows the passing instances of one service with Consul blocking queries and
// answers Pick(from): a healthy instance of the nearest region that has one, in the order
// of Topology.Nearest(from), round-robin within the region. It keeps its last view while
// Consul is unreachable and resynchronises when Consul is back.
//
// # Runtime switches (Consul KV)
//
// Switches live under one prefix (default "paycenter/"); values are JSON:
//
//	paycenter/regions/<region>/drain            {"drained": true, "since": "2025-01-02T15:04:05Z"}
//	paycenter/merchants/<merchant-id>/rate_limit {"per_second": 50, "burst": 100}
//
// A region is drained while its drain key exists with "drained": true; Undrain deletes the
// key. Nodes watch their region's key (Switches.WatchDrain) and fail readiness while it is
// drained, so Consul marks them critical and every Router sends traffic to the next region.
// A merchant with no rate_limit key gets the node's default limit; nodes read limits from a
// MerchantLimits cache that follows the whole merchants/ prefix with one blocking query.
package regions
