// Package console serves the back office under /dashboard/: server-rendered pages for
// merchant users (overview, payments, refunds, exports, API keys, webhook endpoints, team)
// and for operators (merchants and their channel authorisations, the risk review queue,
// rules, alerts). It is an HTTP adapter like core/httpapi: it holds no SQL and no money
// rules, and calls the same services (core/postgres.Service implements Service). Sessions
// live in the database, so any node serves any session; every POST carries the session's
// CSRF token; every permission is checked on the server for every request.
package console

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/risk"
)

// Service is what the back office needs of the platform's services.
type Service interface {
	ConsoleLogin(ctx context.Context, email, password, code string) (*core.Session, error)
	StartTOTPEnrolment(ctx context.Context, userID string) (secret, uri string, err error)
	ConfirmTOTP(ctx context.Context, userID, code string) ([]string, error)
	RegenerateRecoveryCodes(ctx context.Context, userID string) ([]string, error)
	RecoveryCodesLeft(ctx context.Context, userID string) (int, error)
	CreateConsoleInvitation(ctx context.Context, actor string, p core.InviteParams) (*core.Invitation, string, error)
	ConsoleInvitation(ctx context.Context, token string) (*core.Invitation, error)
	ConsoleInvitations(ctx context.Context, merchantID string, limit int) ([]*core.Invitation, error)
	AcceptConsoleInvitation(ctx context.Context, token, password string) (*core.User, error)
	ConsoleSession(ctx context.Context, token string, idle, absolute time.Duration) (*core.Session, error)
	ConsoleLogout(ctx context.Context, token string) error
	CreateConsoleUser(ctx context.Context, actor string, p core.CreateUserParams) (*core.User, error)
	ConsoleUsers(ctx context.Context, merchantID string) ([]core.User, error)
	RecordConsoleAudit(ctx context.Context, userID, merchantID, action, objectID, detail string) error
	ConsoleAudit(ctx context.Context, merchantID string, limit int) ([]core.AuditEntry, error)
	ConsoleMerchants(ctx context.Context, limit int) ([]core.MerchantSummary, error)
	ConsoleOverview(ctx context.Context, merchantID string, now time.Time) (*core.Overview, error)
	ExportPayments(ctx context.Context, merchantID string, f core.ExportFilter, fn func(*core.Payment) error) error
	ExportRefunds(ctx context.Context, merchantID string, f core.ExportFilter, fn func(*core.Refund) error) error
	ExportCount(ctx context.Context, merchantID, kind string, f core.ExportFilter) (int64, error)
	PaymentEvents(ctx context.Context, merchantID, paymentID string) ([]*core.Event, error)

	Payment(ctx context.Context, merchantID, id string) (*core.Payment, error)
	Payments(ctx context.Context, merchantID string, f core.PaymentFilter) (*core.List[*core.Payment], error)
	Refunds(ctx context.Context, merchantID string, f core.RefundFilter) (*core.List[*core.Refund], error)
	CreateRefund(ctx context.Context, req core.IdempotentRequest, p core.CreateRefundParams) (core.Reply, error)
	APIKeys(ctx context.Context, merchantID, currentSecret string) ([]core.APIKey, error)
	ConsoleRollKey(ctx context.Context, merchantID, id, userID string, grace time.Duration) (*core.Merchant, error)
	ConsoleRevokeKey(ctx context.Context, merchantID, id, userID string) (*core.APIKey, error)

	Balance(ctx context.Context, merchantID string) (*core.Balance, error)
	BalanceTransactions(ctx context.Context, merchantID string, f core.BalanceTransactionFilter) (*core.List[*core.BalanceTransaction], error)
	Settlements(ctx context.Context, merchantID string, limit int) (*core.List[*core.Settlement], error)
	Settlement(ctx context.Context, merchantID, id string) (*core.Settlement, []*core.BalanceTransaction, error)
	ExportBalanceTransactions(ctx context.Context, merchantID string, f core.ExportFilter, fn func(*core.BalanceTransaction) error) error
	ExportSettlements(ctx context.Context, merchantID string, f core.ExportFilter, fn func(*core.Settlement) error) error
	ConsoleMerchantRegion(ctx context.Context, merchantID string) (string, error)
	CreatePayout(ctx context.Context, req core.IdempotentRequest, p core.CreatePayoutParams) (core.Reply, error)
	Payout(ctx context.Context, merchantID, id string) (*core.Payout, error)
	Payouts(ctx context.Context, merchantID string, f core.PayoutFilter) (*core.List[*core.Payout], error)
	SetPayoutSchedule(ctx context.Context, merchantID string, byOperator bool, p core.PayoutScheduleParams) (*core.PayoutSchedule, error)
	PayoutSchedule(ctx context.Context, merchantID string) (*core.PayoutSchedule, error)
	Customers(ctx context.Context, merchantID string, limit int) (*core.List[*core.Payer], error)
	Customer(ctx context.Context, merchantID, id string) (*core.Payer, error)
	CustomerBalanceTransactions(ctx context.Context, merchantID, customerID string, limit int) (*core.List[*core.CustomerBalanceTransaction], error)
	Notifications(ctx context.Context, merchantID, customerID string, limit int) (*core.List[*core.Notice], error)

	CreateWebhookEndpoint(ctx context.Context, merchantID string, p core.CreateWebhookEndpointParams) (*core.WebhookEndpoint, error)
	WebhookEndpoints(ctx context.Context, merchantID string, f core.WebhookEndpointFilter) (*core.List[*core.WebhookEndpoint], error)
	RotateWebhookSecret(ctx context.Context, merchantID, id string, overlap time.Duration) (*core.WebhookEndpoint, error)
	ListEvents(ctx context.Context, merchantID string, f core.EventFilter) (*core.List[*core.Event], error)
	EventDeliveries(ctx context.Context, merchantID, eventID string) (*core.List[*core.WebhookDelivery], error)
	Redeliver(ctx context.Context, merchantID, eventID, endpointID string) (*core.Event, error)

	Channels(ctx context.Context, merchantID string) ([]core.ChannelAuthorization, error)
	Reviews(ctx context.Context, status string, limit int) ([]*risk.Review, error)
	ApproveReview(ctx context.Context, actor, id string) (*core.Payment, error)
	RejectReview(ctx context.Context, actor, id string, p risk.RejectParams) (*core.Payment, error)
	RiskRules(ctx context.Context, scope string) ([]*risk.RuleObject, error)
	TestRiskRule(ctx context.Context, p risk.DryRunParams) (*risk.DryRunResult, error)
	RiskLists(ctx context.Context) ([]*risk.ListObject, error)
	ConsoleRiskListItems(ctx context.Context, id string, limit int) ([]core.RiskListItem, error)
	ChangeRiskListItems(ctx context.Context, actor, id string, add bool, p risk.ItemParams) (*risk.ListObject, error)
	Alerts(ctx context.Context, status string, limit int) ([]core.Alert, error)

	ConsolePendingKYC(ctx context.Context, limit int) ([]*core.KYC, error)
	KYC(ctx context.Context, merchantID string) (*core.KYC, error)
	DecideKYC(ctx context.Context, merchantID string, approve bool, reason string) (*core.KYC, error)
	ConsoleFeeSchedules(ctx context.Context, merchantID string) ([]core.FeeScheduleSet, error)
	SetFeeSchedule(ctx context.Context, merchantID string, p core.FeeScheduleParams) (*core.FeeScheduleSet, error)
	ReconcileDay(ctx context.Context, ch core.Channel, day time.Time) (*core.ReconciliationReport, error)

	OperatorService
}

