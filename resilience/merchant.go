package resilience

import (
	"container/list"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Merchant limiter defaults.
const (
	DefaultMerchantRate     = 25.0 // requests per second
	DefaultMerchantBurst    = 50
	DefaultMerchantIdleTTL  = 10 * time.Minute
	DefaultMerchantMaxCount = 100_000
)

// MerchantLimiterConfig configures a MerchantLimiter. Zero fields take the defaults.
type MerchantLimiterConfig struct {
	// PerSecond and Burst are every merchant's API quota unless overridden with SetLimit
	// (defaults 25/s and 50).
	PerSecond float64
	Burst     int
	// IdleTTL: a merchant's limiter unused for longer is dropped (default 10 min). A
	// dropped limiter is recreated full, so keep IdleTTL at least Burst/PerSecond (the time
	// an idle limiter takes to fill up anyway, 2 s with the defaults): eviction is then
	// invisible to merchants.
	IdleTTL time.Duration
	// MaxMerchants caps how many limiters are kept (default 100000); beyond it the least
	// recently used is dropped even if not idle (it then starts again with a full burst).
	MaxMerchants int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// MerchantLimiter limits each merchant's request rate at the HTTP API with a token bucket
// (rate.Limiter) per merchant. Memory is bounded: limiters live in an LRU list; the ones
// idle for longer than IdleTTL are dropped as Allow goes, and the least recently used is
// dropped when there are more than MaxMerchants. Per-merchant overrides set with SetLimit
// are kept apart from the limiters and survive their eviction. It is safe for concurrent
// use.
type MerchantLimiter struct {
	cfg MerchantLimiterConfig

	mu        sync.Mutex
	limiters  map[string]*list.Element // of *merchantEntry
	lru       *list.List               // most recently used at the front
	overrides map[string]merchantQuota
}

type merchantQuota struct {
	limit rate.Limit
	burst int
}

type merchantEntry struct {
	id      string
	lim     *rate.Limiter
	lastUse time.Time
}

// NewMerchantLimiter makes a MerchantLimiter.
func NewMerchantLimiter(cfg MerchantLimiterConfig) (*MerchantLimiter, error) {
	if cfg.PerSecond == 0 {
		cfg.PerSecond = DefaultMerchantRate
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultMerchantBurst
	}
	if cfg.IdleTTL == 0 {
		cfg.IdleTTL = DefaultMerchantIdleTTL
	}
	if cfg.MaxMerchants == 0 {
		cfg.MaxMerchants = DefaultMerchantMaxCount
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := validQuota(cfg.PerSecond, cfg.Burst); err != nil {
		return nil, err
	}
	if cfg.IdleTTL < 0 || cfg.MaxMerchants < 0 {
		return nil, errors.New("resilience: merchant limiter idle TTL and max merchants must not be negative")
	}
	return &MerchantLimiter{cfg: cfg, limiters: map[string]*list.Element{}, lru: list.New(),
		overrides: map[string]merchantQuota{}}, nil
}

func validQuota(perSecond float64, burst int) error {
	if !(perSecond > 0) || math.IsNaN(perSecond) {
		return fmt.Errorf("resilience: merchant rate %v must be positive", perSecond)
	}
	if burst < 1 {
		return fmt.Errorf("resilience: merchant burst %d must be at least 1", burst)
	}
	return nil
}

// minRetryAfter is the smallest Retry-After returned, so a rejected caller never gets 0.
const minRetryAfter = time.Millisecond

// Allow takes one request from merchantID's quota. When the quota is spent it returns false
// and how long until a request would be allowed (always positive); the HTTP layer sends it,
// rounded up to whole seconds, as Retry-After.
func (m *MerchantLimiter) Allow(merchantID string) (ok bool, retryAfter time.Duration) {
	// The reservation is made and cancelled under m.mu: a cancelled reservation gives its
	// token back in full only when no other reservation on the limiter came after it, so
	// concurrent rejected requests would otherwise eat the merchant's quota. Both steps take
	// well under a microsecond.
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.cfg.Now()
	lim := m.limiterLocked(merchantID, now)

	r := lim.ReserveN(now, 1)
	if !r.OK() {
		// Only possible if the burst were < 1, which SetLimit and the config refuse.
		return false, time.Second
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return true, 0
	}
	r.CancelAt(now) // a rejected request takes no quota
	return false, max(d, minRetryAfter)
}

// SetLimit overrides merchantID's quota from now on (it also applies to a limiter already
// in use) and keeps the override until ClearLimit, even while the merchant's limiter is
// evicted. It refuses a non-positive rate or a burst below 1.
func (m *MerchantLimiter) SetLimit(merchantID string, perSecond float64, burst int) error {
	if err := validQuota(perSecond, burst); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	q := merchantQuota{limit: rate.Limit(perSecond), burst: burst}
	m.overrides[merchantID] = q
	if e := m.limiters[merchantID]; e != nil {
		now := m.cfg.Now()
		lim := e.Value.(*merchantEntry).lim
		lim.SetLimitAt(now, q.limit)
		lim.SetBurstAt(now, q.burst)
	}
	return nil
}

// ClearLimit drops merchantID's override: it gets the default quota again.
func (m *MerchantLimiter) ClearLimit(merchantID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.overrides, merchantID)
	if e := m.limiters[merchantID]; e != nil {
		now := m.cfg.Now()
		lim := e.Value.(*merchantEntry).lim
		lim.SetLimitAt(now, rate.Limit(m.cfg.PerSecond))
		lim.SetBurstAt(now, m.cfg.Burst)
	}
}

// Limit is merchantID's current quota (its override, or the default).
func (m *MerchantLimiter) Limit(merchantID string) (perSecond float64, burst int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if q, ok := m.overrides[merchantID]; ok {
		return float64(q.limit), q.burst
	}
	return m.cfg.PerSecond, m.cfg.Burst
}

// Len is how many merchant limiters are held.
func (m *MerchantLimiter) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lru.Len()
}

// Sweep drops the limiters idle for longer than IdleTTL now (Allow does it as it goes; a
// server may also call Sweep from a ticker).
func (m *MerchantLimiter) Sweep() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.evictLocked(m.cfg.Now())
}

// limiterLocked returns merchantID's limiter, making it if needed, marks it used at now and
// evicts idle and surplus limiters.
func (m *MerchantLimiter) limiterLocked(merchantID string, now time.Time) *rate.Limiter {
	var ent *merchantEntry
	if e := m.limiters[merchantID]; e != nil {
		ent = e.Value.(*merchantEntry)
		ent.lastUse = now
		m.lru.MoveToFront(e)
	} else {
		q, ok := m.overrides[merchantID]
		if !ok {
			q = merchantQuota{limit: rate.Limit(m.cfg.PerSecond), burst: m.cfg.Burst}
		}
		ent = &merchantEntry{id: merchantID, lim: rate.NewLimiter(q.limit, q.burst), lastUse: now}
		m.limiters[merchantID] = m.lru.PushFront(ent)
	}
	m.evictLocked(now)
	return ent.lim
}

// evictLocked drops limiters idle for longer than IdleTTL, then the least recently used ones
// beyond MaxMerchants. Both are at the back of the LRU list, so this costs O(evicted).
func (m *MerchantLimiter) evictLocked(now time.Time) {
	for e := m.lru.Back(); e != nil; e = m.lru.Back() {
		ent := e.Value.(*merchantEntry)
		if m.lru.Len() <= m.cfg.MaxMerchants && now.Sub(ent.lastUse) <= m.cfg.IdleTTL {
			break
		}
		m.lru.Remove(e)
		delete(m.limiters, ent.id)
	}
}
