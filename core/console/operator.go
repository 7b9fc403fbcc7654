package console

import (
	"net/http"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/risk"
)

func (s *Server) operatorRoutes() {
	s.mux.HandleFunc("GET /dashboard/ops/merchants", s.operator(core.PermViewMerchants, s.merchantsPage))
	s.mux.HandleFunc("GET /dashboard/ops/merchants/{id}", s.operator(core.PermViewMerchants, s.merchantPage))
	s.mux.HandleFunc("POST /dashboard/ops/merchants/{id}/users", s.operator(core.PermManageMerchants, s.addMerchantOwner))
	s.mux.HandleFunc("GET /dashboard/ops/reviews", s.operator(core.PermViewRisk, s.reviewsPage))
	s.mux.HandleFunc("POST /dashboard/ops/reviews/{id}/approve", s.operator(core.PermReviewRisk, s.approveReview))
	s.mux.HandleFunc("POST /dashboard/ops/reviews/{id}/reject", s.operator(core.PermReviewRisk, s.rejectReview))
	s.mux.HandleFunc("GET /dashboard/ops/alerts", s.operator(core.PermViewRisk, s.alertsPage))
	s.mux.HandleFunc("GET /dashboard/ops/audit", s.operator(core.PermViewMerchants, s.auditPage))
}

func (s *Server) merchantsPage(w http.ResponseWriter, r *http.Request) {
	ms, err := s.svc.ConsoleMerchants(r.Context(), 200)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "merchants", map[string]any{"Merchants": ms})
}

func (s *Server) merchantPage(w http.ResponseWriter, r *http.Request) {
	s.showMerchant(w, r, http.StatusOK, "")
}

func (s *Server) showMerchant(w http.ResponseWriter, r *http.Request, status int, msg string) {
	id := r.PathValue("id")
	chans, err := s.svc.Channels(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	users, err := s.svc.ConsoleUsers(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	kyc, err := s.svc.KYC(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	fees, err := s.svc.ConsoleFeeSchedules(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	data := map[string]any{"ID": id, "Channels": chans, "Users": users, "KYC": kyc, "Fees": fees,
		"AllChannels": core.Channels, "Error": msg}
	if err := s.merchantControls(r, id, data); err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "merchant", data)
}

// addMerchantOwner lets an operator create a merchant's first user (or any of its users).
func (s *Server) addMerchantOwner(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	p := core.CreateUserParams{Email: r.PostFormValue("email"), Password: r.PostFormValue("password"),
		Role: r.PostFormValue("role"), Merchant: r.PathValue("id")}
	if _, err := s.svc.CreateConsoleUser(r.Context(), sess.User.ID, p); err != nil {
		s.showMerchant(w, r, statusOf(err), core.AsError(err).Message)
		return
	}
	http.Redirect(w, r, "/dashboard/ops/merchants/"+p.Merchant, http.StatusSeeOther)
}

func (s *Server) reviewsPage(w http.ResponseWriter, r *http.Request) {
	s.showReviews(w, r, http.StatusOK, "")
}

func (s *Server) showReviews(w http.ResponseWriter, r *http.Request, status int, msg string) {
	open, err := s.svc.Reviews(r.Context(), "open", 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var done []*risk.Review
	for _, st := range []string{"approved", "rejected"} {
		closed, err := s.svc.Reviews(r.Context(), st, 20)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		done = append(done, closed...)
	}
	s.render(w, r, status, "reviews", map[string]any{"Open": open, "Closed": done, "Error": msg})
}

// actor names a back-office user in the risk audit trail.
func actor(sess *core.Session) string { return "console:" + sess.User.ID + ":" + sess.User.Email }

func (s *Server) approveReview(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	if _, err := s.svc.ApproveReview(r.Context(), actor(sess), r.PathValue("id")); err != nil {
		s.showReviews(w, r, statusOf(err), core.AsError(err).Message)
		return
	}
	http.Redirect(w, r, "/dashboard/ops/reviews", http.StatusSeeOther)
}

func (s *Server) rejectReview(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	p := risk.RejectParams{Reason: r.PostFormValue("reason")}
	if err := p.Validate(); err != nil {
		s.showReviews(w, r, http.StatusBadRequest, core.AsError(err).Message)
		return
	}
	if _, err := s.svc.RejectReview(r.Context(), actor(sess), r.PathValue("id"), p); err != nil {
		s.showReviews(w, r, statusOf(err), core.AsError(err).Message)
		return
	}
	http.Redirect(w, r, "/dashboard/ops/reviews", http.StatusSeeOther)
}

func (s *Server) alertsPage(w http.ResponseWriter, r *http.Request) {
	alerts, err := s.svc.Alerts(r.Context(), "", 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "alerts", map[string]any{"Alerts": alerts})
}

func (s *Server) auditPage(w http.ResponseWriter, r *http.Request) {
	audit, err := s.svc.ConsoleAudit(r.Context(), "", 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "audit", map[string]any{"Audit": audit})
}