// Config configures the back office.
type Config struct {
	// IdleTimeout ends a session not used for this long. Default 30 minutes.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after its login, used or not. Default 12 hours.
	AbsoluteTimeout time.Duration
	// LoginsPerMinute bounds login attempts per source address on this node (with a burst
	// of as many). Default 30.
	LoginsPerMinute int
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Mailer sends invitation e-mails; nil: owners cannot invite by e-mail on this node.
	Mailer Mailer
	// BaseURL is the back office's public origin for links in e-mails
	// ("https://pay.example.com"). Default: the origin of the request that sent them.
	BaseURL string
	// Regions shows the regions and switches their drain; nil: the regions page says the
	// node has no Consul.
	Regions Regions
}

func (c *Config) withDefaults() {
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 30 * time.Minute
	}
	if c.AbsoluteTimeout == 0 {
		c.AbsoluteTimeout = 12 * time.Hour
	}
	if c.LoginsPerMinute == 0 {
		c.LoginsPerMinute = 30
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Prefix is where the back office is mounted.
const Prefix = "/dashboard/"

const (
	sessionCookie    = "pc_session"
	loginCSRFCookie  = "pc_login_csrf"
	csrfField        = "csrf"
	sessionCookieAge = 12 * time.Hour
	maxFormBytes     = 64 << 10
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Server is the back office's HTTP handler.
type Server struct {
	svc   Service
	cfg   Config
	log   *slog.Logger
	mux   *http.ServeMux
	pages map[string]*template.Template

	mu     sync.Mutex
	logins map[string]*rate.Limiter
}

// New makes the back office's handler, to be mounted at Prefix.
func New(svc Service, cfg Config) (*Server, error) {
	cfg.withDefaults()
	s := &Server{svc: svc, cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), pages: map[string]*template.Template{},
		logins: map[string]*rate.Limiter{}}
	if err := s.parseTemplates(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	s.mux.Handle("GET /dashboard/static/", http.StripPrefix("/dashboard/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /dashboard/login", s.loginPage)
	s.mux.HandleFunc("POST /dashboard/login", s.login)
	s.mux.HandleFunc("POST /dashboard/logout", s.user(anyone, "", s.logout))
	s.mux.HandleFunc("GET /dashboard/account", s.user(anyone, "", s.accountPage))
	s.mux.HandleFunc("POST /dashboard/account/totp", s.user(anyone, "", s.startTOTP))
	s.mux.HandleFunc("POST /dashboard/account/totp/confirm", s.user(anyone, "", s.confirmTOTP))
	s.mux.HandleFunc("POST /dashboard/account/recovery-codes", s.user(anyone, "", s.regenerateRecoveryCodes))
	s.merchantRoutes()
	s.moneyRoutes()
	s.payoutRoutes()
	s.exportRoutes()
	s.keyRoutes()
	s.riskRoutes()
	s.operatorRoutes()
	s.operatorOpsRoutes()
	s.regionRoutes()
	s.amlRoutes()
	s.ruleAuthoringRoutes()
	s.merchantControlRoutes()
	s.reconRoutes()
	s.invitationRoutes()
	s.mux.HandleFunc("GET /dashboard/{$}", s.user(anyone, "", s.home))
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	s.mux.ServeHTTP(w, r)
}

type ctxKey struct{}

// sessionFrom is the request's session, set by user.
func sessionFrom(r *http.Request) *core.Session {
	sess, _ := r.Context().Value(ctxKey{}).(*core.Session)
	return sess
}

// Who may open a page: any signed-in user, merchant users only, or operators only.
const (
	anyone = iota
	merchantsOnly
	operatorsOnly
)

// user requires a signed-in user of the given kind (another kind gets a 404: the page is
// not theirs) with permission perm (none: any), and for POSTs the session's CSRF token.
// Without a session, pages redirect to the login; a missing permission is a 403 page.
func (s *Server) user(kind int, perm core.Permission, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(sessionCookie)
		var sess *core.Session
		if err == nil && c.Value != "" {
			sess, err = s.svc.ConsoleSession(r.Context(), c.Value, s.cfg.IdleTimeout, s.cfg.AbsoluteTimeout)
		}
		if sess == nil {
			if err != nil && core.ErrorCode(err) != core.CodeUnauthenticated && !errors.Is(err, http.ErrNoCookie) {
				s.fail(w, r, err)
				return
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/dashboard/login", http.StatusSeeOther)
				return
			}
			s.errorPage(w, r, http.StatusUnauthorized, "Sign in first.")
			return
		}
		// The service methods the page calls audit their changes in their own transactions
		// with this user (core.WithActor).
		ctx := core.WithActor(context.WithValue(r.Context(), ctxKey{}, sess), core.Actor{UserID: sess.User.ID, MerchantID: sess.User.MerchantID})
		r = r.WithContext(ctx)
		if r.Method == http.MethodPost {
			got := r.PostFormValue(csrfField)
			if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) != 1 {
				s.errorPage(w, r, http.StatusForbidden, "This form has expired or did not come from this site (CSRF token missing or wrong). Go back, reload the page and try again.")
				return
			}
		}
		if (kind == merchantsOnly && sess.User.Operator()) || (kind == operatorsOnly && !sess.User.Operator()) {
			s.errorPage(w, r, http.StatusNotFound, "No such page.")
			return
		}
		if perm != "" && !sess.User.Can(perm) {
			s.errorPage(w, r, http.StatusForbidden, "Your role ("+sess.User.Role+") may not do this.")
			return
		}
		h(w, r)
	}
}

// merchantUser is user for merchant users' pages.
func (s *Server) merchantUser(perm core.Permission, h http.HandlerFunc) http.HandlerFunc {
	return s.user(merchantsOnly, perm, h)
}

// operator is user for operators' pages.
func (s *Server) operator(perm core.Permission, h http.HandlerFunc) http.HandlerFunc {
	return s.user(operatorsOnly, perm, h)
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	if sessionFrom(r).User.Operator() {
		http.Redirect(w, r, "/dashboard/ops/merchants", http.StatusSeeOther)
		return
	}
	s.overview(w, r)
}

// loginAllowed rations login attempts per source address.
func (s *Server) loginAllowed(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.logins[host]
	if !ok {
		if len(s.logins) > 10000 {
			clear(s.logins)
		}
		l = rate.NewLimiter(rate.Limit(float64(s.cfg.LoginsPerMinute)/60), s.cfg.LoginsPerMinute)
		s.logins[host] = l
	}
	return l.Allow()
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r, http.StatusOK, "", "")
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, email, msg string) {
	s.renderLoginCode(w, r, status, email, msg, false)
}

