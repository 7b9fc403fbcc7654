package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
)

// Liveness-based take-over, against a real PostgreSQL: a key held by a node whose heartbeat
// went stale (or by an earlier incarnation of it) is taken over at once, long before its
// lease runs out; a live holder's key is not, whatever the nodes' clocks say; and the lease
// token still fences a holder that was only paused.

const (
	testBeat     = 100 * time.Millisecond
	testLiveness = time.Second
)

// liveEnv is several nodes (services with liveness) on one database and one channel.
type liveEnv struct {
	t        *testing.T
	db       *postgres.DB
	ch       *fakeChannel
	merchant *core.Merchant
	abandon  sync.Map // node ID → recovery point at which its next request "dies"
}

func newLiveEnv(t *testing.T) *liveEnv {
	t.Helper()
	return &liveEnv{t: t, db: openDB(t), ch: newFakeChannel()}
}

type liveNode struct {
	svc  *postgres.Service
	beat *postgres.Worker
}

// node starts a node: clock skew is added to its clock; inUseWait is its Liveness.InUseWait.
func (e *liveEnv) node(id string, skew, inUseWait time.Duration) *liveNode {
	e.t.Helper()
	svc, err := postgres.NewService(e.db, e.ch, postgres.Config{Region: "us-east", SecretKey: bytes.Repeat([]byte("k"), 32),
		Lease: testLease, ChannelTimeout: 5 * time.Second, Now: func() time.Time { return time.Now().Add(skew) },
		Liveness: postgres.LivenessConfig{NodeID: id, Interval: testBeat, Timeout: testLiveness, InUseWait: inUseWait},
		AfterPhase: func(_ context.Context, point string) error {
			if p, ok := e.abandon.Load(id); ok && p == point {
				e.abandon.Delete(id)
				return errors.New("node died")
			}
			return nil
		}})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx := context.Background()
	if err := svc.JoinLiveness(ctx); err != nil {
		e.t.Fatal(err)
	}
	n := &liveNode{svc: svc, beat: postgres.NewHeartbeater(svc)}
	n.beat.Start(ctx)
	e.t.Cleanup(n.beat.Stop)
	if e.merchant == nil {
		if err := svc.RegisterRegion(ctx); err != nil {
			e.t.Fatal(err)
		}
		if e.merchant, err = svc.CreateMerchant(ctx, "Acme", "us-east"); err != nil {
			e.t.Fatal(err)
		}
	}
	return n
}

func (e *liveEnv) pay(n *liveNode, key string) (core.Reply, error) {
	return n.svc.CreatePayment(context.Background(), core.IdempotentRequest{MerchantID: e.merchant.ID, Region: "us-east",
		Key: key, Method: "POST", Path: "/v1/payments", Render: render}, core.CreatePaymentParams{
		Amount: 1000, Currency: "USD", Channel: core.ChannelCard, CaptureMethod: core.CaptureAutomatic, MerchantReference: key,
		PaymentMethod: &core.PaymentMethodData{Type: "card", Card: &core.CardData{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2040, CVC: "123"}}})
}

func (e *liveEnv) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// requireOnePaymentCharged checks the request left one payment, charged once, in a balanced
// ledger, and returns the payment's ID.
func (e *liveEnv) requireOnePaymentCharged(rep core.Reply) string {
	e.t.Helper()
	var obj struct{ ID, Status string }
	if rep.Status != 200 || json.Unmarshal(rep.Body, &obj) != nil || obj.Status != "succeeded" {
		e.t.Fatalf("reply %d %s, want a succeeded payment", rep.Status, rep.Body)
	}
	if n := e.count("payments"); n != 1 {
		e.t.Fatalf("%d payments, want 1", n)
	}
	if n := e.ch.executions(core.AuthorizeKey(obj.ID)); n != 1 {
		e.t.Fatalf("channel executed the payment %d times", n)
	}
	return obj.ID
}

func codeOf(err error) string {
	if err == nil {
		return ""
	}
	return core.AsError(err).Code
}

