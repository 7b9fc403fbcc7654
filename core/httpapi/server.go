// Package httpapi serves the merchant API over HTTP: JSON in and out, bearer-key
// authentication, Idempotency-Key handling for every request that moves money, one error
// shape, request IDs, structured logs and an OpenTelemetry span per request. It holds no
// business logic: it decodes and validates input, then calls the services it is given.
package httpapi

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/paycenter/paycenter/core"
)

// Payments is what the API needs of the payment service.
type Payments interface {
	CreatePayment(ctx context.Context, req core.IdempotentRequest, p core.CreatePaymentParams) (core.Reply, error)
	CapturePayment(ctx context.Context, req core.IdempotentRequest, id string, p core.CaptureParams) (core.Reply, error)
	CancelPayment(ctx context.Context, req core.IdempotentRequest, id string, p core.CancelParams) (core.Reply, error)
	CreateRefund(ctx context.Context, req core.IdempotentRequest, p core.CreateRefundParams) (core.Reply, error)
	Payment(ctx context.Context, merchantID, id string) (*core.Payment, error)
	Payments(ctx context.Context, merchantID string, f core.PaymentFilter) (*core.List[*core.Payment], error)
	Refund(ctx context.Context, merchantID, id string) (*core.Refund, error)
	Refunds(ctx context.Context, merchantID string, f core.RefundFilter) (*core.List[*core.Refund], error)
	Balance(ctx context.Context, merchantID string) (*core.Balance, error)
}

// Merchants is what the API needs of the merchant service.
type Merchants interface {
	CreateMerchant(ctx context.Context, name, region string) (*core.Merchant, error)
	Authenticate(ctx context.Context, secret string) (*core.Merchant, error)
	RollKey(ctx context.Context, merchantID, currentSecret string, grace time.Duration) (*core.Merchant, error)
	APIKeys(ctx context.Context, merchantID, currentSecret string) ([]core.APIKey, error)
	RevokeKey(ctx context.Context, merchantID, id, currentSecret string) (*core.APIKey, error)
	RevokeAllKeys(ctx context.Context, merchantID string) (*core.Merchant, error)
}

// Operations is what the API needs for operators and health checks.
type Operations interface {
	CheckLedger(ctx context.Context) (*core.LedgerReport, error)
	Ping(ctx context.Context) error
}

// GatewayOps is what the API needs for channel operations: merchants' channel
// authorisations, reconciliation and channel notifications.
type GatewayOps interface {
	SetChannel(ctx context.Context, merchantID string, ch core.Channel, enabled bool, credentials map[string]string) (*core.ChannelAuthorization, error)
	Channels(ctx context.Context, merchantID string) ([]core.ChannelAuthorization, error)
	ReconcileDay(ctx context.Context, ch core.Channel, day time.Time) (*core.ReconciliationReport, error)
	ApplyNotification(ctx context.Context, n core.Notification) (bool, error)
}

// MerchantLimiter rations each merchant's API calls.
type MerchantLimiter interface {
	// Allow reports whether the merchant may make a call now, and if not, when to retry.
	Allow(merchantID string) (bool, time.Duration)
}

// NotificationParser verifies and decodes a channel's asynchronous notification. An invalid
// signature is an error wrapping core.ErrBadSignature.
type NotificationParser func(r *http.Request) (core.Notification, error)

// Config configures a Server.
type Config struct {
	// AdminToken authorises the operator routes under /v1/admin. Required, at least 16 bytes.
	AdminToken string
	// MaxBodyBytes bounds request bodies. Default 64 KiB.
	MaxBodyBytes int64
	// Region is reported in the Payd-Region header of every answer.
	Region string
	// NodeID is reported in the Payd-Node header of every answer.
	NodeID string
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Gateway serves the channel operations. Default none: those routes answer 503.
	Gateway GatewayOps
	// Notifications parses each channel's notifications, by channel. Channels without a
	// parser have no notification endpoint (404).
	Notifications map[core.Channel]NotificationParser
	// Webhooks serves webhook endpoints and events. Default none: those routes answer 503.
	Webhooks Webhooks
	// Limiter rations merchants' calls (429 with Retry-After beyond it). Default: no limit.
	Limiter MerchantLimiter
	// AuthFailures bounds failed authentications per source address. Default: see
	// AuthFailureLimit.
	AuthFailures AuthFailureLimit
	// BodyTimeouts bound how long a request body may take to arrive. Default: see
	// BodyTimeouts.
	BodyTimeouts BodyTimeouts
	// Ready, if set, is asked by /readyz before the database ping: an error (the region is
	// drained, the node is shutting down) makes the node unready, with the error as reason.
	Ready func() error
	// Serving, if set, is asked before every request but the health probes: an error (the
	// node suspects its database link) answers a retryable 503 at once, so the client's
	// retry reaches a node that can serve it instead of waiting here for a timeout. /readyz
	// fails with it too.
	Serving func() error
}

