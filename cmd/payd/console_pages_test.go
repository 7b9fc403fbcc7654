package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/console"
	"github.com/paycenter/paycenter/core/notify"
	"github.com/paycenter/paycenter/internal/mailpittest"
)

// kycSubmission is a valid KYC submission; its ID and account numbers end in 0130 and 3001.
var kycSubmission = map[string]any{"legal_name": "Harbour Books GmbH",
	"registration_number": "HRB 54321", "country": "DE",
	"address":        map[string]any{"line1": "Am Hafen 2", "city": "Hamburg", "postal_code": "20457"},
	"representative": map[string]any{"name": "Anna Schmidt", "id_number": "T22000130", "date_of_birth": "1979-02-11", "phone": "+4940123456"},
	"bank_account":   map[string]any{"holder_name": "Harbour Books GmbH", "account_number": "0532013001", "bank_code": "37040044", "currency": "EUR"}}

func (c *consoleNode) kycStatus(key string) string {
	c.t.Helper()
	return c.apiOK("GET", "/v1/merchant/kyc", key, "", nil)["status"].(string)
}

func (c *consoleNode) audited(action, object string) (int, string) {
	c.t.Helper()
	var n int
	var who string
	err := c.node.DB.Pool.QueryRow(c.t.Context(), `SELECT count(*), COALESCE(min(u.email), '') FROM console_audit a
		LEFT JOIN console_users u ON u.id = a.user_id WHERE a.action = $1 AND a.object_id = $2`, action, object).Scan(&n, &who)
	if err != nil {
		c.t.Fatal(err)
	}
	return n, who
}

