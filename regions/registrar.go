package regions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
)

// Service names registered in Consul.
const (
	// ServicePayd is the stateless regional node.
	ServicePayd = "payd"
	// ServicePayedge is the regional endpoint in front of a region's nodes.
	ServicePayedge = "payedge"
)

// MetaRegion and MetaNodeID are the keys of the service metadata every registration carries.
const (
	MetaRegion = "region"
	MetaNodeID = "node_id"
)

// RegistrarConfig says what a Registrar registers. NodeID, Region and Addr are required.
type RegistrarConfig struct {
	// Service is the Consul service name. Default ServicePayd ("payd").
	Service string
	// NodeID identifies the node; it is the service ID, so it must be unique in the cluster
	// ("us-east-1").
	NodeID string
	// Region is the node's region ("us-east"); it becomes a tag and Meta["region"].
	Region string
	// Addr is the host:port others reach the node at ("127.0.0.1:41397"). The host must be
	// an address or name, not a wildcard such as 0.0.0.0.
	Addr string
	// CheckURL is the readiness URL Consul polls. Default "http://<Addr>/readyz".
	CheckURL string
	// CheckInterval is how often Consul polls CheckURL. Default 1s.
	CheckInterval time.Duration
	// CheckTimeout bounds each poll. Default 1s.
	CheckTimeout time.Duration
	// DeregisterCriticalAfter is how long a critical node stays registered before Consul
	// removes it (a node that died without deregistering). Default 1m.
	DeregisterCriticalAfter time.Duration
	// Meta is extra service metadata; "region" and "node_id" are always set from the fields
	// above.
	Meta map[string]string
	// ResyncInterval is how often a started Registrar checks that its agent still has the
	// registration (a restarted dev agent forgets it) and registers again. Default 2s.
	ResyncInterval time.Duration
	// Logger receives the started Registrar's warnings. Default slog.Default().
	Logger *slog.Logger
}

func (c RegistrarConfig) withDefaults() RegistrarConfig {
	if c.Service == "" {
		c.Service = ServicePayd
	}
	if c.CheckURL == "" {
		c.CheckURL = "http://" + c.Addr + "/readyz"
	}
	if c.CheckInterval == 0 {
		c.CheckInterval = time.Second
	}
	if c.CheckTimeout == 0 {
		c.CheckTimeout = time.Second
	}
	if c.DeregisterCriticalAfter == 0 {
		c.DeregisterCriticalAfter = time.Minute
	}
	if c.ResyncInterval == 0 {
		c.ResyncInterval = 2 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c RegistrarConfig) validate() error {
	var errs []error
	if c.NodeID == "" {
		errs = append(errs, errors.New("NodeID is required"))
	}
	if err := ValidateRegionName(c.Region); err != nil {
		errs = append(errs, fmt.Errorf("Region: %w", err))
	}
	if host, port, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("Addr %q: want host:port: %w", c.Addr, err))
	} else {
		if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
			errs = append(errs, fmt.Errorf("Addr %q: the host must be an address others can reach, not a wildcard", c.Addr))
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			errs = append(errs, fmt.Errorf("Addr %q: bad port", c.Addr))
		}
	}
	if c.CheckInterval < 0 || c.CheckTimeout < 0 || c.DeregisterCriticalAfter < 0 || c.ResyncInterval < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("regions: registrar config: %w", errors.Join(errs...))
	}
	return nil
}

