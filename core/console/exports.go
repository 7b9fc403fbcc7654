package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/paycenter/paycenter/core"
)

// Exports of money at rest: the balance transactions and the settlements of a date range,
// streamed as the payments export is.
func (s *Server) exportRoutes() {
	s.mux.HandleFunc("GET /dashboard/exports/balance_transactions.csv", s.merchantUser(core.PermViewPayments, s.exportBalanceTransactions))
	s.mux.HandleFunc("GET /dashboard/exports/settlements.csv", s.merchantUser(core.PermViewPayments, s.exportSettlements))
}

// dateRange reads from and to (UTC days, both included; either may be left out) as an
// export's [CreatedGTE, CreatedLT).
func dateRange(q url.Values) (core.ExportFilter, error) {
	var f core.ExportFilter
	for _, name := range []string{"from", "to"} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return f, core.ParamError(core.CodeParameterInvalid, name, "%s must be a date such as 2026-12-01.", name)
		}
		if name == "from" {
			f.CreatedGTE = &d
		} else {
			end := d.AddDate(0, 0, 1)
			f.CreatedLT = &end
		}
	}
	return f, nil
}

func (s *Server) exportBalanceTransactions(w http.ResponseWriter, r *http.Request) {
	f, err := dateRange(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	mid := sessionFrom(r).User.MerchantID
	s.exportHeaders(w, r, core.ExportBalanceTransactions, f)
	err = core.WriteBalanceTransactionsCSV(flushWriter{w}, func(fn func(*core.BalanceTransaction) error) error {
		return s.svc.ExportBalanceTransactions(r.Context(), mid, f, fn)
	})
	if err != nil {
		s.log.ErrorContext(r.Context(), "console export", "err", err)
	}
}

func (s *Server) exportSettlements(w http.ResponseWriter, r *http.Request) {
	f, err := dateRange(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	mid := sessionFrom(r).User.MerchantID
	s.exportHeaders(w, r, core.ExportSettlements, f)
	err = core.WriteSettlementsCSV(flushWriter{w}, func(fn func(*core.Settlement) error) error {
		return s.svc.ExportSettlements(r.Context(), mid, f, fn)
	})
	if err != nil {
		s.log.ErrorContext(r.Context(), "console export", "err", err)
	}
}
