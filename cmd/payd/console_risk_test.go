package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core"
)

// Operators' risk pages: the lists with their entries (added and removed by the risk role
// only, audited) and the rule dry-run form (risk role only; it changes nothing).
func TestConsoleRiskListsAndDryRun(t *testing.T) {
	c := &consoleNode{t: t, node: paydtest.Start(t)}
	_, key := c.merchant("Risk Pages Shop")
	small, large := c.pay(key, "risk-1", 900), c.pay(key, "risk-2", 7000)
	list := c.apiOK("POST", "/v1/admin/risk/lists", paydtest.AdminToken, "", map[string]any{"name": "blocked_emails", "item_type": "email"})["id"].(string)
	c.user(paydtest.AdminToken, "/v1/admin/console_users", "risk@ops.test", core.RoleRisk, "")
	c.user(paydtest.AdminToken, "/v1/admin/console_users", "support@ops.test", core.RoleSupport, "")
	rk, sup := c.browser(), c.browser()
	rk.login("risk@ops.test", consolePassword)
	sup.login("support@ops.test", consolePassword)
	entries := func() string {
		t.Helper()
		_, page := rk.get("/dashboard/ops/risk-lists/" + list)
		return page
	}

	t.Run("support sees the lists and rules but may not change or dry-run", func(t *testing.T) {
		st, page := sup.get("/dashboard/ops/risk-lists")
		if st != 200 || !strings.Contains(page, "blocked_emails") {
			t.Fatalf("lists page for support: %d", st)
		}
		st, page = sup.get("/dashboard/ops/risk-lists/" + list)
		if st != 200 || strings.Contains(page, `id="add-items"`) {
			t.Fatalf("list page for support: %d, add form shown %v", st, strings.Contains(page, `id="add-items"`))
		}
		csrf := sup.csrf(page)
		if st, _ := sup.post("/dashboard/ops/risk-lists/"+list+"/items", url.Values{"csrf": {csrf}, "values": {"x@example.com"}}); st != http.StatusForbidden {
			t.Fatalf("support adds an entry: %d, want 403", st)
		}
		if _, rules := sup.get("/dashboard/ops/rules"); strings.Contains(rules, `id="dry-run-form"`) {
			t.Fatal("support is shown the dry-run form")
		}
		if st, _ := sup.post("/dashboard/ops/rules/dry-run", url.Values{"csrf": {csrf}, "expression": {"amount > 1"}}); st != http.StatusForbidden {
			t.Fatalf("support dry-runs: %d, want 403", st)
		}
		if st, _ := rk.post("/dashboard/ops/risk-lists/"+list+"/items", url.Values{"values": {"x@example.com"}}); st != http.StatusForbidden {
			t.Fatalf("add without CSRF: %d, want 403", st)
		}
		if strings.Contains(entries(), "x@example.com") {
			t.Fatal("a refused add added the entry")
		}
	})

	t.Run("the risk role adds and removes entries, audited", func(t *testing.T) {
		csrf := rk.csrf(entries())
		st, _ := rk.post("/dashboard/ops/risk-lists/"+list+"/items", url.Values{"csrf": {csrf}, "values": {"bad@example.com\nworse@example.com"}})
		if page := entries(); st != http.StatusSeeOther || !strings.Contains(page, "bad@example.com") || !strings.Contains(page, "worse@example.com") {
			t.Fatalf("add two entries: %d", st)
		}
		if n, who := c.audited("risk_list.items_added", list); n != 1 || who != "risk@ops.test" {
			t.Fatalf("add audited %d times by %q", n, who)
		}
		if st, page := rk.post("/dashboard/ops/risk-lists/"+list+"/items", url.Values{"csrf": {csrf}, "values": {" , "}}); st != 400 || !strings.Contains(page, "values") {
			t.Fatalf("add nothing: %d, want 400 naming values", st)
		}
		st, _ = rk.post("/dashboard/ops/risk-lists/"+list+"/items/remove", url.Values{"csrf": {csrf}, "values": {"bad@example.com"}})
		if page := entries(); st != http.StatusSeeOther || strings.Contains(page, "bad@example.com") || !strings.Contains(page, "worse@example.com") {
			t.Fatalf("remove one entry: %d", st)
		}
		if st, _ := rk.post("/dashboard/ops/risk-lists/rl_nosuch/items", url.Values{"csrf": {csrf}, "values": {"a@example.com"}}); st != 404 {
			t.Fatalf("add to an unknown list: %d, want 404", st)
		}
	})

	t.Run("the risk role dry-runs a rule", func(t *testing.T) {
		_, page := rk.get("/dashboard/ops/rules")
		csrf := rk.csrf(page)
		st, page := rk.post("/dashboard/ops/rules/dry-run", url.Values{"csrf": {csrf}, "expression": {"amount > 5000"}, "days": {"7"}})
		if st != 200 || !strings.Contains(page, "Matched <strong>1</strong> of 2") || !strings.Contains(page, large) || strings.Contains(page, small) {
			t.Fatalf("dry run amount > 5000: %d, want 1 of 2 matched (%s)", st, large)
		}
		if st, page := rk.post("/dashboard/ops/rules/dry-run", url.Values{"csrf": {csrf}, "expression": {"amount >"}}); st != 400 || !strings.Contains(page, "expression") {
			t.Fatalf("dry run of a broken expression: %d, want 400 naming expression", st)
		}
		if st, page := rk.post("/dashboard/ops/rules/dry-run", url.Values{"csrf": {csrf}, "expression": {"amount > 1"}, "days": {"1000"}}); st != 400 || !strings.Contains(page, "days") {
			t.Fatalf("dry run of 1000 days: %d, want 400 naming days", st)
		}
	})
}
