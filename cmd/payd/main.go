// Command payd is a stateless regional node of the payment center: it serves the merchant
// API and runs the node's background work against the shared database.
//
//	payd migrate -database-url URL        apply the schema's pending migrations, then exit
//	payd [serve] -region us-east ...      serve the API until SIGINT or SIGTERM
//
// Every flag can also be set from the environment as PAYD_<FLAG> (e.g. PAYD_DATABASE_URL).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"golang.org/x/time/rate"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/core/console"
	"github.com/paycenter/paycenter/core/httpapi"
	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/core/webhook"
	"github.com/paycenter/paycenter/resilience"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "payd:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	cfg := Config{}
	fs := cfg.flags(cmd)
	fs.SetOutput(stderr)
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("PAYD")); err != nil {
		return err
	}
	log := newLogger(stdout, cfg.LogFormat, cfg.LogLevel)
	if cmd == "serve" {
		var flush func() error
		log, flush = newServeLogger(stdout, cfg.LogFormat, cfg.LogLevel)
		defer func() { _ = flush() }()
	}
	switch cmd {
	case "migrate":
		db, err := postgres.Open(ctx, cfg.DatabaseURL, 2)
		if err != nil {
			return err
		}
		defer db.Close()
		return db.Migrate(ctx, log)
	case "serve":
		if os.Getenv("GOGC") == "" {
			debug.SetGCPercent(cfg.GCPercent)
		}
		m := NewMain(cfg, log)
		if err := m.Run(ctx); err != nil {
			m.Close()
			return err
		}
		<-ctx.Done()
		log.Info("shutting down")
		return m.Close()
	}
	return fmt.Errorf("unknown command %q: use serve or migrate", cmd)
}