// A node that dies right after its first phase (the payment created, the channel not yet
// asked) leaves its key held for the whole lease; a retry through another node finds the
// holder's heartbeat stale and takes the key over, without waiting for the lease.
func TestRetryTakesOverAKeyHeldByADeadNode(t *testing.T) {
	e := newLiveEnv(t)
	a, b := e.node("a", 0, 0), e.node("b", 0, 0)
	e.abandon.Store("a", "payment_created")
	if _, err := e.pay(a, "k1"); !errors.Is(err, postgres.ErrAbandoned) {
		t.Fatalf("first attempt: %v, want it abandoned", err)
	}
	killed := time.Now()
	a.beat.Stop() // the node is dead: no more heartbeats

	// The retry waits in the server (InUseWait) until the holder is found dead, then takes
	// over: one call, answered long before the 30s lease would have run out.
	rep, err := e.pay(b, "k1")
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	took := time.Since(killed)
	e.requireOnePaymentCharged(rep)
	if took > testLease/2 {
		t.Fatalf("the retry took %s: it waited for the lease, not for liveness", took)
	}
	t.Logf("retry completed %s after the holder died (liveness timeout %s, heartbeat %s)", took.Round(time.Millisecond), testLiveness, testBeat)
}

// A key held by an earlier incarnation of a node (it restarted) is taken over at once: a
// retry need not wait for that incarnation's heartbeat to go stale.
func TestRestartedNodeFreesItsEarlierIncarnationsKeys(t *testing.T) {
	e := newLiveEnv(t)
	a := e.node("a", 0, 0)
	b := e.node("b", 0, -1) // answers 409 at once rather than wait for a live holder
	e.abandon.Store("a", "payment_created")
	if _, err := e.pay(a, "k1"); !errors.Is(err, postgres.ErrAbandoned) {
		t.Fatalf("first attempt: %v, want it abandoned", err)
	}
	a.beat.Stop()
	// Before the restart the holder is alive: in use, with a short Retry-After.
	_, err := e.pay(b, "k1")
	if codeOf(err) != core.CodeIdempotencyKeyInUse {
		t.Fatalf("retry while the holder is alive: %v, want idempotency_key_in_use", err)
	}
	if ra := core.AsError(err).RetryAfter; ra != 1 {
		t.Fatalf("Retry-After %d for a live holder, want 1", ra)
	}
	a2 := e.node("a", 0, -1) // the same node, started again
	if a2.svc.Incarnation() == a.svc.Incarnation() {
		t.Fatal("a restart kept the incarnation")
	}
	rep, err := e.pay(b, "k1")
	if err != nil {
		t.Fatalf("retry after the holder's node restarted: %v", err)
	}
	e.requireOnePaymentCharged(rep)
}

// A node paused (as by SIGSTOP) past the liveness timeout while it waits on the channel has
// its key taken over and finished elsewhere; resumed, its late phase commit fails the lease
// token's fence: nothing is doubled, the ledger balances, and a replay shows the take-over's
// answer.
func TestPausedHolderCannotCommitOverATakeOver(t *testing.T) {
	e := newLiveEnv(t)
	a, b := e.node("a", 0, 0), e.node("b", 0, 0)
	inChannel, resume := make(chan struct{}), make(chan struct{})
	e.ch.onAuthorize = func(n int) {
		if n == 1 { // node a's call: it stops here until resumed
			close(inChannel)
			<-resume
		}
	}
	aDone := make(chan error, 1)
	var aRep core.Reply
	go func() {
		var err error
		aRep, err = e.pay(a, "k1")
		aDone <- err
	}()
	select {
	case <-inChannel:
	case <-time.After(30 * time.Second):
		t.Fatal("node a never reached the channel")
	}
	a.beat.Stop() // paused: no heartbeats

	rep, err := e.pay(b, "k1")
	if err != nil {
		t.Fatalf("take-over: %v", err)
	}
	id := e.requireOnePaymentCharged(rep)

	close(resume) // SIGCONT: a's channel call returns, and it tries to commit its answer
	select {
	case err = <-aDone:
	case <-time.After(30 * time.Second):
		t.Fatal("node a never finished")
	}
	if codeOf(err) != core.CodeIdempotencyKeyInUse {
		t.Fatalf("the paused node's late commit: reply %d %s, err %v; want its commit refused (in use)", aRep.Status, aRep.Body, err)
	}
	if e.requireOnePaymentCharged(rep) != id {
		t.Fatal("payment changed")
	}
	check, err := b.svc.CheckLedger(context.Background())
	if err != nil || !check.Balanced {
		t.Fatalf("ledger: %+v, %v", check, err)
	}
	again, err := e.pay(a, "k1")
	if err != nil || !again.Replayed || !bytes.Equal(again.Body, rep.Body) {
		t.Fatalf("replay: %d %s (replayed %v, err %v), want the take-over's %s", again.Status, again.Body, again.Replayed, err, rep.Body)
	}
}

