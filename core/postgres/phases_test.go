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

// The phases and the take-over of idempotent requests, against a real PostgreSQL: a request
// abandoned at any recovery point (its node died) is finished by a retry with the same key
// once its lease has run out, with one execution per channel key and a balanced ledger.

const testLease = 30 * time.Second

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeChannel executes each channel key once and answers repeats with the first answer, as
// every channel must (core.Gateway). onAuthorize, if set, runs inside the nth Authorize call.
type fakeChannel struct {
	mu          sync.Mutex
	calls       map[string]int // calls per channel key
	answers     map[string]any
	authorizes  int
	onAuthorize func(n int)
	// loseCaptures: the next captures execute, but their answers are lost (an unknown outcome).
	loseCaptures int
	// losePayouts: the next payouts execute, but their answers are lost; payoutOutcome is
	// what a payout does (default paid). See payouts_test.go.
	losePayouts   int
	payoutOutcome core.PayoutOutcome
	payoutCalls   int
}

func newFakeChannel() *fakeChannel {
	return &fakeChannel{calls: map[string]int{}, answers: map[string]any{}}
}

func (f *fakeChannel) once(key string, answer func() any) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[key]++
	if a, ok := f.answers[key]; ok {
		return a
	}
	a := answer()
	f.answers[key] = a
	return a
}

// executions is how many times key moved money: 0 or 1, however often it was sent.
func (f *fakeChannel) executions(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.answers[key]; ok {
		return 1
	}
	return 0
}

func (f *fakeChannel) Authorize(_ context.Context, req core.AuthorizeRequest) (core.AuthorizeResult, error) {
	f.mu.Lock()
	f.authorizes++
	n, hook := f.authorizes, f.onAuthorize
	f.mu.Unlock()
	if hook != nil {
		hook(n)
	}
	return f.once(req.Key, func() any {
		if req.Capture {
			return core.AuthorizeResult{Outcome: core.OutcomeCaptured, Reference: "ch_" + req.PaymentID}
		}
		return core.AuthorizeResult{Outcome: core.OutcomeAuthorized, Reference: "ch_" + req.PaymentID}
	}).(core.AuthorizeResult), nil
}

func (f *fakeChannel) Capture(_ context.Context, req core.CaptureRequest) (core.OpResult, error) {
	res := f.once(req.Key, func() any { return core.OpResult{OK: true, Amount: req.Amount} }).(core.OpResult)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loseCaptures > 0 {
		f.loseCaptures--
		return core.OpResult{}, errors.New("capture answer lost")
	}
	return res, nil
}

// QueryPayment reports what the channel did with a payment's keys.
func (f *fakeChannel) QueryPayment(_ context.Context, q core.PaymentQuery) (core.PaymentState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.answers[core.AuthorizeKey(q.PaymentID)].(core.AuthorizeResult)
	if !ok {
		return core.PaymentState{}, nil
	}
	st := core.PaymentState{Found: true, Outcome: a.Outcome, Reference: a.Reference}
	if c, ok := f.answers[core.CaptureKey(q.PaymentID)].(core.OpResult); ok && c.OK {
		st.Outcome, st.AmountCaptured = core.OutcomeCaptured, c.Amount
	}
	if v, ok := f.answers[core.VoidKey(q.PaymentID)].(core.OpResult); ok && v.OK {
		st.Closed = true
	}
	return st, nil
}

func (f *fakeChannel) Void(_ context.Context, req core.VoidRequest) (core.OpResult, error) {
	return f.once(req.Key, func() any { return core.OpResult{OK: true} }).(core.OpResult), nil
}

func (f *fakeChannel) Refund(_ context.Context, req core.RefundRequest) (core.OpResult, error) {
	return f.once(req.Key, func() any { return core.OpResult{OK: true, Amount: req.Amount, Reference: "rf_" + req.RefundID} }).(core.OpResult), nil
}

// render stands in for the API layer's renderer: any stable encoding will do.
func render(v any, err error) core.Reply {
	if err != nil {
		e := core.AsError(err)
		b, _ := json.Marshal(map[string]string{"code": e.Code, "message": e.Message})
		return core.Reply{Status: 400, Body: b}
	}
	b, _ := json.Marshal(v)
	return core.Reply{Status: 200, Body: b}
}

type phaseEnv struct {
	t        *testing.T
	db       *postgres.DB
	svc      *postgres.Service
	ch       *fakeChannel
	clock    *testClock
	merchant *core.Merchant
	// abandonAt, when set, makes the next request that reaches this recovery point stop
	// right after its phase commits, as if its node died.
	mu        sync.Mutex
	abandonAt string
}