// Config is payd's configuration, from flags or PAYD_* environment variables.
type Config struct {
	Addr           string
	Region         string
	NodeID         string
	DatabaseURL    string
	AdminToken     string
	SecretKey      string
	MaxConns       int
	Lease          time.Duration
	ChannelTimeout time.Duration
	// HeartbeatInterval and LivenessTimeout: how often the node proves it is alive, and how
	// stale its heartbeat may get before other nodes take its in-flight keys over.
	HeartbeatInterval time.Duration
	LivenessTimeout   time.Duration
	// DBFailFastAfter: a node whose last heartbeat committed longer ago than this answers
	// new requests with a retryable 503 at once and fails readiness (0: off).
	DBFailFastAfter time.Duration
	// DBStatementTimeout bounds every database statement (client deadline and server
	// statement_timeout); DBConnectTimeout a new connection; DBTCPTimeout the connections'
	// keepalive and TCP user timeout. All well below LivenessTimeout.
	DBStatementTimeout time.Duration
	// DBIdleInTxTimeout is the server's idle_in_transaction_session_timeout (0: twice
	// DBStatementTimeout).
	DBIdleInTxTimeout time.Duration
	DBConnectTimeout  time.Duration
	DBTCPTimeout      time.Duration
	// AuthCache is how long the node trusts a secret key it authenticated (0: never).
	AuthCache time.Duration
	// RecoveryInterval is how often the in-doubt recovery worker sweeps.
	RecoveryInterval time.Duration
	// DetectorInterval is how often each abnormal-transaction detector runs platform-wide
	// (on the node holding its lease); 0: no detectors on this node.
	DetectorInterval time.Duration
	// WebhooksInterval is how often the webhook worker fans out events and claims deliveries.
	WebhooksInterval time.Duration
	// WebhooksAllowPrivate lets webhooks reach loopback and private addresses (the local
	// platform and tests); off, such deliveries are refused at connect time.
	WebhooksAllowPrivate bool
	// Payer notices (notices.go): SMTP server and sender address for email, an HTTP SMS
	// provider's URL for SMS; a channel without its setting is not sent.
	SMTPAddr, SMTPFrom, SMTPTLS, SMSURL string
	// TopUpReminderInterval is how often the periodic top-up reminder job runs. Default 1h.
	TopUpReminderInterval time.Duration
	// ConsoleURL is the back office's public origin for links in its invitation e-mails
	// (sent through SMTPAddr); empty: the origin of the request that sends them.
	ConsoleURL string
	// KYCUnverifiedLimit is the cumulative volume per currency, in minor units, a merchant
	// not verified may take. Default 1,000,000; negative: no limit.
	KYCUnverifiedLimit int64
	// ChannelRate is each channel's call quota on this node, per second.
	ChannelRate float64
	// MerchantRate and MerchantBurst are each merchant's API quota on this node.
	MerchantRate  float64
	MerchantBurst int
	// AuthFailuresPerMinute bounds failed authentications per source address (429 beyond).
	AuthFailuresPerMinute int
	// TrustedProxies are the CIDRs (payedge's) whose X-Forwarded-For names a request's source.
	// Default loopback and the private networks: nodes are reached through payedge.
	TrustedProxies string
	// Channels says where channel calls go: ChannelsSim (the in-process simulator, one
	// node only), ChannelsChannelSim (the channel simulator at ChannelSimURL) or ChannelsLive
	// (the configured real adapters only). Required: a node never pays against a simulator
	// by accident.
	Channels string
	// CardAcquirerURL and CardAcquirerKey send card and debit-card payments to a
	// Stripe-API card acquirer, whatever Channels says.
	CardAcquirerURL string
	CardAcquirerKey string
	// CardAcquirer2URL and CardAcquirer2Key are a second acquirer cards fail over to.
	CardAcquirer2URL string
	CardAcquirer2Key string
	// ChannelSimURL sends every channel to the channel simulator over its protocols,
	// signing with ChannelKeyFile and verifying with ChannelSimKeyFile; channels notify
	// NotifyURL (the regional endpoint). Used with Channels = ChannelsChannelSim.
	ChannelSimURL     string
	ChannelKeyFile    string
	ChannelSimKeyFile string
	NotifyURL         string
	// ChannelConfigFile holds the platform's own WeChat Pay, Alipay and bank accounts (see
	// loadChannelConfig), the defaults for merchants without credentials of their own.
	ChannelConfigFile string
	// ConsulAddr is the local Consul agent's HTTP address; empty: no Consul.
	ConsulAddr string
	// ShutdownDelay is how long the node fails readiness before it stops serving.
	ShutdownDelay time.Duration
	LogFormat     string
	LogLevel      string
	TraceFile     string
	// MetricsAddr serves Prometheus metrics at /metrics; empty: none.
	MetricsAddr  string
	OTLPEndpoint string
	// SanctionsFile is the sanctions list (OFAC SDN CSV layout) the AML worker screens
	// names against; empty: no screening. ReviewMaxAge is how long a review may stay open
	// before it is rejected; AMLInterval how often the AML detectors run.
	SanctionsFile string
	ReviewMaxAge  time.Duration
	AMLInterval   time.Duration
	// GCPercent is the garbage collector's target (Go's GOGC), unless GOGC is set.
	GCPercent int
}