func (s *Server) renderLoginCode(w http.ResponseWriter, r *http.Request, status int, email, msg string, needCode bool) {
	token := randomKey()
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: token, Path: "/dashboard/login", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode, MaxAge: 3600})
	s.render(w, r, status, "login", map[string]any{"CSRF": token, "Email": email, "Error": msg, "NeedCode": needCode})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(loginCSRFCookie)
	got := r.PostFormValue(csrfField)
	if err != nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(c.Value)) != 1 {
		s.errorPage(w, r, http.StatusForbidden, "This form has expired or did not come from this site (CSRF token missing or wrong). Reload the page and try again.")
		return
	}
	email := r.PostFormValue("email")
	if !s.loginAllowed(r) {
		w.Header().Set("Retry-After", "60")
		s.renderLogin(w, r, http.StatusTooManyRequests, email, "Too many sign-in attempts from your address; wait a minute.")
		return
	}
	sess, err := s.svc.ConsoleLogin(r.Context(), email, r.PostFormValue("password"), strings.TrimSpace(r.PostFormValue("code")))
	if errors.Is(err, core.ErrTOTPRequired) {
		s.renderLoginCode(w, r, http.StatusUnauthorized, email, core.AsError(err).Message, true)
		return
	}
	if err != nil {
		switch core.ErrorCode(err) {
		case core.CodeUnauthenticated:
			s.renderLogin(w, r, http.StatusUnauthorized, email, core.AsError(err).Message)
		case core.CodeRateLimited:
			s.renderLogin(w, r, http.StatusTooManyRequests, email, core.AsError(err).Message)
		default:
			s.fail(w, r, err)
		}
		return
	}
	// The session's token is new at every login, so a token planted in the browser before
	// (session fixation) never becomes a signed-in one.
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sess.Token, Path: Prefix, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode, MaxAge: int(sessionCookieAge.Seconds())})
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Path: "/dashboard/login", MaxAge: -1})
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.svc.ConsoleLogout(r.Context(), c.Value); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: Prefix, MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/dashboard/login", http.StatusSeeOther)
}

