package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/paycenter/paycenter/core"
)

// Merchant pages for payouts: the list, a payout with its balance transactions, the payout
// schedule and the pay-out form. They call the service methods the API's payout routes use.
// Every merchant role sees them; paying out and changing the schedule need manage_payouts
// (owner, admin), checked on the server.
func (s *Server) payoutRoutes() {
	s.mux.HandleFunc("GET /dashboard/payouts", s.merchantUser(core.PermViewPayments, s.payoutsPage))
	s.mux.HandleFunc("POST /dashboard/payouts", s.merchantUser(core.PermManagePayouts, s.createPayout))
	s.mux.HandleFunc("POST /dashboard/payouts/schedule", s.merchantUser(core.PermManagePayouts, s.setPayoutSchedule))
	s.mux.HandleFunc("GET /dashboard/payouts/{id}", s.merchantUser(core.PermViewPayments, s.payoutPage))
}

var payoutStatuses = []string{core.PayoutPending, core.PayoutInTransit, core.PayoutPaid, core.PayoutFailed}

var weekdayNames = []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}

func (s *Server) payoutsPage(w http.ResponseWriter, r *http.Request) {
	s.showPayouts(w, r, http.StatusOK, "")
}

// showPayouts renders the payouts page, with an error message if msg is not empty.
func (s *Server) showPayouts(w http.ResponseWriter, r *http.Request, status int, msg string) {
	mid := sessionFrom(r).User.MerchantID
	q := r.URL.Query()
	f := core.PayoutFilter{Limit: 25, StartingAfter: q.Get("after")}
	if v := q.Get("status"); v != "" {
		ok := false
		for _, st := range payoutStatuses {
			ok = ok || v == st
		}
		if !ok {
			s.fail(w, r, core.ParamError(core.CodeParameterInvalid, "status", "status must be pending, in_transit, paid or failed."))
			return
		}
		f.Status = v
	}
	list, err := s.svc.Payouts(r.Context(), mid, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sched, err := s.svc.PayoutSchedule(r.Context(), mid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	bal, err := s.svc.Balance(r.Context(), mid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	next := ""
	if list.HasMore && len(list.Data) > 0 {
		nq := r.URL.Query()
		nq.Set("after", list.Data[len(list.Data)-1].ID)
		next = "/dashboard/payouts?" + nq.Encode()
	}
	s.render(w, r, status, "payouts", map[string]any{"Payouts": list.Data, "Next": next, "Q": q, "Statuses": payoutStatuses,
		"Schedule": sched, "Weekdays": weekdayNames, "Balance": bal.Data, "PayoutKey": randomKey(), "Error": msg})
}

func (s *Server) payoutPage(w http.ResponseWriter, r *http.Request) {
	mid, id := sessionFrom(r).User.MerchantID, r.PathValue("id")
	po, err := s.svc.Payout(r.Context(), mid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	txns, err := s.svc.BalanceTransactions(r.Context(), mid, core.BalanceTransactionFilter{Source: po.ID, Limit: core.MaxListLimit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "payout", map[string]any{"P": po, "Transactions": txns.Data})
}

// createPayout pays out from the form. The form carries an Idempotency-Key made when the
// page was rendered, so submitting it twice (a double click) pays out once: the second
// request replays the first one's answer through the payout's phase runner, as the API's.
func (s *Server) createPayout(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	mid := sess.User.MerchantID
	key := r.PostFormValue("idempotency_key")
	if key == "" || len(key) > 255 {
		s.showPayouts(w, r, http.StatusBadRequest, "The form has no idempotency key (idempotency_key); reload the page.")
		return
	}
	p := core.CreatePayoutParams{Currency: r.PostFormValue("currency"), Description: r.PostFormValue("description")}
	n, err := strconv.ParseInt(strings.TrimSpace(r.PostFormValue("amount")), 10, 64)
	if err != nil {
		s.showPayouts(w, r, http.StatusBadRequest, "amount must be a whole number of minor units (e.g. cents), greater than 0.")
		return
	}
	p.Amount = n
	if err := p.Validate(); err != nil {
		s.showPayouts(w, r, http.StatusBadRequest, core.AsError(err).Message)
		return
	}
	region, err := s.svc.ConsoleMerchantRegion(r.Context(), mid)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req := core.IdempotentRequest{MerchantID: mid, Region: region, Key: key, Method: http.MethodPost,
		Path: "/dashboard/payouts", Render: renderReply}
	rep, err := s.svc.CreatePayout(r.Context(), req, p)
	if core.ErrorCode(err) == core.CodeIdempotencyKeyInUse {
		// An earlier click of the same form is still at work: that one pays out.
		http.Redirect(w, r, "/dashboard/payouts", http.StatusSeeOther)
		return
	}
	if err != nil {
		s.showPayouts(w, r, statusOf(err), core.AsError(err).Message)
		return
	}
	var out replyBody
	if rep.Interim == nil {
		_ = json.Unmarshal(rep.Body, &out)
		if out.Error != "" {
			s.showPayouts(w, r, rep.Status, out.Error)
			return
		}
	} else if po, ok := rep.Interim.(*core.Payout); ok {
		out.ID = po.ID
	}
	if out.ID == "" {
		http.Redirect(w, r, "/dashboard/payouts", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/dashboard/payouts/"+url.PathEscape(out.ID), http.StatusSeeOther)
}

// setPayoutSchedule sets the merchant's payout schedule (audited by the service, in its
// transaction, with the user).
func (s *Server) setPayoutSchedule(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	p, err := scheduleForm(r)
	if err != nil {
		s.showPayouts(w, r, http.StatusBadRequest, core.AsError(err).Message)
		return
	}
	if _, err := s.svc.SetPayoutSchedule(r.Context(), sess.User.MerchantID, false, p); err != nil {
		s.showPayouts(w, r, statusOf(err), core.AsError(err).Message)
		return
	}
	http.Redirect(w, r, "/dashboard/payouts", http.StatusSeeOther)
}

// scheduleForm reads and checks a payout schedule form (the merchant's and the operator's).
func scheduleForm(r *http.Request) (core.PayoutScheduleParams, error) {
	p := core.PayoutScheduleParams{Interval: r.PostFormValue("interval")}
	if p.Interval == core.ScheduleWeekly {
		p.WeeklyAnchor = r.PostFormValue("weekly_anchor")
	}
	if v := strings.TrimSpace(r.PostFormValue("delay_days")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, core.ParamError(core.CodeParameterInvalid, "delay_days", "delay_days must be a whole number of days.")
		}
		p.DelayDays = &n
	}
	return p, p.Validate()
}
