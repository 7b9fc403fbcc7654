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
	PreviewNotice(ctx context.Context, name string, p core.NoticePreviewParams) (*core.NoticePreview, error)
}

// customerRoutes registers the customer and wallet routes.
func (s *Server) customerRoutes() {
	co, ok := s.ops.(Customers)
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
			v, err := co.PreviewNotice(r.Context(), r.PathValue("name"), p)
			s.answer(w, r, v, err)
		}
	})))
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