// Liveness is judged by the database's clock: nodes whose clocks are a second apart (±500ms)
// do not see each other's live keys as dead.
func TestClockSkewDoesNotTakeOverALiveNodesKey(t *testing.T) {
	e := newLiveEnv(t)
	a := e.node("a", -500*time.Millisecond, 0)
	b := e.node("b", 500*time.Millisecond, -1)
	inChannel, resume := make(chan struct{}), make(chan struct{})
	e.ch.onAuthorize = func(n int) {
		if n == 1 {
			close(inChannel)
			<-resume
		}
	}
	aDone := make(chan error, 1)
	var aRep core.Reply
	go func() {
		var err error
		aRep, err = e.pay(a, "k1")
		aDone <- err
	}()
	defer func() {
		select {
		case <-resume:
		default:
			close(resume)
		}
	}()
	select {
	case <-inChannel:
	case <-time.After(30 * time.Second):
		t.Fatal("node a never reached the channel")
	}
	// For three liveness timeouts, every retry through b finds the key in use.
	pace := time.NewTicker(testBeat)
	defer pace.Stop()
	for until := time.Now().Add(3 * testLiveness); time.Now().Before(until); <-pace.C {
		if _, err := e.pay(b, "k1"); codeOf(err) != core.CodeIdempotencyKeyInUse {
			t.Fatalf("retry through the skewed node: %v, want idempotency_key_in_use (a live key taken over)", err)
		}
	}
	close(resume)
	if err := <-aDone; err != nil {
		t.Fatalf("the holder: %v", err)
	}
	e.requireOnePaymentCharged(aRep)
	again, err := e.pay(b, "k1")
	if err != nil || !again.Replayed || !bytes.Equal(again.Body, aRep.Body) {
		t.Fatalf("replay: %d %s (replayed %v, err %v)", again.Status, again.Body, again.Replayed, err)
	}
}

// The recovery worker uses the same rule: a payment whose key is held by a dead incarnation
// is looked at without waiting for MinAge (twice the lease).
func TestRecoveryFinishesAPaymentHeldByADeadNode(t *testing.T) {
	e := newLiveEnv(t)
	a := e.node("a", 0, 0)
	e.abandon.Store("a", "payment_created")
	if _, err := e.pay(a, "k1"); !errors.Is(err, postgres.ErrAbandoned) {
		t.Fatalf("first attempt: %v, want it abandoned", err)
	}
	a.beat.Stop()
	a2 := e.node("a", 0, 0) // restarted: the holder is an earlier incarnation, so dead
	st, err := a2.svc.Recover(context.Background(), e.ch, postgres.RecoveryConfig{MinAge: time.Hour, DeadHolderAge: time.Microsecond})
	if err != nil || st.Examined != 1 || st.Resolved != 1 {
		t.Fatalf("recovery: %+v, %v; want the dead node's payment examined and resolved", st, err)
	}
	var status string
	if err := e.db.Pool.QueryRow(context.Background(), "SELECT status FROM payments").Scan(&status); err != nil || status != "failed" {
		t.Fatalf("payment %q (%v), want failed: the channel never saw it", status, err)
	}
}

// A node whose heartbeat lapsed (its database link hung, or it was paused) comes back as a new
// incarnation: the keys its requests gave up on without releasing them (they could not reach
// the database) are free at once, not when their leases run out, though the node is alive.
func TestNodeBackFromALapseFreesTheKeysItGaveUpOn(t *testing.T) {
	e := newLiveEnv(t)
	a := e.node("a", 0, 0)
	b := e.node("b", 0, -1) // answers 409 at once while the holder is alive
	e.abandon.Store("a", "payment_created")
	if _, err := e.pay(a, "k1"); !errors.Is(err, postgres.ErrAbandoned) {
		t.Fatalf("first attempt: %v, want it abandoned", err)
	}
	a.beat.Stop() // the link hangs: no heartbeat commits
	for deadline := time.Now().Add(30 * time.Second); a.svc.Live() == nil; {
		if time.Now().After(deadline) {
			t.Fatal("the node still counts itself live without heartbeats")
		}
		<-time.After(10 * time.Millisecond) // poll
	}
	old := a.svc.Incarnation()
	if err := a.svc.Heartbeat(context.Background()); err != nil { // the link heals
		t.Fatal(err)
	}
	if a.svc.Incarnation() == old || a.svc.Live() != nil {
		t.Fatalf("after the lapse: incarnation %s (was %s), live: %v; want a new, live incarnation", a.svc.Incarnation(), old, a.svc.Live())
	}
	rep, err := e.pay(b, "k1")
	if err != nil {
		t.Fatalf("retry after the node came back: %v", err)
	}
	e.requireOnePaymentCharged(rep)
}
