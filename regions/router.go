package regions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"
)

// ErrNoHealthyInstance is wrapped by every NoHealthyInstanceError.
var ErrNoHealthyInstance = errors.New("no healthy instance in any region")

// NoHealthyInstanceError is Pick's answer when no region has a healthy instance.
type NoHealthyInstanceError struct {
	Service string   // the service routed to
	From    string   // the region asked from
	Tried   []string // the regions looked at, nearest first
}

// Error says which service had no healthy instance from which region.
func (e *NoHealthyInstanceError) Error() string {
	return fmt.Sprintf("route %s from %s: %v (tried %s)", e.Service, e.From, ErrNoHealthyInstance, strings.Join(e.Tried, ", "))
}

// Is makes errors.Is(err, ErrNoHealthyInstance) true.
func (e *NoHealthyInstanceError) Is(target error) bool { return target == ErrNoHealthyInstance }

// Instance is one healthy, registered instance of a service.
type Instance struct {
	ID      string            // the service ID: the node ID ("us-east-1")
	Region  string            // the instance's region
	Address string            // host
	Port    int               // port
	Meta    map[string]string // the registration's metadata; do not modify
}

// Addr returns host:port.
func (i Instance) Addr() string { return net.JoinHostPort(i.Address, strconv.Itoa(i.Port)) }

// URL returns the instance's base URL, "http://host:port".
func (i Instance) URL() string { return "http://" + i.Addr() }

