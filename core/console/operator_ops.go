package console

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/paycenter/paycenter/core"
)

// Operator pages for merchant operations: KYC review, fee schedules (reconciliation: recon.go).
func (s *Server) operatorOpsRoutes() {
	s.mux.HandleFunc("GET /dashboard/ops/kyc", s.operator(core.PermViewMerchants, s.kycPage))
	s.mux.HandleFunc("POST /dashboard/ops/kyc/{id}/approve", s.operator(core.PermReviewKYC, s.decideKYC(true)))
	s.mux.HandleFunc("POST /dashboard/ops/kyc/{id}/reject", s.operator(core.PermReviewKYC, s.decideKYC(false)))
	s.mux.HandleFunc("POST /dashboard/ops/merchants/{id}/fees", s.operator(core.PermManageMerchants, s.setFees))
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
