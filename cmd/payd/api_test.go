package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
)

func TestPaymentLifecycle(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")

	t.Run("manual capture, partial capture, partial refunds", func(t *testing.T) {
		p := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("lc-1", 10000, visaOK, core.CaptureManual)), 200)
		if p.str("status") != "requires_capture" || p.num("amount_capturable") != 10000 || p.num("amount_captured") != 0 {
			t.Fatalf("created: %s", p.Body)
		}
		if p.str("region") != testRegion || core.RegionOfID(p.str("id")) != testRegion {
			t.Fatalf("region not carried: %s", p.Body)
		}
		if p.str("payment_method.last4") != "4242" || p.str("payment_method.brand") != "visa" || p.str("payment_method.fingerprint") == "" {
			t.Fatalf("card summary: %s", p.Body)
		}
		id := p.str("id")
		c := e.expect(e.call("POST", "/v1/payments/"+id+"/capture", key, newKey(), map[string]any{"amount": 7000}), 200)
		if c.str("status") != "succeeded" || c.num("amount_captured") != 7000 || c.num("amount_capturable") != 0 {
			t.Fatalf("captured: %s", c.Body)
		}
		r1 := e.expect(e.call("POST", "/v1/refunds", key, newKey(), map[string]any{"payment": id, "amount": 2000, "reason": "requested_by_customer"}), 200)
		if r1.str("status") != "succeeded" || r1.num("amount") != 2000 || r1.str("payment") != id {
			t.Fatalf("refund: %s", r1.Body)
		}
		e.expect(e.call("GET", "/v1/refunds/"+r1.str("id"), key, "", nil), 200)
		// Refund the rest: amount omitted means everything still refundable.
		r2 := e.expect(e.call("POST", "/v1/refunds", key, newKey(), map[string]any{"payment": id}), 200)
		if r2.num("amount") != 5000 {
			t.Fatalf("refund of the rest: %s", r2.Body)
		}
		over := e.expect(e.call("POST", "/v1/refunds", key, newKey(), map[string]any{"payment": id, "amount": 1}), 400)
		if over.str("error.code") != core.CodeAmountTooLarge {
			t.Fatalf("over-refund: %s", over.Body)
		}
		got := e.expect(e.call("GET", "/v1/payments/"+id, key, "", nil), 200)
		if got.str("status") != "succeeded" || got.num("amount_refunded") != 7000 {
			t.Fatalf("after refunds: %s", got.Body)
		}
		// Illegal transitions are 422 with a clear code.
		for _, op := range []string{"capture", "cancel"} {
			r := e.expect(e.call("POST", "/v1/payments/"+id+"/"+op, key, newKey(), nil), 422)
			if r.str("error.code") != core.CodeInvalidState || !strings.Contains(r.str("error.message"), "succeeded") {
				t.Fatalf("%s of a succeeded payment: %s", op, r.Body)
			}
		}
	})

	t.Run("capture more than authorised", func(t *testing.T) {
		p := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("lc-2", 500, visaOK, core.CaptureManual)), 200)
		r := e.expect(e.call("POST", "/v1/payments/"+p.str("id")+"/capture", key, newKey(), map[string]any{"amount": 501}), 400)
		if r.str("error.code") != core.CodeAmountTooLarge || r.str("error.param") != "amount" {
			t.Fatalf("got %s", r.Body)
		}
	})

	t.Run("cancel releases the hold", func(t *testing.T) {
		p := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("lc-3", 3000, visaOK, core.CaptureManual)), 200)
		c := e.expect(e.call("POST", "/v1/payments/"+p.str("id")+"/cancel", key, newKey(), map[string]any{"cancellation_reason": "customer changed mind"}), 200)
		if c.str("status") != "canceled" || c.str("canceled_at") == "" || c.num("amount_capturable") != 0 {
			t.Fatalf("canceled: %s", c.Body)
		}
		r := e.expect(e.call("POST", "/v1/payments/"+p.str("id")+"/capture", key, newKey(), nil), 422)
		if r.str("error.code") != core.CodeInvalidState {
			t.Fatalf("capture after cancel: %s", r.Body)
		}
	})

	t.Run("declines", func(t *testing.T) {
		expired := cardPayment("dec-expired", 700, visaOK, core.CaptureAutomatic)
		expired["payment_method"].(map[string]any)["card"].(map[string]any)["exp_year"] = 2020
		for _, tc := range []struct {
			body any
			code string
		}{
			{cardPayment("dec-1", 700, visaDeclined, core.CaptureAutomatic), core.CodeCardDeclined},
			{cardPayment("dec-2", 700, visaNoFunds, core.CaptureAutomatic), core.CodeInsufficientFunds},
			{expired, core.CodeExpiredCard},
		} {
			r := e.expect(e.call("POST", "/v1/payments", key, newKey(), tc.body), 402)
			if r.str("error.type") != "card_error" || r.str("error.code") != tc.code {
				t.Fatalf("%s: %s", tc.code, r.Body)
			}
			p := e.expect(e.call("GET", "/v1/payments/"+r.str("error.payment_id"), key, "", nil), 200)
			if p.str("status") != "failed" || p.str("failure_code") != tc.code {
				t.Fatalf("failed payment: %s", p.Body)
			}
		}
	})

	t.Run("wallets and bank transfer wait for the payer", func(t *testing.T) {
		for _, tc := range []struct{ channel, action string }{
			{"wechat_pay", "wechat_pay_display_qr_code"}, {"alipay", "alipay_redirect"}, {"bank_transfer", "bank_transfer_instructions"},
		} {
			p := e.expect(e.call("POST", "/v1/payments", key, newKey(), map[string]any{
				"amount": 8800, "currency": "CNY", "channel": tc.channel, "merchant_reference": "w-" + tc.channel}), 200)
			if p.str("status") != "requires_action" || p.str("next_action.type") != tc.action || p.str("currency") != "CNY" {
				t.Fatalf("%s: %s", tc.channel, p.Body)
			}
			c := e.expect(e.call("POST", "/v1/payments/"+p.str("id")+"/cancel", key, newKey(), nil), 200)
			if c.str("status") != "canceled" {
				t.Fatalf("cancel %s: %s", tc.channel, c.Body)
			}
		}
	})

	t.Run("duplicate merchant reference", func(t *testing.T) {
		r := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("lc-1", 100, visaOK, core.CaptureAutomatic)), 409)
		if r.str("error.code") != core.CodeDuplicateReference || r.str("error.param") != "merchant_reference" {
			t.Fatalf("got %s", r.Body)
		}
	})

	t.Run("balance and events", func(t *testing.T) {
		b := e.expect(e.call("GET", "/v1/balance", key, "", nil), 200)
		data := b.get("data").([]any)
		usd := data[len(data)-1].(map[string]any)
		// lc-1: captured 7000 (pending until T+2), refunded 7000 (from available at once);
		// lc-2: 500 on hold; lc-3 canceled.
		if usd["currency"] != "USD" || usd["available"].(float64) != -7000 || usd["pending"].(float64) != 7000 || usd["on_hold"].(float64) != 500 {
			t.Fatalf("balance: %s", b.Body)
		}
		e.requireBalancedLedger()
		var n int
		if err := e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM outbox_events WHERE type = 'refund.succeeded'`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("%d refund.succeeded events (err %v), want 2", n, err)
		}
	})
}

// Bad input gets a 400 naming the parameter at fault, and writes nothing at all.
func TestBadInputChangesNothing(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	valid := func(mut func(map[string]any)) map[string]any {
		b := cardPayment("bad-1", 1000, visaOK, core.CaptureAutomatic)
		mut(b)
		return b
	}
	card := func(b map[string]any) map[string]any {
		return b["payment_method"].(map[string]any)["card"].(map[string]any)
	}
	cases := []struct {
		name  string
		body  any
		idem  string
		code  string
		param string
	}{
		{"zero amount", valid(func(b map[string]any) { b["amount"] = 0 }), "", core.CodeParameterInvalid, "amount"},
		{"negative amount", valid(func(b map[string]any) { b["amount"] = -5 }), "", core.CodeParameterInvalid, "amount"},
		{"fractional amount", valid(func(b map[string]any) { b["amount"] = 10.5 }), "", core.CodeParameterInvalid, "amount"},
		{"amount as string", valid(func(b map[string]any) { b["amount"] = "1000" }), "", core.CodeParameterInvalid, "amount"},
		{"oversized amount", valid(func(b map[string]any) { b["amount"] = core.MaxAmount + 1 }), "", core.CodeParameterInvalid, "amount"},
		{"amount beyond int64", `{"amount": 1e30, "currency": "usd"}`, "", core.CodeParameterInvalid, "amount"},
		{"missing currency", valid(func(b map[string]any) { delete(b, "currency") }), "", core.CodeParameterMissing, "currency"},
		{"missing amount", valid(func(b map[string]any) { delete(b, "amount") }), "", core.CodeParameterMissing, "amount"},
		{"null amount", valid(func(b map[string]any) { b["amount"] = nil }), "", core.CodeParameterMissing, "amount"},
		{"unknown currency", valid(func(b map[string]any) { b["currency"] = "xyz" }), "", core.CodeParameterInvalid, "currency"},
		{"unknown channel", valid(func(b map[string]any) { b["channel"] = "paypal" }), "", core.CodeParameterInvalid, "channel"},
		{"manual capture on a wallet", map[string]any{"amount": 100, "currency": "cny", "channel": "alipay", "capture_method": "manual", "merchant_reference": "x"}, "", core.CodeParameterInvalid, "capture_method"},
		{"missing reference", valid(func(b map[string]any) { delete(b, "merchant_reference") }), "", core.CodeParameterMissing, "merchant_reference"},
		{"reference with spaces", valid(func(b map[string]any) { b["merchant_reference"] = "a b" }), "", core.CodeParameterInvalid, "merchant_reference"},
		{"card number fails Luhn", valid(func(b map[string]any) { card(b)["number"] = "4242424242424241" }), "", core.CodeIncorrectNumber, "payment_method.card.number"},
		{"card number not digits", valid(func(b map[string]any) { card(b)["number"] = "4242abcd42424242" }), "", core.CodeIncorrectNumber, "payment_method.card.number"},
		{"all-zero card number", valid(func(b map[string]any) { card(b)["number"] = "0000000000000000" }), "", core.CodeIncorrectNumber, "payment_method.card.number"},
		{"three-digit expiry year", valid(func(b map[string]any) { card(b)["exp_year"] = 999 }), "", core.CodeParameterInvalid, "payment_method.card.exp_year"},
		{"bad expiry month", valid(func(b map[string]any) { card(b)["exp_month"] = 13 }), "", core.CodeParameterInvalid, "payment_method.card.exp_month"},
		{"card missing on card channel", valid(func(b map[string]any) { delete(b, "payment_method") }), "", core.CodeParameterMissing, "payment_method.card"},
		{"unknown field", valid(func(b map[string]any) { b["amout"] = 5 }), "", core.CodeParameterUnknown, "amout"},
		{"metadata not strings", valid(func(b map[string]any) { b["metadata"] = map[string]any{"n": 1} }), "", core.CodeParameterInvalid, "metadata[n]"},
		{"malformed JSON", `{"amount": 100,`, "", core.CodeInvalidJSON, ""},
		{"not an object", `[1,2,3]`, "", core.CodeInvalidJSON, ""},
		{"trailing data", `{"amount": 1} {"amount": 2}`, "", core.CodeInvalidJSON, ""},
		{"oversized body", `{"description": "` + strings.Repeat("x", 70<<10) + `"}`, "", core.CodeBodyTooLarge, ""},
		{"idempotency key too long", valid(func(map[string]any) {}), strings.Repeat("k", 256), core.CodeIdempotencyKeyInvalid, "Idempotency-Key"},
		{"idempotency key with spaces", valid(func(map[string]any) {}), "my key", core.CodeIdempotencyKeyInvalid, "Idempotency-Key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idem := tc.idem
			if idem == "" {
				idem = newKey()
			}
			r := e.call("POST", "/v1/payments", key, idem, tc.body)
			if r.Status != 400 || r.str("error.code") != tc.code || r.str("error.param") != tc.param {
				t.Fatalf("got %d %s, want 400 %s param %q", r.Status, r.Body, tc.code, tc.param)
			}
			if r.str("error.message") == "" || r.str("error.request_id") == "" || r.str("error.request_id") != r.Header.Get("Request-Id") {
				t.Fatalf("error lacks a message or request id: %s", r.Body)
			}
		})
	}
	for _, table := range []string{"payments", "idempotency_keys", "ledger_entries", "outbox_events", "refunds"} {
		if n := e.count(table); n != 0 {
			t.Errorf("bad input wrote %d rows to %s", n, table)
		}
	}
	if e.sim.Calls() != 0 {
		t.Errorf("bad input reached the channel %d times", e.sim.Calls())
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	for name, k := range map[string]string{"no key": "", "wrong key": "sk_notakey", "admin token": testAdminToken} {
		r := e.expect(e.call("GET", "/v1/payments", k, "", nil), 401)
		if r.str("error.type") != "authentication_error" {
			t.Fatalf("%s: %s", name, r.Body)
		}
	}
	e.expect(e.call("POST", "/v1/admin/merchants", key, "", map[string]any{"name": "x", "home_region": testRegion}), 401)
	bad := e.expect(e.call("POST", "/v1/admin/merchants", testAdminToken, "", map[string]any{"name": "x", "home_region": "mars-1"}), 400)
	if bad.str("error.param") != "home_region" {
		t.Fatalf("unknown region: %s", bad.Body)
	}

	t.Run("rolled keys", func(t *testing.T) {
		r := e.expect(e.call("POST", "/v1/api_keys/roll", key, "", nil), 200)
		fresh := r.str("secret_key")
		if fresh == "" || fresh == key {
			t.Fatalf("roll: %s", r.Body)
		}
		e.expect(e.call("GET", "/v1/merchant", key, "", nil), 401)
		m := e.expect(e.call("GET", "/v1/merchant", fresh, "", nil), 200)
		if m.str("secret_key") != "" {
			t.Fatal("secret key shown outside its creation")
		}
		// With a grace period the old key keeps working until it ends.
		r = e.expect(e.call("POST", "/v1/api_keys/roll", fresh, "", map[string]any{"expire_current_in": 3600}), 200)
		e.expect(e.call("GET", "/v1/merchant", fresh, "", nil), 200)
		e.clock.Advance(time.Hour + time.Second)
		e.expect(e.call("GET", "/v1/merchant", fresh, "", nil), 401)
		e.expect(e.call("GET", "/v1/merchant", r.str("secret_key"), "", nil), 200)
	})

	var stored int
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM api_keys WHERE key_hash = $1 OR prefix = $1`, key).Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("secret key stored in clear (%d rows, err %v)", stored, err)
	}
}