func (c *Config) flags(cmd string) *flag.FlagSet {
	fs := flag.NewFlagSet("payd "+cmd, flag.ContinueOnError)
	fs.StringVar(&c.DatabaseURL, "database-url", "", "pgwire URL of the shared database (PostgreSQL or CockroachDB)")
	fs.StringVar(&c.LogFormat, "log-format", "json", "log format: json or text")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	if cmd != "serve" {
		return fs
	}
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "address to serve the API on")
	fs.IntVar(&c.GCPercent, "gc-percent", 400, "garbage collection target, as Go's GOGC (which wins when set): a node's live heap is small, so collecting at 5x of it instead of 2x costs a few tens of MB and saves most of the collector's CPU; GOMEMLIMIT bounds the total")
	fs.StringVar(&c.Region, "region", "", "the region this node serves, e.g. us-east (required)")
	fs.StringVar(&c.NodeID, "node-id", "", "this node's ID (default: region-hostname-pid)")
	fs.StringVar(&c.AdminToken, "admin-token", "", "bearer token for /v1/admin routes, at least 16 bytes (required)")
	fs.StringVar(&c.SecretKey, "secret-key", "", "key for card fingerprints and request hashes, at least 32 bytes, same on every node (required)")
	fs.IntVar(&c.MaxConns, "max-conns", 20, "database connections in this node's pool")
	fs.DurationVar(&c.Lease, "lease", 30*time.Second, "how long an in-flight Idempotency-Key stays locked to this node")
	fs.DurationVar(&c.HeartbeatInterval, "heartbeat-interval", 250*time.Millisecond, "how often this node renews its liveness row in the database")
	fs.DurationVar(&c.LivenessTimeout, "liveness-timeout", time.Second, "how stale a node's heartbeat (by the database's clock) may get before other nodes take its in-flight Idempotency-Keys over")
	fs.DurationVar(&c.DBFailFastAfter, "db-fail-fast-after", 0, "when this node's last heartbeat committed longer ago than this, it answers new requests with a retryable 503 at once and fails readiness, rather than letting each wait out its statement timeout; between 2 heartbeat intervals and -liveness-timeout (0: off)")
	fs.DurationVar(&c.DBStatementTimeout, "db-statement-timeout", 750*time.Millisecond, "longest one database statement may take before the request answers 503 (also the server's statement_timeout); below -liveness-timeout")
	fs.DurationVar(&c.DBIdleInTxTimeout, "db-idle-in-transaction-timeout", 0, "how soon the server ends the transaction, and frees the row locks, of this node's connection gone silent mid-transaction (idle_in_transaction_session_timeout; 0: twice -db-statement-timeout)")
	fs.DurationVar(&c.DBConnectTimeout, "db-connect-timeout", time.Second, "longest dialling and authenticating a database connection may take")
	fs.DurationVar(&c.DBTCPTimeout, "db-tcp-timeout", time.Second, "TCP keepalive interval and TCP_USER_TIMEOUT of database connections")
	fs.DurationVar(&c.AuthCache, "auth-cache", 2*time.Second, "how long this node trusts a secret key it authenticated before asking the database again (a key rolled with no grace through another node works here up to this long; 0: ask every request)")
	fs.DurationVar(&c.ChannelTimeout, "channel-timeout", 10*time.Second, "timeout of one channel call")
	fs.Float64Var(&c.ChannelRate, "channel-rate", 200, "calls per second this node may make to each channel (its share of the channel's quota)")
	fs.Float64Var(&c.MerchantRate, "merchant-rate", 50, "API calls per second each merchant may make to this node (429 beyond)")
	fs.IntVar(&c.MerchantBurst, "merchant-burst", 100, "burst of each merchant's API quota")
	fs.IntVar(&c.AuthFailuresPerMinute, "auth-failures-per-minute", 30, "failed authentications per minute each source address may make, after a burst of 20 (429 beyond)")
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7", "comma-separated CIDRs of the proxies (payedge) whose X-Forwarded-For names a request's source address for the failed-authentication limit (default: loopback and private networks, where payedge reaches the nodes; narrow it to payedge's addresses where clients can reach nodes directly)")
	fs.DurationVar(&c.RecoveryInterval, "recovery-interval", 5*time.Second, "how often the in-doubt recovery worker looks for payments to finish")
	fs.DurationVar(&c.DetectorInterval, "detector-interval", 10*time.Second, "how often each abnormal-transaction detector runs, platform-wide, on the node that holds its lease (0: this node runs none)")
	fs.DurationVar(&c.WebhooksInterval, "webhooks-interval", 250*time.Millisecond, "how often the webhook worker fans out new events and claims due deliveries")
	payerNoticeFlags(fs, c)
	fs.Int64Var(&c.KYCUnverifiedLimit, "kyc-unverified-limit", 1_000_000, "cumulative payment volume per currency, in minor units, a merchant whose KYC is not verified may take before kyc_required (negative: no limit)")
	fs.BoolVar(&c.WebhooksAllowPrivate, "webhooks-allow-private", false, "let webhooks go to loopback, private and link-local addresses (local platform and tests only; off, they are refused at connect time)")
	fs.StringVar(&c.Channels, "channels", "", "where channel calls go (required): sim (an in-process simulator, one node, development only), channelsim (the channel simulator at -channelsim-url) or live (only the real adapters configured, e.g. -card-acquirer-key)")
	fs.StringVar(&c.CardAcquirerURL, "card-acquirer-url", "https://api.stripe.com", "card acquirer's API (Stripe's API, or stripe-mock)")
	fs.StringVar(&c.CardAcquirerKey, "card-acquirer-key", "", "card acquirer's secret key: cards and debit cards go to this acquirer")
	fs.StringVar(&c.CardAcquirer2URL, "card-acquirer2-url", "", "a second card acquirer cards fail over to while the first's breaker is open")
	fs.StringVar(&c.CardAcquirer2Key, "card-acquirer2-key", "", "the second card acquirer's secret key")
	fs.StringVar(&c.ChannelSimURL, "channelsim-url", "", "the channel simulator (cmd/channelsim) every channel goes to, with -channels channelsim")
	fs.StringVar(&c.ChannelKeyFile, "channel-key-file", "", "the platform's RSA private key (PEM) that signs requests to the channel simulator")
	fs.StringVar(&c.ChannelSimKeyFile, "channelsim-key-file", "", "the channel simulator's RSA public key (PEM) that verifies its answers and notifications")
	fs.StringVar(&c.ChannelConfigFile, "channel-config", "", "JSON file of the platform's own WeChat Pay, Alipay and bank accounts (docs/channels.md)")
	fs.StringVar(&c.NotifyURL, "notify-url", "", "base URL channels send notifications to (the regional endpoint)")
	fs.StringVar(&c.ConsulAddr, "consul-addr", "", "the local Consul agent (host:port): register there, follow the region's drain switch and merchant limits")
	fs.DurationVar(&c.ShutdownDelay, "shutdown-delay", 2*time.Second, "on SIGTERM, how long to fail readiness before stopping, so routers move away")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (e.g. :9090); empty: none")
	fs.StringVar(&c.TraceFile, "trace-file", "", "write OpenTelemetry spans as JSON lines to this file")
	fs.StringVar(&c.SanctionsFile, "sanctions-file", "", "sanctions list in the OFAC SDN CSV layout that the AML worker screens merchants' and payers' names against; empty: no screening")
	fs.DurationVar(&c.ReviewMaxAge, "review-max-age", 72*time.Hour, "how long a payment may wait in the review queue before it is rejected")
	fs.DurationVar(&c.AMLInterval, "aml-interval", 10*time.Minute, "how often the AML detectors run (on one node at a time)")
	fs.StringVar(&c.OTLPEndpoint, "otlp-endpoint", "", "export OpenTelemetry spans over OTLP/HTTP to this host:port")
	return fs
}

