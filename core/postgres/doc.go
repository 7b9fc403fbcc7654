// Package postgres is the platform's SQL adapter: the schema and its migrations, and the
// merchant, payment, refund, ledger and outbox services on top of them. It speaks pgwire
// through pgx and runs on PostgreSQL (locally and in CI) and CockroachDB (in production).
//
// The money rules are core's: every payment and refund transition is a core method that
// returns a core.Change (new state, journals, events). This package loads the objects,
// fences the work (row locks, compare-and-set on status, the idempotency key's lease) and
// persists each Change in one transaction (change.go). It renders no HTTP: a stored reply is
// made by the request's core.IdempotentRequest.Render, and an unknown outcome comes back as
// core.Reply.Interim.
//
// Every write transaction runs at SERIALIZABLE isolation through cockroach-go's retry
// helpers (see WriteTx). Money-moving requests are split into atomic phases around the
// channel call, each ending at a recovery point recorded with the request's idempotency key,
// so a request abandoned by a dying node can be finished by a retry on any node. The runner
// (claim, lease, take-over, key save, commit) is idempotency.go; each operation (create.go,
// capture.go, cancel.go, refunds.go) declares its recovery points and their steps.
package postgres
