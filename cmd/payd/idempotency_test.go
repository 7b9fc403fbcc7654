package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/resilience"
)

// 50 concurrent requests with one Idempotency-Key make exactly one payment; every other
// answer is 409 in-use or a byte-identical replay of the first.
func TestConcurrentRequestsWithOneKey(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	e.sim.SetFaults(inprocsim.Faults{Latency: 50 * time.Millisecond})
	body := cardPayment("order-1", 2500, visaOK, core.CaptureAutomatic)
	idem := newKey()
	const n = 50
	out := make([]*resp, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			out[i] = e.call("POST", "/v1/payments", key, idem, body)
		}(i)
	}
	close(start)
	wg.Wait()
	var original *resp
	inUse, replays := 0, 0
	for _, r := range out {
		switch {
		case r.Status == 200 && r.Header.Get("Idempotent-Replayed") != "true":
			if original != nil {
				t.Fatalf("two requests were executed:\n%s\n%s", original.Body, r.Body)
			}
			original = r
		case r.Status == 200:
			replays++
		case r.Status == 409 && r.str("error.code") == core.CodeIdempotencyKeyInUse:
			if r.Header.Get("Retry-After") == "" {
				t.Fatal("409 in-use without Retry-After")
			}
			inUse++
		default:
			t.Fatalf("unexpected answer %d: %s", r.Status, r.Body)
		}
	}
	if original == nil {
		t.Fatal("no request executed")
	}
	for _, r := range out {
		if r.Status == 200 && !bytes.Equal(r.Body, original.Body) {
			t.Fatalf("replay differs from the original:\n%s\n%s", r.Body, original.Body)
		}
	}
	if got := e.count("payments"); got != 1 {
		t.Fatalf("%d payments, want 1", got)
	}
	if c := e.sim.TotalCharges(); c != 1 {
		t.Fatalf("%d channel charges, want 1", c)
	}
	t.Logf("1 executed, %d in-use, %d replays", inUse, replays)
	// After the dust settles, the key replays the original.
	r := e.call("POST", "/v1/payments", key, idem, body)
	if r.Status != 200 || r.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(r.Body, original.Body) {
		t.Fatalf("late retry: %d %q %s", r.Status, r.Header.Get("Idempotent-Replayed"), r.Body)
	}
	e.requireBalancedLedger()
}

func TestIdempotencySemantics(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	idem := newKey()
	first := e.expect(e.call("POST", "/v1/payments", key, idem, cardPayment("o-1", 1000, visaOK, core.CaptureAutomatic)), 200)
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Fatal("first answer marked as replay")
	}

	t.Run("same key and parameters replays", func(t *testing.T) {
		r := e.expect(e.call("POST", "/v1/payments", key, idem, cardPayment("o-1", 1000, visaOK, core.CaptureAutomatic)), 200)
		if r.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(r.Body, first.Body) {
			t.Fatalf("not a faithful replay: %s", r.Body)
		}
	})
	t.Run("same key, different parameters", func(t *testing.T) {
		r := e.expect(e.call("POST", "/v1/payments", key, idem, cardPayment("o-1", 1001, visaOK, core.CaptureAutomatic)), 422)
		if r.str("error.type") != "idempotency_error" || r.str("error.code") != core.CodeIdempotencyKeyReused {
			t.Fatalf("got %s", r.Body)
		}
	})
	t.Run("same key, other endpoint", func(t *testing.T) {
		r := e.expect(e.call("POST", "/v1/refunds", key, idem, map[string]any{"payment": first.str("id")}), 422)
		if r.str("error.type") != "idempotency_error" {
			t.Fatalf("got %s", r.Body)
		}
	})
	t.Run("keys are scoped to the merchant", func(t *testing.T) {
		_, other := e.merchant("Other")
		r := e.expect(e.call("POST", "/v1/payments", other, idem, cardPayment("o-1", 1000, visaOK, core.CaptureAutomatic)), 200)
		if r.Header.Get("Idempotent-Replayed") != "" || r.str("id") == first.str("id") {
			t.Fatalf("another merchant's key replayed: %s", r.Body)
		}
	})
	t.Run("declines replay too", func(t *testing.T) {
		k := newKey()
		d := e.expect(e.call("POST", "/v1/payments", key, k, cardPayment("o-2", 1000, visaDeclined, core.CaptureAutomatic)), 402)
		if d.str("error.code") != core.CodeCardDeclined || d.str("error.payment_id") == "" {
			t.Fatalf("got %s", d.Body)
		}
		r := e.expect(e.call("POST", "/v1/payments", key, k, cardPayment("o-2", 1000, visaDeclined, core.CaptureAutomatic)), 402)
		if r.Header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(r.Body, d.Body) {
			t.Fatalf("decline not replayed: %s", r.Body)
		}
		if c := e.sim.Charges(d.str("error.payment_id")); c != 0 {
			t.Fatalf("declined payment charged %d times", c)
		}
	})
	t.Run("every money-moving POST needs a key", func(t *testing.T) {
		for _, path := range []string{"/v1/payments", "/v1/payments/" + first.str("id") + "/capture", "/v1/payments/" + first.str("id") + "/cancel", "/v1/refunds"} {
			r := e.expect(e.call("POST", path, key, "", map[string]any{}), 400)
			if r.str("error.code") != core.CodeIdempotencyKeyRequired || r.str("error.param") != "Idempotency-Key" {
				t.Fatalf("%s: %s", path, r.Body)
			}
		}
	})
}

