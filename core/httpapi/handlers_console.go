package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/paycenter/paycenter/core"
)

// Console is what the API needs for the back office's bootstrap (creating its first users)
// and for CSV exports. The operations service (core/postgres.Service) implements it; without
// it the routes are not served.
type Console interface {
	CreateConsoleUser(ctx context.Context, actor string, p core.CreateUserParams) (*core.User, error)
	ExportPayments(ctx context.Context, merchantID string, f core.ExportFilter, fn func(*core.Payment) error) error
	ExportRefunds(ctx context.Context, merchantID string, f core.ExportFilter, fn func(*core.Refund) error) error
	ExportBalanceTransactions(ctx context.Context, merchantID string, f core.ExportFilter, fn func(*core.BalanceTransaction) error) error
	ExportSettlements(ctx context.Context, merchantID string, f core.ExportFilter, fn func(*core.Settlement) error) error
}

// consoleRoutes registers the back-office bootstrap and export routes.
func (s *Server) consoleRoutes() {
	c, ok := lookup[Console](s)
	if !ok {
		return
	}
	h := &consoleHandlers{s: s, c: c}
	s.handle("POST /v1/admin/console_users", s.admin(s.noQuery(h.adminCreateUser)))
	s.handle("POST /v1/console_users", s.merchant(s.noQuery(h.merchantCreateUser)))
	s.handle("GET /v1/exports/payments.csv", s.merchant(h.exportPayments))
	s.handle("GET /v1/exports/refunds.csv", s.merchant(h.exportRefunds))
	s.handle("GET /v1/exports/balance_transactions.csv", s.merchant(h.exportBalanceTransactions))
	s.handle("GET /v1/exports/settlements.csv", s.merchant(h.exportSettlements))
}

type consoleHandlers struct {
	s *Server
	c Console
}

// consoleUser is a back-office user as the API shows it.
type consoleUser struct {
	Object string `json:"object"`
	*core.User
}

// adminCreateUser creates any back-office user (an operator: no merchant) with the admin
// token: how the first operator comes to exist.
func (h *consoleHandlers) adminCreateUser(w http.ResponseWriter, r *http.Request) {
	var p core.CreateUserParams
	if err := h.s.decodeRequiring(w, r, &p, "email", "password", "role"); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	h.create(w, r, "admin-token", p)
}

// merchantCreateUser creates a user of the calling merchant with its API key: how a
// merchant's first owner can come to exist without an operator.
func (h *consoleHandlers) merchantCreateUser(w http.ResponseWriter, r *http.Request) {
	var p core.CreateUserParams
	if err := h.s.decodeRequiring(w, r, &p, "email", "password", "role"); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if p.Merchant != "" && p.Merchant != merchantID(r.Context()) {
		h.s.writeError(w, r, core.ParamError(core.CodeParameterInvalid, "merchant", "merchant must be left out (it is the caller's)."))
		return
	}
	p.Merchant = merchantID(r.Context())
	h.create(w, r, "merchant-key:"+p.Merchant, p)
}

func (h *consoleHandlers) create(w http.ResponseWriter, r *http.Request, actor string, p core.CreateUserParams) {
	p.Email = core.NormalizeEmail(p.Email)
	if err := p.Validate(); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	u, err := h.c.CreateConsoleUser(r.Context(), actor, p)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	h.s.writeJSON(w, r, consoleUser{Object: "console_user", User: u})
}

