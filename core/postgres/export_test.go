package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// CommitPhase ends a WriteTx transaction the way a phase does: writes, queued, then sent
// with the COMMIT in one round trip on PostgreSQL. Nothing may follow it in the transaction.
func CommitPhase(ctx context.Context, tx pgx.Tx, writes ...string) error {
	var b writeBatch
	for _, w := range writes {
		b.queue(w)
	}
	return b.commit(ctx, tx)
}

// PaymentsSQL is the payments list's query, for EXPLAIN in tests.
var PaymentsSQL = paymentsSQL