// A node trusts a key it authenticated for the auth cache's TTL: a key rolled with no grace
// through another node keeps working there until the entry ages out, and not a moment
// longer; on the node that rolled it, it stops at once.
func TestAuthCacheBoundsStaleKeys(t *testing.T) {
	a := newEnv(t, func(c *postgres.Config) { c.AuthCacheTTL = 2 * time.Second })
	// Node b shares a's database and clock.
	b := a.secondNode(func(c *postgres.Config) { c.AuthCacheTTL = 2 * time.Second })
	_, key := a.merchant("Acme")
	b.expect(b.call("GET", "/v1/merchant", key, "", nil), 200) // b caches the key
	fresh := a.expect(a.call("POST", "/v1/api_keys/roll", key, "", nil), 200).str("secret_key")
	a.expect(a.call("GET", "/v1/merchant", key, "", nil), 401)
	a.clock.Advance(1900 * time.Millisecond)
	b.expect(b.call("GET", "/v1/merchant", key, "", nil), 200) // stale, within the TTL
	a.clock.Advance(200 * time.Millisecond)
	b.expect(b.call("GET", "/v1/merchant", key, "", nil), 401)
	b.expect(b.call("GET", "/v1/merchant", fresh, "", nil), 200)
}

// Merchant A cannot read, capture, cancel or refund merchant B's payments: they do not exist
// for A (404), and B's payment is untouched.
func TestMerchantIsolation(t *testing.T) {
	e := newEnv(t)
	_, keyA := e.merchant("A")
	_, keyB := e.merchant("B")
	pay := e.expect(e.call("POST", "/v1/payments", keyB, newKey(), cardPayment("b-1", 5000, visaOK, core.CaptureManual)), 200)
	id := pay.str("id")
	for _, tc := range []struct {
		method, path, idem string
		body               any
		param              string
	}{
		{"GET", "/v1/payments/" + id, "", nil, "id"},
		{"POST", "/v1/payments/" + id + "/capture", newKey(), nil, "id"},
		{"POST", "/v1/payments/" + id + "/cancel", newKey(), nil, "id"},
		{"POST", "/v1/refunds", newKey(), map[string]any{"payment": id}, "payment"},
	} {
		r := e.expect(e.call(tc.method, tc.path, keyA, tc.idem, tc.body), 404)
		if r.str("error.code") != core.CodeNotFound || r.str("error.param") != tc.param {
			t.Fatalf("%s %s: %s", tc.method, tc.path, r.Body)
		}
	}
	list := e.expect(e.call("GET", "/v1/payments", keyA, "", nil), 200)
	if len(list.get("data").([]any)) != 0 {
		t.Fatalf("A lists B's payments: %s", list.Body)
	}
	after := e.expect(e.call("GET", "/v1/payments/"+id, keyB, "", nil), 200)
	if after.str("status") != "requires_capture" || after.num("amount_capturable") != 5000 {
		t.Fatalf("B's payment changed: %s", after.Body)
	}
	if e.sim.Calls() != 1 {
		t.Fatalf("A's attempts reached the channel: %d calls", e.sim.Calls())
	}
	// A refund of someone else's refund ID is 404 too.
	e.expect(e.call("GET", "/v1/refunds/re_us-east_doesnotexist", keyA, "", nil), 404)
}

