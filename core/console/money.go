package console

import (
	"encoding/csv"
	"net/http"
	"net/url"
	"time"

	"github.com/paycenter/paycenter/core"
)

// Merchant pages for money at rest: the balance and its transactions, settlements, customers
// and their wallets (payouts are in payouts.go).
func (s *Server) moneyRoutes() {
	s.mux.HandleFunc("GET /dashboard/balance", s.merchantUser(core.PermViewPayments, s.balancePage))
	s.mux.HandleFunc("GET /dashboard/settlements", s.merchantUser(core.PermViewPayments, s.settlementsPage))
	s.mux.HandleFunc("GET /dashboard/settlements/{id}", s.merchantUser(core.PermViewPayments, s.settlementPage))
	s.mux.HandleFunc("GET /dashboard/settlements/{id}/lines.csv", s.merchantUser(core.PermViewPayments, s.settlementCSV))
	s.mux.HandleFunc("GET /dashboard/customers", s.merchantUser(core.PermViewPayments, s.customersPage))
	s.mux.HandleFunc("GET /dashboard/customers/{id}", s.merchantUser(core.PermViewPayments, s.customerPage))
}

// balanceTxTypes are the balance transaction types the filter offers.
var balanceTxTypes = []string{core.TxnPayment, core.TxnRefund, core.TxnTransfer, core.TxnTransferReversal, core.TxnAdjustment, core.TxnPayout, core.TxnPayoutFailure}

// balanceQuery parses the balance page's filters: type, available_on range (dates, UTC),
// and the keyset cursor.
func balanceQuery(q url.Values) (core.BalanceTransactionFilter, error) {
	f := core.BalanceTransactionFilter{Limit: 25, StartingAfter: q.Get("after")}
	if v := q.Get("type"); v != "" {
		ok := false
		for _, t := range balanceTxTypes {
			ok = ok || v == t
		}
		if !ok {
			return f, core.ParamError(core.CodeParameterInvalid, "type", "Unknown balance transaction type '%s'.", v)
		}
		f.Type = v
	}
	for _, name := range []string{"available_from", "available_to"} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		d, err := time.Parse(time.DateOnly, v)
		if err != nil {
			return f, core.ParamError(core.CodeParameterInvalid, name, "%s must be a date such as 2026-12-01.", name)
		}
		if name == "available_from" {
			f.AvailableOnGTE = &d
		} else {
			end := d.AddDate(0, 0, 1).Add(-time.Microsecond)
			f.AvailableOnLTE = &end
		}
	}
	return f, nil
}

func (s *Server) balancePage(w http.ResponseWriter, r *http.Request) {
	mid := sessionFrom(r).User.MerchantID
	f, err := balanceQuery(r.URL.Query())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	bal, err := s.svc.Balance(r.Context(), mid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	list, err := s.svc.BalanceTransactions(r.Context(), mid, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	next := ""
	if list.HasMore && len(list.Data) > 0 {
		nq := r.URL.Query()
		nq.Set("after", list.Data[len(list.Data)-1].ID)
		next = "/dashboard/balance?" + nq.Encode()
	}
	s.render(w, r, http.StatusOK, "balance", map[string]any{"Balance": bal.Data, "Transactions": list.Data, "Next": next,
		"Q": r.URL.Query(), "Types": balanceTxTypes})
}

// listLimit is how many settlements or customers a page shows (the newest).
const listLimit = 100

func (s *Server) settlementsPage(w http.ResponseWriter, r *http.Request) {
	list, err := s.svc.Settlements(r.Context(), sessionFrom(r).User.MerchantID, listLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "settlements", map[string]any{"Settlements": list.Data, "More": list.HasMore})
}

func (s *Server) settlementPage(w http.ResponseWriter, r *http.Request) {
	st, lines, err := s.svc.Settlement(r.Context(), sessionFrom(r).User.MerchantID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "settlement", map[string]any{"S": st, "Lines": lines})
}

// settlementCSV is the same file as the API's GET /v1/settlements/{id}/lines.csv.
func (s *Server) settlementCSV(w http.ResponseWriter, r *http.Request) {
	st, lines, err := s.svc.Settlement(r.Context(), sessionFrom(r).User.MerchantID, r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	csvHeaders(w, st.ID+".csv")
	cw := csv.NewWriter(w)
	_ = cw.Write(core.SettlementCSVHeader)
	for _, l := range lines {
		_ = cw.Write(core.SettlementCSVRow(l))
	}
	cw.Flush()
}

func (s *Server) customersPage(w http.ResponseWriter, r *http.Request) {
	list, err := s.svc.Customers(r.Context(), sessionFrom(r).User.MerchantID, listLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "customers", map[string]any{"Customers": list.Data, "More": list.HasMore})
}

func (s *Server) customerPage(w http.ResponseWriter, r *http.Request) {
	mid, id := sessionFrom(r).User.MerchantID, r.PathValue("id")
	c, err := s.svc.Customer(r.Context(), mid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	txns, err := s.svc.CustomerBalanceTransactions(r.Context(), mid, id, listLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	notices, err := s.svc.Notifications(r.Context(), mid, id, listLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "customer", map[string]any{"C": c, "Transactions": txns.Data, "Notices": notices.Data})
}
