package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/paycenter/paycenter/core"
)

// Customers is what the API needs for customers and their wallets. core/postgres.Service
// implements it; without it the routes are not served.
type Customers interface {
	CreateCustomer(ctx context.Context, merchantID string, p core.CustomerParams) (*core.Payer, error)
	Customer(ctx context.Context, merchantID, id string) (*core.Payer, error)
	UpdateCustomer(ctx context.Context, merchantID, id string, p core.CustomerParams) (*core.Payer, error)
	DeleteCustomer(ctx context.Context, merchantID, id string) (*core.Payer, error)
	Customers(ctx context.Context, merchantID string, limit int) (*core.List[*core.Payer], error)
	TopUp(ctx context.Context, req core.IdempotentRequest, customerID string, p core.TopUpParams) (core.Reply, error)
	CustomerBalanceTransactions(ctx context.Context, merchantID, customerID string, limit int) (*core.List[*core.CustomerBalanceTransaction], error)
	Notifications(ctx context.Context, merchantID, customerID string, limit int) (*core.List[*core.Notice], error)
	PreviewNotice(ctx context.Context, merchantID, name string, p core.NoticePreviewParams) (*core.NoticePreview, error)
}

// NoticeSettings is what the API needs for a merchant's notification settings and its own
// templates. The Operations service implements it when it has them; the routes are always
// served (and documented), answering 503 without it.
type NoticeSettings interface {
	NotificationSettings(ctx context.Context, merchantID string) (*core.NotificationSettings, error)
	SetNotificationSettings(ctx context.Context, merchantID string, p core.NotificationSettingsParams) (*core.NotificationSettings, error)
	NotificationTemplate(ctx context.Context, merchantID, name, language string) (*core.NotificationTemplate, error)
	SetNotificationTemplate(ctx context.Context, merchantID, name string, p core.NotificationTemplateParams) (*core.NotificationTemplate, error)
	DeleteNotificationTemplate(ctx context.Context, merchantID, name, language string) (*core.NotificationTemplate, error)
}

// customerRoutes registers the customer and wallet routes.
func (s *Server) customerRoutes() {
	co, ok := lookup[Customers](s)
	if !ok {
		return
	}
	id := func(w http.ResponseWriter, r *http.Request) bool {
		if err := pathID(r, "customer"); err != nil {
			s.writeError(w, r, err)
			return false
		}
		return true
	}
	s.handle("POST /v1/customers", s.merchant(s.noQuery(func(w http.ResponseWriter, r *http.Request) {
		var p core.CustomerParams
		if s.decodeOK(w, r, &p) && s.validOK(w, r, p.Validate()) {
			c, err := co.CreateCustomer(r.Context(), merchantFrom(r.Context()).ID, p)
			s.answer(w, r, c, err)
		}
	})))
	s.handle("GET /v1/customers", s.merchant(func(w http.ResponseWriter, r *http.Request) {
		limit, err := listLimit(r.URL.Query())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		l, err := co.Customers(r.Context(), merchantFrom(r.Context()).ID, limit)
		s.answer(w, r, l, err)
	}))
	s.handle("GET /v1/customers/{id}", s.merchant(s.noQuery(func(w http.ResponseWriter, r *http.Request) {
		if id(w, r) {
			c, err := co.Customer(r.Context(), merchantFrom(r.Context()).ID, r.PathValue("id"))
			s.answer(w, r, c, err)
		}
	})))
	s.handle("POST /v1/customers/{id}", s.merchant(s.noQuery(func(w http.ResponseWriter, r *http.Request) {
		var p core.CustomerParams
		if id(w, r) && s.decodeOK(w, r, &p) && s.validOK(w, r, p.Validate()) {
			c, err := co.UpdateCustomer(r.Context(), merchantFrom(r.Context()).ID, r.PathValue("id"), p)
			s.answer(w, r, c, err)
		}
	})))
	s.handle("DELETE /v1/customers/{id}", s.merchant(s.noQuery(func(w http.ResponseWriter, r *http.Request) {
		if id(w, r) {
			c, err := co.DeleteCustomer(r.Context(), merchantFrom(r.Context()).ID, r.PathValue("id"))
			s.answer(w, r, c, err)
		}
	})))
	s.handle("POST /v1/customers/{id}/top_ups", s.merchant(s.noQuery(func(w http.ResponseWriter, r *http.Request) {
		var p core.TopUpParams
		cus := r.PathValue("id")
		money(s, w, r, &p, withPathID(r, "customer", func() error { return p.Validate(cus) }), func(req core.IdempotentRequest) (core.Reply, error) {
			return co.TopUp(r.Context(), req, cus, p)
		}, "amount")
	})))
	s.handle("GET /v1/customers/{id}/balance_transactions", s.merchant(func(w http.ResponseWriter, r *http.Request) {
		if !id(w, r) {
			return
		}
		limit, err := listLimit(r.URL.Query())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		l, err := co.CustomerBalanceTransactions(r.Context(), merchantFrom(r.Context()).ID, r.PathValue("id"), limit)
		s.answer(w, r, l, err)
	}))
	s.handle("GET /v1/customers/{id}/notifications", s.merchant(func(w http.ResponseWriter, r *http.Request) {
		if !id(w, r) {
			return
		}
		limit, err := listLimit(r.URL.Query())
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		l, err := co.Notifications(r.Context(), merchantFrom(r.Context()).ID, r.PathValue("id"), limit)
		s.answer(w, r, l, err)
	}))
	s.handle("POST /v1/notification_templates/{name}/preview", s.merchant(s.noQuery(func(w http.ResponseWriter, r *http.Request) {
		var p core.NoticePreviewParams
		if s.decodeOK(w, r, &p) {
			v, err := co.PreviewNotice(r.Context(), merchantFrom(r.Context()).ID, r.PathValue("name"), p)
			s.answer(w, r, v, err)
		}
	})))
}