// Main is a running node: the wiring of database, services, channel and HTTP server, kept
// apart from main() so tests can start and stop whole nodes.
type Main struct {
	Config Config
	Log    *slog.Logger
	// Channel is the in-process simulator, with -channels sim; nil otherwise.
	Channel *inprocsim.Channel
	Gateway *resilience.Gateway
	Limiter *resilience.MerchantLimiter
	DB      *postgres.DB
	Service *postgres.Service
	Addr    string // the address actually listened on
	// MetricsListen is the address /metrics is served on (with -metrics-addr), advertised
	// in Consul (Meta metrics_addr) for Prometheus's service discovery.
	MetricsListen string
	srv           *http.Server
	workers       []*postgres.Worker
	shutdown      []func(context.Context) error
	leave         func(context.Context) error // deregister from Consul
	drained       atomic.Bool                 // the region's drain switch is on
	stopping      atomic.Bool                 // SIGTERM: fail readiness, then stop
}

// NewMain makes a node from cfg; Run starts it.
func NewMain(cfg Config, log *slog.Logger) *Main {
	return &Main{Config: cfg, Log: log}
}

// Run connects, registers the region, and starts serving in the background.
func (m *Main) Run(ctx context.Context) error {
	c := &m.Config
	if err := c.checkChannels(); err != nil {
		return err
	}
	if c.NodeID == "" {
		host, _ := os.Hostname()
		c.NodeID = fmt.Sprintf("%s-%s-%d", c.Region, host, os.Getpid())
	}
	if err := m.setupTracing(ctx); err != nil {
		return err
	}
	if err := m.setupMetrics(); err != nil {
		return err
	}
	// A node cut off from its database gives up on a statement well before other nodes find
	// its heartbeat stale: its requests answer 503 (retryable, nothing stored with the key)
	// instead of hanging until the link heals.
	db, err := postgres.OpenOptions(ctx, c.DatabaseURL, postgres.Options{MaxConns: int32(c.MaxConns),
		StatementTimeout: c.DBStatementTimeout, IdleInTransactionTimeout: c.DBIdleInTxTimeout, ConnectTimeout: c.DBConnectTimeout, TCPTimeout: c.DBTCPTimeout})
	if err != nil {
		return err
	}
	m.DB = db
	if c.MetricsAddr != "" {
		if err := m.platformGauges(); err != nil {
			return err
		}
	}
	routes, parsers, err := m.channelGateways()
	if err != nil {
		return err
	}
	// Every channel call passes a circuit breaker, a rate limiter and a timeout per channel.
	m.Gateway, err = resilience.NewGateway(routes, resilience.Config{Region: c.Region, Default: m.channelPolicy()})
	if err != nil {
		return err
	}
	m.shutdown = append(m.shutdown, func(context.Context) error { return m.Gateway.Close() })
	m.Limiter, err = resilience.NewMerchantLimiter(resilience.MerchantLimiterConfig{PerSecond: c.MerchantRate, Burst: c.MerchantBurst})
	if err != nil {
		return err
	}
	// The gateway alone times channel calls out; the service is told the same policy so that
	// it can check the lease outlasts a call.
	m.Service, err = postgres.NewService(db, m.Gateway, postgres.Config{
		Region: c.Region, SecretKey: []byte(c.SecretKey), Lease: c.Lease, ChannelTimeout: m.channelPolicy().Timeout,
		AuthCacheTTL: authCacheTTL(c.AuthCache), Logger: m.Log, UnverifiedVolumeLimit: c.KYCUnverifiedLimit,
		Liveness: postgres.LivenessConfig{NodeID: c.NodeID, Interval: c.HeartbeatInterval, Timeout: c.LivenessTimeout, FailFastAfter: c.DBFailFastAfter},
	})
	if err != nil {
		return err
	}
	var payments httpapi.Payments = m.Service
	var limiter httpapi.MerchantLimiter = m.Limiter
	if c.MetricsAddr != "" {
		if payments, limiter, err = m.meteredAPI(); err != nil {
			return err
		}
	}
	if err := m.Service.RegisterRegion(ctx); err != nil {
		return fmt.Errorf("register region (has the schema been migrated? run 'payd migrate'): %w", err)
	}
	if err := m.Service.JoinLiveness(ctx); err != nil {
		return err
	}
	proxies, err := parsePrefixes(c.TrustedProxies)
	if err != nil {
		return fmt.Errorf("-trusted-proxies: %w", err)
	}
	api, err := httpapi.NewServer(payments, m.Service, m.Service, httpapi.Config{
		AdminToken: c.AdminToken, Region: c.Region, NodeID: c.NodeID, Logger: m.Log,
		Gateway: checkedChannels{m.Service}, Webhooks: m.Service, Limiter: limiter, Ready: m.ready, Serving: m.Service.Serving, Notifications: parsers,
		AuthFailures: httpapi.AuthFailureLimit{PerMinute: c.AuthFailuresPerMinute, TrustedProxies: proxies},
	})
	if err != nil {
		return err
	}
	consoleCfg := console.Config{Logger: m.Log, BaseURL: c.ConsoleURL}
	if c.SMTPAddr != "" {
		consoleCfg.Mailer = newSMTPMailer(c)
	}
	if c.ConsulAddr != "" {
		rs, err := newConsulRegions(c.ConsulAddr)
		if err != nil {
			return err
		}
		consoleCfg.Regions = rs
	}
	handler, err := withConsole(api, m.Service, consoleCfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	m.Addr = ln.Addr().String()
	m.srv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() {
		if err := m.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Log.Error("serve", "err", err)
		}
	}()
	sender := webhook.NewSender(webhook.SenderConfig{AllowPrivate: c.WebhooksAllowPrivate})
	m.shutdown = append(m.shutdown, func(context.Context) error { sender.Close(); return nil })
	webhooks, err := postgres.NewWebhookDeliverer(m.Service, postgres.WebhookConfig{Sender: sender, Interval: c.WebhooksInterval})
	if err != nil {
		return err
	}
	m.workers = []*postgres.Worker{
		postgres.NewHeartbeater(m.Service),
		postgres.NewLinkWatcher(m.Service),
		postgres.NewKeyReaper(m.Service, 0),
		postgres.NewEventReaper(m.Service, 0),
		postgres.NewNonceReaper(m.Service, 0),
		postgres.NewSettlementJob(m.Service, 0),
		postgres.NewRollupWorker(m.Service, postgres.RollupConfig{}),
		postgres.NewPayoutScheduler(m.Service, 0),
		postgres.NewRecoverer(m.Service, m.Gateway, postgres.RecoveryConfig{Interval: c.RecoveryInterval}),
		webhooks.Worker(),
		m.payerNotifier().Worker(),
		postgres.NewTopUpReminderWorker(m.Service, postgres.TopUpReminderConfig{Interval: c.TopUpReminderInterval}),
	}
	if c.DetectorInterval > 0 {
		m.workers = append(m.workers, postgres.NewMonitor(m.Service, postgres.MonitorConfig{Interval: c.DetectorInterval}).Workers()...)
	}
	riskWorkers, err := m.riskWorkers()
	if err != nil {
		return err
	}
	m.workers = append(m.workers, riskWorkers...)
	// The workers outlive a stop signal: Close stops them after the requests drained, so
	// the heartbeat keeps proving the node alive (and keeping it serving) meanwhile.
	wctx := context.WithoutCancel(ctx)
	for _, w := range m.workers {
		w.Start(wctx)
	}
	if c.ConsulAddr != "" {
		if err := m.joinConsul(ctx); err != nil {
			return err
		}
	}
	m.Log.Info("payd serving", "addr", m.Addr, "region", c.Region, "node", c.NodeID, "engine", db.Engine)
	return nil
}

