package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// LivenessConfig ties the keys a node claims to the node's liveness, so that a retry takes
// over a dead node's in-flight requests within about a second instead of when their leases
// run out.
//
// Each start of a node is a new incarnation (a random ID). The node's row in the nodes table
// is renewed every Interval with the database's clock; an incarnation whose heartbeat is older
// than Timeout by the database's clock, or whose row is gone (the node stopped, or a newer
// incarnation with the same NodeID replaced it), is dead, and a key it holds may be taken over
// at once. The clock comparison only decides how soon a take-over happens, not whether it is
// safe: every phase commit is still fenced by the key's lease token, so a node that was only
// slow or partitioned, and comes back, cannot commit over the take-over.
type LivenessConfig struct {
	// NodeID names the node (e.g. us-east-1); a restart with the same ID ends the earlier
	// incarnations at once. Empty: no liveness, a key is freed only by its lease.
	NodeID string
	// Interval between heartbeats (one UPDATE of one row each). Default 250ms.
	Interval time.Duration
	// Timeout is how old a heartbeat may be before its node counts as dead. Default 1s; it
	// must be at least 3 Intervals (two missed heartbeats are not a death) and below the lease.
	Timeout time.Duration
	// InUseWait is how long a request that finds its key held by a live node waits, looking
	// again every Interval, for that request to finish (then it replays its answer) or for its
	// node to be found dead (then it takes the key over), before it answers 409
	// idempotency_key_in_use. Default Timeout plus two Intervals, so a retry sent the moment a
	// node died is answered by the take-over, not told to come back. Negative: answer 409 at
	// once.
	InUseWait time.Duration
	// FailFastAfter: once this node's last heartbeat committed longer ago than this, it
	// suspects its database link (a heartbeat is one single-row UPDATE, so one that has not
	// come back for several intervals and round trips means statements are not getting
	// through) and Serving says so: new requests answer a retryable 503 at once, and
	// readiness fails, instead of each request waiting out its own statement or connect
	// timeout. Between 2 Intervals and Timeout. 0: off (requests meet the statement
	// timeouts, readiness fails at Timeout).
	FailFastAfter time.Duration
}

func (c *LivenessConfig) withDefaults() {
	if c.Interval == 0 {
		c.Interval = 250 * time.Millisecond
	}
	if c.Timeout == 0 {
		c.Timeout = time.Second
	}
	if c.InUseWait == 0 {
		c.InUseWait = c.Timeout + 2*c.Interval
	}
}

func (c *LivenessConfig) validate(lease time.Duration) error {
	switch {
	case c.NodeID == "":
		return nil
	case c.Interval <= 0 || c.Timeout < 3*c.Interval:
		return fmt.Errorf("liveness timeout (%s) must be at least 3 heartbeat intervals (%s)", c.Timeout, c.Interval)
	case c.Timeout >= lease:
		return fmt.Errorf("liveness timeout (%s) must be below the lease (%s)", c.Timeout, lease)
	case c.FailFastAfter != 0 && (c.FailFastAfter < 2*c.Interval || c.FailFastAfter > c.Timeout):
		return fmt.Errorf("fail-fast delay (%s) must be between 2 heartbeat intervals (%s) and the liveness timeout (%s)",
			c.FailFastAfter, 2*c.Interval, c.Timeout)
	}
	return nil
}

// liveness is a node's own heartbeat state.
type liveness struct {
	// incarnation is the current one's ID: it changes when the node comes back from a lapse.
	incarnation atomic.Pointer[string]
	// lastBeat is when (by this node's clock, UnixNano) the last heartbeat committed.
	lastBeat atomic.Int64
	// tripped is the lastBeat at which the link watcher last ended the statements in flight
	// (it trips once per stretch without a heartbeat).
	tripped atomic.Int64
	// rejoin: the link watcher ended statements in flight, whose requests gave their keys up
	// without releasing them; the next heartbeat joins as a new incarnation, which frees them
	// at once even if the link came back before the liveness timeout.
	rejoin atomic.Bool
}

func newLiveness() *liveness {
	l := &liveness{}
	id := core.RandomToken(10)
	l.incarnation.Store(&id)
	return l
}

// holderAliveSQL is true when the incarnation in column col has a heartbeat younger than the
// liveness timeout ($n, in seconds), by the database's clock: node clocks never enter it, so
// skew between nodes cannot make a live node look dead.
func holderAliveSQL(col, param string) string {
	return `EXISTS (SELECT 1 FROM nodes n WHERE n.incarnation = ` + col +
		` AND n.heartbeat_at > now() - ` + param + `::FLOAT8 * INTERVAL '1 second')`
}

// Incarnation is this start of the node's random ID, the holder of the keys it claims; empty
// without liveness.
func (s *Service) Incarnation() string {
	if s.live == nil {
		return ""
	}
	return *s.live.incarnation.Load()
}

// holder is the value of a claimed key's holder column: this incarnation, or NULL.
func (s *Service) holder() *string {
	if s.live == nil {
		return nil
	}
	return s.live.incarnation.Load()
}

// JoinLiveness records this incarnation as alive and ends the node's earlier incarnations
// (their keys may be taken over at once). Call it before serving.
func (s *Service) JoinLiveness(ctx context.Context) error {
	if s.live == nil {
		return nil
	}
	if err := s.join(ctx, s.Incarnation()); err != nil {
		return err
	}
	s.live.lastBeat.Store(time.Now().UnixNano())
	return nil
}

// join records incarnation inc as this node's only live one.
func (s *Service) join(ctx context.Context, inc string) error {
	err := s.db.WriteTx(ctx, "liveness.join", func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM nodes WHERE node_id = $1`, s.cfg.Liveness.NodeID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO nodes (incarnation, node_id, region, started_at, heartbeat_at)
			VALUES ($1, $2, $3, now(), now())`, inc, s.cfg.Liveness.NodeID, s.cfg.Region)
		return err
	})
	if err != nil {
		return fmt.Errorf("join liveness: %w", err)
	}
	return nil
}

