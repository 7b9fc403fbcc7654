// Package postgres is the platform's SQL adapter: the schema and its migrations, and the
// merchant, payment, refund, ledger and outbox services on top of them. It speaks pgwire
// through pgx and runs on PostgreSQL (locally and in CI) and CockroachDB (in production).
//
// Every write transaction runs at SERIALIZABLE isolation through cockroach-go's retry
// helpers (see WriteTx). Money-moving requests are split into atomic phases around the
// channel call, each ending at a recovery point recorded with the request's idempotency key,
// so a request abandoned by a dying node can be finished by a retry on any node.
package postgres