// channelPolicy is each channel's timeout and this node's share of its quota.
func (m *Main) channelPolicy() resilience.ChannelConfig {
	c := &m.Config
	return resilience.ChannelConfig{Timeout: c.ChannelTimeout, Rate: rate.Limit(c.ChannelRate), Burst: int(c.ChannelRate)}
}

// Close stops serving (letting in-flight requests finish), stops background work and closes
// the database.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	m.drainBeforeStop()
	if m.srv != nil {
		errs = append(errs, m.srv.Shutdown(ctx))
	}
	if m.leave != nil {
		errs = append(errs, m.leave(ctx))
	}
	for _, w := range m.workers {
		w.Stop()
	}
	if m.Service != nil {
		// The requests are done: whatever key this incarnation still holds may be taken
		// over at once.
		errs = append(errs, m.Service.LeaveLiveness(ctx))
	}
	if m.DB != nil {
		m.DB.Close()
	}
	for _, f := range m.shutdown {
		errs = append(errs, f(ctx))
	}
	return errors.Join(errs...)
}

func (m *Main) setupTracing(ctx context.Context) error {
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(resource.NewSchemaless(
		semconv.ServiceName("payd"), semconv.ServiceInstanceID(m.Config.NodeID),
		semconv.CloudRegion(m.Config.Region)))}
	if m.Config.TraceFile != "" {
		f, err := os.OpenFile(m.Config.TraceFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("trace file: %w", err)
		}
		exp, err := stdouttrace.New(stdouttrace.WithWriter(f))
		if err != nil {
			return err
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
		m.shutdown = append(m.shutdown, func(context.Context) error { return f.Close() })
	}
	if m.Config.OTLPEndpoint != "" {
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpoint(m.Config.OTLPEndpoint), otlptracehttp.WithInsecure())
		if err != nil {
			return fmt.Errorf("otlp exporter: %w", err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	// Flush spans before the trace file closes.
	m.shutdown = append([]func(context.Context) error{tp.Shutdown}, m.shutdown...)
	return nil
}

func newLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	_ = lv.UnmarshalText([]byte(level))
	opts := &slog.HandlerOptions{Level: lv}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// newServeLogger is newLogger for a serving node, whose lines (one per request) are written
// in batches (coalescingWriter); flush writes what waits, at shutdown.
func newServeLogger(w io.Writer, format, level string) (log *slog.Logger, flush func() error) {
	cw := newCoalescingWriter(w)
	l := newLogger(cw, format, level)
	return slog.New(flushingHandler{Handler: l.Handler(), w: cw}), cw.Flush
}

// authCacheTTL maps the -auth-cache flag (0: off) to postgres.Config (negative: off).
func authCacheTTL(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

// parsePrefixes parses comma-separated CIDRs (or single addresses).
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, err
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}