func TestConsoleMoneyAndOperationsPages(t *testing.T) {
	c := &consoleNode{t: t, node: paydtest.Start(t)}
	merchant, key := c.merchant("Pages Shop")
	_, otherKey := c.merchant("Other Pages Shop")
	pay := c.pay(key, "order-1", 5000)
	c.apiOK("POST", "/v1/refunds", key, core.RandomToken(16), map[string]any{"payment": pay, "amount": 1200})
	cus := c.apiOK("POST", "/v1/customers", key, "", map[string]any{"email": "payer@example.com", "name": "Pat Payer"})["id"].(string)
	otherCus := c.apiOK("POST", "/v1/customers", otherKey, "", map[string]any{"name": "Someone Else"})["id"].(string)
	c.user(key, "/v1/console_users", "owner@pages.test", core.RoleOwner, "")
	c.user(paydtest.AdminToken, "/v1/admin/console_users", "ops@pages.test", core.RoleOperator, "")
	c.user(paydtest.AdminToken, "/v1/admin/console_users", "support@pages.test", core.RoleSupport, "")

	t.Run("a merchant sees its balance, settlements and customers", func(t *testing.T) {
		b := c.browser()
		b.login("owner@pages.test", consolePassword)
		bal := c.apiOK("GET", "/v1/balance", key, "", nil)["data"].([]any)[0].(map[string]any)
		st, page := b.get("/dashboard/balance")
		pending := core.FormatAmount(int64(bal["pending"].(float64)), "USD")
		available := core.FormatAmount(int64(bal["available"].(float64)), "USD")
		if st != 200 || !strings.Contains(page, pending) || !strings.Contains(page, available) || !strings.Contains(page, pay) {
			t.Fatalf("balance page: %d, want pending %s, available %s and the payment's transaction", st, pending, available)
		}
		if st, page := b.get("/dashboard/balance?type=refund"); st != 200 || strings.Contains(page, "<td>payment</td>") || !strings.Contains(page, "<td>refund</td>") {
			t.Fatalf("balance page filtered on refunds: %d", st)
		}
		for _, q := range []string{"type=colour", "available_from=yesterday"} {
			param := strings.SplitN(q, "=", 2)[0]
			if st, page := b.get("/dashboard/balance?" + q); st != 400 || !strings.Contains(page, param) {
				t.Fatalf("balance page with %s: %d, want 400 naming %s", q, st, param)
			}
		}
		if st, _ := b.get("/dashboard/settlements"); st != 200 {
			t.Fatalf("settlements page: %d", st)
		}
		if st, _ := b.get("/dashboard/settlements/stl_us-east_nope"); st != 404 {
			t.Fatalf("unknown settlement: %d, want 404", st)
		}
		if st, page := b.get("/dashboard/customers"); st != 200 || !strings.Contains(page, cus) || strings.Contains(page, otherCus) {
			t.Fatalf("customers page: %d, own customer shown %v, other's shown %v", st, strings.Contains(page, cus), strings.Contains(page, otherCus))
		}
		if st, page := b.get("/dashboard/customers/" + cus); st != 200 || !strings.Contains(page, "Pat Payer") {
			t.Fatalf("customer page: %d", st)
		}
		if st, _ := b.get("/dashboard/customers/" + otherCus); st != 404 {
			t.Fatalf("another merchant's customer: %d, want 404", st)
		}
		if st, _ := b.get("/dashboard/ops/kyc"); st != 404 {
			t.Fatalf("a merchant user on the KYC queue: %d, want 404", st)
		}
	})

	t.Run("operators review KYC: roles and CSRF checked, decision audited", func(t *testing.T) {
		c.apiOK("POST", "/v1/merchant/kyc", key, "", kycSubmission)
		ops := c.browser()
		ops.login("ops@pages.test", consolePassword)
		st, page := ops.get("/dashboard/ops/kyc")
		if st != 200 || !strings.Contains(page, merchant) || !strings.Contains(page, "0130") || !strings.Contains(page, "3001") ||
			strings.Contains(page, "T22000130") || strings.Contains(page, "0532013001") {
			t.Fatalf("KYC queue: %d; want the merchant with last fours only", st)
		}
		sup := c.browser()
		sup.login("support@pages.test", consolePassword)
		_, spage := sup.get("/dashboard/ops/kyc")
		if strings.Contains(spage, "kyc/"+merchant+"/approve") {
			t.Fatal("the support role is shown the approve button")
		}
		if st, _ := sup.post("/dashboard/ops/kyc/"+merchant+"/approve", url.Values{"csrf": {sup.csrf(spage)}}); st != http.StatusForbidden {
			t.Fatalf("support approves: %d, want 403", st)
		}
		if st, _ := ops.post("/dashboard/ops/kyc/"+merchant+"/approve", url.Values{}); st != http.StatusForbidden {
			t.Fatalf("approve without CSRF: %d, want 403", st)
		}
		if st, page := ops.post("/dashboard/ops/kyc/"+merchant+"/reject", url.Values{"csrf": {ops.csrf(page)}}); st != 400 || !strings.Contains(page, "reason") {
			t.Fatalf("reject without a reason: %d, want 400 naming reason", st)
		}
		if s := c.kycStatus(key); s != core.KYCPending {
			t.Fatalf("after refused decisions the KYC is %s, want pending", s)
		}
		if st, _ := ops.post("/dashboard/ops/kyc/"+merchant+"/approve", url.Values{"csrf": {ops.csrf(page)}}); st != http.StatusSeeOther {
			t.Fatalf("approve: %d", st)
		}
		if s := c.kycStatus(key); s != core.KYCVerified {
			t.Fatalf("after approval the KYC is %s", s)
		}
		if n, who := c.audited("kyc.approved", merchant); n != 1 || who != "ops@pages.test" {
			t.Fatalf("kyc.approved audited %d times by %q", n, who)
		}
	})

	t.Run("operators set fees", func(t *testing.T) {
		ops := c.browser()
		ops.login("ops@pages.test", consolePassword)
		_, page := ops.get("/dashboard/ops/merchants/" + merchant)
		form := url.Values{"csrf": {ops.csrf(page)}, "channel": {"card"}, "percent_bps": {"20000"}, "fixed": {"30"}}
		if st, body := ops.post("/dashboard/ops/merchants/"+merchant+"/fees", form); st != 400 || !strings.Contains(body, "percent_bps") {
			t.Fatalf("fees of 200 %%: %d, want 400 naming percent_bps", st)
		}
		form.Set("percent_bps", "290")
		if st, _ := ops.post("/dashboard/ops/merchants/"+merchant+"/fees", form); st != http.StatusSeeOther {
			t.Fatalf("set fees: %d", st)
		}
		if _, page := ops.get("/dashboard/ops/merchants/" + merchant); !strings.Contains(page, "<td>290</td>") {
			t.Fatal("the merchant page does not show the new schedule")
		}
		if n, who := c.audited("fees.set", merchant); n != 1 || who != "ops@pages.test" {
			t.Fatalf("fees.set audited %d times by %q", n, who)
		}
		sup := c.browser()
		sup.login("support@pages.test", consolePassword)
		_, spage := sup.get("/dashboard/ops/merchants/" + merchant)
		form.Set("csrf", sup.csrf(spage))
		form.Set("percent_bps", "1")
		if st, _ := sup.post("/dashboard/ops/merchants/"+merchant+"/fees", form); st != http.StatusForbidden {
			t.Fatalf("support sets fees: %d, want 403", st)
		}
	})

	t.Run("operators run a reconciliation", func(t *testing.T) {
		ops := c.browser()
		ops.login("ops@pages.test", consolePassword)
		_, page := ops.get("/dashboard/ops/reconciliation")
		form := url.Values{"csrf": {ops.csrf(page)}, "channel": {"card"}, "date": {"not a day"}, "idempotency_key": {"pages-run-1"}}
		if st, body := ops.post("/dashboard/ops/reconciliation", form); st != 400 || !strings.Contains(body, "date") {
			t.Fatalf("reconcile a bad day: %d", st)
		}
		form.Set("date", "2026-01-01")
		st, _ := ops.post("/dashboard/ops/reconciliation", form)
		if st != http.StatusSeeOther {
			t.Fatalf("reconcile: %d, want 303 to the run", st)
		}
		runs, err := c.node.Service.ReconciliationRuns(t.Context(), 10)
		if err != nil || len(runs) != 1 {
			t.Fatalf("stored runs %v, %v: want 1", runs, err)
		}
		st, body := ops.get("/dashboard/ops/reconciliation/runs/" + runs[0].ID)
		if st != 200 || !strings.Contains(body, `id="report"`) {
			t.Fatalf("the run's page: %d %.600s", st, body)
		}
		if n, who := c.audited("reconciliation.run", runs[0].ID); n != 1 || who != "ops@pages.test" {
			t.Fatalf("reconciliation.run audited %d times by %q", n, who)
		}
	})
}

