package postgres_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/core/postgres/pgtest"
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
func TestWriteTxCommitTimeFailuresAreRetried(t *testing.T) {
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
					_, err := tx.Exec(ctx, `UPDATE skew SET v = v + 1 WHERE id = $1`, w%2+1)
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
