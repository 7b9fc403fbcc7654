package console

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
)

var funcs = template.FuncMap{
	"money": core.FormatAmount,
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"whenp": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"pct": func(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + " %" },
	"deref": func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	},
	"can":  func(u *core.User, p string) bool { return u != nil && u.Can(core.Permission(p)) },
	"list": func(v ...string) []string { return v },
}

func randomKey() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *Server) merchantRoutes() {
	s.mux.HandleFunc("GET /dashboard/payments", s.merchantUser(core.PermViewPayments, s.paymentsPage))
	s.mux.HandleFunc("GET /dashboard/payments/{id}", s.merchantUser(core.PermViewPayments, s.paymentPage))
	s.mux.HandleFunc("POST /dashboard/payments/{id}/refund", s.merchantUser(core.PermRefund, s.refund))
	s.mux.HandleFunc("GET /dashboard/exports/payments.csv", s.merchantUser(core.PermViewPayments, s.exportPayments))
	s.mux.HandleFunc("GET /dashboard/exports/refunds.csv", s.merchantUser(core.PermViewPayments, s.exportRefunds))
	s.mux.HandleFunc("GET /dashboard/webhooks", s.merchantUser(core.PermManageWebhooks, s.webhooksPage))
	s.mux.HandleFunc("POST /dashboard/webhooks", s.merchantUser(core.PermManageWebhooks, s.createWebhook))
	s.mux.HandleFunc("POST /dashboard/webhooks/{id}/roll", s.merchantUser(core.PermManageWebhooks, s.rollWebhook))
	s.mux.HandleFunc("GET /dashboard/events/{id}", s.merchantUser(core.PermManageWebhooks, s.eventPage))
	s.mux.HandleFunc("POST /dashboard/events/{id}/redeliver", s.merchantUser(core.PermManageWebhooks, s.redeliver))
	s.mux.HandleFunc("GET /dashboard/team", s.merchantUser(core.PermManageTeam, s.teamPage))
	s.mux.HandleFunc("POST /dashboard/team", s.merchantUser(core.PermManageTeam, s.addTeamUser))
}

// bar is one day's bar in the overview's chart, in SVG user units.
type bar struct {
	X, Y, W, H float64
	Label      string
}

// chart lays out the last 30 days' volume of one currency as bars in a 600×160 box.
func chart(days []core.DayVolume, currency string) []bar {
	var max int64
	var ds []core.DayVolume
	for _, d := range days {
		if d.Currency == currency {
			ds = append(ds, d)
			if d.Volume > max {
				max = d.Volume
			}
		}
	}
	out := make([]bar, 0, len(ds))
	for i, d := range ds {
		h := 0.0
		if max > 0 {
			h = 150 * float64(d.Volume) / float64(max)
		}
		out = append(out, bar{X: float64(i) * 20, Y: 155 - h, W: 16, H: h,
			Label: d.Day.Format("2006-01-02") + ": " + core.FormatAmount(d.Volume, currency) + ", " + strconv.FormatInt(d.Count, 10) + " payments"})
	}
	return out
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	ov, err := s.svc.ConsoleOverview(r.Context(), sess.User.MerchantID, s.cfg.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var currencies []string
	seen := map[string]bool{}
	for _, d := range ov.Days {
		if !seen[d.Currency] {
			seen[d.Currency] = true
			currencies = append(currencies, d.Currency)
		}
	}
	charts := []map[string]any{}
	for _, c := range currencies {
		charts = append(charts, map[string]any{"Currency": c, "Bars": chart(ov.Days, c)})
	}
	s.render(w, r, http.StatusOK, "overview", map[string]any{"Overview": ov, "Charts": charts})
}

// paymentQuery parses the payments page's filters (the list's and the export's).
func paymentQuery(q url.Values) (core.PaymentFilter, core.ExportFilter, error) {
	var f core.PaymentFilter
	var e core.ExportFilter
	if v := q.Get("status"); v != "" {
		ok := false
		for _, st := range []core.Status{core.StatusProcessing, core.StatusRequiresAction, core.StatusRequiresCapture,
			core.StatusSucceeded, core.StatusFailed, core.StatusCanceled, core.StatusRequiresReview} {
			ok = ok || v == string(st)
		}
		if !ok {
			return f, e, core.ParamError(core.CodeParameterInvalid, "status", "Unknown status '%s'.", v)
		}
		f.Status, e.Status = core.Status(v), core.Status(v)
	}
	if v := q.Get("channel"); v != "" {
		ok := false
		for _, c := range core.Channels {
			ok = ok || v == string(c)
		}
		if !ok {
			return f, e, core.ParamError(core.CodeParameterInvalid, "channel", "Unknown channel '%s'.", v)
		}
		f.Channel, e.Channel = core.Channel(v), core.Channel(v)
	}
	f.MerchantReference, e.MerchantReference = q.Get("reference"), q.Get("reference")
	for _, name := range []string{"amount_min", "amount_max"} {
		v := strings.TrimSpace(q.Get(name))
		if v == "" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return f, e, core.ParamError(core.CodeParameterInvalid, name, "%s must be a whole number of minor units (e.g. cents).", name)
		}
		if name == "amount_min" {
			f.AmountGTE, e.AmountGTE = &n, &n
		} else {
			f.AmountLTE, e.AmountLTE = &n, &n
		}
	}
	if v := strings.TrimSpace(q.Get("customer")); v != "" {
		if len(v) > core.MaxCustomerFilterLen {
			return f, e, core.ParamError(core.CodeParameterInvalid, "customer", "customer must be a customer ID or an e-mail address, at most %d characters.", core.MaxCustomerFilterLen)
		}
		f.Customer, e.Customer = v, v
	}
	day := func(name string) (*time.Time, error) {
		v := q.Get(name)
		if v == "" {
			return nil, nil
		}
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			return nil, core.ParamError(core.CodeParameterInvalid, name, "%s must be a date such as 2026-12-01.", name)
		}
		return &t, nil
	}
	from, err := day("from")
	if err != nil {
		return f, e, err
	}
	to, err := day("to")
	if err != nil {
		return f, e, err
	}
	f.CreatedGTE, e.CreatedGTE = from, from
	if to != nil {
		end := to.AddDate(0, 0, 1)
		lte := end.Add(-time.Microsecond)
		f.CreatedLTE, e.CreatedLT = &lte, &end
	}
	f.StartingAfter = q.Get("after")
	f.Limit = 25
	return f, e, nil
}

