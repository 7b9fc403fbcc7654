package console

import (
	"net/http"
	"strings"

	"github.com/paycenter/paycenter/core"
)

// The account page: the signed-in user's own second factor and its recovery codes.

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request) {
	s.showAccount(w, r, http.StatusOK, map[string]any{})
}

// showAccount renders the account page with data, and how many recovery codes are left.
func (s *Server) showAccount(w http.ResponseWriter, r *http.Request, status int, data map[string]any) {
	if u := sessionFrom(r).User; u.TOTPEnabled || data["Codes"] != nil {
		n, err := s.svc.RecoveryCodesLeft(r.Context(), u.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		data["CodesLeft"] = n
	}
	s.render(w, r, status, "account", data)
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

// confirmTOTP turns the factor on and shows the recovery codes, once (only their hashes are
// kept): the answer is the page, not a redirect to it.
func (s *Server) confirmTOTP(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	codes, err := s.svc.ConfirmTOTP(r.Context(), sess.User.ID, strings.TrimSpace(r.PostFormValue("code")))
	if err != nil {
		s.render(w, r, statusOf(err), "account", map[string]any{"Error": core.AsError(err).Message, "Enrolling": true})
		return
	}
	sess.User.TOTPEnabled = true
	s.showAccount(w, r, http.StatusOK, map[string]any{"Codes": codes})
}

// regenerateRecoveryCodes replaces the user's recovery codes (audited) and shows the new
// ones, once.
func (s *Server) regenerateRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	codes, err := s.svc.RegenerateRecoveryCodes(r.Context(), sessionFrom(r).User.ID)
	if err != nil {
		s.showAccount(w, r, statusOf(err), map[string]any{"Error": core.AsError(err).Message})
		return
	}
	s.showAccount(w, r, http.StatusOK, map[string]any{"Codes": codes})
}
