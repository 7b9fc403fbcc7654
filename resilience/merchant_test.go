package resilience

import (
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newML(t *testing.T, cfg MerchantLimiterConfig) (*MerchantLimiter, *fakeClock) {
	t.Helper()
	c := newClock()
	cfg.Now = c.Now
	m, err := NewMerchantLimiter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m, c
}

// drain makes n requests for id and fails unless exactly the first `allowed` pass.
func drain(t *testing.T, m *MerchantLimiter, id string, n, allowed int) (lastRetry time.Duration) {
	t.Helper()
	for i := range n {
		ok, ra := m.Allow(id)
		if ok != (i < allowed) {
			t.Fatalf("%s request %d: allowed=%v, want %v", id, i, ok, i < allowed)
		}
		if ok && ra != 0 {
			t.Fatalf("%s request %d allowed with Retry-After %s", id, i, ra)
		}
		if !ok && ra <= 0 {
			t.Fatalf("%s request %d rejected with Retry-After %s, want positive", id, i, ra)
		}
		lastRetry = ra
	}
	return lastRetry
}

func TestMerchantLimiterBurstThenReject(t *testing.T) {
	cases := []struct {
		name      string
		perSecond float64
		burst     int
		wantRetry time.Duration // after the burst is spent
	}{
		{"10/s burst 3", 10, 3, 100 * time.Millisecond},
		{"1/s burst 1", 1, 1, time.Second},
		{"0.5/s burst 5", 0.5, 5, 2 * time.Second},
		{"1000/s burst 20", 1000, 20, time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, clock := newML(t, MerchantLimiterConfig{PerSecond: tc.perSecond, Burst: tc.burst})
			ra := drain(t, m, "m1", tc.burst+10, tc.burst)
			if math.Abs(float64(ra-tc.wantRetry)) > float64(tc.wantRetry)/100 {
				t.Fatalf("Retry-After %s, want about %s", ra, tc.wantRetry)
			}
			// Rejections took no quota: after Retry-After exactly one more request passes.
			clock.Advance(ra)
			if ok, _ := m.Allow("m1"); !ok {
				t.Fatal("rejected after waiting Retry-After")
			}
			if ok, ra2 := m.Allow("m1"); ok || ra2 <= 0 {
				t.Fatalf("second request after the wait: allowed=%v, Retry-After %s", ok, ra2)
			}
		})
	}
}

func TestMerchantLimiterIsolationAndOverrides(t *testing.T) {
	m, clock := newML(t, MerchantLimiterConfig{PerSecond: 1, Burst: 2})
	drain(t, m, "m1", 5, 2)
	drain(t, m, "m2", 5, 2) // m1's spent quota does not touch m2

	t.Run("override for a merchant in use", func(t *testing.T) {
		if err := m.SetLimit("m1", 100, 10); err != nil {
			t.Fatal(err)
		}
		if ps, b := m.Limit("m1"); ps != 100 || b != 10 {
			t.Fatalf("Limit = %v, %d", ps, b)
		}
		clock.Advance(100 * time.Millisecond) // 10 tokens at 100/s
		n := 0
		for {
			ok, _ := m.Allow("m1")
			if !ok {
				break
			}
			n++
		}
		if n < 9 || n > 10 {
			t.Fatalf("after 100 ms at 100/s: %d allowed, want about 10", n)
		}
		if ok, _ := m.Allow("m2"); ok {
			t.Fatal("m2 got m1's override")
		}
	})
	t.Run("override for a new merchant", func(t *testing.T) {
		if err := m.SetLimit("m3", 1, 7); err != nil {
			t.Fatal(err)
		}
		drain(t, m, "m3", 9, 7)
	})
	t.Run("override survives eviction", func(t *testing.T) {
		clock.Advance(time.Hour)
		m.Sweep()
		if m.Len() != 0 {
			t.Fatalf("%d limiters after an idle hour", m.Len())
		}
		drain(t, m, "m3", 9, 7)
	})
	t.Run("clear", func(t *testing.T) {
		m.ClearLimit("m3")
		clock.Advance(time.Hour)
		drain(t, m, "m3", 4, 2)
	})
	t.Run("invalid", func(t *testing.T) {
		for _, q := range []struct {
			r float64
			b int
		}{{0, 1}, {-1, 1}, {math.NaN(), 1}, {1, 0}} {
			if err := m.SetLimit("m4", q.r, q.b); err == nil {
				t.Fatalf("SetLimit(%v, %d) accepted", q.r, q.b)
			}
		}
	})
}