func (s *Server) paymentsPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	f, _, err := paymentQuery(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.svc.Payments(r.Context(), sess.User.MerchantID, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	q.Del("after")
	next := ""
	if list.HasMore && len(list.Data) > 0 {
		nq := r.URL.Query()
		nq.Set("after", list.Data[len(list.Data)-1].ID)
		next = "/dashboard/payments?" + nq.Encode()
	}
	s.render(w, r, http.StatusOK, "payments", map[string]any{"Payments": list.Data, "Next": next,
		"Query": q.Encode(), "Q": q, "Channels": core.Channels})
}

func (s *Server) paymentPage(w http.ResponseWriter, r *http.Request) {
	s.showPayment(w, r, http.StatusOK, "")
}

func (s *Server) showPayment(w http.ResponseWriter, r *http.Request, status int, msg string) {
	sess := sessionFrom(r)
	mid, id := sess.User.MerchantID, r.PathValue("id")
	p, err := s.svc.Payment(r.Context(), mid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	refunds, err := s.svc.Refunds(r.Context(), mid, core.RefundFilter{Payment: id, Limit: core.MaxListLimit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	events, err := s.svc.PaymentEvents(r.Context(), mid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	type delivery struct {
		Event *core.Event
		*core.WebhookDelivery
	}
	var deliveries []delivery
	for _, e := range events {
		ds, err := s.svc.EventDeliveries(r.Context(), mid, e.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, d := range ds.Data {
			deliveries = append(deliveries, delivery{Event: e, WebhookDelivery: d})
		}
	}
	refundable := p.AmountCaptured - p.AmountRefunded - p.AmountRefundPending
	s.render(w, r, status, "payment", map[string]any{"P": p, "Refunds": refunds.Data, "Events": events,
		"Deliveries": deliveries, "Refundable": refundable, "Reasons": core.RefundReasons, "RefundKey": randomKey(), "Error": msg})
}

// refund refunds a payment from its page. The form carries an Idempotency-Key made when the
// page was rendered, so submitting it twice (a double click) refunds once: the second request
// replays the first one's answer through the same phase runner as the API.
func (s *Server) refund(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	mid, id := sess.User.MerchantID, r.PathValue("id")
	key := r.PostFormValue("idempotency_key")
	if key == "" || len(key) > 255 {
		s.showPayment(w, r, http.StatusBadRequest, "The form has no idempotency key; reload the page.")
		return
	}
	p, err := s.svc.Payment(r.Context(), mid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	params := core.CreateRefundParams{Payment: id, Reason: r.PostFormValue("reason")}
	if v := strings.TrimSpace(r.PostFormValue("amount")); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			s.showPayment(w, r, http.StatusBadRequest, "amount must be a whole number of minor units (e.g. cents), greater than 0.")
			return
		}
		params.Amount = &n
	}
	if err := params.Validate(); err != nil {
		s.showPayment(w, r, http.StatusBadRequest, core.AsError(err).Message)
		return
	}
	req := core.IdempotentRequest{MerchantID: mid, Region: p.Region, Key: key, Method: http.MethodPost,
		Path: "/dashboard/payments/" + id + "/refund", Render: renderReply}
	rep, err := s.svc.CreateRefund(r.Context(), req, params)
	if core.ErrorCode(err) == core.CodeIdempotencyKeyInUse {
		// The same form is being submitted by an earlier click still at work: that one
		// refunds; this one shows the payment.
		http.Redirect(w, r, "/dashboard/payments/"+id, http.StatusSeeOther)
		return
	}
	if err != nil {
		s.showPayment(w, r, statusOf(err), core.AsError(err).Message)
		return
	}
	var out replyBody
	if rep.Interim == nil {
		_ = json.Unmarshal(rep.Body, &out)
		if out.Error != "" {
			s.showPayment(w, r, rep.Status, out.Error)
			return
		}
	} else if ref, ok := rep.Interim.(*core.Refund); ok {
		out.ID = ref.ID
	}
	http.Redirect(w, r, "/dashboard/payments/"+id, http.StatusSeeOther)
}

// replyBody is what renderReply stores with a back-office refund's or payout's key.
type replyBody struct {
	ID    string `json:"id,omitempty"`
	Error string `json:"error,omitempty"`
}

func renderReply(v any, err error) core.Reply {
	if err != nil {
		b, _ := json.Marshal(replyBody{Error: core.AsError(err).Message})
		return core.Reply{Status: statusOf(err), Body: b}
	}
	var out replyBody
	switch o := v.(type) {
	case *core.Refund:
		out.ID = o.ID
	case *core.Payout:
		out.ID = o.ID
	}
	b, _ := json.Marshal(out)
	return core.Reply{Status: http.StatusOK, Body: b}
}

func statusOf(err error) int {
	switch core.ErrorCode(err) {
	case core.CodeNotFound:
		return http.StatusNotFound
	case core.CodeForbidden:
		return http.StatusForbidden
	case core.CodeIdempotencyKeyInUse, core.CodeOperationInProgress:
		return http.StatusConflict
	case core.CodeInternal:
		return http.StatusInternalServerError
	case core.CodeUnavailable, core.CodeChannelUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// csvHeaders starts a CSV download; the body is flushed with its header row at once.
func csvHeaders(w http.ResponseWriter, name string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
}

// exportHeaders starts an export's answer: a CSV download, and (for the page's progress)
// the number of rows it will have, counted first; an export whose count fails is sent
// without it.
func (s *Server) exportHeaders(w http.ResponseWriter, r *http.Request, kind string, f core.ExportFilter) {
	csvHeaders(w, exportName(strings.ReplaceAll(kind, "_", "-"), f))
	n, err := s.svc.ExportCount(r.Context(), sessionFrom(r).User.MerchantID, kind, f)
	if err != nil {
		s.log.WarnContext(r.Context(), "console export count", "export", kind, "err", err)
		return
	}
	w.Header().Set(core.ExportRowsHeader, strconv.FormatInt(n, 10))
}

func exportName(kind string, f core.ExportFilter) string {
	name := kind
	if f.CreatedGTE != nil {
		name += "-from-" + f.CreatedGTE.Format("2006-01-02")
	}
	if f.CreatedLT != nil {
		name += "-to-" + f.CreatedLT.AddDate(0, 0, -1).Format("2006-01-02")
	}
	return name + ".csv"
}

func (s *Server) exportPayments(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	_, f, err := paymentQuery(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.exportHeaders(w, r, core.ExportPayments, f)
	err = core.WritePaymentsCSV(flushWriter{w}, func(fn func(*core.Payment) error) error {
		return s.svc.ExportPayments(r.Context(), sess.User.MerchantID, f, fn)
	})
	if err != nil {
		s.log.ErrorContext(r.Context(), "console export", "err", err)
	}
}

func (s *Server) exportRefunds(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	_, f, err := paymentQuery(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.exportHeaders(w, r, core.ExportRefunds, f)
	err = core.WriteRefundsCSV(flushWriter{w}, func(fn func(*core.Refund) error) error {
		return s.svc.ExportRefunds(r.Context(), sess.User.MerchantID, f, fn)
	})
	if err != nil {
		s.log.ErrorContext(r.Context(), "console export", "err", err)
	}
}

func (s *Server) webhooksPage(w http.ResponseWriter, r *http.Request) {
	s.showWebhooks(w, r, http.StatusOK, "", "")
}

func (s *Server) showWebhooks(w http.ResponseWriter, r *http.Request, status int, msg, secret string) {
	mid := sessionFrom(r).User.MerchantID
	eps, err := s.svc.WebhookEndpoints(r.Context(), mid, core.WebhookEndpointFilter{Limit: core.MaxListLimit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	events, err := s.svc.ListEvents(r.Context(), mid, core.EventFilter{Limit: 20})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "webhooks", map[string]any{"Endpoints": eps.Data, "Events": events.Data, "Error": msg, "Secret": secret})
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	events := strings.Fields(strings.ReplaceAll(r.PostFormValue("events"), ",", " "))
	if len(events) == 0 {
		events = []string{"*"}
	}
	p := core.CreateWebhookEndpointParams{URL: r.PostFormValue("url"), Description: r.PostFormValue("description"), EnabledEvents: events}
	if err := p.Validate(); err != nil {
		s.showWebhooks(w, r, http.StatusBadRequest, core.AsError(err).Message, "")
		return
	}
	ep, err := s.svc.CreateWebhookEndpoint(r.Context(), sess.User.MerchantID, p)
	if err != nil {
		s.showWebhooks(w, r, statusOf(err), core.AsError(err).Message, "")
		return
	}
	s.showWebhooks(w, r, http.StatusOK, "", ep.Secret)
}

func (s *Server) rollWebhook(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	ep, err := s.svc.RotateWebhookSecret(r.Context(), sess.User.MerchantID, r.PathValue("id"), 24*time.Hour)
	if err != nil {
		s.showWebhooks(w, r, statusOf(err), core.AsError(err).Message, "")
		return
	}
	s.showWebhooks(w, r, http.StatusOK, "", ep.Secret)
}

func (s *Server) eventPage(w http.ResponseWriter, r *http.Request) {
	mid := sessionFrom(r).User.MerchantID
	e, err := s.eventDeliveries(r, mid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "event", e)
}

func (s *Server) eventDeliveries(r *http.Request, mid string) (map[string]any, error) {
	id := r.PathValue("id")
	ds, err := s.svc.EventDeliveries(r.Context(), mid, id)
	if err != nil {
		return nil, err
	}
	eps, err := s.svc.WebhookEndpoints(r.Context(), mid, core.WebhookEndpointFilter{Limit: core.MaxListLimit})
	if err != nil {
		return nil, err
	}
	return map[string]any{"ID": id, "Deliveries": ds.Data, "Endpoints": eps.Data}, nil
}

func (s *Server) redeliver(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	id, ep := r.PathValue("id"), r.PostFormValue("endpoint")
	if _, err := s.svc.Redeliver(r.Context(), sess.User.MerchantID, id, ep); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/dashboard/events/"+url.PathEscape(id), http.StatusSeeOther)
}

func (s *Server) teamPage(w http.ResponseWriter, r *http.Request) {
	s.showTeam(w, r, http.StatusOK, "")
}

func (s *Server) showTeam(w http.ResponseWriter, r *http.Request, status int, msg string) {
	sess := sessionFrom(r)
	users, err := s.svc.ConsoleUsers(r.Context(), sess.User.MerchantID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	audit, err := s.svc.ConsoleAudit(r.Context(), sess.User.MerchantID, 50)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	invs, err := s.svc.ConsoleInvitations(r.Context(), sess.User.MerchantID, 20)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "team", map[string]any{"Users": users, "Audit": audit, "Invitations": invs, "Now": s.cfg.Now(),
		"CanMail": s.cfg.Mailer != nil, "Error": msg})
}

func (s *Server) addTeamUser(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	p := core.CreateUserParams{Email: r.PostFormValue("email"), Password: r.PostFormValue("password"),
		Role: r.PostFormValue("role"), Merchant: sess.User.MerchantID}
	if _, err := s.svc.CreateConsoleUser(r.Context(), sess.User.ID, p); err != nil {
		s.showTeam(w, r, statusOf(err), core.AsError(err).Message)
		return
	}
	http.Redirect(w, r, "/dashboard/team", http.StatusSeeOther)
}

// flushWriter flushes through http.ResponseController, which unwraps middleware writers.
type flushWriter struct{ http.ResponseWriter }

func (f flushWriter) Flush() { _ = http.NewResponseController(f.ResponseWriter).Flush() }