// A node that dies after phase one (payment row written, channel not yet called) leaves the
// key leased; once the lease expires a retry finishes the payment, with one channel charge.
func TestRetryAfterNodeDiedBetweenPhases(t *testing.T) {
	var abandon sync.Once
	e := newEnv(t, func(c *postgres.Config) {
		c.AfterPhase = func(_ context.Context, point string) error {
			var err error
			if point == "payment_created" {
				abandon.Do(func() { err = errors.New("node died") })
			}
			return err
		}
	})
	_, key := e.merchant("Acme")
	idem := newKey()
	body := cardPayment("o-1", 4200, visaOK, core.CaptureAutomatic)
	r := e.call("POST", "/v1/payments", key, idem, body)
	if r.Status != 500 {
		t.Fatalf("abandoned request answered %d: %s", r.Status, r.Body)
	}
	if e.count("payments") != 1 || e.sim.Calls() != 0 {
		t.Fatalf("after phase one want 1 payment and no channel call, got %d and %d", e.count("payments"), e.sim.Calls())
	}
	// The dead node's lease still holds the key.
	busy := e.expect(e.call("POST", "/v1/payments", key, idem, body), 409)
	if busy.str("error.code") != core.CodeIdempotencyKeyInUse || busy.Header.Get("Retry-After") == "" {
		t.Fatalf("got %s", busy.Body)
	}
	e.clock.Advance(31 * time.Second)
	done := e.expect(e.call("POST", "/v1/payments", key, idem, body), 200)
	if done.str("status") != "succeeded" || done.num("amount_captured") != 4200 {
		t.Fatalf("retry did not finish the payment: %s", done.Body)
	}
	if c := e.sim.Charges(done.str("id")); c != 1 {
		t.Fatalf("%d charges, want 1", c)
	}
	if e.count("payments") != 1 {
		t.Fatalf("%d payments, want 1", e.count("payments"))
	}
	again := e.expect(e.call("POST", "/v1/payments", key, idem, body), 200)
	if !bytes.Equal(again.Body, done.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("later retry is not a replay: %s", again.Body)
	}
	e.requireBalancedLedger()
}

// A node so slow that its lease ran out and another request took the key over must not
// commit its phase: its writes (the payment's status, the ledger, the outbox) roll back with
// the failed lease check, and the request that holds the key finishes the payment once.
func TestPhaseOfANodeThatLostItsLeaseRollsBack(t *testing.T) {
	var (
		e     *env
		key   string
		once  sync.Once
		other *resp
	)
	idem := newKey()
	body := cardPayment("slow-1", 5100, visaOK, core.CaptureAutomatic)
	e = newEnv(t, func(c *postgres.Config) {
		c.AfterPhase = func(_ context.Context, point string) error {
			if point == "payment_created" {
				once.Do(func() {
					// The slow node stalls past its lease; a retry takes the key over, finds the
					// channel unavailable and lets the key go again.
					e.clock.Advance(31 * time.Second)
					e.sim.SetFaults(inprocsim.Faults{Unavailable: 1})
					other = e.call("POST", "/v1/payments", key, idem, body)
				})
			}
			return nil
		}
	})
	_, key = e.merchant("Acme")
	slow := e.call("POST", "/v1/payments", key, idem, body)
	if other == nil || other.Status != 503 {
		t.Fatalf("the retry during the stall: %+v", other)
	}
	if slow.Status != 409 || slow.str("error.code") != core.CodeIdempotencyKeyInUse {
		t.Fatalf("the node that lost its lease answered %d: %s", slow.Status, slow.Body)
	}
	var status string
	var entries, events int
	ctx := context.Background()
	if err := e.db.Pool.QueryRow(ctx, `SELECT status, (SELECT count(*) FROM ledger_entries), (SELECT count(*) FROM outbox_events)
		FROM payments WHERE merchant_reference = 'slow-1'`).Scan(&status, &entries, &events); err != nil {
		t.Fatal(err)
	}
	if status != "processing" || entries != 0 || events != 0 {
		t.Fatalf("the lost lease's phase left status %s, %d ledger entries, %d events", status, entries, events)
	}
	done := e.expect(e.call("POST", "/v1/payments", key, idem, body), 200)
	if done.str("status") != "succeeded" || e.sim.Charges(done.str("id")) != 1 {
		t.Fatalf("the next retry: %s (%d charges)", done.Body, e.sim.Charges(done.str("id")))
	}
	if rep := e.requireBalancedLedger(); rep.Entries != 2 {
		t.Fatalf("%d ledger entries, want one sale journal of 2", rep.Entries)
	}
}

