package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	crdbpgx "github.com/cockroachdb/cockroach-go/v2/crdb/crdbpgxv5"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Engine is the SQL engine behind a DB.
type Engine string

// Engines.
const (
	EnginePostgres    Engine = "postgresql"
	EngineCockroachDB Engine = "cockroachdb"
)

// DB is a connection pool to the platform's database.
type DB struct {
	Pool   *pgxpool.Pool
	Engine Engine
	tracer trace.Tracer
	// retries counts transaction attempts retried after a serialization failure, in all and
	// per transaction name (*atomic.Int64 values).
	retries   atomic.Int64
	retriesBy sync.Map
	// link ends the statements in flight when the node declares its database link down
	// (TripLink); nil without a statement timeout.
	link *linkWatch
	// beat is the heartbeat's own one-connection pool (with a statement timeout), else nil.
	beat *pgxpool.Pool
}

// Open connects to url and detects the engine. MaxConns of 0 keeps pgx's default. It sets no
// timeouts (migrations, tests and tools); a serving node uses OpenOptions.
func Open(ctx context.Context, url string, maxConns int32) (*DB, error) {
	return OpenOptions(ctx, url, Options{MaxConns: maxConns})
}

// Options tune a DB's pool. Zero durations: no such timeout.
type Options struct {
	// MaxConns is the pool's size; 0 keeps pgx's default.
	MaxConns int32
	// StatementTimeout bounds every statement (and batch) from the client's side, by a
	// context deadline, which also holds on a hung link where no answer or cancel can get
	// through: pgx closes the connection at the deadline. It is also sent as the session's
	// statement_timeout, and (doubled) as idle_in_transaction_session_timeout, so that the
	// server ends the work and frees the row locks of a client that went silent mid-
	// transaction (a paused or partitioned node holding a key's row lock would otherwise
	// block the take-over). A serving node sets it well below the liveness timeout, so a
	// node cut off from its database answers 503 before other nodes take its keys over.
	StatementTimeout time.Duration
	// IdleInTransactionTimeout, if set, replaces the doubled StatementTimeout as the
	// session's idle_in_transaction_session_timeout: how soon the server ends the transaction
	// (and frees the row locks) of a client that went silent in the middle of one.
	IdleInTransactionTimeout time.Duration
	// ConnectTimeout bounds dialling and authenticating a new connection.
	ConnectTimeout time.Duration
	// TCPTimeout is the connections' TCP keepalive idle and interval time and (Linux) their
	// TCP_USER_TIMEOUT: a connection whose peer stops acknowledging is closed by the kernel
	// after about this long, even between statements.
	TCPTimeout time.Duration
}

// OpenOptions connects to url with opts and detects the engine.
func OpenOptions(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	var link *linkWatch
	if d := opts.StatementTimeout; d > 0 {
		link = newLinkWatch()
		cfg.ConnConfig.Tracer = &statementTimeout{d: d, link: link}
		// The pool pings a connection that sat idle before handing it out, with the
		// caller's context and not through the tracer: bound that too, or a request on a
		// hung link waits in Acquire until the link heals.
		cfg.PingTimeout = d
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = fmt.Sprint(d.Milliseconds())
		idle := 2 * d
		if opts.IdleInTransactionTimeout > 0 {
			idle = opts.IdleInTransactionTimeout
		}
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = fmt.Sprint(idle.Milliseconds())
	}
	if cfg.ConnConfig.Tracer == nil {
		cfg.ConnConfig.Tracer = &statementTimeout{} // no deadline: it counts round trips only
	}
	cfg.AfterConnect = noJIT
	if opts.ConnectTimeout > 0 {
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	}
	if opts.TCPTimeout > 0 {
		cfg.ConnConfig.DialFunc = tcpDialer(opts.ConnectTimeout, opts.TCPTimeout).DialContext
	}
	// A serving node's heartbeat has a connection of its own, so that requests holding every
	// connection of the pool (waiting on row locks, say) cannot make a healthy link look dead.
	var beat *pgxpool.Pool
	if link != nil {
		bcfg := cfg.Copy()
		bcfg.MaxConns, bcfg.MinConns = 1, 0
		if beat, err = pgxpool.NewWithConfig(ctx, bcfg); err != nil {
			return nil, fmt.Errorf("connect: %w", err)
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		if beat != nil {
			beat.Close()
		}
		return nil, fmt.Errorf("connect: %w", err)
	}
	var version string
	if err := pool.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		pool.Close()
		if beat != nil {
			beat.Close()
		}
		return nil, fmt.Errorf("connect: %w", err)
	}
	db := &DB{Pool: pool, Engine: EnginePostgres, tracer: otel.Tracer("github.com/paycenter/paycenter/core/postgres"), link: link, beat: beat}
	if strings.Contains(version, "CockroachDB") {
		db.Engine = EngineCockroachDB
	}
	return db, nil
}

