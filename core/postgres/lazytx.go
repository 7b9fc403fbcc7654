package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// lazyTx is a PostgreSQL transaction whose BEGIN and COMMIT cost no round trips of their
// own: BEGIN goes to the server in one batch with the transaction's first statement (pgx's
// Batch.BeginTx), and COMMIT, where the caller says so, with its last batch (commitWith).
//
// It implements pgx.Tx for the statements the platform's transactions use (Exec, QueryRow,
// Query, SendBatch). The server's answers are unchanged: an error of BEGIN is the error of
// the call that carried it.
type lazyTx struct {
	conn       *pgx.Conn
	opts       pgx.TxOptions
	tx         pgx.Tx // once BEGIN has been sent
	done       bool   // Commit or commitWith was called: no more statements
	sentCommit bool   // COMMIT went with the last batch, and committed
}

var errTxDone = errors.New("transaction already ended")

// batch is a batch that begins the transaction if it has not begun yet.
func (t *lazyTx) batch() *pgx.Batch {
	b := &pgx.Batch{}
	if t.tx == nil {
		b.BeginTx(t.opts)
	}
	return b
}

// send sends b, which batch made; its BEGIN (if any) takes effect as the transaction.
func (t *lazyTx) send(ctx context.Context, b *pgx.Batch) error {
	if t.done {
		return errTxDone
	}
	if t.tx != nil {
		return t.tx.SendBatch(ctx, b).Close()
	}
	br := t.conn.SendBatch(ctx, b)
	t.tx = br.Tx()
	return br.Close()
}

func (t *lazyTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.tx != nil && !t.done {
		return t.tx.Exec(ctx, sql, args...)
	}
	var tag pgconn.CommandTag
	b := t.batch()
	b.Queue(sql, args...).Exec(func(ct pgconn.CommandTag) error {
		tag = ct
		return nil
	})
	return tag, t.send(ctx, b)
}

func (t *lazyTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if t.tx != nil && !t.done {
		return t.tx.QueryRow(ctx, sql, args...)
	}
	return lazyRow{ctx: ctx, t: t, sql: sql, args: args}
}

// lazyRow sends its query, with the BEGIN, when it is scanned.
type lazyRow struct {
	ctx  context.Context
	t    *lazyTx
	sql  string
	args []any
}

func (r lazyRow) Scan(dest ...any) error {
	b := r.t.batch()
	var scanErr error
	b.Queue(r.sql, r.args...).QueryRow(func(row pgx.Row) error {
		scanErr = row.Scan(dest...)
		if errors.Is(scanErr, pgx.ErrNoRows) {
			return nil // an answer, not a failure of the batch
		}
		return scanErr
	})
	if err := r.t.send(r.ctx, b); err != nil {
		return err
	}
	return scanErr
}

// begin sends BEGIN alone, for the calls that cannot carry it.
func (t *lazyTx) begin(ctx context.Context) error {
	if t.done {
		return errTxDone
	}
	if t.tx != nil {
		return nil
	}
	return t.send(ctx, t.batch())
}

func (t *lazyTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return t.tx.Query(ctx, sql, args...)
}

// SendBatch sends b, preceded by the BEGIN if the transaction has not begun: one round trip.
func (t *lazyTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if t.done {
		return failedBatch{errTxDone}
	}
	if t.tx != nil {
		return t.tx.SendBatch(ctx, b)
	}
	nb := t.batch()
	nb.QueuedQueries = append(nb.QueuedQueries, b.QueuedQueries...)
	br := t.conn.SendBatch(ctx, nb)
	t.tx = br.Tx()
	// The BEGIN's result is read here, so that b's results are the caller's, in order.
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return failedBatch{err}
	}
	return br
}

// commitWith sends writes and the COMMIT in one round trip (with the BEGIN too, if nothing
// was sent yet). Any error in writes makes PostgreSQL skip the COMMIT, so a check that must
// be able to undo the transaction has to fail on the server, as an SQL error, not in a
// callback. Nothing may follow it but Commit, which then does nothing.
func (t *lazyTx) commitWith(ctx context.Context, writes *pgx.Batch) error {
	b := t.batch()
	b.QueuedQueries = append(b.QueuedQueries, writes.QueuedQueries...)
	// A transaction that an earlier, ignored error aborted answers COMMIT with ROLLBACK
	// and no error: that is a failure too.
	b.Queue("commit").Exec(func(ct pgconn.CommandTag) error {
		if ct.String() != "COMMIT" {
			return pgx.ErrTxCommitRollback
		}
		return nil
	})
	err := t.send(ctx, b)
	t.done, t.sentCommit = true, err == nil
	return err
}

func (t *lazyTx) Commit(ctx context.Context) error {
	if t.sentCommit {
		return nil
	}
	if t.done {
		return errTxDone
	}
	t.done = true
	if t.tx == nil {
		return nil // nothing was ever sent
	}
	return t.tx.Commit(ctx)
}

// Rollback ends the transaction unless it committed; after a failed commitWith it clears an
// aborted transaction (a server already idle only warns).
func (t *lazyTx) Rollback(ctx context.Context) error {
	t.done = true
	if t.tx == nil || t.sentCommit {
		return nil
	}
	return t.tx.Rollback(ctx)
}

func (t *lazyTx) Begin(ctx context.Context) (pgx.Tx, error) {
	if err := t.begin(ctx); err != nil {
		return nil, err
	}
	return t.tx.Begin(ctx)
}

func (t *lazyTx) CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error) {
	if err := t.begin(ctx); err != nil {
		return 0, err
	}
	return t.tx.CopyFrom(ctx, table, cols, src)
}

func (t *lazyTx) LargeObjects() pgx.LargeObjects {
	if t.tx == nil {
		panic("lazyTx: LargeObjects before the transaction's first statement")
	}
	return t.tx.LargeObjects()
}

func (t *lazyTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return t.conn.Prepare(ctx, name, sql)
}

func (t *lazyTx) Conn() *pgx.Conn { return t.conn }

// failedBatch is the results of a batch that could not be sent.
type failedBatch struct{ err error }

func (f failedBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, f.err }
func (f failedBatch) Query() (pgx.Rows, error)         { return nil, f.err }
func (f failedBatch) QueryRow() pgx.Row                { return errRow{f.err} }
func (f failedBatch) Close() error                     { return f.err }
func (f failedBatch) Tx() pgx.Tx                       { return nil }

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// runLazy runs fn in a lazyTx on a connection of the pool: committed if fn succeeds, else
// rolled back. A connection left inside a transaction (a failed ROLLBACK) is not reused by
// the pool.
func (db *DB) runLazy(ctx context.Context, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	c, err := db.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	t := &lazyTx{conn: c.Conn(), opts: opts}
	if err := fn(t); err != nil {
		_ = t.Rollback(ctx)
		return err
	}
	return t.Commit(ctx)
}