// Ten concurrent partial refunds never refund more than was captured.
func TestConcurrentRefundsNeverExceedCaptured(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	e.sim.SetFaults(inprocsim.Faults{Latency: 20 * time.Millisecond})
	pay := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("r-1", 1000, visaOK, core.CaptureAutomatic)), 200)
	retriesBefore := e.db.SerializationRetries()
	const n = 10
	out := make([]*resp, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			out[i] = e.call("POST", "/v1/refunds", key, newKey(), map[string]any{"payment": pay.str("id"), "amount": 150})
		}(i)
	}
	wg.Wait()
	ok, refused := 0, 0
	for _, r := range out {
		switch {
		case r.Status == 200 && r.str("status") == "succeeded":
			ok++
		case r.Status == 400 && r.str("error.code") == core.CodeAmountTooLarge:
			refused++
		default:
			t.Fatalf("unexpected answer %d: %s", r.Status, r.Body)
		}
	}
	if ok != 6 || refused != 4 {
		t.Fatalf("%d refunds succeeded and %d were refused; want 6 and 4 (6 x 150 <= 1000)", ok, refused)
	}
	got := e.expect(e.call("GET", "/v1/payments/"+pay.str("id"), key, "", nil), 200)
	if got.num("amount_refunded") != 900 || e.sim.Refunded(pay.str("id")) != 900 {
		t.Fatalf("refunded %d (channel %d), want 900", got.num("amount_refunded"), e.sim.Refunded(pay.str("id")))
	}
	e.requireBalancedLedger()
	t.Logf("serialization retries during the race: %d", e.db.SerializationRetries()-retriesBefore)
}