var totpSecretRE = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)

// loginCode signs in with a TOTP code as well.
func (b *browser) loginCode(email, password, code string) (int, string) {
	b.t.Helper()
	_, page := b.get("/dashboard/login")
	return b.post("/dashboard/login", url.Values{"csrf": {b.csrf(page)}, "email": {email}, "password": {password}, "code": {code}})
}

// Once a user has confirmed a TOTP secret, signing in needs a current code as well, and a
// code is good once.
func TestConsoleTOTPIsRequiredAfterEnrolment(t *testing.T) {
	c := &consoleNode{t: t, node: paydtest.Start(t)}
	_, key := c.merchant("TOTP Shop")
	c.user(key, "/v1/console_users", "owner@totp.test", core.RoleOwner, "")
	b := c.browser()
	b.login("owner@totp.test", consolePassword)
	_, page := b.get("/dashboard/account")
	if st, _ := b.post("/dashboard/account/totp", url.Values{}); st != http.StatusForbidden {
		t.Fatalf("enrolment without CSRF: %d, want 403", st)
	}
	st, page := b.post("/dashboard/account/totp", url.Values{"csrf": {b.csrf(page)}})
	m := totpSecretRE.FindStringSubmatch(page)
	if st != 200 || m == nil || !strings.Contains(page, "otpauth://totp/") {
		t.Fatalf("enrolment page: %d, no secret or otpauth URI", st)
	}
	secret := m[1]
	if st, body := b.post("/dashboard/account/totp/confirm", url.Values{"csrf": {b.csrf(page)}, "code": {"000000"}}); st != 400 || !strings.Contains(body, "code") {
		t.Fatalf("confirm with a wrong code: %d", st)
	}
	// Not on yet: a password alone still signs in.
	if st := c.browser().login("owner@totp.test", consolePassword); st != http.StatusSeeOther {
		t.Fatalf("login before the factor is confirmed: %d", st)
	}
	now, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st, body := b.post("/dashboard/account/totp/confirm", url.Values{"csrf": {b.csrf(page)}, "code": {now}}); st != http.StatusOK || !strings.Contains(body, `id="recovery-codes"`) {
		t.Fatalf("confirm: %d, recovery codes shown %v", st, strings.Contains(body, `id="recovery-codes"`))
	}
	if _, page := b.get("/dashboard/account"); !strings.Contains(page, `id="totp-on"`) {
		t.Fatal("the account page does not show the factor on")
	}
	if n, _ := c.audited("user.totp_enabled", c.userID("owner@totp.test")); n != 1 {
		t.Fatalf("user.totp_enabled audited %d times", n)
	}

	b2 := c.browser()
	if st, page := b2.loginCode("owner@totp.test", consolePassword, ""); st != http.StatusUnauthorized || !strings.Contains(page, "authenticator") || b2.session() != "" {
		t.Fatalf("login without the code: %d, session %q; want 401 asking for it", st, b2.session())
	}
	if st, _ := b2.loginCode("owner@totp.test", consolePassword, "123456"); st != http.StatusUnauthorized || b2.session() != "" {
		t.Fatalf("login with a wrong code: %d", st)
	}
	if st, _ := b2.loginCode("owner@totp.test", consolePassword, now); st != http.StatusUnauthorized || b2.session() != "" {
		t.Fatalf("login with the code the enrolment used: %d, want 401 (a code is good once)", st)
	}
	next, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := b2.loginCode("owner@totp.test", consolePassword, next); st != http.StatusSeeOther || b2.session() == "" {
		t.Fatalf("login with the next code: %d", st)
	}
	b3 := c.browser()
	if st, _ := b3.loginCode("owner@totp.test", consolePassword, next); st != http.StatusUnauthorized || b3.session() != "" {
		t.Fatalf("the same code again: %d, want 401", st)
	}
}

