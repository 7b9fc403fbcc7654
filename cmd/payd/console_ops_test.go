package main

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/core/risk"
)

// opsState is what the operator pages can change, as one comparable string: rules and their
// versions, lists, cases, channel switches, transfer permissions, payout schedules,
// reconciliation runs and every audit trail. A refused request must leave it as it was.
func (c *consoleNode) opsState() string {
	c.t.Helper()
	var s string
	err := c.node.DB.Pool.QueryRow(c.t.Context(), `SELECT concat_ws(' | ',
		(SELECT string_agg(id || ':' || version || ':' || enabled::TEXT, ',' ORDER BY id) FROM risk_rules),
		(SELECT string_agg(id, ',' ORDER BY id) FROM risk_lists),
		(SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM aml_cases),
		(SELECT string_agg(merchant_id || ':' || channel || ':' || enabled::TEXT, ',' ORDER BY merchant_id, channel) FROM merchant_channels),
		(SELECT string_agg(merchant_id || ':' || allowed::TEXT, ',' ORDER BY merchant_id) FROM merchant_transfer_permissions),
		(SELECT string_agg(merchant_id || ':' || schedule || ':' || delay_days, ',' ORDER BY merchant_id) FROM merchant_payout_schedules),
		'runs ' || (SELECT count(*) FROM reconciliation_runs),
		'console_audit ' || (SELECT count(*) FROM console_audit),
		'risk_audit ' || (SELECT count(*) FROM risk_audit),
		'ops_events ' || (SELECT count(*) FROM merchant_ops_events))`).Scan(&s)
	if err != nil {
		c.t.Fatal(err)
	}
	return s
}

// trail counts the object's entries in risk_audit and merchant_ops_events with actor.
func (c *consoleNode) trail(actor string) int {
	c.t.Helper()
	var n int
	err := c.node.DB.Pool.QueryRow(c.t.Context(), `SELECT (SELECT count(*) FROM risk_audit WHERE actor = $1) +
		(SELECT count(*) FROM merchant_ops_events WHERE actor = $1)`, actor).Scan(&n)
	if err != nil {
		c.t.Fatal(err)
	}
	return n
}

func (c *consoleNode) consoleUser(email string) *core.User {
	c.t.Helper()
	u := &core.User{Email: email}
	if err := c.node.DB.Pool.QueryRow(c.t.Context(), `SELECT id FROM console_users WHERE email = $1`, email).Scan(&u.ID); err != nil {
		c.t.Fatal(err)
	}
	return u
}

