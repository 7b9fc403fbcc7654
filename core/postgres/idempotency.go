package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/paycenter/paycenter/core"
)

// Recovery points: how far an idempotent request got. Each phase ends at one, in the same
// transaction as its changes.
const (
	pointStarted          = "started"
	pointPaymentCreated   = "payment_created"
	pointCaptureRequested = "capture_requested"
	pointCancelRequested  = "cancel_requested"
	pointRefundCreated    = "refund_created"
	pointPayoutCreated    = "payout_created"
	pointFinished         = "finished"
)

// errLeaseLost: another request took the key over after our lease ran out.
var errLeaseLost = errors.New("idempotency key lease lost to another request")

// ErrAbandoned is returned when Config.AfterPhase abandoned a request.
var ErrAbandoned = errors.New("request abandoned after phase")

// idemKey is the working copy of an idempotency key row held by the request that leases it.
type idemKey struct {
	req       core.IdempotentRequest
	hash      string
	token     string
	point     string
	paymentID *string
	refundID  *string
	payoutID  *string
	reply     *core.Reply // the final reply, stored with the key
	// interim is an answer for the client that is not stored: the outcome is not known yet
	// (a channel timeout), so the key stays open for a retry to finish it.
	interim *core.Reply
	// fresh: this request claimed the key new (it did not take it over from another).
	fresh bool
}

// finish ends the request with v (or err) as its stored reply.
func (k *idemKey) finish(v any, err error) string {
	r := k.req.Render(v, err)
	k.reply = &r
	return pointFinished
}

// stepFunc advances an idempotent request by one phase from its recovery point: usually the
// channel call the point stands before, then the phase that applies its answer.
type stepFunc func(ctx context.Context, k *idemKey) error

// steps declares an operation's recovery points: for each one the request may stop at (and
// be taken over from), the step that moves it on. pointFinished has none.
type steps map[string]stepFunc

// phaseFunc is one phase's work inside its transaction: it reads (and locks) through tx and
// queues its writes on w, which commit with the key's new recovery point. It returns the
// point the phase reached (pointFinished after k.finish). ctx is the request's, detached
// from its client and bounded by the lease.
type phaseFunc func(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey) (next string, err error)

// channelWork is what a request must do at a recovery point that stands before a channel
// call, as the step's load found it (read without locks): either settled, a phase that
// finishes a request whose work another request (or the recovery worker, or a notification)
// already did; or call, the channel call, and apply, the phase that applies its answer. A
// nil call goes straight to apply with R's zero value.
type channelWork[R any] struct {
	pay     *core.Payment // the payment the call is about
	payout  *core.Payout  // or the payout, for bank payouts
	interim any           // the object an unknown outcome answers with; default pay (or payout)
	settled phaseFunc
	call    func(ctx context.Context) (R, error)
	apply   func(res R) phaseFunc
}

// channelStep makes the step of such a recovery point: load, then the phase named
// name+".settled", or the channel call (span "channel "+op) and the phase name+".apply". A
// call whose outcome is unknown leaves the key open with an interim answer; one that
// certainly did nothing answers channel_unavailable, not stored (see channelError).
func channelStep[R any](s *Service, name, op string, load func(ctx context.Context, k *idemKey) (channelWork[R], error)) stepFunc {
	return func(ctx context.Context, k *idemKey) error {
		wk, err := load(ctx, k)
		if err != nil {
			return err
		}
		if wk.settled != nil {
			return s.phase(ctx, k, name+".settled", wk.settled)
		}
		var res R
		if wk.call != nil {
			call := func(ctx context.Context) error {
				var err error
				res, err = wk.call(ctx)
				return err
			}
			var err error
			subject, interim := "", wk.interim
			if wk.payout != nil {
				subject, err = wk.payout.ID, s.callBank(ctx, op, wk.payout, call)
				if interim == nil {
					interim = wk.payout
				}
			} else {
				subject, err = wk.pay.ID, s.callChannel(ctx, op, wk.pay, call)
				if interim == nil {
					interim = wk.pay
				}
			}
			if err != nil {
				s.log.WarnContext(ctx, "channel call failed; outcome unknown until a retry or recovery", "op", op, "subject", subject, "err", err)
				return channelError(k, err, interim)
			}
		}
		return s.phase(ctx, k, name+".apply", wk.apply(res))
	}
}