func newPhaseEnv(t *testing.T) *phaseEnv {
	t.Helper()
	e := &phaseEnv{t: t, db: openDB(t), ch: newFakeChannel(), clock: &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	var err error
	e.svc, err = postgres.NewService(e.db, e.ch, postgres.Config{Region: "us-east", SecretKey: bytes.Repeat([]byte("k"), 32),
		Lease: testLease, ChannelTimeout: 5 * time.Second, Now: e.clock.Now,
		AfterPhase: func(_ context.Context, point string) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			if point == e.abandonAt {
				e.abandonAt = ""
				return errors.New("node died")
			}
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.svc.RegisterRegion(ctx); err != nil {
		t.Fatal(err)
	}
	if e.merchant, err = e.svc.CreateMerchant(ctx, "Acme", "us-east"); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *phaseEnv) abandon(point string) {
	e.mu.Lock()
	e.abandonAt = point
	e.mu.Unlock()
}

func (e *phaseEnv) req(key, path string) core.IdempotentRequest {
	return core.IdempotentRequest{MerchantID: e.merchant.ID, Region: e.merchant.HomeRegion, Key: key,
		Method: "POST", Path: path, Render: render}
}

func (e *phaseEnv) createPayment(key, ref string, capture core.CaptureMethod) (core.Reply, error) {
	return e.svc.CreatePayment(context.Background(), e.req(key, "/v1/payments"), core.CreatePaymentParams{
		Amount: 1000, Currency: "USD", Channel: core.ChannelCard, CaptureMethod: capture, MerchantReference: ref,
		PaymentMethod: &core.PaymentMethodData{Type: "card", Card: &core.CardData{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2040, CVC: "123"}}})
}

// heldPayment makes a requires_capture payment and returns its ID.
func (e *phaseEnv) heldPayment(ref string) string {
	e.t.Helper()
	rep, err := e.createPayment("setup-"+ref, ref, core.CaptureManual)
	return e.object(rep, err, string(core.StatusRequiresCapture))
}

// object checks rep is a final 200 with an object in status and returns its ID.
func (e *phaseEnv) object(rep core.Reply, err error, status string) string {
	e.t.Helper()
	if err != nil {
		e.t.Fatalf("request failed: %v", err)
	}
	var obj struct{ ID, Status string }
	if rep.Status != 200 || json.Unmarshal(rep.Body, &obj) != nil || obj.Status != status {
		e.t.Fatalf("reply %d %s, want 200 with status %s", rep.Status, rep.Body, status)
	}
	return obj.ID
}

func (e *phaseEnv) count(table string) int {
	e.t.Helper()
	var n int
	if err := e.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *phaseEnv) requireBalancedLedger() {
	e.t.Helper()
	r, err := e.svc.CheckLedger(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	if !r.Balanced || r.Journals == 0 {
		e.t.Fatalf("ledger: %+v", r)
	}
}

func TestRequestAbandonedAtEachRecoveryPointIsResumed(t *testing.T) {
	type op struct {
		name   string
		points []string
		setup  func(e *phaseEnv) string // the payment operated on, if any
		do     func(e *phaseEnv, key, id string) (core.Reply, error)
		status string // of the object the request answers with
		// channelKey is the operation's channel key, for the payment it made or took.
		channelKey func(e *phaseEnv, id string, rep core.Reply) string
	}
	paymentOf := func(rep core.Reply) string {
		var obj struct{ ID, Payment string }
		_ = json.Unmarshal(rep.Body, &obj)
		if obj.Payment != "" {
			return obj.Payment
		}
		return obj.ID
	}
	ops := []op{
		{name: "create", points: []string{"payment_created", "finished"},
			do: func(e *phaseEnv, key, _ string) (core.Reply, error) {
				return e.createPayment(key, "o-"+key, core.CaptureAutomatic)
			},
			status:     "succeeded",
			channelKey: func(_ *phaseEnv, _ string, rep core.Reply) string { return core.AuthorizeKey(paymentOf(rep)) }},
		{name: "capture", points: []string{"capture_requested", "finished"},
			setup: func(e *phaseEnv) string { return e.heldPayment("held") },
			do: func(e *phaseEnv, key, id string) (core.Reply, error) {
				amount := int64(700)
				return e.svc.CapturePayment(context.Background(), e.req(key, "/v1/payments/"+id+"/capture"), id, core.CaptureParams{Amount: &amount})
			},
			status:     "succeeded",
			channelKey: func(_ *phaseEnv, id string, _ core.Reply) string { return core.CaptureKey(id) }},
		{name: "cancel", points: []string{"cancel_requested", "finished"},
			setup: func(e *phaseEnv) string { return e.heldPayment("held") },
			do: func(e *phaseEnv, key, id string) (core.Reply, error) {
				return e.svc.CancelPayment(context.Background(), e.req(key, "/v1/payments/"+id+"/cancel"), id, core.CancelParams{CancellationReason: "duplicate"})
			},
			status:     "canceled",
			channelKey: func(_ *phaseEnv, id string, _ core.Reply) string { return core.VoidKey(id) }},
		{name: "refund", points: []string{"refund_created", "finished"},
			setup: func(e *phaseEnv) string {
				rep, err := e.createPayment("setup-paid", "paid", core.CaptureAutomatic)
				return e.object(rep, err, "succeeded")
			},
			do: func(e *phaseEnv, key, id string) (core.Reply, error) {
				return e.svc.CreateRefund(context.Background(), e.req(key, "/v1/refunds"), core.CreateRefundParams{Payment: id})
			},
			status: "succeeded",
			channelKey: func(_ *phaseEnv, _ string, rep core.Reply) string {
				var r struct{ ID string }
				_ = json.Unmarshal(rep.Body, &r)
				return core.RefundKey(r.ID)
			}},
	}
	for _, o := range ops {
		for _, point := range o.points {
			t.Run(o.name+"/"+point, func(t *testing.T) {
				e := newPhaseEnv(t)
				var id string
				if o.setup != nil {
					id = o.setup(e)
				}
				const key = "k-1"
				e.abandon(point)
				if _, err := o.do(e, key, id); !errors.Is(err, postgres.ErrAbandoned) {
					t.Fatalf("first attempt: %v, want abandoned at %s", err, point)
				}
				// The dead node's lease still holds the key, unless the request had finished.
				rep, err := o.do(e, key, id)
				if point != "finished" {
					if core.ErrorCode(err) != core.CodeIdempotencyKeyInUse || core.AsError(err).RetryAfter < 1 {
						t.Fatalf("retry within the lease: %+v %v, want %s", rep, err, core.CodeIdempotencyKeyInUse)
					}
					e.clock.Advance(testLease + time.Second)
					rep, err = o.do(e, key, id)
				}
				e.object(rep, err, o.status)
				// A later retry replays the stored reply byte for byte.
				again, err := o.do(e, key, id)
				if err != nil || !again.Replayed || again.Status != rep.Status || !bytes.Equal(again.Body, rep.Body) {
					t.Fatalf("replay: %d %s (replayed %v, err %v), want %d %s", again.Status, again.Body, again.Replayed, err, rep.Status, rep.Body)
				}
				if ck := o.channelKey(e, id, rep); e.ch.executions(ck) != 1 {
					t.Fatalf("channel key %s executed %d times, want 1", ck, e.ch.executions(ck))
				}
				e.requireBalancedLedger()
			})
		}
	}
}

// A request whose lease ran out while it was at its channel, and whose key another request
// took over, must not apply the channel's answer: its phase rolls back whole (the payment's
// update included), and the request that holds the key finishes it.
func TestLeaseLostRollsThePhaseBack(t *testing.T) {
	e := newPhaseEnv(t)
	const key = "k-lease"
	taken := make(chan struct{})   // the second request is at the channel, holding the key
	release := make(chan struct{}) // lets the second request's channel call return
	second := make(chan result, 1)
	e.ch.onAuthorize = func(n int) {
		switch n {
		case 1: // the first request, at the channel: its lease runs out, another takes over
			e.clock.Advance(testLease + time.Second)
			go func() {
				rep, err := e.createPayment(key, "o-lease", core.CaptureAutomatic)
				second <- result{rep, err}
			}()
			<-taken
		case 2:
			close(taken)
			<-release
		}
	}
	rep, err := e.createPayment(key, "o-lease", core.CaptureAutomatic)
	if core.ErrorCode(err) != core.CodeIdempotencyKeyInUse {
		t.Fatalf("request that lost its lease: %d %s %v, want %s", rep.Status, rep.Body, err, core.CodeIdempotencyKeyInUse)
	}
	var status string
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT status FROM payments`).Scan(&status); err != nil {
		t.Fatal(err)
	}
	if status != "processing" || e.count("ledger_entries") != 0 || e.count("outbox_events") != 0 {
		t.Fatalf("after the lost lease: payment %s, %d ledger entries, %d events; want processing, none, none",
			status, e.count("ledger_entries"), e.count("outbox_events"))
	}
	close(release)
	var r result
	select {
	case r = <-second:
	case <-time.After(20 * time.Second):
		t.Fatal("the request holding the key did not finish")
	}
	id := e.object(r.rep, r.err, "succeeded")
	if e.ch.executions(core.AuthorizeKey(id)) != 1 {
		t.Fatalf("charged %d times", e.ch.executions(core.AuthorizeKey(id)))
	}
	if n := e.count("outbox_events"); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
	e.requireBalancedLedger()
}

type result struct {
	rep core.Reply
	err error
}

// Concurrent requests with one key: one does the work, the others answer in-use or replay it.
func TestConcurrentRequestsWithOneKey(t *testing.T) {
	e := newPhaseEnv(t)
	const n = 8
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rep, err := e.createPayment("k-same", "o-same", core.CaptureAutomatic)
			results[i] = result{rep, err}
		}()
	}
	wg.Wait()
	var done, inUse int
	var body []byte
	for _, r := range results {
		switch {
		case r.err == nil && r.rep.Status == 200:
			if body != nil && !bytes.Equal(body, r.rep.Body) {
				t.Fatalf("two different answers: %s and %s", body, r.rep.Body)
			}
			body = r.rep.Body
			done++
		case core.ErrorCode(r.err) == core.CodeIdempotencyKeyInUse:
			inUse++
		default:
			t.Fatalf("unexpected answer %d %s %v", r.rep.Status, r.rep.Body, r.err)
		}
	}
	if done == 0 || done+inUse != n || e.count("payments") != 1 {
		t.Fatalf("%d done, %d in use, %d payments", done, inUse, e.count("payments"))
	}
	e.requireBalancedLedger()
}

// A capture whose answer was lost, and whose client never came back, is settled by the
// recovery worker from the channel's account, through the same transition as a request's;
// a late retry with the key then answers with the captured payment.
func TestRecoverySettlesAnAbandonedCapture(t *testing.T) {
	e := newPhaseEnv(t)
	id := e.heldPayment("held")
	e.ch.loseCaptures = 1
	amount := int64(700)
	capture := func() (core.Reply, error) {
		return e.svc.CapturePayment(context.Background(), e.req("k-cap", "/v1/payments/"+id+"/capture"), id, core.CaptureParams{Amount: &amount})
	}
	rep, err := capture()
	if err != nil || rep.Interim == nil || rep.Body != nil {
		t.Fatalf("capture with a lost answer: %+v %v, want an interim reply", rep, err)
	}
	ctx := context.Background()
	// Too early: live requests get the first go.
	if st, err := e.svc.Recover(ctx, e.ch, postgres.RecoveryConfig{}); err != nil || st.Examined != 0 {
		t.Fatalf("early sweep: %+v %v", st, err)
	}
	e.clock.Advance(2*testLease + time.Second)
	st, err := e.svc.Recover(ctx, e.ch, postgres.RecoveryConfig{})
	if err != nil || st.Resolved != 1 {
		t.Fatalf("sweep: %+v %v", st, err)
	}
	pay, err := e.svc.Payment(ctx, e.merchant.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if pay.Status != core.StatusSucceeded || pay.AmountCaptured != 700 || pay.AmountCapturable != 0 || pay.PendingOp != nil {
		t.Fatalf("recovered payment: %+v", pay)
	}
	events, err := e.svc.Events(ctx, e.merchant.ID, id)
	if err != nil || len(events) != 2 || events[1].Type != core.EventPaymentSucceeded {
		t.Fatalf("events %+v %v, want requires_capture then succeeded", events, err)
	}
	rep, err = capture()
	e.object(rep, err, "succeeded")
	if e.ch.executions(core.CaptureKey(id)) != 1 {
		t.Fatal("captured twice")
	}
	e.requireBalancedLedger()
}

// A payment settled by someone else while its authorisation was at the channel (a
// notification, the recovery worker) is answered as it is: the authorisation's queued
// compare-and-set fails on the server, and the phase, run again looking first, writes
// nothing of its own.
func TestAuthorizationOfAPaymentSettledMeanwhileWritesNothing(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	e.ch.onAuthorize = func(int) {
		if _, err := e.db.Pool.Exec(ctx, `UPDATE payments SET status = 'failed', failure_code = 'card_declined'
			WHERE status = 'processing'`); err != nil {
			t.Error(err)
		}
	}
	rep, err := e.createPayment("k-moved", "o-moved", core.CaptureAutomatic)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	// The answer for the payment as it was settled: declined.
	var obj struct{ Code string }
	if err := json.Unmarshal(rep.Body, &obj); err != nil || rep.Status != 400 || obj.Code != "card_declined" {
		t.Fatalf("reply %d %s, want 400 card_declined (the payment as it was settled)", rep.Status, rep.Body)
	}
	if n, m := e.count("ledger_entries"), e.count("outbox_events"); n != 0 || m != 0 {
		t.Fatalf("%d ledger entries and %d events written for a payment settled elsewhere; want none", n, m)
	}
	var status string
	if err := e.db.Pool.QueryRow(ctx, `SELECT status FROM payments`).Scan(&status); err != nil || status != "failed" {
		t.Fatalf("payment: %q %v, want failed", status, err)
	}
	// The key stored that answer.
	again, err := e.createPayment("k-moved", "o-moved", core.CaptureAutomatic)
	if err != nil || string(again.Body) != string(rep.Body) {
		t.Fatalf("replay: %s %v, want %s", again.Body, err, rep.Body)
	}
}