func (c *consoleNode) userID(email string) string {
	c.t.Helper()
	var id string
	if err := c.node.DB.Pool.QueryRow(c.t.Context(), `SELECT id FROM console_users WHERE email = $1`, email).Scan(&id); err != nil {
		c.t.Fatal(err)
	}
	return id
}

var inviteLinkRE = regexp.MustCompile(`https?://\S+/dashboard/invitations/(\S+)`)

// An owner invites by e-mail (through a real SMTP server, Mailpit); the link sets the
// password once; a second use, an expired or unknown token, a missing CSRF token or a role
// without the permission change nothing.
func TestConsoleInvitationIsSingleUse(t *testing.T) {
	mp := mailpittest.Start(t)
	node := paydtest.Start(t)
	bo, err := console.New(node.Service, console.Config{
		Mailer: smtpMailer{&notify.SMTP{Addr: mp.SMTPAddr, From: "backoffice@paycenter.test", TLS: "none"}}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(bo)
	t.Cleanup(srv.Close)
	c := &consoleNode{t: t, node: node}
	merchant, key := c.merchant("Invite Shop")
	c.user(key, "/v1/console_users", "owner@invite.test", core.RoleOwner, "")
	c.user(key, "/v1/console_users", "admin@invite.test", core.RoleAdmin, "")
	open := func(email string) *browser {
		b := c.browser()
		b.base = srv.URL
		if st := b.login(email, consolePassword); st != http.StatusSeeOther {
			t.Fatalf("login %s: %d", email, st)
		}
		return b
	}
	owner := open("owner@invite.test")
	_, page := owner.get("/dashboard/team")
	if st, _ := owner.post("/dashboard/team/invitations", url.Values{"email": {"new@invite.test"}, "role": {"analyst"}}); st != http.StatusForbidden {
		t.Fatalf("invitation without CSRF: %d", st)
	}
	admin := open("admin@invite.test")
	_, apage := admin.get("/dashboard/")
	if st, _ := admin.post("/dashboard/team/invitations", url.Values{"csrf": {admin.csrf(apage)}, "email": {"new@invite.test"}, "role": {"owner"}}); st != http.StatusForbidden {
		t.Fatalf("an admin invites: %d, want 403", st)
	}
	if st, body := owner.post("/dashboard/team/invitations", url.Values{"csrf": {owner.csrf(page)}, "email": {"not-an-address"}, "role": {"analyst"}}); st != 400 || !strings.Contains(body, "email") {
		t.Fatalf("invitation of a bad address: %d", st)
	}
	if msgs, err := mp.Messages(t.Context()); err != nil || len(msgs) != 0 {
		t.Fatalf("%d messages after refused invitations (%v)", len(msgs), err)
	}
	if st, _ := owner.post("/dashboard/team/invitations", url.Values{"csrf": {owner.csrf(page)}, "email": {"New@Invite.test"}, "role": {"analyst"}}); st != http.StatusSeeOther {
		t.Fatalf("invite: %d", st)
	}
	msgs, err := mp.Messages(t.Context())
	if err != nil || len(msgs) != 1 || msgs[0].To[0].Address != "new@invite.test" {
		t.Fatalf("messages %+v (%v), want one to new@invite.test", msgs, err)
	}
	text, err := mp.Text(t.Context(), msgs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	m := inviteLinkRE.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("no link in the e-mail: %q", text)
	}
	token := m[1]
	if n, who := c.auditedMerchant("invitation.created", merchant); n != 1 || who != "owner@invite.test" {
		t.Fatalf("invitation.created audited %d times by %q", n, who)
	}

	guest := c.browser()
	guest.base = srv.URL
	st, form := guest.get("/dashboard/invitations/" + token)
	if st != 200 || !strings.Contains(form, "new@invite.test") {
		t.Fatalf("invitation page: %d", st)
	}
	if st, _ := guest.post("/dashboard/invitations/"+token, url.Values{"password": {consolePassword}, "password_again": {consolePassword}}); st != http.StatusForbidden {
		t.Fatalf("accept without CSRF: %d", st)
	}
	if st, body := guest.post("/dashboard/invitations/"+token, url.Values{"csrf": {guest.csrf(form)}, "password": {"short"}, "password_again": {"short"}}); st != 400 || !strings.Contains(body, "password") {
		t.Fatalf("accept with a short password: %d", st)
	}
	_, form = guest.get("/dashboard/invitations/" + token)
	if st, _ := guest.post("/dashboard/invitations/"+token, url.Values{"csrf": {guest.csrf(form)}, "password": {consolePassword}, "password_again": {consolePassword}}); st != 200 {
		t.Fatalf("accept: %d", st)
	}
	invited := c.browser()
	invited.base = srv.URL
	if st := invited.login("new@invite.test", consolePassword); st != http.StatusSeeOther {
		t.Fatalf("the invited user's login: %d", st)
	}
	if _, page := invited.get("/dashboard/"); !strings.Contains(page, "(analyst)") {
		t.Fatal("the invited user is not an analyst of the merchant")
	}
	// Used once: the link is dead, and a second use creates nothing nor changes the password.
	if st, _ := guest.get("/dashboard/invitations/" + token); st != 404 {
		t.Fatalf("the used link: %d, want 404", st)
	}
	if st, _ := guest.post("/dashboard/invitations/"+token, url.Values{"csrf": {guest.csrf(form)}, "password": {"another password entirely"}, "password_again": {"another password entirely"}}); st != 404 {
		t.Fatalf("a second use: %d, want 404", st)
	}
	if st := c.browser().login("new@invite.test", "another password entirely"); st != http.StatusUnauthorized {
		t.Fatalf("the second use's password signs in: %d", st)
	}
	if st, _ := guest.get("/dashboard/invitations/not-a-token"); st != 404 {
		t.Fatalf("an unknown token: %d", st)
	}
	if n, _ := c.auditedMerchant("invitation.accepted", merchant); n != 1 {
		t.Fatalf("invitation.accepted audited %d times", n)
	}
	// Expired: an invitation whose time is over opens nothing.
	if st, _ := owner.post("/dashboard/team/invitations", url.Values{"csrf": {owner.csrf(page)}, "email": {"late@invite.test"}, "role": {"admin"}}); st != http.StatusSeeOther {
		t.Fatalf("second invitation: %d", st)
	}
	if _, err := node.DB.Pool.Exec(t.Context(), `UPDATE console_invitations SET expires_at = now() - interval '1 second' WHERE email = 'late@invite.test'`); err != nil {
		t.Fatal(err)
	}
	msgs, _ = mp.Messages(t.Context())
	text, _ = mp.Text(t.Context(), msgs[0].ID)
	late := inviteLinkRE.FindStringSubmatch(text)
	if late == nil || late[1] == token {
		t.Fatalf("second invitation's link: %q", text)
	}
	if st, _ := guest.get("/dashboard/invitations/" + late[1]); st != 404 {
		t.Fatalf("an expired invitation: %d, want 404", st)
	}
}

func (c *consoleNode) auditedMerchant(action, merchant string) (int, string) {
	c.t.Helper()
	var n int
	var who string
	err := c.node.DB.Pool.QueryRow(c.t.Context(), `SELECT count(*), COALESCE(min(u.email), '') FROM console_audit a
		LEFT JOIN console_users u ON u.id = a.user_id WHERE a.action = $1 AND a.merchant_id = $2`, action, merchant).Scan(&n, &who)
	if err != nil {
		c.t.Fatal(err)
	}
	return n, who
}
