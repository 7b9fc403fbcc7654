package main

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core"
)

var secretRE = regexp.MustCompile(`<code id="secret">(sk_[^<]+)</code>`)

// currentKeyID is the ID of the key the caller uses.
func (c *consoleNode) currentKeyID(key string) string {
	c.t.Helper()
	for _, k := range c.apiOK("GET", "/v1/api_keys", key, "", nil)["data"].([]any) {
		if k := k.(map[string]any); k["current"] == true {
			return k["id"].(string)
		}
	}
	c.t.Fatal("no current key")
	return ""
}

func (c *consoleNode) keyWorks(key string) bool {
	c.t.Helper()
	st, _ := c.api("GET", "/v1/balance", key, "", nil)
	return st == 200
}

func TestConsoleAPIKeys(t *testing.T) {
	c := &consoleNode{t: t, node: paydtest.Start(t)}
	_, key := c.merchant("Keys Shop")
	_, otherKey := c.merchant("Other Keys Shop")
	c.user(key, "/v1/console_users", "owner@keys.test", core.RoleOwner, "")
	c.user(key, "/v1/console_users", "analyst@keys.test", core.RoleAnalyst, "")
	oldID, otherID := c.currentKeyID(key), c.currentKeyID(otherKey)
	owner := c.browser()
	owner.login("owner@keys.test", consolePassword)
	_, page := owner.get("/dashboard/api-keys")
	csrf := owner.csrf(page)

	t.Run("refused: an analyst, no CSRF token, another merchant's key, a bad grace", func(t *testing.T) {
		an := c.browser()
		an.login("analyst@keys.test", consolePassword)
		_, apage := an.get("/dashboard/payments")
		if st, _ := an.post("/dashboard/api-keys/"+oldID+"/roll", url.Values{"csrf": {an.csrf(apage)}, "grace_hours": {"1"}}); st != http.StatusForbidden {
			t.Fatalf("an analyst rolls a key: %d, want 403", st)
		}
		if st, _ := an.post("/dashboard/api-keys/"+oldID+"/revoke", url.Values{"csrf": {an.csrf(apage)}}); st != http.StatusForbidden {
			t.Fatalf("an analyst revokes a key: %d, want 403", st)
		}
		if st, _ := owner.post("/dashboard/api-keys/"+oldID+"/roll", url.Values{"grace_hours": {"1"}}); st != http.StatusForbidden {
			t.Fatalf("roll without CSRF: %d, want 403", st)
		}
		if st, _ := owner.post("/dashboard/api-keys/"+otherID+"/roll", url.Values{"csrf": {csrf}, "grace_hours": {"1"}}); st != http.StatusNotFound {
			t.Fatalf("roll another merchant's key: %d, want 404", st)
		}
		if st, _ := owner.post("/dashboard/api-keys/"+otherID+"/revoke", url.Values{"csrf": {csrf}}); st != http.StatusNotFound {
			t.Fatalf("revoke another merchant's key: %d, want 404", st)
		}
		if st, page := owner.post("/dashboard/api-keys/"+oldID+"/roll", url.Values{"csrf": {csrf}, "grace_hours": {"5"}}); st != 400 || !strings.Contains(page, "grace_hours") {
			t.Fatalf("roll with 5 h grace: %d, want 400 naming grace_hours", st)
		}
		if n := len(c.apiOK("GET", "/v1/api_keys", key, "", nil)["data"].([]any)); n != 1 || !c.keyWorks(otherKey) {
			t.Fatalf("after the refusals: %d keys (want 1), other merchant's key works %v", n, c.keyWorks(otherKey))
		}
	})

	t.Run("the owner rolls a key with grace and revokes the old one", func(t *testing.T) {
		res, err := owner.hc.PostForm(owner.base+"/dashboard/api-keys/"+oldID+"/roll", url.Values{"csrf": {csrf}, "grace_hours": {"1"}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		body := string(b)
		m := secretRE.FindStringSubmatch(body)
		if res.StatusCode != 200 || m == nil || res.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("roll: %d, secret shown %v, Cache-Control %q", res.StatusCode, m != nil, res.Header.Get("Cache-Control"))
		}
		newKey := m[1]
		if !c.keyWorks(newKey) || !c.keyWorks(key) {
			t.Fatalf("after the roll: new key works %v, old key (in its grace) works %v", c.keyWorks(newKey), c.keyWorks(key))
		}
		if n, who := c.audited("api_key.rolled", oldID); n != 1 || who != "owner@keys.test" {
			t.Fatalf("roll audited %d times by %q", n, who)
		}
		if _, again := owner.get("/dashboard/api-keys"); strings.Contains(again, newKey) {
			t.Fatal("the new secret is shown again")
		}
		if st, page := owner.post("/dashboard/api-keys/"+oldID+"/roll", url.Values{"csrf": {csrf}, "grace_hours": {"1"}}); st != http.StatusForbidden || !strings.Contains(page, "already rolled") {
			t.Fatalf("roll the expiring key again: %d, want 403", st)
		}
		if st, _ := owner.post("/dashboard/api-keys/"+oldID+"/revoke", url.Values{"csrf": {csrf}}); st != http.StatusSeeOther {
			t.Fatalf("revoke the old key: %d, want 303", st)
		}
		if c.keyWorks(key) || !c.keyWorks(newKey) {
			t.Fatalf("after the revocation: old key works %v, new key works %v", c.keyWorks(key), c.keyWorks(newKey))
		}
		if n, who := c.audited("api_key.revoked", oldID); n != 1 || who != "owner@keys.test" {
			t.Fatalf("revocation audited %d times by %q", n, who)
		}
		newID := c.currentKeyID(newKey)
		if st, page := owner.post("/dashboard/api-keys/"+newID+"/revoke", url.Values{"csrf": {csrf}}); st != http.StatusForbidden || !c.keyWorks(newKey) {
			t.Fatalf("revoke the only key without an expiry: %d %.200s, want 403 and the key still working", st, page)
		}
	})
}
