package postgres

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/paycenter/paycenter/core"
)

// Config configures a Service.
type Config struct {
	// Region is the region this node serves. Required.
	Region string
	// SecretKey keys card fingerprints and the fingerprints of idempotent requests (which
	// contain card numbers). Required, at least 32 bytes, and the same on every node.
	SecretKey []byte
	// Lease is how long a node may work on a request before another node may take its
	// Idempotency-Key over (a retry after the first node died). It is renewed at every phase.
	// Default 30s; it must exceed ChannelTimeout.
	Lease time.Duration
	// ChannelTimeout is the longest one channel call may take, as the channel gateway's
	// policy bounds it (resilience.ChannelConfig.Timeout): the service sets no timeout of its
	// own and uses this only to check that a lease outlasts a channel call. It must match the
	// gateway's policy. Default 10s, the gateway's default.
	ChannelTimeout time.Duration
	// KeyRetention is how long finished idempotency keys are kept. Default 24h, the minimum.
	KeyRetention time.Duration
	// EventRetention is how long events (the outbox, which is also the events API's
	// history) are kept once fanned out; the event reaper deletes older ones with their
	// webhook deliveries. Default core.EventRetention (30 days); at least
	// core.MinEventRetention, so that every retry of a delivery is over.
	EventRetention time.Duration
	// AuthCacheTTL is how long this node trusts a secret key it authenticated without asking
	// the database again: a key rolled with no grace period through another node keeps
	// working here for up to this long. Default 2s; negative: no cache.
	AuthCacheTTL time.Duration
	// Liveness ties this node's in-flight keys to its heartbeat (see LivenessConfig). Zero:
	// none, a key is freed only by its lease.
	Liveness LivenessConfig
	// UnverifiedVolumeLimit is the cumulative payment volume per currency, in minor units, a
	// merchant whose KYC is not verified may take; beyond it payments are refused with
	// kyc_required. Default core.DefaultUnverifiedVolume (1,000,000); negative: no limit.
	UnverifiedVolumeLimit int64
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// AfterPhase, if set, runs after each phase commits, with the recovery point reached. An
	// error abandons the request right there, as if the node had died: tests use it.
	AfterPhase func(ctx context.Context, point string) error
}

func (c *Config) withDefaults() {
	if c.Lease == 0 {
		c.Lease = 30 * time.Second
	}
	if c.ChannelTimeout == 0 {
		c.ChannelTimeout = 10 * time.Second
	}
	if c.KeyRetention == 0 {
		c.KeyRetention = 24 * time.Hour
	}
	if c.EventRetention == 0 {
		c.EventRetention = core.EventRetention
	}
	if c.AuthCacheTTL == 0 {
		c.AuthCacheTTL = 2 * time.Second
	}
	c.Liveness.withDefaults()
	if c.UnverifiedVolumeLimit == 0 {
		c.UnverifiedVolumeLimit = core.DefaultUnverifiedVolume
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config) validate() error {
	switch {
	case !core.RegionNameRE.MatchString(c.Region):
		return fmt.Errorf("region %q: must look like \"us-east\"", c.Region)
	case len(c.SecretKey) < 32:
		return errors.New("secret key: need at least 32 bytes")
	case c.Lease <= c.ChannelTimeout:
		return fmt.Errorf("lease (%s) must exceed the channel timeout (%s)", c.Lease, c.ChannelTimeout)
	case c.KeyRetention < 24*time.Hour:
		return fmt.Errorf("key retention (%s) must be at least 24h", c.KeyRetention)
	case c.EventRetention < core.MinEventRetention:
		return fmt.Errorf("event retention (%s) must be at least %s (the webhook retry schedule and a margin)", c.EventRetention, core.MinEventRetention)
	}
	return c.Liveness.validate(c.Lease)
}

// Service is the payment center's domain service on SQL: merchants, payments, refunds,
// balances and the ledger.
type Service struct {
	db  *DB
	gw  core.Gateway
	cfg Config
	// Keys derived from cfg.SecretKey, one per use.
	fingerprintKey []byte
	hashKey        []byte
	credentialsKey []byte
	auth           *authCache
	log            *slog.Logger
	tracer         trace.Tracer
	live           *liveness // nil without Config.Liveness.NodeID
	risk           riskState
}

// NewService makes a Service that moves money through gw.
func NewService(db *DB, gw core.Gateway, cfg Config) (*Service, error) {
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("postgres service config: %w", err)
	}
	s := &Service{db: db, gw: gw, cfg: cfg, log: cfg.Logger, tracer: otel.Tracer("github.com/paycenter/paycenter/core/postgres"),
		fingerprintKey: deriveKey(cfg.SecretKey, "card-fingerprint-v1"), hashKey: deriveKey(cfg.SecretKey, "request-hash-v1"),
		credentialsKey: deriveKey(cfg.SecretKey, "channel-credentials-v1"), auth: newAuthCache(cfg.AuthCacheTTL, 100_000)}
	if cfg.Liveness.NodeID != "" {
		s.live = newLiveness()
	}
	return s, nil
}

func deriveKey(secret []byte, purpose string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(purpose))
	return m.Sum(nil)
}

// DB is the service's database.
func (s *Service) DB() *DB { return s.db }

// Region is the region this service serves.
func (s *Service) Region() string { return s.cfg.Region }

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// requestHash fingerprints an idempotent request's parameters (card data already replaced by
// its fingerprint), keyed so that it reveals nothing of them.
func (s *Service) requestHash(req core.IdempotentRequest, params any) string {
	b, err := json.Marshal(params)
	if err != nil {
		panic("request params must marshal: " + err.Error())
	}
	m := hmac.New(sha256.New, s.hashKey)
	m.Write([]byte(req.Method + " " + req.Path + "\n"))
	m.Write(b)
	return hex.EncodeToString(m.Sum(nil))
}

// Ping checks that the database answers.
func (s *Service) Ping(ctx context.Context) error { return s.db.Ping(ctx) }

// Gateway is the channel gateway the service moves money through.
func (s *Service) Gateway() core.Gateway { return s.gw }