// Serialization failures under contention are retried transparently: concurrent payments of
// one merchant all succeed, and the database did report (and we did retry) conflicts.
func TestSerializationFailuresAreRetried(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	pay := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("s-0", 100000, visaOK, core.CaptureAutomatic)), 200)
	before := e.db.SerializationRetries()
	const n = 30
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := e.call("POST", "/v1/refunds", key, newKey(), map[string]any{"payment": pay.str("id"), "amount": 10})
			if r.Status != 200 {
				errs <- fmt.Sprintf("%d %s", r.Status, r.Body)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for msg := range errs {
		t.Errorf("request failed instead of being retried: %s", msg)
	}
	retries := e.db.SerializationRetries() - before
	if retries == 0 {
		t.Fatal("no serialization failure was provoked; the test did not exercise the retry path")
	}
	got := e.expect(e.call("GET", "/v1/payments/"+pay.str("id"), key, "", nil), 200)
	if got.num("amount_refunded") != n*10 {
		t.Fatalf("amount_refunded = %d, want %d", got.num("amount_refunded"), n*10)
	}
	t.Logf("%d conflicting requests, %d serialization retries, all succeeded", n, retries)
}

// After a randomised run of operations the ledger balances and agrees with every payment.
func TestRandomisedRunKeepsLedgerBalanced(t *testing.T) {
	e := newEnv(t)
	keys := []string{}
	for _, name := range []string{"A", "B", "C"} {
		_, k := e.merchant(name)
		keys = append(keys, k)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	cards := []string{visaOK, visaOK, visaOK, visaDeclined, visaNoFunds, "5555555555554444"}
	currencies := []string{"usd", "eur", "jpy", "cny"}
	ids := map[string][]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for i := 0; i < 40; i++ {
				key := keys[rng.IntN(len(keys))]
				mu.Lock()
				mine := ids[key]
				mu.Unlock()
				switch op := rng.IntN(10); {
				case op < 4 || len(mine) == 0:
					method := core.CaptureAutomatic
					if rng.IntN(2) == 0 {
						method = core.CaptureManual
					}
					body := cardPayment(fmt.Sprintf("w%d-%d", w, i), int64(1+rng.IntN(100000)), cards[rng.IntN(len(cards))], method)
					body["currency"] = currencies[rng.IntN(len(currencies))]
					r := e.call("POST", "/v1/payments", key, newKey(), body)
					if r.Status == 200 {
						mu.Lock()
						ids[key] = append(ids[key], r.str("id"))
						mu.Unlock()
					} else if r.Status != 402 {
						t.Errorf("create: %d %s", r.Status, r.Body)
					}
				case op < 6:
					id := mine[rng.IntN(len(mine))]
					r := e.call("POST", "/v1/payments/"+id+"/capture", key, newKey(), map[string]any{"amount": 1 + rng.IntN(50)})
					if r.Status != 200 && r.Status != 422 && r.Status != 400 && !inProgress(r) {
						t.Errorf("capture: %d %s", r.Status, r.Body)
					}
				case op < 7:
					id := mine[rng.IntN(len(mine))]
					if r := e.call("POST", "/v1/payments/"+id+"/cancel", key, newKey(), nil); r.Status != 200 && r.Status != 422 && !inProgress(r) {
						t.Errorf("cancel: %d %s", r.Status, r.Body)
					}
				default:
					id := mine[rng.IntN(len(mine))]
					if r := e.call("POST", "/v1/refunds", key, newKey(), map[string]any{"payment": id, "amount": 1 + rng.IntN(30000)}); r.Status != 200 && r.Status != 400 && r.Status != 422 {
						t.Errorf("refund: %d %s", r.Status, r.Body)
					}
				}
			}
		}(w)
	}
	wg.Wait()
	_ = rng
	rep := e.requireBalancedLedger()
	if rep.Journals == 0 {
		t.Fatal("the run posted nothing")
	}
	// Every merchant's balance equals what its payments say.
	ctx := context.Background()
	for _, key := range keys {
		m := e.expect(e.call("GET", "/v1/merchant", key, "", nil), 200)
		b := e.expect(e.call("GET", "/v1/balance", key, "", nil), 200)
		for _, line := range b.get("data").([]any) {
			l := line.(map[string]any)
			var avail, hold int64
			if err := e.db.Pool.QueryRow(ctx, `SELECT COALESCE(sum(amount_captured - amount_refunded), 0), COALESCE(sum(amount_capturable), 0)
				FROM payments WHERE merchant_id = $1 AND currency = $2`, m.str("id"), l["currency"]).Scan(&avail, &hold); err != nil {
				t.Fatal(err)
			}
			// No fee schedule here: available + pending is what was captured less refunds.
			if int64(l["available"].(float64)+l["pending"].(float64)) != avail || int64(l["on_hold"].(float64)) != hold {
				t.Fatalf("%s %s: balance %v+%v/%v, payments say %d/%d", m.str("id"), l["currency"], l["available"], l["pending"], l["on_hold"], avail, hold)
			}
		}
	}
	// No payment was charged twice at the channel.
	rows, err := e.db.Pool.Query(ctx, `SELECT id FROM payments`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if c := e.sim.Charges(id); c > 1 {
			t.Fatalf("payment %s charged %d times", id, c)
		}
	}
	t.Logf("%d journals, %d entries", rep.Journals, rep.Entries)
}