// firstPhase is a request's first phase, run in the transaction that claims its key, so that
// a new request costs one transaction (and its round trips) less. The key is inserted as
// claim (optional) leaves k: at the recovery point and with the IDs the phase will reach
// (made in the node, before the work: a new payment's ID), else at started. run then does the
// phase's work; if it ends elsewhere, or changes the IDs, the key is saved again before the
// commit. Everything commits or rolls back together, so a claimed key always has the phase's
// work behind it, and a phase that fails leaves no key behind.
//
// with, if set, gives a statement sent in the same round trip as the key's INSERT, and a
// function that gets its command tag before run is called. It is sent whether or not the key
// turns out to be new, so it must change nothing unless this request inserted the key: its
// row carries lock_token = k.token.
type firstPhase struct {
	name  string
	claim func(k *idemKey)
	with  func(k *idemKey) (sql string, args []any, result func(pgconn.CommandTag))
	run   phaseFunc
}

// run executes an idempotent request: it claims the key (or answers with the stored reply,
// an in-use or a mismatch error), then runs the step of each recovery point the request
// reaches until it is finished or its outcome must wait. first, if not nil, is the request's
// first phase, run in the claiming transaction when the key is new; a key taken over after a
// lease ran out goes on from its recovery point (pointStarted runs first.run in a phase of
// its own unless the operation declares a step for it).
func (s *Service) run(ctx context.Context, req core.IdempotentRequest, hash string, first *firstPhase, declared steps) (core.Reply, error) {
	// The request outlives its client: a client that hangs up must not leave a half-done
	// payment behind. It is bounded by the lease instead.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Lease)
	defer cancel()
	k, replay, err := s.claim(ctx, req, hash, first)
	if err != nil {
		return core.Reply{}, err
	}
	if replay != nil {
		return *replay, nil
	}
	if first != nil && k.fresh && s.cfg.AfterPhase != nil {
		if err := s.cfg.AfterPhase(ctx, k.point); err != nil {
			return core.Reply{}, fmt.Errorf("%w %s: %v", ErrAbandoned, k.point, err)
		}
	}
	step := func(ctx context.Context, k *idemKey) error {
		if st, ok := declared[k.point]; ok {
			return st(ctx, k)
		}
		if k.point == pointStarted && first != nil {
			return s.phase(ctx, k, first.name, first.run)
		}
		return fmt.Errorf("%s %s: unexpected recovery point %q", req.Method, req.Path, k.point)
	}
	for k.point != pointFinished && k.interim == nil {
		if err := step(ctx, k); err != nil {
			if errors.Is(err, errLeaseLost) {
				// Another request took the key over and holds it now: a retry soon
				// replays its answer.
				return core.Reply{}, inUse(time.Second)
			}
			if errors.Is(err, ErrAbandoned) {
				return core.Reply{}, err
			}
			if Unavailable(err) {
				// The database is out of reach: releasing the key would wait on it too.
				// Nothing is stored with the key, and once this node's heartbeat goes
				// stale, a retry through another node takes it over.
				return core.Reply{}, s.dbError(ctx, err)
			}
			s.release(ctx, k)
			return core.Reply{}, err
		}
	}
	if k.interim != nil {
		s.release(ctx, k)
		return *k.interim, nil
	}
	return *k.reply, nil
}

// dbError is the coded error for a failed database call: 503 service_unavailable, safe to
// retry at once (through any node), when the database was out of reach or too slow; an
// internal error otherwise.
func (s *Service) dbError(ctx context.Context, err error) error {
	if !Unavailable(err) {
		return core.Internal(err)
	}
	s.log.WarnContext(ctx, "database unavailable; answering 503", "err", err)
	e := core.Errorf(core.CodeUnavailable, "This node cannot reach its database; retry with the same Idempotency-Key.")
	e.RetryAfter = 1
	return e
}

func inUse(wait time.Duration) error {
	e := core.ParamError(core.CodeIdempotencyKeyInUse, "Idempotency-Key",
		"A request with this Idempotency-Key is still being processed; retry after it finishes.")
	e.RetryAfter = int(math.Max(1, math.Ceil(wait.Seconds())))
	return e
}

