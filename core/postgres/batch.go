package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// phaseTx is the transaction of one phase. Its writes are queued and sent to the database
// together, as one pipelined batch, when the phase ends: a phase reads (and locks) first,
// then writes, so nothing in it reads its own queued writes, and a payment's phase costs
// one round trip for all its writes instead of one each. Errors of queued writes (a
// constraint, a serialization failure) surface at flush, inside the transaction, so the
// retry logic sees them as before.
type phaseTx struct {
	pgx.Tx
	batch pgx.Batch
}

// Exec queues a write; its outcome is known at flush.
func (t *phaseTx) Exec(_ context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	t.batch.Queue(sql, args...)
	return pgconn.CommandTag{}, nil
}

// flush sends the queued writes.
func (t *phaseTx) flush(ctx context.Context) error {
	if t.batch.Len() == 0 {
		return nil
	}
	return t.Tx.SendBatch(ctx, &t.batch).Close()
}

// commit ends the phase: it sends the queued writes and, on PostgreSQL, the COMMIT with them
// in the same round trip (a lazyTx); elsewhere the transaction's runner commits after. Every
// queued write must fail on the server if it has to undo the phase (see saveKey).
func (t *phaseTx) commit(ctx context.Context) error {
	if lt, ok := t.Tx.(*lazyTx); ok {
		return lt.commitWith(ctx, &t.batch)
	}
	return t.flush(ctx)
}

// execNow runs a write at once, for callers that need its command tag (rows affected).
func execNow(ctx context.Context, tx pgx.Tx, sql string, args ...any) (pgconn.CommandTag, error) {
	if p, ok := tx.(*phaseTx); ok {
		return p.Tx.Exec(ctx, sql, args...)
	}
	return tx.Exec(ctx, sql, args...)
}