// Server is the merchant API's HTTP handler.
type Server struct {
	payments  Payments
	merchants Merchants
	ops       Operations
	cfg       Config
	log       *slog.Logger
	mux       *http.ServeMux
	authLimit *authLimiter
	handler   http.Handler
	routes    []string
}

// NewServer makes the API handler.
func NewServer(p Payments, m Merchants, ops Operations, cfg Config) (*Server, error) {
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.BodyTimeouts = cfg.BodyTimeouts.withDefaults()
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if len(cfg.AdminToken) < 16 {
		return nil, errors.New("httpapi: admin token must be at least 16 bytes")
	}
	s := &Server{payments: p, merchants: m, ops: ops, cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(),
		authLimit: newAuthLimiter(cfg.AuthFailures, cfg.Now)}
	s.routesSetup()
	s.handler = otelhttp.NewHandler(s.mux, "payd",
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
	return s, nil
}

func (s *Server) routesSetup() {
	s.handle("GET /healthz", s.healthz)
	s.handle("GET /readyz", s.readyz)

	s.handle("POST /v1/admin/merchants", s.admin(s.noQuery(s.createMerchant)))
	s.handle("GET /v1/admin/ledger/check", s.admin(s.noQuery(s.checkLedger)))
	s.handle("GET /v1/admin/merchants/{id}/channels", s.admin(s.noQuery(s.listChannels)))
	s.handle("POST /v1/admin/merchants/{id}/channels/{channel}", s.admin(s.noQuery(s.setChannel)))
	s.handle("POST /v1/admin/merchants/{id}/api_keys/revoke_all", s.admin(s.noQuery(s.revokeAllKeys)))
	s.handle("POST /v1/admin/reconciliations", s.admin(s.noQuery(s.reconcile)))
	s.handle(notificationRoute, s.notification)
	s.alertRoutes()

	s.handle("GET /v1/merchant", s.merchant(s.noQuery(s.getMerchant)))
	s.handle("GET /v1/api_keys", s.merchant(s.noQuery(s.listKeys)))
	s.handle("POST /v1/api_keys/roll", s.merchant(s.noQuery(s.rollKey)))
	s.handle("POST /v1/api_keys/{id}/revoke", s.merchant(s.noQuery(s.revokeKey)))
	s.handle("POST /v1/payments", s.merchant(s.noQuery(s.createPayment)))
	s.handle("GET /v1/payments", s.merchant(s.listPayments))
	s.handle("GET /v1/payments/{id}", s.merchant(s.noQuery(s.getPayment)))
	s.handle("POST /v1/payments/{id}/capture", s.merchant(s.noQuery(s.capturePayment)))
	s.handle("POST /v1/payments/{id}/cancel", s.merchant(s.noQuery(s.cancelPayment)))
	s.handle("POST /v1/refunds", s.merchant(s.noQuery(s.createRefund)))
	s.handle("GET /v1/refunds", s.merchant(s.listRefunds))
	s.handle("GET /v1/refunds/{id}", s.merchant(s.noQuery(s.getRefund)))
	s.handle("GET /v1/balance", s.merchant(s.noQuery(s.getBalance)))
	s.riskRoutes()
	s.verificationRoutes()
	s.webhookRoutes()
	s.customerRoutes()
	s.noticeSettingsRoutes()
	s.merchantOpsRoutes()
	s.transferRoutes()
	s.payoutRoutes()
	s.consoleRoutes()

	s.mux.HandleFunc("/", s.wrap("unmatched", s.unmatched))
}

const notificationRoute = "POST /v1/notifications/{channel}"

// unmatched answers requests no route takes: 405 when the path exists for other methods.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		s.writeError(w, r, core.Errorf(core.CodeMethodNotAllowed, "%s is not allowed on %s; use %s.", clip(r.Method), clip(r.URL.Path), strings.Join(allow, " or ")))
		return
	}
	s.notFound(w, r)
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, core.Errorf(core.CodeNotFound, "Unrecognized request URL (%s %s).", r.Method, clip(r.URL.Path)))
}

// Routes lists the routes the server serves, as "METHOD /path/{param}", sorted.
func (s *Server) Routes() []string {
	out := append([]string(nil), s.routes...)
	sort.Strings(out)
	return out
}

type ctxKey int

const ctxRequest ctxKey = 0

// requestInfo travels in a request's context; the auth middleware fills in the merchant, so
// the access log written after the handler can name it.
type requestInfo struct {
	id       string
	merchant *core.Merchant
	secret   string // the key the merchant authenticated with
}

// handle registers a route.
func (s *Server) handle(pattern string, h http.HandlerFunc) {
	s.routes = append(s.routes, pattern)
	s.mux.HandleFunc(pattern, s.wrap(pattern, h))
}