// claim is begin, repeated while the key is held by a live node, for up to
// Liveness.InUseWait: the holder either finishes (its answer is replayed) or is found dead
// (the key is taken over), and a retry sent the moment a node died is answered by the
// take-over rather than told to come back.
func (s *Service) claim(ctx context.Context, req core.IdempotentRequest, hash string, first *firstPhase) (*idemKey, *core.Reply, error) {
	var deadline time.Time
	if s.live != nil && s.cfg.Liveness.InUseWait > 0 {
		deadline = time.Now().Add(s.cfg.Liveness.InUseWait)
	}
	for {
		k, reply, held, err := s.begin(ctx, req, hash, first)
		if held == 0 || deadline.IsZero() || time.Now().Add(held).After(deadline) {
			return k, reply, err
		}
		t := time.NewTimer(held)
		select {
		case <-ctx.Done():
			t.Stop()
			return k, reply, err
		case <-t.C:
		}
	}
}

// begin claims the request's key and runs first (if any) with the claim, or returns the
// reply to replay, or a coded error. held, when the error is an in-use one whose holder is
// a live node, is how soon to look again: when the holder's heartbeat, if not renewed, would
// be older than the liveness timeout (by the database's clock), at most one heartbeat
// interval.
//
// A key whose lease has not run out is in use unless its holder is a dead incarnation (its
// heartbeat is older than the liveness timeout by the database's clock, or its row is gone):
// then it is taken over at once. The take-over gives the key a new lease token, so the dead
// (or only slow) holder's next phase commit fails its fence.
func (s *Service) begin(ctx context.Context, req core.IdempotentRequest, hash string, first *firstPhase) (*idemKey, *core.Reply, time.Duration, error) {
	var (
		k     *idemKey
		reply *core.Reply
		coded error
		held  time.Duration
	)
	name := "idempotency.begin"
	if first != nil {
		name = first.name
	}
	err := s.db.WriteTx(ctx, name, func(tx pgx.Tx) error {
		k, reply, coded, held = nil, nil, nil, 0
		now := s.now()
		claimed := &idemKey{req: req, hash: hash, token: core.RandomToken(10), point: pointStarted, fresh: true}
		if first != nil && first.claim != nil {
			first.claim(claimed)
		}
		var (
			b   pgx.Batch
			tag pgconn.CommandTag
		)
		b.Queue(`
			INSERT INTO idempotency_keys (merchant_id, idem_key, region, request_method, request_path,
				request_hash, lock_token, locked_until, recovery_point, payment_id, refund_id, created_at, updated_at, holder, payout_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14)
			ON CONFLICT (merchant_id, idem_key) DO NOTHING`,
			req.MerchantID, req.Key, req.Region, req.Method, req.Path, hash, claimed.token, now.Add(s.cfg.Lease),
			claimed.point, claimed.paymentID, claimed.refundID, now, s.holder(), claimed.payoutID).Exec(func(ct pgconn.CommandTag) error {
			tag = ct
			return nil
		})
		if first != nil && first.with != nil {
			sql, args, result := first.with(claimed)
			b.Queue(sql, args...).Exec(func(ct pgconn.CommandTag) error {
				result(ct)
				return nil
			})
		}
		if err := tx.SendBatch(ctx, &b).Close(); err != nil {
			return fmt.Errorf("insert idempotency key: %w", err)
		}
		if tag.RowsAffected() == 1 {
			if first != nil {
				if err := s.firstPhase(ctx, tx, claimed, first); err != nil {
					return err
				}
			}
			k = claimed
			return nil
		}
		var (
			method, path, storedHash, point string
			lockedUntil                     *time.Time
			paymentID, refundID, payoutID   *string
			status                          *int32
			body                            []byte
			holder                          *string
			holderAlive                     bool
			holderAge                       *float64
		)
		err := tx.QueryRow(ctx, `
			SELECT request_method, request_path, request_hash, locked_until, recovery_point,
				payment_id, refund_id, response_status, response_body, holder, payout_id,
				holder IS NOT NULL AND `+holderAliveSQL("k.holder", "$3")+`,
				(SELECT EXTRACT(EPOCH FROM now() - n.heartbeat_at)::FLOAT8 FROM nodes n WHERE n.incarnation = k.holder)
			FROM idempotency_keys k WHERE merchant_id = $1 AND idem_key = $2 FOR UPDATE OF k`,
			req.MerchantID, req.Key, s.cfg.Liveness.Timeout.Seconds()).Scan(&method, &path, &storedHash, &lockedUntil, &point,
			&paymentID, &refundID, &status, &body, &holder, &payoutID, &holderAlive, &holderAge)
		if err != nil {
			return fmt.Errorf("read idempotency key: %w", err)
		}
		switch {
		case method != req.Method || path != req.Path || storedHash != hash:
			coded = &core.Error{Code: core.CodeIdempotencyKeyReused, Param: "Idempotency-Key", Message: fmt.Sprintf(
				"Keys for idempotent requests can only be used with the same parameters they were first used with. "+
					"Use a new key for a different request (this key was first used for %s %s).", method, path)}
			return nil
		case status != nil:
			reply = &core.Reply{Status: int(*status), Body: body, Replayed: true}
			return nil
		case lockedUntil != nil && lockedUntil.After(now) && holder == nil:
			coded = inUse(lockedUntil.Sub(now)) // no liveness: only the lease frees it
			return nil
		case lockedUntil != nil && lockedUntil.After(now) && holderAlive:
			// A live node is working on it: it finishes soon or is found dead soon.
			coded, held = inUse(time.Second), s.cfg.Liveness.Interval
			if holderAge != nil {
				// Look again every interval (the holder may finish), and once its heartbeat
				// is near the timeout, just after the holder would be found dead.
				left := s.cfg.Liveness.Timeout - time.Duration(*holderAge*float64(time.Second)) + 10*time.Millisecond
				if left < 2*held {
					held = max(10*time.Millisecond, left)
				}
			}
			return nil
		case lockedUntil != nil && lockedUntil.After(now):
			s.log.InfoContext(ctx, "taking over a key held by a dead node", "merchant", req.MerchantID, "holder", *holder)
		}
		// The lease ran out, or its holder is dead: take the request over where it stopped.
		if _, err := tx.Exec(ctx, `UPDATE idempotency_keys SET lock_token = $3, locked_until = $4, updated_at = $5, holder = $6
			WHERE merchant_id = $1 AND idem_key = $2`, req.MerchantID, req.Key, claimed.token, now.Add(s.cfg.Lease), now, s.holder()); err != nil {
			return fmt.Errorf("take over idempotency key: %w", err)
		}
		k = &idemKey{req: req, hash: hash, token: claimed.token, point: point, paymentID: paymentID, refundID: refundID, payoutID: payoutID}
		if point != pointStarted {
			s.log.InfoContext(ctx, "resuming request from recovery point", "merchant", req.MerchantID, "recovery_point", point)
		}
		return nil
	})
	if err != nil {
		var e *core.Error
		if errors.As(err, &e) {
			return nil, nil, 0, err // a coded refusal of the first phase: nothing was claimed
		}
		return nil, nil, 0, s.dbError(ctx, err)
	}
	return k, reply, held, coded
}