// Registrar registers one node (or regional endpoint) in its local Consul agent, with an
// HTTP readiness check, and deregisters it. Started, it also keeps the registration in place.
type Registrar struct {
	client *api.Client
	cfg    RegistrarConfig
	reg    *api.AgentServiceRegistration

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewRegistrar returns a Registrar that registers through client (the node's local agent).
func NewRegistrar(client *api.Client, cfg RegistrarConfig) (*Registrar, error) {
	if client == nil {
		return nil, errors.New("regions: NewRegistrar: nil Consul client")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	host, portStr, _ := net.SplitHostPort(cfg.Addr)
	port, _ := strconv.Atoi(portStr)
	meta := make(map[string]string, len(cfg.Meta)+2)
	for k, v := range cfg.Meta {
		meta[k] = v
	}
	meta[MetaRegion] = cfg.Region
	meta[MetaNodeID] = cfg.NodeID
	reg := &api.AgentServiceRegistration{
		ID:      cfg.NodeID,
		Name:    cfg.Service,
		Tags:    []string{cfg.Region},
		Address: host,
		Port:    port,
		Meta:    meta,
		Check: &api.AgentServiceCheck{
			Name:                           cfg.Service + " readiness",
			HTTP:                           cfg.CheckURL,
			Method:                         http.MethodGet,
			Interval:                       cfg.CheckInterval.String(),
			Timeout:                        cfg.CheckTimeout.String(),
			DeregisterCriticalServiceAfter: cfg.DeregisterCriticalAfter.String(),
			// A new registration starts critical: no traffic until /readyz says so.
		},
	}
	return &Registrar{client: client, cfg: cfg, reg: reg}, nil
}

// ID returns the registered service ID (the node ID).
func (r *Registrar) ID() string { return r.cfg.NodeID }

// Register registers the service and its check, replacing an earlier registration with the
// same ID and its checks.
func (r *Registrar) Register(ctx context.Context) error {
	opts := api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx)
	if err := r.client.Agent().ServiceRegisterOpts(r.reg, opts); err != nil {
		return fmt.Errorf("register %s %s in consul: %w", r.cfg.Service, r.cfg.NodeID, err)
	}
	return nil
}

// Deregister removes the registration; a registration that is already gone is no error.
// Stop a started Registrar first, or it registers the node again.
func (r *Registrar) Deregister(ctx context.Context) error {
	err := r.client.Agent().ServiceDeregisterOpts(r.cfg.NodeID, (&api.QueryOptions{}).WithContext(ctx))
	var se api.StatusError
	if err != nil && !(errors.As(err, &se) && se.Code == http.StatusNotFound) {
		return fmt.Errorf("deregister %s %s from consul: %w", r.cfg.Service, r.cfg.NodeID, err)
	}
	return nil
}

// registered reports whether the local agent has the registration.
func (r *Registrar) registered(ctx context.Context) (bool, error) {
	_, _, err := r.client.Agent().Service(r.cfg.NodeID, (&api.QueryOptions{}).WithContext(ctx))
	var se api.StatusError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &se) && se.Code == http.StatusNotFound:
		return false, nil
	default:
		return false, err
	}
}

// Start registers the service in the background and then checks every ResyncInterval that
// the agent still has it, registering it again when it does not (an agent restarted without
// its state, or Consul removed a node critical for DeregisterCriticalAfter while its process
// lived on) and retrying while the agent is unreachable. It returns at once; failures are
// logged. Stop ends it; so does ctx.
func (r *Registrar) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		return errors.New("regions: Registrar already started")
	}
	ctx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	go r.keep(ctx, r.done)
	return nil
}

// Stop stops a started Registrar and waits for it. It does not deregister.
func (r *Registrar) Stop() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.cancel, r.done = nil, nil
	r.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

func (r *Registrar) keep(ctx context.Context, done chan struct{}) {
	defer close(done)
	log := r.cfg.Logger.With("service", r.cfg.Service, "node_id", r.cfg.NodeID)
	ok := true // whether the last round succeeded (so one warning per outage)
	for {
		present, err := r.registered(ctx)
		if err == nil && !present {
			if err = r.Register(ctx); err == nil {
				log.Info("registered in consul", "region", r.cfg.Region, "addr", r.cfg.Addr)
			}
		}
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && ok:
			log.Warn("consul registration failed; will retry", "err", err, "every", r.cfg.ResyncInterval)
		case err != nil:
			log.Debug("consul registration failed; will retry", "err", err)
		}
		ok = err == nil
		sleep(ctx, r.cfg.ResyncInterval)
		if ctx.Err() != nil {
			return
		}
	}
}