func TestListPayments(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	want := map[string]bool{}
	for i := 0; i < 25; i++ {
		method := core.CaptureAutomatic
		if i%5 == 0 {
			method = core.CaptureManual
		}
		r := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment(fmt.Sprintf("l-%02d", i), 100, visaOK, method)), 200)
		want[r.str("id")] = true
		e.clock.Advance(time.Second)
	}
	seen := map[string]bool{}
	after := ""
	pages := 0
	for {
		path := "/v1/payments?limit=10"
		if after != "" {
			path += "&starting_after=" + after
		}
		r := e.expect(e.call("GET", path, key, "", nil), 200)
		pages++
		data := r.get("data").([]any)
		var prev string
		for _, d := range data {
			p := d.(map[string]any)
			id := p["id"].(string)
			if seen[id] {
				t.Fatalf("payment %s listed twice", id)
			}
			if prev != "" && p["created_at"].(string) > prev {
				t.Fatal("list is not newest first")
			}
			prev = p["created_at"].(string)
			seen[id] = true
			after = id
		}
		if r.get("has_more") != true {
			break
		}
		if pages > 5 {
			t.Fatal("paging does not end")
		}
	}
	if pages != 3 || len(seen) != len(want) {
		t.Fatalf("%d pages, %d payments; want 3 pages, %d payments", pages, len(seen), len(want))
	}
	manual := e.expect(e.call("GET", "/v1/payments?status=requires_capture&limit=100", key, "", nil), 200)
	if n := len(manual.get("data").([]any)); n != 5 {
		t.Fatalf("status filter: %d, want 5", n)
	}
	ref := e.expect(e.call("GET", "/v1/payments?merchant_reference=l-07", key, "", nil), 200)
	if n := len(ref.get("data").([]any)); n != 1 {
		t.Fatalf("reference filter: %d, want 1", n)
	}
	for _, q := range []string{"limit=0", "limit=101", "status=paid", "created[gte]=yesterday", "colour=red"} {
		r := e.expect(e.call("GET", "/v1/payments?"+q, key, "", nil), 400)
		if r.str("error.param") == "" {
			t.Fatalf("%s: %s", q, r.Body)
		}
	}
}