// RouterConfig configures a Router. Every field has a default.
type RouterConfig struct {
	// Service is the Consul service routed to. Default ServicePayd ("payd").
	Service string
	// Topology orders failover. Default DefaultTopology().
	Topology *Topology
	// WaitTime is the longest a blocking query waits for a change. Default 30s.
	WaitTime time.Duration
	// RetryMin and RetryMax bound the exponential backoff while Consul does not answer.
	// Defaults 100ms and 5s.
	RetryMin, RetryMax time.Duration
	// ReconnectGrace: right after Consul answers again following a failure, an answer with
	// no healthy instance at all is not believed for this long if the last view had some: a
	// restarted agent starts empty while its services register again and pass their first
	// check. Default 10s; a negative value turns it off.
	ReconnectGrace time.Duration
	// Logger receives outages, recoveries and changes of the view. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

func (c RouterConfig) withDefaults() RouterConfig {
	if c.Service == "" {
		c.Service = ServicePayd
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
	if c.ReconnectGrace == 0 {
		c.ReconnectGrace = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

func (c RouterConfig) validate() error {
	switch {
	case c.WaitTime < 0 || c.RetryMin < 0 || c.RetryMax < 0:
		return errors.New("regions: router config: durations must not be negative")
	case c.RetryMin > c.RetryMax:
		return fmt.Errorf("regions: router config: RetryMin %v is above RetryMax %v", c.RetryMin, c.RetryMax)
	}
	return nil
}

// Router follows the healthy instances of one service in Consul, region by region, and picks
// one for a request: from the nearest region that has any, round-robin within it. It is
// safe for concurrent use; Pick and Healthy never touch the network.
type Router struct {
	client *api.Client
	cfg    RouterConfig
	log    *slog.Logger
	rr     map[string]*atomic.Uint64 // per topology region; the map itself is never written

	mu       sync.RWMutex
	view     map[string][]Instance // region → passing instances, by ID
	lastSync time.Time             // when Consul last answered
	synced   chan struct{}         // closed at the first answer

	runMu  sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewRouter returns a Router that queries Consul through client. Start it before use.
func NewRouter(client *api.Client, cfg RouterConfig) (*Router, error) {
	if client == nil {
		return nil, errors.New("regions: NewRouter: nil Consul client")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	rr := make(map[string]*atomic.Uint64)
	for _, region := range cfg.Topology.Regions() {
		rr[region] = new(atomic.Uint64)
	}
	return &Router{
		client: client,
		cfg:    cfg,
		log:    cfg.Logger.With("service", cfg.Service),
		rr:     rr,
		view:   map[string][]Instance{},
		synced: make(chan struct{}),
	}, nil
}

// Start starts following Consul in the background and returns at once. Stop ends it; so
// does ctx.
func (r *Router) Start(ctx context.Context) error {
	r.runMu.Lock()
	defer r.runMu.Unlock()
	if r.done != nil {
		return errors.New("regions: Router already started")
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go func(done chan struct{}) {
		defer close(done)
		r.run(ctx)
	}(r.done)
	return nil
}

// Stop stops following Consul and waits until the background query has returned. The last
// view stays readable. A stopped Router cannot be started again.
func (r *Router) Stop() {
	r.runMu.Lock()
	cancel, done := r.cancel, r.done
	r.runMu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// WaitSynced waits until Consul has answered once (or ctx is done).
func (r *Router) WaitSynced(ctx context.Context) error {
	select {
	case <-r.synced:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for the first consul answer about %s: %w", r.cfg.Service, ctx.Err())
	}
}

// LastSync returns when Consul last answered (zero before the first answer). A view older
// than the router's WaitTime plus a few seconds means Consul has been unreachable.
func (r *Router) LastSync() time.Time {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.lastSync
}

// Pick returns a healthy instance for a request arriving in region from: one of the nearest
// region that has any, in the order of Topology.Nearest(from), round-robin among that
// region's instances. The error wraps ErrUnknownRegion for a region outside the topology, or
// is a *NoHealthyInstanceError (errors.Is ErrNoHealthyInstance) when no region has one.
func (r *Router) Pick(from string) (Instance, error) {
	order := r.cfg.Topology.Nearest(from)
	if order == nil {
		return Instance{}, fmt.Errorf("route %s: %w", r.cfg.Service, r.cfg.Topology.Check(from))
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, region := range order {
		if insts := r.view[region]; len(insts) > 0 {
			n := r.rr[region].Add(1) - 1
			return insts[n%uint64(len(insts))], nil
		}
	}
	return Instance{}, &NoHealthyInstanceError{Service: r.cfg.Service, From: from, Tried: order}
}

// Healthy returns the healthy instances of region, ordered by ID.
func (r *Router) Healthy(region string) []Instance {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.view[region])
}

func (r *Router) run(ctx context.Context) {
	w := blockingWatch{
		what:     "health of service " + r.cfg.Service,
		waitTime: r.cfg.WaitTime,
		retryMin: r.cfg.RetryMin,
		retryMax: r.cfg.RetryMax,
		logger:   r.log,
	}
	var graceUntil time.Time // while set and ahead, an empty answer keeps the last view
	w.run(ctx, func(q *api.QueryOptions, reconnected bool) (*api.QueryMeta, error) {
		now := r.cfg.Now()
		if reconnected && r.cfg.ReconnectGrace > 0 {
			graceUntil = now.Add(r.cfg.ReconnectGrace)
		}
		if left := graceUntil.Sub(now); left > 0 && left < q.WaitTime {
			q.WaitTime = left // look again when the grace ends, even if nothing changes
		}
		entries, meta, err := r.client.Health().Service(r.cfg.Service, "", true, q)
		if err != nil {
			return nil, err
		}
		view := r.group(entries)
		r.mu.Lock()
		defer r.mu.Unlock()
		r.lastSync = r.cfg.Now()
		select {
		case <-r.synced:
		default:
			close(r.synced)
		}
		if len(entries) == 0 && countInstances(r.view) > 0 && r.lastSync.Before(graceUntil) {
			r.log.Info("consul reports no healthy instance right after reconnecting; keeping the last view for now",
				"until", graceUntil)
			return meta, nil
		}
		graceUntil = time.Time{}
		if !sameView(r.view, view) {
			r.log.Info("healthy instances changed", "instances", summary(view))
			r.view = view
		}
		return meta, nil
	})
}

// group turns Consul's answer into region → instances, ordered by ID.
func (r *Router) group(entries []*api.ServiceEntry) map[string][]Instance {
	view := map[string][]Instance{}
	for _, e := range entries {
		s := e.Service
		if s == nil {
			continue
		}
		region := r.regionOf(s)
		if region == "" {
			r.log.Warn("ignoring an instance with no known region (want Meta region or a region tag)",
				"id", s.ID, "tags", s.Tags, "meta", s.Meta)
			continue
		}
		addr := s.Address
		if addr == "" && e.Node != nil {
			addr = e.Node.Address // registered without an address: the agent's own
		}
		view[region] = append(view[region], Instance{ID: s.ID, Region: region, Address: addr, Port: s.Port, Meta: s.Meta})
	}
	for _, insts := range view {
		slices.SortFunc(insts, func(a, b Instance) int { return strings.Compare(a.ID, b.ID) })
	}
	return view
}

// regionOf returns the instance's region: Meta["region"], else its first tag that is a
// region of the topology.
func (r *Router) regionOf(s *api.AgentService) string {
	return instanceRegion(r.cfg.Topology, s)
}

func countInstances(view map[string][]Instance) int {
	n := 0
	for _, insts := range view {
		n += len(insts)
	}
	return n
}

func sameView(a, b map[string][]Instance) bool {
	if len(a) != len(b) {
		return false
	}
	for region, as := range a {
		bs := b[region]
		if !slices.EqualFunc(as, bs, func(x, y Instance) bool {
			return x.ID == y.ID && x.Address == y.Address && x.Port == y.Port && maps.Equal(x.Meta, y.Meta)
		}) {
			return false
		}
	}
	return true
}

// summary is the view for the log: {"eu-west": ["eu-west-1"], "us-east": [...]}.
func summary(view map[string][]Instance) map[string][]string {
	out := make(map[string][]string, len(view))
	for region, insts := range view {
		for _, i := range insts {
			out[region] = append(out[region], i.ID)
		}
	}
	return out
}