// noticeSettingsRoutes registers the notification settings and template routes.
func (s *Server) noticeSettingsRoutes() {
	// with runs h with the service, or answers 503 on a node without one.
	with := func(h func(ns NoticeSettings, w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			ns, ok := need[NoticeSettings](s, w, r, "Notification settings are not configured on this node.")
			if !ok {
				return
			}
			h(ns, w, r)
		}
	}
	s.handle("GET /v1/notification_settings", s.merchant(s.noQuery(with(func(ns NoticeSettings, w http.ResponseWriter, r *http.Request) {
		v, err := ns.NotificationSettings(r.Context(), merchantFrom(r.Context()).ID)
		s.answer(w, r, v, err)
	}))))
	s.handle("POST /v1/notification_settings", s.merchant(s.noQuery(with(func(ns NoticeSettings, w http.ResponseWriter, r *http.Request) {
		var p core.NotificationSettingsParams
		if s.decodeOK(w, r, &p) && s.validOK(w, r, p.Validate()) {
			v, err := ns.SetNotificationSettings(r.Context(), merchantFrom(r.Context()).ID, p)
			s.answer(w, r, v, err)
		}
	}))))
	s.handle("GET /v1/notification_templates/{name}", s.merchant(with(func(ns NoticeSettings, w http.ResponseWriter, r *http.Request) {
		if lang, err := languageQuery(r.URL.Query()); err != nil {
			s.writeError(w, r, err)
		} else {
			v, err := ns.NotificationTemplate(r.Context(), merchantFrom(r.Context()).ID, r.PathValue("name"), lang)
			s.answer(w, r, v, err)
		}
	})))
	s.handle("PUT /v1/notification_templates/{name}", s.merchant(s.noQuery(with(func(ns NoticeSettings, w http.ResponseWriter, r *http.Request) {
		var p core.NotificationTemplateParams
		if s.decodeOK(w, r, &p) && s.validOK(w, r, p.Validate()) {
			v, err := ns.SetNotificationTemplate(r.Context(), merchantFrom(r.Context()).ID, r.PathValue("name"), p)
			s.answer(w, r, v, err)
		}
	}))))
	s.handle("DELETE /v1/notification_templates/{name}", s.merchant(with(func(ns NoticeSettings, w http.ResponseWriter, r *http.Request) {
		if lang, err := languageQuery(r.URL.Query()); err != nil {
			s.writeError(w, r, err)
		} else {
			v, err := ns.DeleteNotificationTemplate(r.Context(), merchantFrom(r.Context()).ID, r.PathValue("name"), lang)
			s.answer(w, r, v, err)
		}
	})))
}

// languageQuery reads the template routes' only query parameter, language (required).
func languageQuery(q url.Values) (string, error) {
	for k := range q {
		if k != "language" {
			k = clip(k)
			return "", core.ParamError(core.CodeParameterUnknown, k, "Received unknown parameter: %s (this route takes language).", k)
		}
	}
	v, ok := q["language"]
	if !ok {
		return "", core.ParamError(core.CodeParameterMissing, "language", "language is required: en or zh.")
	}
	if len(v) != 1 || (v[0] != core.Languages[0] && v[0] != core.Languages[1]) {
		return "", core.ParamError(core.CodeParameterInvalid, "language", "language must be \"en\" or \"zh\".")
	}
	return v[0], nil
}

func (s *Server) validOK(w http.ResponseWriter, r *http.Request, err error) bool {
	if err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}

// listLimit reads a list route's only query parameter, limit.
func listLimit(q url.Values) (int, error) {
	limit := 0
	for k, v := range q {
		k = clip(k)
		if k != "limit" {
			return 0, core.ParamError(core.CodeParameterUnknown, k, "Received unknown parameter: %s (this route takes limit).", k)
		}
		n, err := strconv.Atoi(v[0])
		if len(v) != 1 || err != nil || n < 1 || n > core.MaxListLimit {
			return 0, core.ParamError(core.CodeParameterInvalid, k, "limit must be an integer from 1 to %d.", core.MaxListLimit)
		}
		limit = n
	}
	return limit, nil
}
