// Package chaos proves the platform's exactly-once promise under faults: it runs merchant
// load through the Go SDK against a running platform, injects one fault at a time (a payd
// node killed mid-request, a whole region killed, a region cut from the database, database
// latency, a PostgreSQL restart, a Consul restart, channel timeouts, lost channel answers, a
// channel outage, duplicate notifications), heals it, lets the platform settle and then
// checks the invariants of ../shared/DESIGN.md section 6 from three independent sources:
//
//   - the client history the load recorded (History: every logical operation with its
//     Idempotency-Key, when it was called, when it got its definitive answer and what that
//     answer said);
//   - the database (payments, refunds, idempotency_keys, ledger_entries, outbox_events) and
//     the operator's whole-ledger check (GET /v1/admin/ledger/check);
//   - the channel simulator's own count of charges per payment (GET /sim/charges).
//
// The checker (Check) is a pure function of that Evidence, so it is unit-tested on synthetic
// histories without a database. Per-payment histories are checked for linearizability with
// porcupine against the register model in linearizability.go.
//
// The pieces:
//
//	history.go          the recorded client history (Op, History)
//	driver.go           the load: concurrent SDK clients running payment flows with keys
//	target.go           what the tool talks to (a local platform from cluster.json, or
//	                    endpoints/database/simulator given by flags) and its steady state
//	faults.go           fault injectors: processes, Toxiproxy links, PostgreSQL, Consul, channels
//	experiments.go      the catalogue of experiments
//	runner.go           one experiment: steady state, load, inject, heal, settle, verify
//	evidence.go         gathering the database's and the simulator's side
//	checker.go          the invariants
//	linearizability.go  the per-payment register model for porcupine
//	report.go           the table, the JSON file and the final summary line
//
// The settle bound (RunConfig.SettleBound, 90 s by default) is how long after healing every
// client operation must have its definitive answer and every payment be settled
// (succeeded, failed, canceled, requires_capture or requires_action, nothing reserved, no
// refund pending, every channel charge reflected): a key held by a killed node frees up
// after the 30 s lease, and a payment whose client went away is left to the recovery
// worker, which waits 2 × lease (60 s) and sweeps every 5 s.
//
// Webhooks (invariant 5): every event is written exactly once, in the transaction of its
// change (checkOutbox), and, with the suite's Receiver (receiver.go; on by default against
// the local platform), delivered to its merchant's endpoint at least once with a valid
// signature and the object's updated_at to order by (checkDelivered). The receiver refuses
// a share of deliveries with 503 and Retry-After, and all of them for the first half of
// every fault.
//
// cmd/chaos is the command; deploy/chaosmesh has the same experiments as Chaos Mesh
// manifests for a Kubernetes deployment.
package chaos