// Every POST of the operator pages for AML cases, rule and list authoring, a merchant's
// channels, limits and payout schedule, and reconciliation runs: without the CSRF token it is
// a 403, from a role without the permission a 403, with bad input a 400 naming the field, and
// none of them changes anything or audits anything. The good ones change what they say, with
// one entry in the back office's audit log and one in the object's trail, both naming the user.
func TestConsoleOperatorPagesRefuseAndAudit(t *testing.T) {
	c := &consoleNode{t: t, node: paydtest.Start(t)}
	merchant, key := c.merchant("Ops Pages Shop")
	var pays []string
	for i := range 3 {
		p := c.apiOK("POST", "/v1/payments", key, core.RandomToken(16),
			withCustomer(cardPayment(fmt.Sprintf("aml-%d", i), 960_000+int64(i)*1000, visaOK, core.CaptureAutomatic), "smurf@example.com"))
		pays = append(pays, p["id"].(string))
	}
	cases, err := c.node.Service.RunAML(t.Context(), postgres.AMLWorkerConfig{}, nil)
	if err != nil || len(cases) != 1 || cases[0].Kind != risk.CaseStructuring {
		t.Fatalf("AML run: %+v %v, want one structuring case", cases, err)
	}
	caseID := cases[0].ID
	rule := c.apiOK("POST", "/v1/admin/risk/rules", paydtest.AdminToken, "", map[string]any{"name": "big-ones", "action": "review", "expression": "amount > 5000000"})["id"].(string)
	c.user(paydtest.AdminToken, "/v1/admin/console_users", "risk@opspages.test", core.RoleRisk, "")
	c.user(paydtest.AdminToken, "/v1/admin/console_users", "ops@opspages.test", core.RoleOperator, "")
	c.user(paydtest.AdminToken, "/v1/admin/console_users", "support@opspages.test", core.RoleSupport, "")
	rk, op, sup := c.browser(), c.browser(), c.browser()
	rk.login("risk@opspages.test", consolePassword)
	op.login("ops@opspages.test", consolePassword)
	sup.login("support@opspages.test", consolePassword)
	_, page := rk.get("/dashboard/ops/aml")
	rkCSRF := rk.csrf(page)
	_, page = op.get("/dashboard/ops/merchants/" + merchant)
	opCSRF := op.csrf(page)
	_, page = sup.get("/dashboard/ops/merchants/" + merchant)
	supCSRF := sup.csrf(page)
	digest := func(scope, expr string) string {
		_, page := rk.post("/dashboard/ops/rules", url.Values{"csrf": {rkCSRF}, "name": {"x"}, "action": {"block"}, "scope": {scope}, "expression": {expr}})
		m := regexp.MustCompile(`name="previewed" value="([0-9a-f]+)"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no dry-run digest in the page: %.500s", page)
		}
		return m[1]
	}
	goodRule := url.Values{"name": {"tiny-ones"}, "action": {"block"}, "expression": {"amount < 100"}, "step": {"save"},
		"previewed": {digest("platform", "amount < 100")}}
	ch := "/dashboard/ops/merchants/" + merchant

	type post struct {
		name   string
		path   string
		form   url.Values
		good   *browser // a user who may
		csrf   string
		other  *browser // a user who may not (its CSRF is otherCSRF)
		oCSRF  string
		bad    []url.Values // each refused with 400 naming badParam[i]
		params []string
	}
	with := func(base url.Values, kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range base {
			v[k] = append([]string(nil), vs...)
		}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	posts := []post{
		{"AML case", "/dashboard/ops/aml/" + caseID, url.Values{"status": {"escalated"}, "note": {"three just below"}}, rk, rkCSRF, op, opCSRF,
			[]url.Values{{"status": {"shelved"}}, {"status": {""}}}, []string{"status", "status"}},
		{"new rule", "/dashboard/ops/rules", goodRule, rk, rkCSRF, op, opCSRF,
			[]url.Values{with(goodRule, "name", "Not A Name"), with(goodRule, "action", "maybe"), with(goodRule, "expression", "amount >"),
				with(goodRule, "expression", "amount < 200"), with(goodRule, "days", "0")},
			[]string{"name", "action", "expression", "expression", "days"}},
		{"edit rule", "/dashboard/ops/rules/" + rule, url.Values{"name": {"big-ones"}, "action": {"block"}, "expression": {"amount > 5000000"}, "step": {"save"},
			"previewed": {digest("platform", "amount > 5000000")}}, rk, rkCSRF, sup, supCSRF,
			[]url.Values{{"name": {"big-ones"}, "action": {"allowish"}, "expression": {"amount > 1"}}}, []string{"action"}},
		{"disable rule", "/dashboard/ops/rules/" + rule + "/disable", url.Values{}, rk, rkCSRF, op, opCSRF, nil, nil},
		{"new list", "/dashboard/ops/risk-lists", url.Values{"name": {"mules"}, "item_type": {"email"}}, rk, rkCSRF, sup, supCSRF,
			[]url.Values{{"name": {"mules2"}, "item_type": {"phone"}}, {"name": {"Bad Name!"}, "item_type": {"email"}}}, []string{"item_type", "name"}},
		{"channel off", ch + "/channels/alipay", url.Values{"enabled": {"false"}, "confirm": {"alipay"}}, op, opCSRF, rk, rkCSRF,
			[]url.Values{{"enabled": {"perhaps"}}, {"enabled": {"false"}, "confirm": {"card"}}}, []string{"enabled", "confirm"}},
		{"transfers", ch + "/transfers", url.Values{"allowed": {"true"}}, op, opCSRF, sup, supCSRF,
			[]url.Values{{"allowed": {"yes"}}}, []string{"allowed"}},
		{"payout schedule", ch + "/payout_schedule", url.Values{"interval": {"weekly"}, "weekly_anchor": {"friday"}, "delay_days": {"2"}}, op, opCSRF, rk, rkCSRF,
			[]url.Values{{"interval": {"hourly"}}, {"interval": {"daily"}, "delay_days": {"soon"}}, {"interval": {"weekly"}, "weekly_anchor": {"someday"}}},
			[]string{"interval", "delay_days", "weekly_anchor"}},
		{"reconciliation", "/dashboard/ops/reconciliation", url.Values{"channel": {"card"}, "date": {"2026-01-02"}, "idempotency_key": {"ops-test-run"}}, op, opCSRF, sup, supCSRF,
			[]url.Values{{"channel": {"pigeon"}, "date": {"2026-01-02"}, "idempotency_key": {"k1"}}, {"channel": {"card"}, "date": {"01/02/2026"}, "idempotency_key": {"k2"}},
				{"channel": {"card"}, "date": {"2026-01-02"}}},
			[]string{"channel", "date", "idempotency_key"}},
	}
	for _, p := range posts {
		t.Run(p.name, func(t *testing.T) {
			before := c.opsState()
			if st, _ := p.good.post(p.path, p.form); st != http.StatusForbidden {
				t.Fatalf("without CSRF: %d, want 403", st)
			}
			if st, _ := p.other.post(p.path, with(p.form, "csrf", p.oCSRF)); st != http.StatusForbidden {
				t.Fatalf("from a role that may not: %d, want 403", st)
			}
			for i, bad := range p.bad {
				st, body := p.good.post(p.path, with(bad, "csrf", p.csrf))
				if st != http.StatusBadRequest || !strings.Contains(errorText(body), p.params[i]) {
					t.Fatalf("bad input %v: %d, want 400 naming %s: %.300s", bad, st, p.params[i], errorText(body))
				}
			}
			if after := c.opsState(); after != before {
				t.Fatalf("refused requests changed something:\n before %s\n after  %s", before, after)
			}
			st, body := p.good.post(p.path, with(p.form, "csrf", p.csrf))
			if st != http.StatusSeeOther {
				t.Fatalf("the good request: %d %.300s", st, errorText(body))
			}
			if c.opsState() == before {
				t.Fatal("the good request changed nothing")
			}
		})
	}

	t.Run("each change is audited once in both trails with the user", func(t *testing.T) {
		for _, a := range []struct{ action, object, who string }{
			{"aml_case.escalated", caseID, "risk@opspages.test"},
			{"risk_rule.updated", rule, "risk@opspages.test"},
			{"risk_rule.disabled", rule, "risk@opspages.test"},
			{"channel.disabled", merchant + "/alipay", "ops@opspages.test"},
			{"transfers.allowed", merchant, "ops@opspages.test"},
			{"payout_schedule.set", merchant, "ops@opspages.test"},
		} {
			if n, who := c.audited(a.action, a.object); n != 1 || who != a.who {
				t.Errorf("%s %s audited %d times by %q, want once by %s", a.action, a.object, n, who, a.who)
			}
		}
		// Rule created, rule updated, rule disabled, list created, case escalated.
		if n := c.trail(c.consoleUser("risk@opspages.test").Actor()); n != 5 {
			t.Errorf("risk_audit has %d entries by the risk user, want 5", n)
		}
		// Channel off, transfers allowed, payout schedule.
		if n := c.trail(c.consoleUser("ops@opspages.test").Actor()); n != 3 {
			t.Errorf("merchant_ops_events has %d entries by the operator, want 3", n)
		}
	})

	t.Run("the pages show what changed", func(t *testing.T) {
		_, page := rk.get("/dashboard/ops/aml/" + caseID)
		for _, want := range []string{"escalated", "structuring", "smurf@example.com", merchant, pays[0], pays[2], "9600.00 USD", "28830.00 USD", "three just below"} {
			if !strings.Contains(page, want) {
				t.Errorf("the case's page lacks %q", want)
			}
		}
		if _, page := rk.get("/dashboard/ops/aml?status=open"); strings.Contains(page, caseID) {
			t.Error("the escalated case is listed as open")
		}
		if _, page := rk.get("/dashboard/ops/aml?status=escalated"); !strings.Contains(page, caseID) {
			t.Error("the escalated case is not listed as escalated")
		}
		if st, _ := rk.get("/dashboard/ops/aml?status=bogus"); st != http.StatusBadRequest {
			t.Errorf("a bad status filter: %d, want 400", st)
		}
		_, page = op.get("/dashboard/ops/merchants/" + merchant)
		for _, want := range []string{`id="transfers-allowed">allowed`, "weekly on friday, 2 days", `id="switch-alipay" class="approve">Switch on`} {
			if !strings.Contains(page, want) {
				t.Errorf("the merchant's page lacks %q", want)
			}
		}
		chans, err := c.node.Service.Channels(t.Context(), merchant)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range chans {
			if a.Enabled != (a.Channel != core.ChannelAlipay) {
				t.Errorf("channel %s enabled %v", a.Channel, a.Enabled)
			}
		}
	})

	t.Run("switching a channel off asks first and changes nothing until confirmed", func(t *testing.T) {
		before := c.opsState()
		st, page := op.post(ch+"/channels/wechat_pay", url.Values{"csrf": {opCSRF}, "enabled": {"false"}})
		if st != 200 || !strings.Contains(page, `name="confirm" value="wechat_pay"`) {
			t.Fatalf("first step: %d, want the confirmation page", st)
		}
		if c.opsState() != before {
			t.Fatal("the first step changed something")
		}
		if st, _ := op.post(ch+"/channels/wechat_pay", url.Values{"csrf": {opCSRF}, "enabled": {"true"}}); st != http.StatusSeeOther {
			t.Fatalf("switching on: %d", st)
		}
	})

	t.Run("a double submit of the reconciliation form starts one run", func(t *testing.T) {
		form := url.Values{"csrf": {opCSRF}, "channel": {"card"}, "date": {"2026-01-03"}, "idempotency_key": {"double-click"}}
		st1, _ := op.post("/dashboard/ops/reconciliation", form)
		st2, _ := op.post("/dashboard/ops/reconciliation", form)
		if st1 != http.StatusSeeOther || st2 != http.StatusSeeOther {
			t.Fatalf("two submits: %d %d", st1, st2)
		}
		var n int
		if err := c.node.DB.Pool.QueryRow(t.Context(), `SELECT count(*) FROM reconciliation_runs WHERE day = '2026-01-03'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d runs (%v), want 1", n, err)
		}
	})

	t.Run("a run's differences are stored and shown", func(t *testing.T) {
		// The platform books the first payment's charge a day earlier than the channel does:
		// today's statement has a line the platform's day lacks.
		var day time.Time
		if err := c.node.DB.Pool.QueryRow(t.Context(), `SELECT min(created_at) FROM ledger_entries WHERE payment_id = $1`, pays[0]).Scan(&day); err != nil {
			t.Fatal(err)
		}
		if _, err := c.node.DB.Pool.Exec(t.Context(), `UPDATE ledger_entries SET created_at = created_at - INTERVAL '1 day'
			WHERE payment_id = $1`, pays[0]); err != nil {
			t.Fatal(err)
		}
		today := day.UTC().Format(time.DateOnly)
		if st, _ := op.post("/dashboard/ops/reconciliation", url.Values{"csrf": {opCSRF}, "channel": {"card"}, "date": {today},
			"idempotency_key": {"with-differences"}}); st != http.StatusSeeOther {
			t.Fatalf("reconcile today: %d", st)
		}
		var id string
		if err := c.node.DB.Pool.QueryRow(t.Context(), `SELECT id FROM reconciliation_runs WHERE idem_key = 'with-differences'`).Scan(&id); err != nil {
			t.Fatal(err)
		}
		run, diffs, err := c.node.Service.ReconciliationRun(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if run.Status != core.RunDifferences || run.Differences != 1 || len(diffs) != 1 ||
			diffs[0].Kind != core.DiffMissingOnPlatform || diffs[0].PaymentID != pays[0] || diffs[0].ChannelAmount == nil ||
			*diffs[0].ChannelAmount != 960_000 || diffs[0].PlatformAmount != nil {
			t.Fatalf("run %+v, differences %+v: want one charge of %s missing on the platform", run, diffs, pays[0])
		}
		_, page := op.get("/dashboard/ops/reconciliation/runs/" + id)
		if !strings.Contains(page, "differences") || !strings.Contains(page, pays[0]) || !strings.Contains(page, "9600.00 USD") {
			t.Fatalf("the run's page does not show the difference: %.2000s", page)
		}
	})

	t.Run("an operator sees a merchant's payouts and opens one", func(t *testing.T) {
		pm, pkey := c.payoutMerchant("Ops Payout Shop")
		po := c.apiOK("POST", "/v1/payouts", pkey, core.RandomToken(16), map[string]any{"amount": 2500, "currency": "eur"})["id"].(string)
		_, page := sup.get("/dashboard/ops/merchants/" + pm)
		if !strings.Contains(page, `href="/dashboard/ops/merchants/`+pm+`/payouts/`+po+`"`) || !strings.Contains(page, "25.00 EUR") {
			t.Fatalf("the merchant's page does not list payout %s", po)
		}
		if _, page := sup.get("/dashboard/ops/merchants/" + pm + "?payout_status=failed"); strings.Contains(page, po) {
			t.Fatal("the failed filter lists a payout that did not fail")
		}
		if st, _ := sup.get("/dashboard/ops/merchants/" + pm + "?payout_status=lost"); st != http.StatusBadRequest {
			t.Fatalf("a bad payout_status: %d, want 400", st)
		}
		st, page := sup.get("/dashboard/ops/merchants/" + pm + "/payouts/" + po)
		if st != 200 || !strings.Contains(page, po) || !strings.Contains(page, "payout") {
			t.Fatalf("the payout's page: %d", st)
		}
		if st, _ := sup.get("/dashboard/ops/merchants/" + merchant + "/payouts/" + po); st != http.StatusNotFound {
			t.Fatalf("the payout under another merchant: %d, want 404", st)
		}
	})

	t.Run("a failed change leaves no audit entry", func(t *testing.T) {
		before := c.opsState()
		if st, _ := op.post("/dashboard/ops/merchants/mer_nosuch/transfers", url.Values{"csrf": {opCSRF}, "allowed": {"true"}}); st != http.StatusNotFound {
			t.Fatalf("transfers for an unknown merchant: %d, want 404", st)
		}
		if st, _ := rk.post("/dashboard/ops/rules/rr_nosuch/disable", url.Values{"csrf": {rkCSRF}}); st != http.StatusNotFound {
			t.Fatalf("disable an unknown rule: %d, want 404", st)
		}
		if c.opsState() != before {
			t.Fatal("a failed change changed or audited something")
		}
	})
}

var errorRE = regexp.MustCompile(`(?s)<p class="error"[^>]*>(.*?)</p>`)

// errorText is a page's error message, for failure reports.
func errorText(page string) string {
	if m := errorRE.FindStringSubmatch(page); m != nil {
		return m[1]
	}
	return ""
}
