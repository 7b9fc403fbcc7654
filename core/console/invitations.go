package console

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/paycenter/paycenter/core"
)

// Mailer sends one plain-text e-mail (payd gives the SMTP sender its payer notices use).
type Mailer interface {
	SendMail(ctx context.Context, id, to, subject, body string) error
}

const inviteCSRFCookie = "pc_invite_csrf"

func (s *Server) invitationRoutes() {
	s.mux.HandleFunc("POST /dashboard/team/invitations", s.merchantUser(core.PermManageTeam, s.invite))
	s.mux.HandleFunc("GET /dashboard/invitations/{token}", s.invitationPage)
	s.mux.HandleFunc("POST /dashboard/invitations/{token}", s.acceptInvitation)
}

// baseURL is where links in e-mails point: Config.BaseURL, else this request's own origin.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.BaseURL != "" {
		return strings.TrimRight(s.cfg.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// invite e-mails a person a single-use link that sets their password, valid for
// core.InvitationTTL; the invitation is audited.
func (s *Server) invite(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	if s.cfg.Mailer == nil {
		s.showTeam(w, r, http.StatusServiceUnavailable, "This node sends no e-mail (payd -smtp-addr): add the user with an initial password instead.")
		return
	}
	p := core.InviteParams{Email: r.PostFormValue("email"), Role: r.PostFormValue("role"), Merchant: sess.User.MerchantID}
	inv, token, err := s.svc.CreateConsoleInvitation(r.Context(), sess.User.ID, p)
	if err != nil {
		s.showTeam(w, r, statusOf(err), core.AsError(err).Message)
		return
	}
	link := s.baseURL(r) + "/dashboard/invitations/" + url.PathEscape(token)
	body := sess.User.Email + " invites you to their Paycenter back office as " + inv.Role + ".\n\n" +
		"Choose your password here (the link works once, until " + inv.ExpiresAt.UTC().Format("2006-01-02 15:04") + " UTC):\n" + link + "\n"
	if err := s.cfg.Mailer.SendMail(r.Context(), "invitation:"+inv.ID, inv.Email, "Your invitation to the Paycenter back office", body); err != nil {
		s.log.ErrorContext(r.Context(), "console invitation mail", "invitation", inv.ID, "err", err)
		s.showTeam(w, r, http.StatusBadGateway, "The invitation e-mail could not be sent; try again.")
		return
	}
	http.Redirect(w, r, "/dashboard/team", http.StatusSeeOther)
}

func (s *Server) invitationPage(w http.ResponseWriter, r *http.Request) {
	s.showInvitation(w, r, http.StatusOK, "")
}

func (s *Server) showInvitation(w http.ResponseWriter, r *http.Request, status int, msg string) {
	inv, err := s.svc.ConsoleInvitation(r.Context(), r.PathValue("token"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	token := randomKey()
	http.SetCookie(w, &http.Cookie{Name: inviteCSRFCookie, Value: token, Path: "/dashboard/invitations/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode, MaxAge: 3600})
	s.render(w, r, status, "invitation", map[string]any{"Invitation": inv, "CSRF": token, "Error": msg})
}

// acceptInvitation sets the invited user's password and uses the invitation up; then the
// user signs in.
func (s *Server) acceptInvitation(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(inviteCSRFCookie)
	got := r.PostFormValue(csrfField)
	if err != nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(c.Value)) != 1 {
		s.errorPage(w, r, http.StatusForbidden, "This form has expired or did not come from this site (CSRF token missing or wrong). Reload the page and try again.")
		return
	}
	if !s.loginAllowed(r) {
		w.Header().Set("Retry-After", "60")
		s.errorPage(w, r, http.StatusTooManyRequests, "Too many attempts from your address; wait a minute.")
		return
	}
	password := r.PostFormValue("password")
	if password != r.PostFormValue("password_again") {
		s.showInvitation(w, r, http.StatusBadRequest, "password_again: the two passwords differ.")
		return
	}
	u, err := s.svc.AcceptConsoleInvitation(r.Context(), r.PathValue("token"), password)
	if err != nil {
		if core.ErrorCode(err) == core.CodeNotFound {
			s.fail(w, r, err)
			return
		}
		s.showInvitation(w, r, statusOf(err), core.AsError(err).Message)
		return
	}
	s.renderLogin(w, r, http.StatusOK, u.Email, "")
}