// fail shows a coded error as a page with the status its code implies.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := core.AsError(err)
	status := http.StatusInternalServerError
	switch e.Code {
	case core.CodeNotFound:
		status = http.StatusNotFound
	case core.CodeParameterInvalid, core.CodeParameterMissing, core.CodeParameterUnknown, core.CodeInvalidState, core.CodeAmountTooLarge:
		status = http.StatusBadRequest
	case core.CodeUnauthenticated:
		status = http.StatusUnauthorized
	case core.CodeForbidden:
		status = http.StatusForbidden
	case core.CodeRateLimited, core.CodeIdempotencyKeyInUse, core.CodeOperationInProgress:
		status = http.StatusConflict
	case core.CodeUnavailable, core.CodeChannelUnavailable:
		status = http.StatusServiceUnavailable
	}
	msg := e.Message
	if status == http.StatusInternalServerError {
		s.log.ErrorContext(r.Context(), "console", "path", r.URL.Path, "err", err)
		msg = "Something went wrong on our side; try again."
	}
	s.errorPage(w, r, status, msg)
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error", map[string]any{"Message": msg, "Status": status})
}

// render writes a page: the layout around the named template.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, data map[string]any) {
	t, ok := s.pages[name]
	if !ok {
		http.Error(w, "no template "+name, http.StatusInternalServerError)
		return
	}
	if data == nil {
		data = map[string]any{}
	}
	if sess := sessionFrom(r); sess != nil {
		data["Session"] = sess
		data["User"] = sess.User
		data["CSRFToken"] = sess.CSRF
	}
	data["Path"] = r.URL.Path
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", data); err != nil {
		s.log.ErrorContext(r.Context(), "console template", "page", name, "err", err)
		http.Error(w, "page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

func (s *Server) parseTemplates() error {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return err
		}
		s.pages[base] = t
	}
	return nil
}

// Mount serves the back office under Prefix (and /dashboard itself) and every other path
// with api.
func Mount(api, backOffice http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(Prefix, backOffice)
	mux.Handle("/dashboard", http.RedirectHandler(Prefix, http.StatusMovedPermanently))
	mux.Handle("/", api)
	return mux
}