// A card number reaches the channel but is never stored, in any table.
func TestCardNumberNeverStored(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("pan-1", 100, visaOK, core.CaptureAutomatic)), 200)
	e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("pan-2", 100, visaDeclined, core.CaptureAutomatic)), 402)
	for _, table := range []string{"payments", "idempotency_keys", "outbox_events", "ledger_entries"} {
		var n int
		err := e.db.Pool.QueryRow(context.Background(),
			fmt.Sprintf(`SELECT count(*) FROM %s t WHERE t::text LIKE '%%4242424242424242%%' OR t::text LIKE '%%4000000000000002%%'`, table)).Scan(&n)
		if err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("%s holds a card number in %d rows", table, n)
		}
	}
}

func TestUnknownRoutesAndMethods(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	r := e.expect(e.call("PUT", "/v1/payments", key, "", nil), 405)
	if r.Header.Get("Allow") != "GET, POST" || r.str("error.code") != core.CodeMethodNotAllowed {
		t.Fatalf("405: Allow %q, %s", r.Header.Get("Allow"), r.Body)
	}
	n := e.expect(e.call("GET", "/v1/nothing-here", key, "", nil), 404)
	if n.str("error.request_id") == "" || n.str("error.request_id") != n.Header.Get("Request-Id") || n.Header.Get("Payd-Region") != testRegion {
		t.Fatalf("404 lacks request id or region: %v %s", n.Header, n.Body)
	}
}

// inProgress: another request is capturing or canceling the payment (a concurrent run).
func inProgress(r *resp) bool {
	return r.Status == 409 && r.str("error.code") == core.CodeOperationInProgress
}
