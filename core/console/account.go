package console

import (
	"net/http"
	"strings"

	"github.com/paycenter/paycenter/core"
)

// The account page: the signed-in user's own second factor.

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "account", nil)
}

// startTOTP makes a new secret and shows it once, as text and as an otpauth:// URI, with
// the form that confirms it with a code.
func (s *Server) startTOTP(w http.ResponseWriter, r *http.Request) {
	secret, uri, err := s.svc.StartTOTPEnrolment(r.Context(), sessionFrom(r).User.ID)
	if err != nil {
		s.render(w, r, statusOf(err), "account", map[string]any{"Error": core.AsError(err).Message})
		return
	}
	s.render(w, r, http.StatusOK, "account", map[string]any{"Secret": secret, "URI": uri})
}

func (s *Server) confirmTOTP(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	if err := s.svc.ConfirmTOTP(r.Context(), sess.User.ID, strings.TrimSpace(r.PostFormValue("code"))); err != nil {
		s.render(w, r, statusOf(err), "account", map[string]any{"Error": core.AsError(err).Message, "Enrolling": true})
		return
	}
	http.Redirect(w, r, "/dashboard/account", http.StatusSeeOther)
}
