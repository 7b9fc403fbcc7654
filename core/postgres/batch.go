package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// writeBatch is a transaction's writes, queued and sent to the database together, as one
// pipelined batch, when the transaction ends: a phase reads (and locks) through its pgx.Tx
// first, then queues its writes here, so nothing in it reads its own queued writes, and a
// payment's phase costs one round trip for all its writes instead of one each. Errors of
// queued writes (a constraint, a serialization failure, a lost lease) surface at commit,
// inside the transaction, so WriteTx's retry logic sees them as before.
//
// A write whose outcome the phase needs at once (rows affected by a compare-and-set) does
// not belong here: it goes through the transaction, as a read does.
type writeBatch struct {
	b pgx.Batch
}

// queue adds a write; its outcome is known at commit.
func (w *writeBatch) queue(sql string, args ...any) { w.b.Queue(sql, args...) }

// commit sends the queued writes and, on PostgreSQL, the COMMIT with them in the same round
// trip (a lazyTx); elsewhere the transaction's runner commits after. Every queued write must
// fail on the server if it has to undo the transaction (see saveKey).
func (w *writeBatch) commit(ctx context.Context, tx pgx.Tx) error {
	if lt, ok := tx.(*lazyTx); ok {
		return lt.commitWith(ctx, &w.b)
	}
	if w.b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, &w.b).Close()
}