func TestMerchantLimiterEviction(t *testing.T) {
	t.Run("idle limiters are dropped as requests come", func(t *testing.T) {
		m, clock := newML(t, MerchantLimiterConfig{PerSecond: 1, Burst: 1, IdleTTL: time.Minute})
		for i := range 100 {
			m.Allow(fmt.Sprintf("m%d", i))
		}
		if m.Len() != 100 {
			t.Fatalf("Len %d", m.Len())
		}
		clock.Advance(30 * time.Second)
		m.Allow("m0") // m0 is used again
		clock.Advance(45 * time.Second)
		m.Allow("new")
		if m.Len() != 2 {
			t.Fatalf("Len %d after the others idled past the TTL, want 2 (m0, new)", m.Len())
		}
	})
	t.Run("at most MaxMerchants, least recently used first", func(t *testing.T) {
		m, _ := newML(t, MerchantLimiterConfig{PerSecond: 1, Burst: 1, MaxMerchants: 3})
		for _, id := range []string{"a", "b", "c"} {
			drain(t, m, id, 2, 1)
		}
		drain(t, m, "a", 1, 0) // a is now the most recently used; b the least
		drain(t, m, "d", 1, 1) // evicts b
		if m.Len() != 3 {
			t.Fatalf("Len %d, want 3", m.Len())
		}
		drain(t, m, "a", 1, 0) // a kept its spent bucket
		drain(t, m, "c", 1, 0)
		drain(t, m, "b", 1, 1) // b was evicted: a fresh, full bucket
	})
	t.Run("memory stays bounded under many merchants", func(t *testing.T) {
		m, clock := newML(t, MerchantLimiterConfig{IdleTTL: time.Minute, MaxMerchants: 1000})
		for i := range 20000 {
			m.Allow(fmt.Sprintf("m%d", i))
			if i%1000 == 0 {
				clock.Advance(time.Second)
			}
		}
		if m.Len() > 1000 {
			t.Fatalf("Len %d > MaxMerchants", m.Len())
		}
	})
}

func TestMerchantLimiterConcurrent(t *testing.T) {
	m, _ := newML(t, MerchantLimiterConfig{PerSecond: 1, Burst: 50})
	var allowed [4]atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				id := g % 4
				if ok, _ := m.Allow(fmt.Sprintf("m%d", id)); ok {
					allowed[id].Add(1)
				}
				if g == 0 {
					_ = m.SetLimit("other", 5, 5)
				}
			}
		}()
	}
	wg.Wait()
	for id := range allowed {
		if got := allowed[id].Load(); got != 50 {
			t.Fatalf("m%d: %d allowed with the clock frozen, want exactly the burst of 50", id, got)
		}
	}
}

func TestMerchantLimiterConfig(t *testing.T) {
	m, err := NewMerchantLimiter(MerchantLimiterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if ps, b := m.Limit("x"); ps != DefaultMerchantRate || b != DefaultMerchantBurst {
		t.Fatalf("defaults %v, %d", ps, b)
	}
	if m.cfg.IdleTTL != DefaultMerchantIdleTTL || m.cfg.MaxMerchants != DefaultMerchantMaxCount {
		t.Fatalf("defaults %+v", m.cfg)
	}
	for _, cfg := range []MerchantLimiterConfig{{PerSecond: -1}, {Burst: -1}, {IdleTTL: -1}, {MaxMerchants: -1}} {
		if _, err := NewMerchantLimiter(cfg); err == nil {
			t.Fatalf("accepted %+v", cfg)
		}
	}
}

// Concurrent rejected requests must not eat quota (a cancelled reservation gives its token
// back in full only if no later reservation was made in between).
func TestMerchantLimiterRejectionsTakeNoQuota(t *testing.T) {
	m, clock := newML(t, MerchantLimiterConfig{PerSecond: 1, Burst: 1})
	drain(t, m, "m1", 1, 1)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5000 {
				if ok, _ := m.Allow("m1"); ok {
					t.Error("allowed with the bucket empty and the clock frozen")
				}
			}
		}()
	}
	wg.Wait()
	clock.Advance(time.Second)
	if ok, ra := m.Allow("m1"); !ok {
		t.Fatalf("rejected (Retry-After %s) one period after the last allowed request: rejections ate quota", ra)
	}
}
