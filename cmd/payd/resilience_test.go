package main

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/resilience"
)

// Through the whole node: a channel outage trips the card breaker; while it is open payments
// fail fast with 503 and reach nothing; once the channel heals and the cool-down passes, the
// breaker probes and closes, and a retry with the same key completes the payment once.
func TestBreakerTripsFailsFastAndRecovers(t *testing.T) {
	// The breaker runs on the real clock. The cool-down must outlast the checks made while it
	// is open (a few requests, slow on a busy machine with -race), or the breaker would let a
	// probe through before the test looks.
	const breakerCoolDown = 5 * time.Second
	var gw *resilience.Gateway
	e := newEnvWith(t, envOptions{gateway: func(sim *inprocsim.Channel) core.Gateway {
		var err error
		gw, err = resilience.NewGateway(sim, resilience.Config{Region: testRegion,
			Breaker: resilience.BreakerConfig{MinRequests: 4, FailureRatio: 0.5, CoolDown: breakerCoolDown, HalfOpenProbes: 1}})
		if err != nil {
			t.Fatal(err)
		}
		return gw
	}})
	_, key := e.merchant("Acme")
	e.sim.SetFaults(inprocsim.Faults{Unavailable: 4})
	for i := 0; i < 4; i++ {
		r := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment(fmt.Sprintf("br-%d", i), 100, visaOK, core.CaptureAutomatic)), 503)
		if r.str("error.code") != core.CodeChannelUnavailable {
			t.Fatalf("outage: %s", r.Body)
		}
	}
	if st := gw.State(core.ChannelCard); st.String() != "open" {
		t.Fatalf("breaker %s after 4 failures, want open", st)
	}
	calls := e.sim.Calls()
	idem := newKey()
	body := cardPayment("br-open", 100, visaOK, core.CaptureAutomatic)
	start := time.Now()
	r := e.expect(e.call("POST", "/v1/payments", key, idem, body), 503)
	if e.sim.Calls() != calls {
		t.Fatal("a call reached the channel through an open breaker")
	}
	t.Logf("answer while open: %s in %s", r.str("error.code"), time.Since(start).Round(time.Millisecond))
	// Other channels are not affected.
	e.expect(e.call("POST", "/v1/payments", key, newKey(), map[string]any{"amount": 100, "currency": "cny", "channel": "alipay", "merchant_reference": "br-ali"}), 200)

	deadline := time.Now().Add(breakerCoolDown + time.Minute)
	for {
		r = e.call("POST", "/v1/payments", key, idem, body)
		if r.Status == 200 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r.Status != 200 || r.str("status") != "succeeded" {
		t.Fatalf("after healing: %d %s", r.Status, r.Body)
	}
	if gw.State(core.ChannelCard).String() != "closed" || e.sim.Charges(r.str("id")) != 1 {
		t.Fatalf("breaker %s, charges %d", gw.State(core.ChannelCard), e.sim.Charges(r.str("id")))
	}
}

// A merchant beyond its API quota gets 429 with Retry-After; other merchants are unaffected.
func TestMerchantRateLimit(t *testing.T) {
	// The limiter's own clock stands still: on a slow machine the calls below may take over a
	// second, and a real clock would refill the quota between them.
	clk := &clock{t: time.Now()}
	lim, err := resilience.NewMerchantLimiter(resilience.MerchantLimiterConfig{PerSecond: 1, Burst: 3, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, envOptions{limiter: lim})
	_, busy := e.merchant("Busy")
	_, calm := e.merchant("Calm")
	for i := 0; i < 3; i++ {
		e.expect(e.call("GET", "/v1/balance", busy, "", nil), 200)
	}
	r := e.expect(e.call("GET", "/v1/balance", busy, "", nil), 429)
	after, _ := strconv.Atoi(r.Header.Get("Retry-After"))
	if r.str("error.type") != "rate_limit_error" || after < 1 || after > 2 {
		t.Fatalf("429: Retry-After %q, %s", r.Header.Get("Retry-After"), r.Body)
	}
	e.expect(e.call("GET", "/v1/balance", calm, "", nil), 200)
	clk.Advance(time.Second) // one token back
	e.expect(e.call("GET", "/v1/balance", busy, "", nil), 200)
	e.expect(e.call("GET", "/v1/balance", busy, "", nil), 429)
	if n := e.count("idempotency_keys"); n != 0 {
		t.Fatalf("a rate-limited call wrote %d keys", n)
	}
}