// noQuery refuses any query parameter, as Stripe does, so that a misspelt filter is never
// silently ignored. Every route but the lists (which check their own) takes none.
func (s *Server) noQuery(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k := range r.URL.Query() {
			k = clip(k)
			s.writeError(w, r, core.ParamError(core.CodeParameterUnknown, k, "Received unknown parameter: %s (this route takes no query parameters).", k))
			return
		}
		h(w, r)
	}
}

// wrap puts request ID, region headers, access logging and span naming around a handler.
func (s *Server) wrap(pattern string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := core.NewRandomID(core.PrefixRequest)
		info := &requestInfo{id: id}
		ctx := context.WithValue(r.Context(), ctxRequest, info)
		span := trace.SpanFromContext(ctx)
		span.SetName(pattern)
		span.SetAttributes(attribute.String("request.id", id), attribute.String("region", s.cfg.Region))
		w.Header().Set("Request-Id", id)
		if s.cfg.Region != "" {
			w.Header().Set("Payd-Region", s.cfg.Region)
		}
		if s.cfg.NodeID != "" {
			w.Header().Set("Payd-Node", s.cfg.NodeID)
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		r = r.WithContext(ctx)
		serve := h
		if err := s.serving(r.URL.Path); err != nil {
			serve = func(w http.ResponseWriter, r *http.Request) { s.writeError(w, r, err) }
		}
		func() {
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					s.log.ErrorContext(ctx, "panic", "panic", fmt.Sprint(v), "request_id", id, "path", r.URL.Path)
					if !rec.wrote {
						s.writeError(rec, r, core.Internal(fmt.Errorf("panic: %v", v)))
					}
				}
			}()
			serve(rec, r)
		}()
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			return
		}
		s.log.LogAttrs(ctx, slog.LevelInfo, "request",
			slog.String("request_id", id), slog.String("method", r.Method), slog.String("route", pattern),
			slog.String("path", r.URL.Path), slog.Int("status", rec.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("merchant", merchantID(ctx)),
			slog.String("trace_id", span.SpanContext().TraceID().String()))
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status, r.wrote = code, true
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

// serving is Config.Serving's answer for a request to path, as a retryable 503; nil for the
// health probes (readyz asks it itself).
func (s *Server) serving(path string) error {
	if s.cfg.Serving == nil || path == "/healthz" || path == "/readyz" {
		return nil
	}
	err := s.cfg.Serving()
	if err == nil {
		return nil
	}
	e := core.Errorf(core.CodeUnavailable, "This node is not taking requests: %v. Retry: another node will serve it.", err)
	e.RetryAfter = 1
	return e
}

// ServeHTTP implements http.Handler. Before routing it applies what holds for every request:
// the body's read deadlines, and canonical paths only (ServeMux would answer //v1/payments
// or /v1/payments/../balance with a 307 in HTML).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r.Body = newDeadlineBody(w, r.Body, s.cfg.BodyTimeouts)
	if !CleanPath(r.URL.Path) {
		s.wrap("unmatched", s.notFound)(w, r)
		return
	}
	s.handler.ServeHTTP(w, r)
}

func info(ctx context.Context) *requestInfo {
	if i, ok := ctx.Value(ctxRequest).(*requestInfo); ok {
		return i
	}
	return &requestInfo{}
}

func requestID(ctx context.Context) string { return info(ctx).id }

func merchantFrom(ctx context.Context) *core.Merchant { return info(ctx).merchant }

func merchantID(ctx context.Context) string {
	if m := merchantFrom(ctx); m != nil {
		return m.ID
	}
	return ""
}

// credential is the secret a request authenticates with: 'Authorization: Bearer <secret>' or,
// as Stripe also accepts, HTTP Basic with the secret as the user name (curl -u sk_...:). More
// than one Authorization header is refused rather than one of them picked.
func credential(r *http.Request) (string, error) {
	hs := r.Header.Values("Authorization")
	switch {
	case len(hs) == 0:
		return "", nil
	case len(hs) > 1:
		return "", core.ParamError(core.CodeParameterInvalid, "Authorization", "Send one Authorization header, not %d.", len(hs))
	}
	h := hs[0]
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:]), nil
	}
	if user, _, ok := r.BasicAuth(); ok {
		return user, nil
	}
	return "", nil
}