// noJIT turns PostgreSQL's JIT compiler off for a new connection's session. JIT compiles a
// statement whose estimated cost passes jit_above_cost (100,000 by default) to machine code
// as it runs: made for analytic queries, it costs every statement of ours more than it
// saves. The estimate is the planner's, and it passes the threshold where statistics lag a
// fast-growing table: under load the recovery worker's claim, a 0.2 ms statement, was
// estimated at 0.7 to 8.4 M and spent 0.5 to 1.8 s of CPU compiling (EXPLAIN's "JIT:"
// timings), every 5 s on every node, which the requests around it waited for (the
// half-load tail; README, Performance). CockroachDB (which reports crdb_version at
// connection) has no JIT and no such setting.
func noJIT(ctx context.Context, conn *pgx.Conn) error {
	if conn.PgConn().ParameterStatus("crdb_version") != "" {
		return nil
	}
	if _, err := conn.Exec(ctx, "SET jit = off"); err != nil {
		return fmt.Errorf("turn JIT off: %w", err)
	}
	return nil
}

// Close closes the pool.
func (db *DB) Close() {
	db.Pool.Close()
	if db.beat != nil {
		db.beat.Close()
	}
}

// heartbeatPool is where liveness statements go: the heartbeat's own connection on a
// serving node, the shared pool otherwise.
func (db *DB) heartbeatPool() *pgxpool.Pool {
	if db.beat != nil {
		return db.beat
	}
	return db.Pool
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.Pool.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// Migrate applies every pending migration of the common schema. Run it once per deployment
// (payd migrate, or the Helm chart's pre-install job), not from every node at start-up.
func (db *DB) Migrate(ctx context.Context, log *slog.Logger) error {
	sqlDB := stdlib.OpenDBFromPool(db.Pool)
	defer sqlDB.Close()
	return migrate(ctx, sqlDB, log)
}

func migrate(ctx context.Context, sqlDB *sql.DB, log *slog.Logger) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	for _, r := range results {
		if log != nil {
			log.Info("migration applied", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
		}
	}
	return nil
}

// retryPauseCap bounds the pause before a transaction's next attempt after a serialization
// failure (see WriteTx).
const retryPauseCap = 100 * time.Millisecond

// WriteTx runs fn in a SERIALIZABLE transaction and retries it when the database reports a
// serialization failure (SQLSTATE 40001), using cockroach-go's retry loop.
//
// On CockroachDB it is crdbpgxv5.ExecuteTx, which retries inside one transaction through the
// cockroach_restart savepoint protocol. On PostgreSQL that protocol is unsound: PostgreSQL
// can report a serialization failure at COMMIT, after the savepoint's RELEASE, and
// ExecuteTx ignores COMMIT errors (on CockroachDB the RELEASE is the commit), so a rolled-back
// transaction would be reported as committed. On PostgreSQL each attempt is therefore a whole
// transaction, begun and committed inside crdb.ExecuteCtx, which retries it on 40001; its
// BEGIN travels with its first statement (lazyTx).
//
// fn may run more than once and must have no effects outside the transaction.
func (db *DB) WriteTx(ctx context.Context, name string, fn func(pgx.Tx) error) error {
	// Taking a connection (and the pool's ping of one that sat idle) is not a statement:
	// TripLink ends it through the transaction's context.
	ctx, untie := db.tieToLink(ctx)
	defer untie()
	ctx, span := db.tracer.Start(ctx, "tx "+name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system", string(db.Engine))))
	defer span.End()
	attempts, began := 0, time.Now()
	retried := func() {
		db.retries.Add(1)
		c, _ := db.retriesBy.LoadOrStore(name, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
	}
	opts := pgx.TxOptions{IsoLevel: pgx.Serializable}
	var err error
	if db.Engine == EngineCockroachDB {
		err = crdbpgx.ExecuteTx(ctx, db.Pool, opts, func(tx pgx.Tx) error {
			if attempts++; attempts > 1 {
				retried()
			}
			return fn(tx)
		})
	} else {
		err = crdb.ExecuteCtx(ctx, func(ctx context.Context, _ ...any) error {
			if attempts++; attempts > 1 {
				retried()
				// A pause outside any transaction, so that what conflicted can finish
				// first: "full jitter" exponential backoff (a random time up to 1 ms,
				// doubling with each attempt, at most retryPauseCap). The cap must exceed a
				// far region's transaction (a few WAN round trips): PostgreSQL's SSI
				// conflicts are tracked per index page, so transactions on neighbouring
				// keys conflict, and a near node retrying every few milliseconds would
				// otherwise meet a far node's still-open transaction on every attempt
				// and give up after 50 (seen on the local Patroni platform, a burst of
				// retries after a region's death).
				time.Sleep(time.Duration(rand.Int64N(int64(min(time.Millisecond<<min(attempts-2, 20), retryPauseCap)))))
			}
			return db.runLazy(ctx, opts, fn)
		})
	}
	span.SetAttributes(attribute.Int("db.tx.attempts", attempts))
	if err != nil && attempts > 1 {
		// Name the transaction that kept failing (the error stays a serialization failure).
		err = fmt.Errorf("transaction %s, %d attempts in %s: %w", name, attempts, time.Since(began).Round(time.Millisecond), err)
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "transaction failed")
	}
	return err
}

// SerializationRetries is how many transaction attempts were retried after a serialization
// failure since the DB was opened.
func (db *DB) SerializationRetries() int64 { return db.retries.Load() }

// SerializationRetriesByTx is SerializationRetries per transaction name.
func (db *DB) SerializationRetriesByTx() map[string]int64 {
	out := map[string]int64{}
	db.retriesBy.Range(func(k, v any) bool {
		out[k.(string)] = v.(*atomic.Int64).Load()
		return true
	})
	return out
}

type roundTripsKey struct{}

// CountRoundTrips returns a context whose statements and batches (each one round trip to the
// database, at a connection's steady state: its statements already prepared) are counted,
// and the function that reads the count: what a request costs in round trips, whatever else
// shares the pool.
func CountRoundTrips(ctx context.Context) (context.Context, func() int64) {
	n := new(atomic.Int64)
	return context.WithValue(ctx, roundTripsKey{}, n), n.Load
}

// statementTimeout is a pgx tracer that gives every statement and batch a context deadline
// (with d 0 and no link: none, it only counts round trips),
// and ends it early when the link is declared down (DB.TripLink).
type statementTimeout struct {
	d    time.Duration
	link *linkWatch
}

type cancelKey struct{}

// stmtStop ends one statement's context: its cancel and its registration with the link.
type stmtStop struct {
	cancel context.CancelFunc
	detach func() bool
}

func (t *statementTimeout) start(ctx context.Context) context.Context {
	if n, ok := ctx.Value(roundTripsKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
	if t.link == nil {
		return ctx
	}
	ctx, cancel := context.WithTimeout(ctx, t.d)
	detach := context.AfterFunc(t.link.current(), cancel)
	return context.WithValue(ctx, cancelKey{}, stmtStop{cancel: cancel, detach: detach})
}

func (*statementTimeout) end(ctx context.Context) {
	if st, ok := ctx.Value(cancelKey{}).(stmtStop); ok {
		st.detach()
		st.cancel()
	}
}

func (t *statementTimeout) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return t.start(ctx)
}

func (t *statementTimeout) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	t.end(ctx)
}

func (t *statementTimeout) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return t.start(ctx)
}