// firstPhase runs first's work for the key k just claimed, inside the claiming transaction,
// and ends that transaction: nothing may follow it there.
func (s *Service) firstPhase(ctx context.Context, tx pgx.Tx, k *idemKey, first *firstPhase) error {
	var w writeBatch
	paymentID, refundID, payoutID := k.paymentID, k.refundID, k.payoutID
	next, err := first.run(ctx, tx, &w, k)
	if err != nil {
		return err
	}
	if next != k.point || k.paymentID != paymentID || k.refundID != refundID || k.payoutID != payoutID {
		k.point = next
		s.saveKey(&w, k)
	}
	return w.commit(ctx, tx)
}

// phase runs one atomic phase: fn's changes and the key's new recovery point (and final
// reply, if fn finished the request) commit together, and only while this request still
// holds the key's lease.
func (s *Service) phase(ctx context.Context, k *idemKey, name string, fn phaseFunc) error {
	var work idemKey
	err := s.db.WriteTx(ctx, name, func(tx pgx.Tx) error {
		work = *k
		var w writeBatch
		next, err := fn(ctx, tx, &w, &work)
		if err != nil {
			return err
		}
		work.point = next
		s.saveKey(&w, &work)
		return w.commit(ctx, tx)
	})
	if err != nil {
		if err = leaseLost(err); errors.Is(err, errLeaseLost) {
			return err
		}
		if errors.Is(paymentMoved(err), errPaymentMoved) && ctx.Value(sendCASFirst{}) == nil {
			// A payment changed in the phase moved meanwhile (persistIfStill): run it again,
			// looking first.
			return s.phase(context.WithValue(ctx, sendCASFirst{}, true), k, name, fn)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	*k = work
	if s.cfg.AfterPhase != nil {
		if err := s.cfg.AfterPhase(ctx, k.point); err != nil {
			return fmt.Errorf("%w %s: %v", ErrAbandoned, k.point, err)
		}
	}
	return nil
}

// saveKey queues the record of k's progress and renews its lease; when k is finished it
// stores the reply and frees the key.
func (s *Service) saveKey(w *writeBatch, k *idemKey) {
	now := s.now()
	var status *int32
	var body []byte
	lockedUntil := &now
	if k.point == pointFinished {
		st := int32(k.reply.Status)
		status, body, lockedUntil = &st, k.reply.Body, nil
	} else {
		t := now.Add(s.cfg.Lease)
		lockedUntil = &t
	}
	// Only while this request still holds the lease: otherwise the statement fails (a
	// division by zero, SQLSTATE 22012, which leaseLost turns into errLeaseLost) and with it
	// the whole phase. The check is the server's, so the phase's COMMIT can travel in the same
	// round trip: PostgreSQL skips it after the error.
	const sql = `
		WITH saved AS (
			UPDATE idempotency_keys SET recovery_point = $4, payment_id = $5, refund_id = $6,
				response_status = $7, response_body = $8, locked_until = $9, updated_at = $10,
				lock_token = CASE WHEN $7::INT4 IS NULL THEN lock_token ELSE NULL END, payout_id = $11
			WHERE merchant_id = $1 AND idem_key = $2 AND lock_token = $3
			RETURNING 1)
		SELECT 1 / count(*) FROM saved`
	w.queue(sql, k.req.MerchantID, k.req.Key, k.token, k.point, k.paymentID, k.refundID, status, body, lockedUntil, now, k.payoutID)
}

// leaseLost is errLeaseLost for the error of a phase whose key's lease check failed, and err
// otherwise. No other statement of a phase divides.
func leaseLost(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "22012" {
		return errLeaseLost
	}
	return err
}

// release ends this request's lease early, so that a retry need not wait for it to expire.
// It runs even when the request's own deadline has passed.
func (s *Service) release(ctx context.Context, k *idemKey) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := s.db.WriteTx(ctx, "idempotency.release", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE idempotency_keys SET locked_until = NULL, lock_token = NULL, holder = NULL
			WHERE merchant_id = $1 AND idem_key = $2 AND lock_token = $3 AND response_status IS NULL`,
			k.req.MerchantID, k.req.Key, k.token)
		return err
	})
	if err != nil {
		s.log.WarnContext(ctx, "could not release idempotency key; a retry waits for the lease", "err", err)
	}
}

// interim makes the answer for a request whose outcome is not known yet: the object as it
// stands, not stored; the key stays open so that a retry with it finishes the request.
func interim(k *idemKey, v any) {
	k.interim = &core.Reply{Interim: v}
}

// ReapKeys deletes finished idempotency keys older than the retention period, in batches,
// and returns how many it deleted. Unfinished keys stay: their requests are still owed an
// outcome.
func (s *Service) ReapKeys(ctx context.Context) (int64, error) {
	cutoff := s.now().Add(-s.cfg.KeyRetention)
	var total int64
	for {
		var n int64
		err := s.db.WriteTx(ctx, "idempotency.reap", func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `
				DELETE FROM idempotency_keys WHERE (merchant_id, idem_key) IN (
					SELECT merchant_id, idem_key FROM idempotency_keys
					WHERE created_at < $1 AND response_status IS NOT NULL LIMIT 1000)`, cutoff)
			n = tag.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("reap idempotency keys: %w", err)
		}
		total += n
		if n < 1000 {
			return total, nil
		}
	}
}

// NewKeyReaper makes a worker that runs ReapKeys every interval (default 10 minutes).
func NewKeyReaper(s *Service, interval time.Duration) *Worker {
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	return NewWorker("idempotency key reaper", interval, s.log, func(ctx context.Context) error {
		n, err := s.ReapKeys(ctx)
		if n > 0 {
			s.log.Info("reaped idempotency keys", "deleted", n)
		}
		return err
	})
}