// merchant authenticates the calling merchant by its secret key.
func (s *Server) merchant(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, err := credential(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if key == "" {
			s.writeError(w, r, core.Errorf(core.CodeUnauthenticated, "No API key provided: use 'Authorization: Bearer <secret key>'."))
			return
		}
		src := s.authLimit.source(r)
		if s.authBlocked(w, r, src) {
			return
		}
		m, err := s.merchants.Authenticate(r.Context(), key)
		if err != nil {
			if core.ErrorCode(err) == core.CodeUnauthenticated {
				s.authLimit.failed(src)
			}
			s.writeError(w, r, err)
			return
		}
		trace.SpanFromContext(r.Context()).SetAttributes(attribute.String("merchant.id", m.ID))
		info(r.Context()).merchant = m
		info(r.Context()).secret = key
		if s.cfg.Limiter != nil {
			if ok, wait := s.cfg.Limiter.Allow(m.ID); !ok {
				e := core.Errorf(core.CodeRateLimited, "Too many requests for this account; retry after %s.", wait.Round(time.Millisecond))
				e.RetryAfter = int(math.Max(1, math.Ceil(wait.Seconds())))
				s.writeError(w, r, e)
				return
			}
		}
		h(w, r)
	}
}

// authBlocked answers 429 for a source that used up its failed authentications.
func (s *Server) authBlocked(w http.ResponseWriter, r *http.Request, src netip.Addr) bool {
	blocked, wait := s.authLimit.blocked(src)
	if !blocked {
		return false
	}
	e := core.Errorf(core.CodeRateLimited, "Too many failed authentications from this address; retry after %s.", wait.Round(time.Second))
	e.RetryAfter = int(math.Max(1, math.Ceil(wait.Seconds())))
	s.writeError(w, r, e)
	return true
}

// admin authorises operators by the admin token.
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key, err := credential(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		src := s.authLimit.source(r)
		if s.authBlocked(w, r, src) {
			return
		}
		if key == "" || subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.AdminToken)) != 1 {
			if key != "" {
				s.authLimit.failed(src)
			}
			s.writeError(w, r, core.Errorf(core.CodeUnauthenticated, "Operator routes need 'Authorization: Bearer <admin token>'."))
			return
		}
		h(w, r)
	}
}

// render turns a result or a coded error into a stored-able reply.
func (s *Server) render(r *http.Request) func(v any, err error) core.Reply {
	return func(v any, err error) core.Reply {
		if err != nil {
			return s.errorReply(r, err)
		}
		b, mErr := json.Marshal(v)
		if mErr != nil {
			return s.errorReply(r, core.Internal(mErr))
		}
		return core.Reply{Status: http.StatusOK, Body: append(b, '\n')}
	}
}

// interimReply answers a request whose outcome is not known yet (the channel did not
// answer): 202 with the object as it stands. It is never stored; a retry with the same
// Idempotency-Key finishes the request.
func (s *Server) interimReply(r *http.Request, v any) core.Reply {
	rep := s.render(r)(v, nil)
	if rep.Status == http.StatusOK {
		rep.Status = http.StatusAccepted
	}
	return rep
}

func (s *Server) errorReply(r *http.Request, err error) core.Reply {
	status, _ := statusOf(core.AsError(err).Code)
	switch {
	case status == http.StatusServiceUnavailable:
		// An open breaker or a drained node: expected while it lasts, and counted in metrics.
		s.log.DebugContext(r.Context(), "request refused: unavailable", "request_id", requestID(r.Context()), "err", err)
	case status >= 500:
		s.log.ErrorContext(r.Context(), "request failed", "request_id", requestID(r.Context()), "err", err)
	}
	return ErrorReply(requestID(r.Context()), err)
}

func (s *Server) writeReply(w http.ResponseWriter, rep core.Reply) {
	w.Header().Set("Content-Type", "application/json")
	if rep.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.WriteHeader(rep.Status)
	_, _ = w.Write(rep.Body)
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := core.AsError(err)
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	// Channels authenticate by signature, not by a bearer key: their 401s name no scheme.
	if status, _ := statusOf(e.Code); status == http.StatusUnauthorized && r.Pattern != notificationRoute {
		w.Header().Set("WWW-Authenticate", `Bearer realm="paycenter"`)
	}
	s.writeReply(w, s.errorReply(r, err))
}

func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	s.writeReply(w, s.render(r)(v, nil))
}

// lookup finds the optional service T (merchant operations, payouts, risk, …) among the
// server's services. The payments service may be a wrapper (metrics count its outcomes) that
// has only the Payments methods, so each is asked.
func lookup[T any](s *Server) (T, bool) {
	for _, v := range []any{s.payments, s.merchants, s.ops} {
		if t, ok := v.(T); ok {
			return t, true
		}
	}
	var zero T
	return zero, false
}

// need is lookup for a route that cannot work without T: when no service has it, the
// request is answered 503 with why (this node is not configured for it).
func need[T any](s *Server, w http.ResponseWriter, r *http.Request, why string) (T, bool) {
	t, ok := lookup[T](s)
	if !ok {
		s.writeError(w, r, core.Errorf(core.CodeUnavailable, "%s", why))
	}
	return t, ok
}
