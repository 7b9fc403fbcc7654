package console

import (
	"net/http"
	"strconv"
	"time"

	"github.com/paycenter/paycenter/core"
)

// The API keys page: the live keys, rolled (with a grace period for the old one) or revoked
// by their ID. The back office never holds a secret; a rolled key's new secret is shown once,
// in the answer to the roll (every page is sent with Cache-Control: no-store).
func (s *Server) keyRoutes() {
	s.mux.HandleFunc("GET /dashboard/api-keys", s.merchantUser(core.PermManageKeys, s.apiKeysPage))
	s.mux.HandleFunc("POST /dashboard/api-keys/{id}/roll", s.merchantUser(core.PermManageKeys, s.rollKey))
	s.mux.HandleFunc("POST /dashboard/api-keys/{id}/revoke", s.merchantUser(core.PermManageKeys, s.revokeKey))
}

// keyGraces are the grace periods the roll form offers, in hours (as the API: 0 to 24).
var keyGraces = []int{0, 1, 24}

func (s *Server) apiKeysPage(w http.ResponseWriter, r *http.Request) {
	s.showKeys(w, r, http.StatusOK, "", "")
}

func (s *Server) showKeys(w http.ResponseWriter, r *http.Request, status int, msg, secret string) {
	keys, err := s.svc.APIKeys(r.Context(), sessionFrom(r).User.MerchantID, "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "apikeys", map[string]any{"Keys": keys, "Graces": keyGraces, "Error": msg, "Secret": secret})
}

func (s *Server) rollKey(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	grace, ok := time.Duration(0), false
	for _, h := range keyGraces {
		if r.PostFormValue("grace_hours") == strconv.Itoa(h) {
			grace, ok = time.Duration(h)*time.Hour, true
		}
	}
	if !ok {
		s.showKeys(w, r, http.StatusBadRequest, "grace_hours must be 0, 1 or 24.", "")
		return
	}
	id := r.PathValue("id")
	m, err := s.svc.ConsoleRollKey(r.Context(), sess.User.MerchantID, id, sess.User.ID, grace)
	if err != nil {
		if core.ErrorCode(err) == core.CodeNotFound {
			s.fail(w, r, err)
			return
		}
		s.showKeys(w, r, statusOf(err), core.AsError(err).Message, "")
		return
	}
	s.showKeys(w, r, http.StatusOK, "", m.SecretKey)
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	id := r.PathValue("id")
	if _, err := s.svc.ConsoleRevokeKey(r.Context(), sess.User.MerchantID, id, sess.User.ID); err != nil {
		if core.ErrorCode(err) == core.CodeNotFound {
			s.fail(w, r, err)
			return
		}
		s.showKeys(w, r, statusOf(err), core.AsError(err).Message, "")
		return
	}
	http.Redirect(w, r, "/dashboard/api-keys", http.StatusSeeOther)
}