func (*statementTimeout) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (t *statementTimeout) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchEndData) {
	t.end(ctx)
}

// linkWatch is the generation of the database link: each TripLink ends the statements that
// started in the generation before it (their contexts are cancelled, as their deadline
// would later), and starts a new one, so statements sent afterwards (the heartbeat that
// finds the link back, the workers) get their full timeout.
type linkWatch struct {
	gen atomic.Pointer[linkGen]
}

// linkGen is one generation: its context ends at the next trip.
type linkGen struct {
	ctx    context.Context
	cancel context.CancelFunc
}

func newLinkGen() *linkGen {
	g := &linkGen{}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	return g
}

func newLinkWatch() *linkWatch {
	l := &linkWatch{}
	l.gen.Store(newLinkGen())
	return l
}

func (l *linkWatch) current() context.Context { return l.gen.Load().ctx }

func (l *linkWatch) trip() { l.gen.Swap(newLinkGen()).cancel() }

// tieToLink returns ctx, also cancelled by the next TripLink, and the function that unties it.
func (db *DB) tieToLink(ctx context.Context) (context.Context, func()) {
	if db.link == nil {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(db.link.current(), cancel)
	return ctx, func() { stop(); cancel() }
}

// TripLink ends every statement in flight on the pool now, and every WriteTx waiting for a
// connection, as if its timeout had passed (the caller answers a retryable 503), when the
// node has found its database link not answering; statements sent later, and other calls
// waiting for a connection (bounded by the connect timeout), are not affected. Without a statement timeout it does nothing.
func (db *DB) TripLink() {
	if db.link != nil {
		db.link.trip()
	}
}

// Unavailable reports whether err means the database could not be reached or did not answer
// in time (a deadline, a broken or refused connection, a statement or idle-transaction
// timeout, a server shutting down): the request may be retried, on this node or another.
func Unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "57014", pe.Code == "25P03", strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"):
			return true
		}
		return false
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	// context.Canceled: a statement ended by TripLink, a node stopping, or (outside the
	// idempotent runner, which does not let a client's hang-up cancel its work) a client gone.
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || pgconn.Timeout(err) || errors.As(err, &ne) ||
		errors.As(err, &ce) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ETIMEDOUT)
}

// errNoRows reports whether err is pgx's "no rows".
func errNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