// parseExportFilter reads an export's query: status, channel, merchant_reference, and the
// date range created[gte] / created[lt] (Unix seconds or RFC 3339).
func parseExportFilter(q url.Values, payments bool) (core.ExportFilter, error) {
	var f core.ExportFilter
	for k, v := range q {
		k = clip(k)
		if len(v) != 1 {
			return f, core.ParamError(core.CodeParameterInvalid, k, "%s may be given once.", k)
		}
		val := v[0]
		switch {
		case k == "status" && payments:
			if !core.Status(val).Valid() {
				return f, core.ParamError(core.CodeParameterInvalid, k, "Unknown status %q.", val)
			}
			f.Status = core.Status(val)
		case k == "channel" && payments:
			if !validChannel(val) {
				return f, core.ParamError(core.CodeParameterInvalid, k, "Unknown channel %q.", val)
			}
			f.Channel = core.Channel(val)
		case k == "merchant_reference" && payments:
			if err := core.ValidateReference(k, val); err != nil {
				return f, err
			}
			f.MerchantReference = val
		case k == "created[gte]" || k == "created[lt]":
			t, err := parseTime(val)
			if err != nil {
				return f, core.ParamError(core.CodeParameterInvalid, k, "%s must be a Unix time in seconds or an RFC 3339 time.", k)
			}
			if k == "created[gte]" {
				f.CreatedGTE = &t
			} else {
				f.CreatedLT = &t
			}
		default:
			return f, core.ParamError(core.CodeParameterUnknown, k, "Received unknown parameter: %s.", k)
		}
	}
	return f, nil
}

func validChannel(v string) bool {
	for _, c := range core.Channels {
		if string(c) == v {
			return true
		}
	}
	return false
}

// exportPayments streams the merchant's payments as CSV (core.PaymentCSVHeader). Once the
// header row is sent the status is 200; an error after it ends the body early (the client
// sees a truncated download) and goes to the log.
func (h *consoleHandlers) exportPayments(w http.ResponseWriter, r *http.Request) {
	f, err := parseExportFilter(r.URL.Query(), true)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	csvDownload(w, "payments.csv")
	err = core.WritePaymentsCSV(flushWriter{w}, func(fn func(*core.Payment) error) error {
		return h.c.ExportPayments(r.Context(), merchantID(r.Context()), f, fn)
	})
	h.exportEnded(r, err)
}

func (h *consoleHandlers) exportRefunds(w http.ResponseWriter, r *http.Request) {
	f, err := parseExportFilter(r.URL.Query(), false)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	csvDownload(w, "refunds.csv")
	err = core.WriteRefundsCSV(flushWriter{w}, func(fn func(*core.Refund) error) error {
		return h.c.ExportRefunds(r.Context(), merchantID(r.Context()), f, fn)
	})
	h.exportEnded(r, err)
}

// exportBalanceTransactions streams the merchant's balance transactions created in the
// range as CSV (core.BalanceTransactionCSVHeader).
func (h *consoleHandlers) exportBalanceTransactions(w http.ResponseWriter, r *http.Request) {
	f, err := parseExportFilter(r.URL.Query(), false)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	csvDownload(w, "balance_transactions.csv")
	err = core.WriteBalanceTransactionsCSV(flushWriter{w}, func(fn func(*core.BalanceTransaction) error) error {
		return h.c.ExportBalanceTransactions(r.Context(), merchantID(r.Context()), f, fn)
	})
	h.exportEnded(r, err)
}

// exportSettlements streams the merchant's settlements whose day starts in the range as CSV
// (core.SettlementsCSVHeader).
func (h *consoleHandlers) exportSettlements(w http.ResponseWriter, r *http.Request) {
	f, err := parseExportFilter(r.URL.Query(), false)
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	csvDownload(w, "settlements.csv")
	err = core.WriteSettlementsCSV(flushWriter{w}, func(fn func(*core.Settlement) error) error {
		return h.c.ExportSettlements(r.Context(), merchantID(r.Context()), f, fn)
	})
	h.exportEnded(r, err)
}

func csvDownload(w http.ResponseWriter, name string) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
}

func (h *consoleHandlers) exportEnded(r *http.Request, err error) {
	if err != nil && r.Context().Err() == nil {
		h.s.log.ErrorContext(r.Context(), "export", "request_id", requestID(r.Context()), "err", err)
	}
}

// Unwrap lets http.ResponseController reach the connection's writer (to flush a stream).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// flushWriter flushes through http.ResponseController, which unwraps middleware writers.
type flushWriter struct{ http.ResponseWriter }

func (f flushWriter) Flush() { _ = http.NewResponseController(f.ResponseWriter).Flush() }