// errReplaced: this incarnation's row is gone (a newer one with the same node ID started).
var errReplaced = errors.New("liveness: this incarnation was replaced or removed")

// Heartbeat renews this incarnation's row with the database's clock. One statement, bounded
// by the liveness timeout: a heartbeat that cannot commit in time is as good as none. After
// a lapse it joins again as a new incarnation instead.
func (s *Service) Heartbeat(ctx context.Context) error {
	if s.live == nil {
		return nil
	}
	if s.Live() != nil || s.live.rejoin.Load() {
		// The heartbeat lapsed past the timeout (or the link watcher ended this node's
		// statements: their requests gave up on their keys too) (the database was out of reach, or the node
		// was paused): other nodes may already have taken this incarnation's keys over, and
		// the keys its requests gave up on (unable to release them) must not stay locked
		// until their leases run out. Come back as a new incarnation: every key the old
		// one holds is free at once, and the fence stops its requests still running.
		// Joining is a transaction of two statements: from a far region, with the primary's
		// commit waiting for its synchronous standby, it can take longer than the liveness
		// timeout, and the node serves nothing until it has joined, so it gets longer.
		jctx, cancel := context.WithTimeout(ctx, 4*s.cfg.Liveness.Timeout)
		defer cancel()
		old, id := s.Incarnation(), core.RandomToken(10)
		if err := s.join(jctx, id); err != nil {
			return err
		}
		// The new incarnation first, then the beat that lets requests in: a request must
		// not claim a key for the old incarnation, whose row is gone.
		s.live.incarnation.Store(&id)
		s.live.lastBeat.Store(time.Now().UnixNano())
		s.live.rejoin.Store(false)
		s.log.WarnContext(ctx, "heartbeat lapsed; rejoined as a new incarnation", "old", old, "new", id)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Liveness.Timeout)
	defer cancel()
	tag, err := s.db.heartbeatPool().Exec(ctx, `UPDATE nodes SET heartbeat_at = now() WHERE incarnation = $1`, s.Incarnation())
	if err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return errReplaced
	}
	s.live.lastBeat.Store(time.Now().UnixNano())
	return nil
}

// Live reports whether this node's last heartbeat committed within the liveness timeout (by
// this node's clock, which only measures its own intervals). A node that is not live must
// stop taking requests: other nodes may already be taking its keys over.
func (s *Service) Live() error {
	if s.live == nil {
		return nil
	}
	if age := time.Since(time.Unix(0, s.live.lastBeat.Load())); age > s.cfg.Liveness.Timeout {
		return fmt.Errorf("no heartbeat committed for %s (liveness timeout %s)", age.Round(time.Millisecond), s.cfg.Liveness.Timeout)
	}
	return nil
}

// Serving reports whether this node should take a request now: with FailFastAfter, whether
// its last heartbeat committed within that bound (without it, always nil). The error says why not
// (requests answer it as a retryable 503, so the client's retry goes to a node whose
// database answers).
func (s *Service) Serving() error {
	if s.live == nil {
		return nil
	}
	ff := s.cfg.Liveness.FailFastAfter
	if ff == 0 {
		return nil
	}
	if s.live.rejoin.Load() {
		// Its requests gave keys up when their statements were ended: not before the node is
		// a new incarnation, which frees them (the next heartbeat).
		return errors.New("its database link stopped answering and it has not joined again yet")
	}
	if age := time.Since(time.Unix(0, s.live.lastBeat.Load())); age > ff {
		return fmt.Errorf("its database is not answering: no heartbeat committed for %s (fail-fast after %s)", age.Round(time.Millisecond), ff)
	}
	return nil
}

// LeaveLiveness removes this incarnation's row on a clean stop, after its requests finished:
// any key it still holds may be taken over at once.
func (s *Service) LeaveLiveness(ctx context.Context) error {
	if s.live == nil {
		return nil
	}
	_, err := s.db.Pool.Exec(ctx, `DELETE FROM nodes WHERE incarnation = $1`, s.Incarnation())
	return err
}

// NewHeartbeater makes the worker that renews this node's heartbeat every Liveness.Interval
// (without liveness, it does nothing).
func NewHeartbeater(s *Service) *Worker {
	return NewWorker("heartbeat", s.cfg.Liveness.Interval, s.log, s.Heartbeat)
}

// NewLinkWatcher makes the worker that, with Liveness.FailFastAfter, looks at this node's
// heartbeat every half interval: once none has committed for FailFastAfter it ends every
// database statement in flight (DB.TripLink), so the requests waiting on a link that stopped
// answering return a retryable 503 now rather than at their statement timeouts, while
// Serving turns new ones away. It trips once per stretch without a heartbeat. Without
// FailFastAfter it does nothing.
func NewLinkWatcher(s *Service) *Worker {
	return NewWorker("link watcher", s.cfg.Liveness.Interval/2, s.log, func(ctx context.Context) error {
		ff := s.cfg.Liveness.FailFastAfter
		if s.live == nil || ff == 0 {
			return nil
		}
		beat := s.live.lastBeat.Load() // once: a heartbeat committing now must not be mixed in
		if time.Since(time.Unix(0, beat)) <= ff || s.live.tripped.Swap(beat) == beat {
			return nil
		}
		s.live.rejoin.Store(true)
		s.db.TripLink()
		s.log.WarnContext(ctx, "database link not answering: statements in flight ended, requests turned away",
			"since_last_heartbeat", time.Since(time.Unix(0, beat)).Round(time.Millisecond))
		return nil
	})
}