// The channel charged but its answer was lost: the payment stays processing (202), the key
// stays open, and a retry with it gets the channel's stored answer: one charge, succeeded.
func TestLostChannelResponseIsFinishedByRetry(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	e.sim.SetFaults(inprocsim.Faults{LoseResponses: 1})
	idem := newKey()
	body := cardPayment("o-1", 999, visaOK, core.CaptureAutomatic)
	first := e.expect(e.call("POST", "/v1/payments", key, idem, body), 202)
	if first.str("status") != "processing" {
		t.Fatalf("got %s", first.Body)
	}
	id := first.str("id")
	if e.sim.Charges(id) != 1 {
		t.Fatal("the simulated charge did not happen")
	}
	second := e.expect(e.call("POST", "/v1/payments", key, idem, body), 200)
	if second.str("id") != id || second.str("status") != "succeeded" {
		t.Fatalf("retry: %s", second.Body)
	}
	if c := e.sim.Charges(id); c != 1 {
		t.Fatalf("%d charges, want 1", c)
	}
	e.requireBalancedLedger()
}

// A channel timeout is not a failure: the payment stays processing, nothing is posted. The
// timeout is the resilience gateway's, as payd wires it.
func TestChannelTimeoutLeavesPaymentProcessing(t *testing.T) {
	const timeout = 100 * time.Millisecond
	e := newEnvWith(t, envOptions{
		tweak: []func(*postgres.Config){func(c *postgres.Config) { c.ChannelTimeout = timeout }},
		gateway: func(sim *inprocsim.Channel) core.Gateway {
			gw, err := resilience.NewGateway(sim, resilience.Config{Region: testRegion,
				Default: resilience.ChannelConfig{Timeout: timeout}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = gw.Close() })
			return gw
		}})
	_, key := e.merchant("Acme")
	e.sim.SetFaults(inprocsim.Faults{Timeouts: 1})
	idem := newKey()
	body := cardPayment("o-1", 500, visaOK, core.CaptureAutomatic)
	r := e.expect(e.call("POST", "/v1/payments", key, idem, body), 202)
	if r.str("status") != "processing" || e.count("ledger_entries") != 0 {
		t.Fatalf("got %s with %d ledger entries", r.Body, e.count("ledger_entries"))
	}
	got := e.expect(e.call("GET", "/v1/payments/"+r.str("id"), key, "", nil), 200)
	if got.str("status") != "processing" {
		t.Fatalf("got %s", got.Body)
	}
	// The retry finds the channel healthy again and finishes.
	e.expect(e.call("POST", "/v1/payments", key, idem, body), 200)
	if c := e.sim.Charges(r.str("id")); c != 1 {
		t.Fatalf("%d charges, want 1", c)
	}
}

func TestKeyReaperKeepsKeysADay(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	for i := 0; i < 3; i++ {
		e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment(fmt.Sprintf("o-%d", i), 100, visaOK, core.CaptureAutomatic)), 200)
	}
	ctx := context.Background()
	e.clock.Advance(23 * time.Hour)
	if n, err := e.svc.ReapKeys(ctx); err != nil || n != 0 {
		t.Fatalf("reaped %d keys after 23h (err %v), want 0", n, err)
	}
	e.clock.Advance(2 * time.Hour)
	if n, err := e.svc.ReapKeys(ctx); err != nil || n != 3 {
		t.Fatalf("reaped %d keys after 25h (err %v), want 3", n, err)
	}
	if e.count("payments") != 3 {
		t.Fatal("reaping keys touched payments")
	}
}

