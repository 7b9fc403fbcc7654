package main

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core"
)

var recoveryCodeRE = regexp.MustCompile(`<li><code>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</code></li>`)

// recoveryCodes are the codes a page shows.
func recoveryCodes(t *testing.T, page string) []string {
	t.Helper()
	var out []string
	for _, m := range recoveryCodeRE.FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	if len(out) != core.RecoveryCodeCount {
		t.Fatalf("the page shows %d recovery codes, want %d", len(out), core.RecoveryCodeCount)
	}
	return out
}

// Turning TOTP on shows ten recovery codes once; each signs in once in place of a TOTP code
// (written with or without its dashes, in any case), a used or unknown one is refused, and
// making new codes (audited) voids the old ones.
func TestConsoleRecoveryCodes(t *testing.T) {
	c := &consoleNode{t: t, node: paydtest.Start(t)}
	_, key := c.merchant("Recovery Shop")
	c.user(key, "/v1/console_users", "owner@recovery.test", core.RoleOwner, "")
	b := c.browser()
	b.login("owner@recovery.test", consolePassword)
	_, page := b.get("/dashboard/account")
	if strings.Contains(page, `id="regenerate-codes"`) {
		t.Fatal("the account page offers recovery codes before the second factor is on")
	}
	_, page = b.post("/dashboard/account/totp", url.Values{"csrf": {b.csrf(page)}})
	m := totpSecretRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no TOTP secret shown")
	}
	code, err := totp.GenerateCode(m[1], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st, page := b.post("/dashboard/account/totp/confirm", url.Values{"csrf": {b.csrf(page)}, "code": {code}})
	if st != http.StatusOK {
		t.Fatalf("confirm: %d", st)
	}
	codes := recoveryCodes(t, page)
	seen := map[string]bool{}
	for _, c := range codes {
		seen[c] = true
	}
	if len(seen) != len(codes) {
		t.Fatalf("the codes are not all different: %v", codes)
	}
	if _, again := b.get("/dashboard/account"); recoveryCodeRE.MatchString(again) || !strings.Contains(again, "10 of 10 codes left") {
		t.Fatal("the account page shows the codes again, or not 10 of 10 left")
	}
	var stored int
	if err := c.node.DB.Pool.QueryRow(t.Context(), `SELECT count(*) FROM console_recovery_codes WHERE code_hash = ANY($1)`, codes).Scan(&stored); err != nil || stored != 0 {
		t.Fatalf("%d codes stored in clear (%v)", stored, err)
	}

	signIn := func(code string) int {
		t.Helper()
		nb := c.browser()
		st, _ := nb.loginCode("owner@recovery.test", consolePassword, code)
		if (st == http.StatusSeeOther) != (nb.session() != "") {
			t.Fatalf("login with %q: %d, session %q", code, st, nb.session())
		}
		return st
	}
	if st := signIn(codes[0]); st != http.StatusSeeOther {
		t.Fatalf("login with a recovery code: %d, want 303", st)
	}
	if st := signIn(codes[0]); st != http.StatusUnauthorized {
		t.Fatalf("login with the same recovery code again: %d, want 401", st)
	}
	if st := signIn(strings.ToLower(strings.ReplaceAll(codes[1], "-", ""))); st != http.StatusSeeOther {
		t.Fatalf("login with a recovery code in lower case without dashes: %d", st)
	}
	if st := signIn("ABCD-EFGH-JKMN-PQRS"); st != http.StatusUnauthorized {
		t.Fatalf("login with a made-up recovery code: %d", st)
	}
	if n, _ := c.audited("user.recovery_code_used", c.userID("owner@recovery.test")); n != 2 {
		t.Fatalf("user.recovery_code_used audited %d times, want 2", n)
	}
	_, page = b.get("/dashboard/account")
	if !strings.Contains(page, "8 of 10 codes left") {
		t.Fatal("the account page does not count 8 codes left")
	}

	if st, _ := b.post("/dashboard/account/recovery-codes", url.Values{}); st != http.StatusForbidden {
		t.Fatalf("new codes without CSRF: %d, want 403", st)
	}
	st, page = b.post("/dashboard/account/recovery-codes", url.Values{"csrf": {b.csrf(page)}})
	if st != http.StatusOK {
		t.Fatalf("new codes: %d", st)
	}
	fresh := recoveryCodes(t, page)
	if n, who := c.audited("user.recovery_codes_regenerated", c.userID("owner@recovery.test")); n != 1 || who != "owner@recovery.test" {
		t.Fatalf("regeneration audited %d times by %q", n, who)
	}
	if st := signIn(codes[2]); st != http.StatusUnauthorized {
		t.Fatalf("an old, unused code after regeneration: %d, want 401", st)
	}
	if st := signIn(fresh[0]); st != http.StatusSeeOther {
		t.Fatalf("a new code: %d", st)
	}
}
