package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/core/postgres/pgtest"
	waitfor "github.com/paycenter/paycenter/internal/eventually"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func openDB(t *testing.T) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), pgtest.NewDatabase(t), 30)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if db.Engine != postgres.EnginePostgres {
		t.Fatalf("engine = %s, want postgresql", db.Engine)
	}
	return db
}

// Concurrent read-modify-write transactions on one row: every one must take effect exactly
// once, through serialization-failure retries.
func TestWriteTxRetriesLostUpdates(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE counter (id INT8 PRIMARY KEY, v INT8 NOT NULL); INSERT INTO counter VALUES (1, 0)`); err != nil {
		t.Fatal(err)
	}
	const workers, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				errs <- db.WriteTx(ctx, "increment", func(tx pgx.Tx) error {
					var v int64
					if err := tx.QueryRow(ctx, `SELECT v FROM counter WHERE id = 1`).Scan(&v); err != nil {
						return err
					}
					_, err := tx.Exec(ctx, `UPDATE counter SET v = $1 WHERE id = 1`, v+1)
					return err
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("transaction failed instead of being retried: %v", err)
		}
	}
	var v int64
	if err := db.Pool.QueryRow(ctx, `SELECT v FROM counter`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != workers*each {
		t.Fatalf("counter = %d, want %d: updates were lost", v, workers*each)
	}
	if db.SerializationRetries() == 0 {
		t.Fatal("no serialization failure was provoked, so the retry path was not exercised")
	}
	t.Logf("%d transactions, %d serialization retries", workers*each, db.SerializationRetries())
}

// Write skew makes PostgreSQL's SSI fail some transactions at COMMIT. Every transaction
// WriteTx reports as committed must really be committed (crdbpgxv5.ExecuteTx alone would
// report some of them committed although PostgreSQL rolled them back).
//
// It runs twice: with the write sent on its own and WriteTx committing, and with the write
// and the COMMIT in one batch, as a phase ends (a serialization failure then comes from the
// pipelined COMMIT).
func TestWriteTxCommitTimeFailuresAreRetried(t *testing.T) {
	for _, pipelined := range []bool{false, true} {
		t.Run(fmt.Sprintf("commit pipelined %v", pipelined), func(t *testing.T) { writeSkew(t, pipelined) })
	}
}

func writeSkew(t *testing.T, pipelined bool) {
	db := openDB(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE skew (id INT8 PRIMARY KEY, v INT8 NOT NULL); INSERT INTO skew VALUES (1, 0), (2, 0)`); err != nil {
		t.Fatal(err)
	}
	const workers, each = 16, 10
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := db.WriteTx(ctx, "skew", func(tx pgx.Tx) error {
					var sum int64
					if err := tx.QueryRow(ctx, `SELECT sum(v) FROM skew`).Scan(&sum); err != nil {
						return err
					}
					update := fmt.Sprintf(`UPDATE skew SET v = v + 1 WHERE id = %d`, w%2+1)
					if pipelined {
						return postgres.CommitPhase(ctx, tx, update)
					}
					_, err := tx.Exec(ctx, update)
					return err
				})
				if err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}
		}(w)
	}
	wg.Wait()
	var sum int
	if err := db.Pool.QueryRow(ctx, `SELECT sum(v) FROM skew`).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if sum != ok {
		t.Fatalf("%d transactions reported committed but %d took effect", ok, sum)
	}
	if ok != workers*each {
		t.Fatalf("%d of %d transactions failed instead of being retried", workers*each-ok, workers*each)
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	db := openDB(t) // already migrated from the template
	if err := db.Migrate(context.Background(), nil); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	var n int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM information_schema.tables WHERE table_name IN
		('regions','merchants','api_keys','payments','refunds','idempotency_keys','ledger_entries','outbox_events')`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 8 {
		t.Fatalf("found %d of the 8 tables", n)
	}
}

// A transaction's BEGIN travels with its first statement, whatever that statement is: a
// write, a read that finds nothing, or a batch. Each case must still be one transaction,
// rolled back whole when fn fails, and at SERIALIZABLE.
func TestWriteTxBeginsWithTheFirstStatement(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE lazy (id INT8 PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	abort := errors.New("abort")
	cases := map[string]func(tx pgx.Tx) error{
		"write first": func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO lazy VALUES (1)`)
			return err
		},
		"empty read first": func(tx pgx.Tx) error {
			var id int64
			if err := tx.QueryRow(ctx, `SELECT id FROM lazy WHERE id = 42`).Scan(&id); !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("read of no row: %v, want pgx.ErrNoRows", err)
			}
			_, err := tx.Exec(ctx, `INSERT INTO lazy VALUES (2)`)
			return err
		},
		"batch first": func(tx pgx.Tx) error {
			var b pgx.Batch
			b.Queue(`INSERT INTO lazy VALUES (3)`)
			b.Queue(`INSERT INTO lazy VALUES (4)`)
			return tx.SendBatch(ctx, &b).Close()
		},
	}
	for name, first := range cases {
		t.Run(name, func(t *testing.T) {
			var iso string
			err := db.WriteTx(ctx, "lazy", func(tx pgx.Tx) error {
				if err := first(tx); err != nil {
					return err
				}
				if err := tx.QueryRow(ctx, `SHOW transaction_isolation`).Scan(&iso); err != nil {
					return err
				}
				return abort
			})
			if !errors.Is(err, abort) {
				t.Fatalf("WriteTx: %v", err)
			}
			if iso != "serializable" {
				t.Fatalf("isolation %q, want serializable", iso)
			}
			var n int
			if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM lazy`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("%d rows outlived the rolled-back transaction (%v)", n, err)
			}
		})
	}
	// And committed, they take effect.
	if err := db.WriteTx(ctx, "lazy", cases["empty read first"]); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM lazy`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d rows after a committed transaction, want 1 (%v)", n, err)
	}
}

// A phase whose transaction an earlier, ignored error aborted must not report a commit:
// PostgreSQL answers its COMMIT with ROLLBACK, and no error.
func TestPhaseCommitOfAnAbortedTransactionFails(t *testing.T) {
	db := openDB(t)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE aborted (id INT8 PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	err := db.WriteTx(ctx, "aborted", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO aborted VALUES (1)`); err != nil {
			return err
		}
		_, _ = tx.Exec(ctx, `SELECT 1 / 0`) // an error someone ignored
		return postgres.CommitPhase(ctx, tx)
	})
	if !errors.Is(err, pgx.ErrTxCommitRollback) {
		t.Fatalf("WriteTx: %v, want pgx.ErrTxCommitRollback", err)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM aborted`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows of the aborted transaction (%v)", n, err)
	}
	// And a healthy phase commits its queued writes with its COMMIT.
	if err := db.WriteTx(ctx, "phase", func(tx pgx.Tx) error {
		return postgres.CommitPhase(ctx, tx, `INSERT INTO aborted VALUES (2)`, `INSERT INTO aborted VALUES (3)`)
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM aborted`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d rows after a committed phase, want 2 (%v)", n, err)
	}
}

// TripLink ends the statements in flight, as their timeout would much later, and only them:
// a statement sent afterwards gets its whole timeout, and the error is one a request answers
// with a retryable 503.
func TestTripLinkEndsTheStatementsInFlight(t *testing.T) {
	ctx := context.Background()
	db, err := postgres.OpenOptions(ctx, pgtest.NewDatabase(t), postgres.Options{MaxConns: 4, StatementTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	done := make(chan error, 2)
	for _, run := range []func() error{
		func() error { _, err := db.Pool.Exec(ctx, `SELECT pg_sleep(20)`); return err },
		func() error {
			return db.WriteTx(ctx, "sleep", func(tx pgx.Tx) error { _, err := tx.Exec(ctx, `SELECT pg_sleep(20)`); return err })
		},
	} {
		go func() { done <- run() }()
	}
	waitfor.True(t, waitfor.Patience, "both statements running in the server", func() bool {
		var n int
		err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(20)%' AND state = 'active'`).Scan(&n)
		return err == nil && n == 2
	})
	start := time.Now()
	db.TripLink()
	for range 2 {
		err := <-done
		if err == nil || !postgres.Unavailable(err) {
			t.Fatalf("a statement in flight at the trip ended with %v, want an unavailable error", err)
		}
	}
	if took := time.Since(start); took >= 20*time.Second {
		t.Fatalf("the statements ended %s after the trip: at their own end, not by it", took)
	}
	var one int
	if err := db.Pool.QueryRow(ctx, `SELECT 1 FROM pg_sleep(0.2)`).Scan(&one); err != nil || one != 1 {
		t.Fatalf("a statement after the trip: %d, %v", one, err)
	}
}

// Every connection of a pool, the serving node's (with timeouts; its heartbeat's pool is a
// copy of the same configuration) as well as a tool's, runs with PostgreSQL's JIT compiler
// off (see noJIT), whatever the server's own setting (on by default).
func TestSessionsRunWithoutJIT(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	for name, opts := range map[string]postgres.Options{
		"tool":    {MaxConns: 4},
		"serving": {MaxConns: 4, StatementTimeout: 5 * time.Second, ConnectTimeout: 5 * time.Second},
	} {
		t.Run(name, func(t *testing.T) {
			db, err := postgres.OpenOptions(ctx, url, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var serverDefault string
			if err := db.Pool.QueryRow(ctx, `SELECT boot_val FROM pg_settings WHERE name = 'jit'`).Scan(&serverDefault); err != nil {
				t.Fatal(err)
			}
			if serverDefault != "on" {
				t.Fatalf("the server's JIT default is %q: this test needs a server where it is on", serverDefault)
			}
			// Hold all four connections at once, so that each is a connection of its own.
			var conns []*pgxpool.Conn
			for range int(opts.MaxConns) {
				c, err := db.Pool.Acquire(ctx)
				if err != nil {
					t.Fatal(err)
				}
				conns = append(conns, c)
			}
			for i, c := range conns {
				var jit string
				if err := c.QueryRow(ctx, "SHOW jit").Scan(&jit); err != nil {
					t.Fatal(err)
				}
				if jit != "off" {
					t.Errorf("connection %d: jit = %q, want off", i, jit)
				}
				c.Release()
			}
			if err := db.Ping(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}
