package console

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
)

// Operator pages for merchant operations: KYC review, fee schedules, reconciliation.
func (s *Server) operatorOpsRoutes() {
	s.mux.HandleFunc("GET /dashboard/ops/kyc", s.operator(core.PermViewMerchants, s.kycPage))
	s.mux.HandleFunc("POST /dashboard/ops/kyc/{id}/approve", s.operator(core.PermReviewKYC, s.decideKYC(true)))
	s.mux.HandleFunc("POST /dashboard/ops/kyc/{id}/reject", s.operator(core.PermReviewKYC, s.decideKYC(false)))
	s.mux.HandleFunc("POST /dashboard/ops/merchants/{id}/fees", s.operator(core.PermManageMerchants, s.setFees))
	s.mux.HandleFunc("GET /dashboard/ops/reconciliation", s.operator(core.PermViewMerchants, s.reconcilePage))
	s.mux.HandleFunc("POST /dashboard/ops/reconciliation", s.operator(core.PermManageMerchants, s.reconcile))
}

func (s *Server) kycPage(w http.ResponseWriter, r *http.Request) {
	s.showKYC(w, r, http.StatusOK, "")
}

func (s *Server) showKYC(w http.ResponseWriter, r *http.Request, status int, msg string) {
	pending, err := s.svc.ConsolePendingKYC(r.Context(), 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "kyc", map[string]any{"Pending": pending, "Error": msg})
}

// decideKYC approves or rejects (with a reason) a merchant's pending KYC submission through
// the service method the admin API uses; the decision is audited with the operator.
func (s *Server) decideKYC(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		if !approve && reason == "" {
			s.showKYC(w, r, http.StatusBadRequest, "reason: a rejection needs a reason.")
			return
		}
		if _, err := s.svc.DecideKYC(r.Context(), id, approve, reason); err != nil {
			s.showKYC(w, r, statusOf(err), core.AsError(err).Message)
			return
		}
		http.Redirect(w, r, "/dashboard/ops/kyc", http.StatusSeeOther)
	}
}

// setFees sets a merchant's fee schedule for one channel (or all: channel empty).
func (s *Server) setFees(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p := core.FeeScheduleParams{Channel: core.Channel(r.PostFormValue("channel")), FeeSchedule: core.FeeSchedule{RefundFees: r.PostFormValue("refund_fees") == "on"}}
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"percent_bps", &p.PercentBps}, {"fixed", &p.Fixed}} {
		n, err := strconv.ParseInt(strings.TrimSpace(r.PostFormValue(f.name)), 10, 64)
		if err != nil {
			s.showMerchant(w, r, http.StatusBadRequest, f.name+" must be a whole number.")
			return
		}
		*f.dst = n
	}
	if err := p.Validate(); err != nil {
		s.showMerchant(w, r, http.StatusBadRequest, core.AsError(err).Message)
		return
	}
	if _, err := s.svc.SetFeeSchedule(r.Context(), id, p); err != nil {
		s.showMerchant(w, r, statusOf(err), core.AsError(err).Message)
		return
	}
	http.Redirect(w, r, "/dashboard/ops/merchants/"+id, http.StatusSeeOther)
}

func (s *Server) reconcilePage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "reconcile", map[string]any{"Channels": core.Channels,
		"Day": s.cfg.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)})
}

// reconcile runs the reconciliation of one channel's day (the channel's statement against the
// platform's records) and shows its differences. Runs are not stored: the page shows the run
// just made, and the audit log keeps who ran which.
func (s *Server) reconcile(w http.ResponseWriter, r *http.Request) {
	data := map[string]any{"Channels": core.Channels, "Day": r.PostFormValue("date"), "Channel": r.PostFormValue("channel")}
	ch := core.Channel(r.PostFormValue("channel"))
	if !ch.Valid() {
		data["Error"] = "channel must be one of the platform's channels."
		s.render(w, r, http.StatusBadRequest, "reconcile", data)
		return
	}
	day, err := time.Parse(time.DateOnly, r.PostFormValue("date"))
	if err != nil {
		data["Error"] = "date must be a day such as 2026-12-01 (UTC)."
		s.render(w, r, http.StatusBadRequest, "reconcile", data)
		return
	}
	rep, err := s.svc.ReconcileDay(r.Context(), ch, day)
	if err != nil {
		data["Error"] = core.AsError(err).Message
		s.render(w, r, statusOf(err), "reconcile", data)
		return
	}
	data["Report"] = rep
	s.render(w, r, http.StatusOK, "reconcile", data)
}
