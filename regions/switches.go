package regions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

// ErrInvalidMerchantID: a merchant ID that cannot be one segment of a KV key.
var ErrInvalidMerchantID = errors.New("invalid merchant id")

// merchantIDRE accepts the platform's merchant IDs ("mer_us-east_5z8k...") and anything else
// that is one safe KV path segment.
var merchantIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// SwitchesConfig configures Switches. Every field has a default.
type SwitchesConfig struct {
	// Prefix is the KV prefix of every switch. Default "paycenter/"; a missing trailing
	// slash is added.
	Prefix string
	// Topology is the set of regions that can be drained. Default DefaultTopology().
	Topology *Topology
	// WaitTime is the longest a watcher's blocking query waits for a change. Default 30s.
	WaitTime time.Duration
	// RetryMin and RetryMax bound a watcher's backoff while Consul does not answer.
	// Defaults 100ms and 5s.
	RetryMin, RetryMax time.Duration
	// Logger receives watchers' outages and bad values. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock (the "since" of a drain). Default time.Now.
	Now func() time.Time
}

func (c SwitchesConfig) withDefaults() SwitchesConfig {
	if c.Prefix == "" {
		c.Prefix = "paycenter/"
	}
	if !strings.HasSuffix(c.Prefix, "/") {
		c.Prefix += "/"
	}
	if c.Topology == nil {
		c.Topology = DefaultTopology()
	}
	if c.WaitTime == 0 {
		c.WaitTime = defaultWaitTime
	}
	if c.RetryMin == 0 {
		c.RetryMin = defaultRetryMin
	}
	if c.RetryMax == 0 {
		c.RetryMax = defaultRetryMax
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c SwitchesConfig) validate() error {
	switch {
	case strings.HasPrefix(c.Prefix, "/"):
		return fmt.Errorf("regions: switches config: Prefix %q must not start with '/'", c.Prefix)
	case c.WaitTime < 0 || c.RetryMin < 0 || c.RetryMax < 0:
		return errors.New("regions: switches config: durations must not be negative")
	case c.RetryMin > c.RetryMax:
		return fmt.Errorf("regions: switches config: RetryMin %v is above RetryMax %v", c.RetryMin, c.RetryMax)
	}
	return nil
}

// Switches reads, writes and watches the runtime switches in Consul KV: region drains and
// per-merchant rate limits. The layout is in the package documentation.
type Switches struct {
	kv  *api.KV
	cfg SwitchesConfig
}

// NewSwitches returns Switches that use client's KV store.
func NewSwitches(client *api.Client, cfg SwitchesConfig) (*Switches, error) {
	if client == nil {
		return nil, errors.New("regions: NewSwitches: nil Consul client")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Switches{kv: client.KV(), cfg: cfg}, nil
}

// DrainKey returns the KV key of region's drain switch ("paycenter/regions/us-east/drain").
func (s *Switches) DrainKey(region string) string {
	return s.cfg.Prefix + "regions/" + region + "/drain"
}

// MerchantLimitKey returns the KV key of a merchant's rate limit
// ("paycenter/merchants/mer_us-east_5z8k/rate_limit").
func (s *Switches) MerchantLimitKey(merchantID string) string {
	return s.merchantsPrefix() + merchantID + "/" + rateLimitLeaf
}

const rateLimitLeaf = "rate_limit"

func (s *Switches) merchantsPrefix() string { return s.cfg.Prefix + "merchants/" }

// drainValue is the JSON of a drain key.
type drainValue struct {
	Drained bool      `json:"drained"`
	Since   time.Time `json:"since,omitzero"`
}

// Drain drains region: its nodes fail readiness and routers send its traffic to the next
// region. Draining a drained region keeps its original "since".
func (s *Switches) Drain(ctx context.Context, region string) error {
	if err := s.cfg.Topology.Check(region); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	if drained, err := s.Drained(ctx, region); err == nil && drained {
		return nil
	}
	body, err := json.Marshal(drainValue{Drained: true, Since: s.cfg.Now().UTC()})
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(&api.KVPair{Key: s.DrainKey(region), Value: body}, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		return fmt.Errorf("drain %s: %w", region, err)
	}
	return nil
}

// Undrain puts region back into service (deletes its drain key).
func (s *Switches) Undrain(ctx context.Context, region string) error {
	if err := s.cfg.Topology.Check(region); err != nil {
		return fmt.Errorf("undrain: %w", err)
	}
	if _, err := s.kv.Delete(s.DrainKey(region), (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		return fmt.Errorf("undrain %s: %w", region, err)
	}
	return nil
}

// Drained reports whether region is drained.
func (s *Switches) Drained(ctx context.Context, region string) (bool, error) {
	if err := s.cfg.Topology.Check(region); err != nil {
		return false, fmt.Errorf("drained: %w", err)
	}
	pair, _, err := s.kv.Get(s.DrainKey(region), (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return false, fmt.Errorf("read drain switch of %s: %w", region, err)
	}
	return parseDrain(pair)
}

func parseDrain(pair *api.KVPair) (bool, error) {
	if pair == nil || len(pair.Value) == 0 {
		return false, nil
	}
	var v drainValue
	if err := json.Unmarshal(pair.Value, &v); err != nil {
		return false, fmt.Errorf("drain switch %s: bad value %q: %w", pair.Key, pair.Value, err)
	}
	return v.Drained, nil
}

// WatchDrain follows region's drain switch with blocking queries and calls fn with the state
// when Consul first answers and again at every change, from this goroutine. While Consul is
// unreachable, or the key holds a value that is not valid JSON, the last state stands (a
// node that never reached Consul is not drained). It returns nil when ctx is done, and an
// error at once for a region outside the topology.
func (s *Switches) WatchDrain(ctx context.Context, region string, fn func(drained bool)) error {
	if err := s.cfg.Topology.Check(region); err != nil {
		return fmt.Errorf("watch drain: %w", err)
	}
	key := s.DrainKey(region)
	first, last := true, false
	s.watch("key "+key).run(ctx, func(q *api.QueryOptions, _ bool) (*api.QueryMeta, error) {
		pair, meta, err := s.kv.Get(key, q)
		if err != nil {
			return nil, err
		}
		drained, err := parseDrain(pair)
		if err != nil {
			s.cfg.Logger.Error("ignoring a bad drain switch; the last state stands", "err", err, "drained", last)
			return meta, nil
		}
		if first || drained != last {
			first, last = false, drained
			fn(drained)
		}
		return meta, nil
	})
	return nil
}

func (s *Switches) watch(what string) blockingWatch {
	return blockingWatch{what: what, waitTime: s.cfg.WaitTime, retryMin: s.cfg.RetryMin, retryMax: s.cfg.RetryMax, logger: s.cfg.Logger}
}

// RateLimit is a token-bucket limit (golang.org/x/time/rate): PerSecond requests per second
// sustained, bursts of up to Burst.
type RateLimit struct {
	PerSecond float64 `json:"per_second"`
	Burst     int     `json:"burst"`
}

func (l RateLimit) validate() error {
	if math.IsNaN(l.PerSecond) || math.IsInf(l.PerSecond, 0) || l.PerSecond <= 0 {
		return fmt.Errorf("rate limit: per_second must be a positive number, not %v", l.PerSecond)
	}
	if l.Burst < 1 {
		return fmt.Errorf("rate limit: burst must be at least 1, not %d", l.Burst)
	}
	return nil
}

// ValidateMerchantID reports whether id can name a merchant in KV keys.
func ValidateMerchantID(id string) error {
	if !merchantIDRE.MatchString(id) {
		return fmt.Errorf("%w %q: want up to 128 letters, digits, '_', '.' and '-'", ErrInvalidMerchantID, id)
	}
	return nil
}

// SetMerchantLimit sets a merchant's API rate limit: perSecond requests per second, bursts
// of up to burst. Every node enforces it on the requests it serves itself, so the
// platform-wide ceiling is the limit times the number of nodes serving the merchant.
func (s *Switches) SetMerchantLimit(ctx context.Context, merchantID string, perSecond float64, burst int) error {
	if err := ValidateMerchantID(merchantID); err != nil {
		return fmt.Errorf("set merchant limit: %w", err)
	}
	l := RateLimit{PerSecond: perSecond, Burst: burst}
	if err := l.validate(); err != nil {
		return fmt.Errorf("set merchant limit of %s: %w", merchantID, err)
	}
	body, err := json.Marshal(l)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(&api.KVPair{Key: s.MerchantLimitKey(merchantID), Value: body}, (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		return fmt.Errorf("set merchant limit of %s: %w", merchantID, err)
	}
	return nil
}

// DeleteMerchantLimit removes a merchant's limit; the node default applies again.
func (s *Switches) DeleteMerchantLimit(ctx context.Context, merchantID string) error {
	if err := ValidateMerchantID(merchantID); err != nil {
		return fmt.Errorf("delete merchant limit: %w", err)
	}
	if _, err := s.kv.Delete(s.MerchantLimitKey(merchantID), (&api.WriteOptions{}).WithContext(ctx)); err != nil {
		return fmt.Errorf("delete merchant limit of %s: %w", merchantID, err)
	}
	return nil
}

// MerchantLimit returns a merchant's limit; ok is false when it has none.
func (s *Switches) MerchantLimit(ctx context.Context, merchantID string) (limit RateLimit, ok bool, err error) {
	if err := ValidateMerchantID(merchantID); err != nil {
		return RateLimit{}, false, fmt.Errorf("merchant limit: %w", err)
	}
	pair, _, err := s.kv.Get(s.MerchantLimitKey(merchantID), (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return RateLimit{}, false, fmt.Errorf("read merchant limit of %s: %w", merchantID, err)
	}
	if pair == nil {
		return RateLimit{}, false, nil
	}
	l, err := parseLimit(pair)
	if err != nil {
		return RateLimit{}, false, err
	}
	return l, true, nil
}

func parseLimit(pair *api.KVPair) (RateLimit, error) {
	var l RateLimit
	if err := json.Unmarshal(pair.Value, &l); err != nil {
		return RateLimit{}, fmt.Errorf("merchant limit %s: bad value %q: %w", pair.Key, pair.Value, err)
	}
	if err := l.validate(); err != nil {
		return RateLimit{}, fmt.Errorf("merchant limit %s: %w", pair.Key, err)
	}
	return l, nil
}

// WatchMerchantLimits follows every merchant's limit with one blocking query on the
// merchants prefix and calls fn with all of them (merchant ID → limit) when Consul first
// answers and again at every change, from this goroutine; fn owns the map. Bad values are
// logged and left out. While Consul is unreachable the last limits stand. It returns nil
// when ctx is done.
func (s *Switches) WatchMerchantLimits(ctx context.Context, fn func(map[string]RateLimit)) error {
	prefix := s.merchantsPrefix()
	var last map[string]RateLimit
	s.watch("prefix "+prefix).run(ctx, func(q *api.QueryOptions, _ bool) (*api.QueryMeta, error) {
		pairs, meta, err := s.kv.List(prefix, q)
		if err != nil {
			return nil, err
		}
		limits := make(map[string]RateLimit, len(pairs))
		for _, p := range pairs {
			id, leaf, ok := strings.Cut(strings.TrimPrefix(p.Key, prefix), "/")
			if !ok || leaf != rateLimitLeaf || ValidateMerchantID(id) != nil {
				continue // another switch, or a stray key
			}
			l, err := parseLimit(p)
			if err != nil {
				s.cfg.Logger.Error("ignoring a bad merchant limit", "merchant_id", id, "err", err)
				continue
			}
			limits[id] = l
		}
		if last == nil || !maps.Equal(last, limits) {
			last = limits
			fn(maps.Clone(limits))
		}
		return meta, nil
	})
	return nil
}

// MerchantLimits is a node's cached view of every merchant's rate limit, kept current by
// WatchMerchantLimits: Lookup is a map read, never a Consul request.
type MerchantLimits struct {
	sw *Switches

	mu     sync.RWMutex
	limits map[string]RateLimit
	synced chan struct{}

	runMu  sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewMerchantLimits returns a cache over sw's merchant limits. Start it before use.
func NewMerchantLimits(sw *Switches) *MerchantLimits {
	return &MerchantLimits{sw: sw, limits: map[string]RateLimit{}, synced: make(chan struct{})}
}

// Start starts following the limits in the background and returns at once. Stop ends it;
// so does ctx.
func (m *MerchantLimits) Start(ctx context.Context) error {
	m.runMu.Lock()
	defer m.runMu.Unlock()
	if m.done != nil {
		return errors.New("regions: MerchantLimits already started")
	}
	ctx, m.cancel = context.WithCancel(ctx)
	m.done = make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		_ = m.sw.WatchMerchantLimits(ctx, func(limits map[string]RateLimit) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.limits = limits
			select {
			case <-m.synced:
			default:
				close(m.synced)
			}
		})
	}(m.done)
	return nil
}

// Stop stops following the limits and waits; the last limits stay readable. A stopped
// cache cannot be started again.
func (m *MerchantLimits) Stop() {
	m.runMu.Lock()
	cancel, done := m.cancel, m.done
	m.runMu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// WaitSynced waits until Consul has answered once (or ctx is done).
func (m *MerchantLimits) WaitSynced(ctx context.Context) error {
	select {
	case <-m.synced:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the first consul answer about merchant limits: %w", ctx.Err())
	}
}

// Lookup returns a merchant's limit; ok is false when it has none (the node default applies).
func (m *MerchantLimits) Lookup(merchantID string) (limit RateLimit, ok bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	limit, ok = m.limits[merchantID]
	return limit, ok
}
