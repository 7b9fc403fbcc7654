// Package risk is the platform's pure risk logic: the attributes a rule sees, the
// compilation of rules written in expr-lang/expr (checked at save time against those
// attributes), their evaluation in Stripe Radar's order (allow, then block, then review), the
// transparent risk score, and the AML detectors and sanctions screening over recorded data.
//
// Nothing here touches the network or a database: the adapter (core/postgres) gathers the
// facts a payment's rules refer to (list membership, velocity counters, score signals) in one
// query before evaluation, so evaluating is bounded CPU work.
package risk