// Capture and cancel sent with different keys while a capture's outcome is unknown: the
// payment is reserved for that capture, so the cancel and a capture of another amount wait
// (409, not stored), a capture of the same amount re-drives it, and every request that
// caused the capture is told it succeeded.
func TestCaptureReservesThePayment(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	id := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("c-1", 10000, visaOK, core.CaptureManual)), 200).str("id")
	e.sim.SetFaults(inprocsim.Faults{LoseResponses: 1})
	k2 := newKey()
	e.expect(e.call("POST", "/v1/payments/"+id+"/capture", key, k2, map[string]any{"amount": 7000}), 202)
	calls := e.sim.Calls()

	k3 := newKey()
	for _, tc := range []struct {
		path string
		key  string
		body any
	}{
		{"/cancel", k3, nil},
		{"/capture", newKey(), map[string]any{"amount": 3000}},
	} {
		r := e.expect(e.call("POST", "/v1/payments/"+id+tc.path, key, tc.key, tc.body), 409)
		if r.str("error.code") != core.CodeOperationInProgress || r.Header.Get("Retry-After") == "" {
			t.Fatalf("%s during a pending capture: %s", tc.path, r.Body)
		}
	}
	if e.sim.Calls() != calls {
		t.Fatal("a conflicting request reached the channel")
	}
	// Another key asking for the same capture re-drives it: the channel repeats its answer.
	same := e.expect(e.call("POST", "/v1/payments/"+id+"/capture", key, newKey(), map[string]any{"amount": 7000}), 200)
	if same.str("status") != "succeeded" || same.num("amount_captured") != 7000 {
		t.Fatalf("re-driven capture: %s", same.Body)
	}
	// The request whose answer was lost learns that its capture succeeded.
	orig := e.expect(e.call("POST", "/v1/payments/"+id+"/capture", key, k2, map[string]any{"amount": 7000}), 200)
	if orig.str("status") != "succeeded" || orig.num("amount_captured") != 7000 {
		t.Fatalf("original capture's retry: %s", orig.Body)
	}
	// The cancel, retried, now finds a succeeded payment.
	if r := e.expect(e.call("POST", "/v1/payments/"+id+"/cancel", key, k3, nil), 422); r.str("error.code") != core.CodeInvalidState {
		t.Fatalf("cancel after capture: %s", r.Body)
	}
	var journals int
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT count(DISTINCT journal_id) FROM ledger_entries WHERE payment_id = $1 AND kind = 'capture'`, id).Scan(&journals); err != nil || journals != 1 {
		t.Fatalf("%d capture journals (err %v), want 1", journals, err)
	}
	e.requireBalancedLedger()
}

// A request whose outcome was unknown is finished by its retry whenever it comes: nothing
// time-dependent is validated before the key is found (here a card that expired meanwhile).
func TestRetryAfterCardExpiredStillFinishes(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	now := time.Now().UTC()
	body := cardPayment("exp-1", 1000, visaOK, core.CaptureAutomatic)
	c := body["payment_method"].(map[string]any)["card"].(map[string]any)
	c["exp_month"], c["exp_year"] = int(now.Month()), now.Year()
	e.sim.SetFaults(inprocsim.Faults{LoseResponses: 1})
	idem := newKey()
	first := e.expect(e.call("POST", "/v1/payments", key, idem, body), 202)
	e.clock.Advance(32 * 24 * time.Hour)
	done := e.expect(e.call("POST", "/v1/payments", key, idem, body), 200)
	if done.str("id") != first.str("id") || done.str("status") != "succeeded" || e.sim.Charges(first.str("id")) != 1 {
		t.Fatalf("retry: %s (charges %d)", done.Body, e.sim.Charges(first.str("id")))
	}
}

// A channel that certainly did nothing (an outage) answers 503, stores nothing with the key,
// and the retry with the same key completes the payment once.
func TestChannelOutageIsRetryable(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	e.sim.SetFaults(inprocsim.Faults{Unavailable: 1})
	idem := newKey()
	body := cardPayment("out-1", 300, visaOK, core.CaptureAutomatic)
	r := e.expect(e.call("POST", "/v1/payments", key, idem, body), 503)
	if r.str("error.code") != core.CodeChannelUnavailable {
		t.Fatalf("got %s", r.Body)
	}
	ok := e.expect(e.call("POST", "/v1/payments", key, idem, body), 200)
	if ok.Header.Get("Idempotent-Replayed") != "" || ok.str("status") != "succeeded" || e.sim.TotalCharges() != 1 || e.count("payments") != 1 {
		t.Fatalf("retry after outage: %s, charges %d", ok.Body, e.sim.TotalCharges())
	}
}
