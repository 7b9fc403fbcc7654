package main

import (
	"encoding/csv"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core"
)

var payoutKeyRE = regexp.MustCompile(`name="idempotency_key" value="([^"]+)"`)

// payoutMerchant onboards a merchant whose KYC is approved (bank account in EUR) and that
// has 10,000 EUR cents available; it returns its ID and key.
func (c *consoleNode) payoutMerchant(name string) (string, string) {
	c.t.Helper()
	id, key := c.merchant(name)
	c.apiOK("POST", "/v1/merchant/kyc", key, "", kycSubmission)
	if _, err := c.node.Service.DecideKYC(c.t.Context(), id, true, ""); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.node.Service.CreateAdjustment(c.t.Context(), core.AdjustmentParams{Merchant: id, Amount: 10_000, Currency: "EUR", Reason: "float"}); err != nil {
		c.t.Fatal(err)
	}
	return id, key
}

func (c *consoleNode) availableEUR(key string) int64 {
	c.t.Helper()
	for _, b := range c.apiOK("GET", "/v1/balance", key, "", nil)["data"].([]any) {
		if b := b.(map[string]any); b["currency"] == "EUR" {
			return int64(b["available"].(float64))
		}
	}
	return 0
}

func (c *consoleNode) payouts(key string) []any {
	c.t.Helper()
	return c.apiOK("GET", "/v1/payouts", key, "", nil)["data"].([]any)
}

func TestConsolePayouts(t *testing.T) {
	c := &consoleNode{t: t, node: paydtest.Start(t)}
	merchant, key := c.payoutMerchant("Payout Shop")
	_, otherKey := c.merchant("Other Payout Shop")
	c.user(key, "/v1/console_users", "owner@payouts.test", core.RoleOwner, "")
	c.user(key, "/v1/console_users", "analyst@payouts.test", core.RoleAnalyst, "")
	c.user(otherKey, "/v1/console_users", "owner@other-payouts.test", core.RoleOwner, "")
	owner := c.browser()
	owner.login("owner@payouts.test", consolePassword)
	var payoutID string

	t.Run("an analyst sees payouts but may not pay out or change the schedule", func(t *testing.T) {
		an := c.browser()
		an.login("analyst@payouts.test", consolePassword)
		st, page := an.get("/dashboard/payouts")
		if st != 200 || !strings.Contains(page, "100.00 EUR") {
			t.Fatalf("payouts page for an analyst: %d, want 200 with the available 100.00 EUR", st)
		}
		if strings.Contains(page, `id="payout-form"`) || strings.Contains(page, `id="schedule-form"`) {
			t.Fatal("the analyst is shown the pay-out or schedule form")
		}
		csrf := an.csrf(page)
		if st, _ := an.post("/dashboard/payouts", url.Values{"csrf": {csrf}, "idempotency_key": {"k1"}, "amount": {"100"}, "currency": {"EUR"}}); st != http.StatusForbidden {
			t.Fatalf("an analyst pays out: %d, want 403", st)
		}
		if st, _ := an.post("/dashboard/payouts/schedule", url.Values{"csrf": {csrf}, "interval": {"daily"}}); st != http.StatusForbidden {
			t.Fatalf("an analyst sets the schedule: %d, want 403", st)
		}
		if n := len(c.payouts(key)); n != 0 {
			t.Fatalf("%d payouts after the analyst's refusals, want 0", n)
		}
		if iv := c.apiOK("GET", "/v1/merchant/payout_schedule", key, "", nil)["interval"]; iv != core.ScheduleManual {
			t.Fatalf("schedule after the analyst's refusal: %v, want manual", iv)
		}
	})

	t.Run("without the CSRF token nothing is paid out", func(t *testing.T) {
		if st, _ := owner.post("/dashboard/payouts", url.Values{"idempotency_key": {"k2"}, "amount": {"100"}, "currency": {"EUR"}}); st != http.StatusForbidden {
			t.Fatalf("pay out without CSRF: %d, want 403", st)
		}
		if st, _ := owner.post("/dashboard/payouts/schedule", url.Values{"interval": {"daily"}}); st != http.StatusForbidden {
			t.Fatalf("schedule without CSRF: %d, want 403", st)
		}
		if n, avail := len(c.payouts(key)), c.availableEUR(key); n != 0 || avail != 10_000 {
			t.Fatalf("after POSTs without CSRF: %d payouts, %d available; want 0 and 10000", n, avail)
		}
	})

	t.Run("bad input is a 400 naming the field, nothing written", func(t *testing.T) {
		_, page := owner.get("/dashboard/payouts")
		csrf := owner.csrf(page)
		for _, tc := range []struct{ field, amount, currency string }{
			{"amount", "ten", "EUR"}, {"amount", "0", "EUR"}, {"currency", "100", "XXQ"},
		} {
			st, page := owner.post("/dashboard/payouts", url.Values{"csrf": {csrf}, "idempotency_key": {core.RandomToken(16)},
				"amount": {tc.amount}, "currency": {tc.currency}})
			if st != 400 || !strings.Contains(page, tc.field) {
				t.Fatalf("pay out %s %s: %d, want 400 naming %s", tc.amount, tc.currency, st, tc.field)
			}
		}
		if st, page := owner.post("/dashboard/payouts/schedule", url.Values{"csrf": {csrf}, "interval": {"hourly"}}); st != 400 || !strings.Contains(page, "interval") {
			t.Fatalf("schedule hourly: %d, want 400 naming interval", st)
		}
		if n := len(c.payouts(key)); n != 0 {
			t.Fatalf("%d payouts after bad input, want 0", n)
		}
	})

	t.Run("the same form submitted twice pays out once", func(t *testing.T) {
		_, page := owner.get("/dashboard/payouts")
		form := url.Values{"csrf": {owner.csrf(page)}, "idempotency_key": {payoutKeyRE.FindStringSubmatch(page)[1]},
			"amount": {"2500"}, "currency": {"EUR"}, "description": {"weekly"}}
		var locs []string
		for range 2 {
			res, err := owner.hc.PostForm(owner.base+"/dashboard/payouts", form)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("pay out: %d, want 303", res.StatusCode)
			}
			locs = append(locs, res.Header.Get("Location"))
		}
		pos := c.payouts(key)
		if len(pos) != 1 || c.availableEUR(key) != 7_500 {
			t.Fatalf("after a double submit: %d payouts, %d available; want 1 and 7500", len(pos), c.availableEUR(key))
		}
		payoutID = pos[0].(map[string]any)["id"].(string)
		if locs[0] != "/dashboard/payouts/"+payoutID || locs[1] != locs[0] {
			t.Fatalf("redirects %v, want both to the payout %s", locs, payoutID)
		}
		if n, who := c.audited("payout.created", payoutID); n != 1 || who != "owner@payouts.test" {
			t.Fatalf("payout audited %d times by %q, want once by the owner", n, who)
		}
		st, page := owner.get("/dashboard/payouts/" + payoutID)
		if st != 200 || !strings.Contains(page, "25.00 EUR") || !strings.Contains(page, "<td>payout</td>") || !strings.Contains(page, "3001") {
			t.Fatalf("payout page: %d, want the amount, its payout balance transaction and the account's last four", st)
		}
		if st, page := owner.get("/dashboard/payouts"); st != 200 || !strings.Contains(page, payoutID) {
			t.Fatalf("payouts list: %d, want the payout", st)
		}
	})

	t.Run("another merchant's payout is not found", func(t *testing.T) {
		other := c.browser()
		other.login("owner@other-payouts.test", consolePassword)
		if st, _ := other.get("/dashboard/payouts/" + payoutID); st != 404 {
			t.Fatalf("another merchant's payout: %d, want 404", st)
		}
		if _, page := other.get("/dashboard/payouts"); strings.Contains(page, payoutID) {
			t.Fatal("another merchant's payout is listed")
		}
	})

	t.Run("the owner sets the schedule, audited", func(t *testing.T) {
		_, page := owner.get("/dashboard/payouts")
		st, _ := owner.post("/dashboard/payouts/schedule", url.Values{"csrf": {owner.csrf(page)}, "interval": {"weekly"},
			"weekly_anchor": {"friday"}, "delay_days": {"2"}})
		if st != http.StatusSeeOther {
			t.Fatalf("set schedule: %d, want 303", st)
		}
		sc := c.apiOK("GET", "/v1/merchant/payout_schedule", key, "", nil)
		if sc["interval"] != "weekly" || sc["weekly_anchor"] != "friday" || sc["delay_days"] != 2.0 {
			t.Fatalf("schedule %v, want weekly on friday, 2 days", sc)
		}
		if n, who := c.audited("payout_schedule.set", merchant); n != 1 || who != "owner@payouts.test" {
			t.Fatalf("schedule audited %d times by %q", n, who)
		}
		if _, page := owner.get("/dashboard/payouts"); !strings.Contains(page, "weekly on friday, delay 2 days") {
			t.Fatal("the payouts page does not show the new schedule")
		}
	})

	t.Run("balance transactions and settlements export as CSV, in the pages and the API", func(t *testing.T) {
		api := c.apiOK("GET", "/v1/balance_transactions?limit=100", key, "", nil)["data"].([]any)
		for _, src := range []struct {
			name string
			get  func() (int, string)
		}{
			{"page", func() (int, string) { return owner.get("/dashboard/exports/balance_transactions.csv") }},
			{"api", func() (int, string) {
				st, b := c.api("GET", "/v1/exports/balance_transactions.csv?created[gte]=0", key, "", nil)
				return st, string(b)
			}},
		} {
			st, body := src.get()
			rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
			if st != 200 || err != nil || len(rows) != len(api)+1 || strings.Join(rows[0], ",") != strings.Join(core.BalanceTransactionCSVHeader, ",") {
				t.Fatalf("%s export: %d, %v, %d rows; want the header and %d rows", src.name, st, err, len(rows), len(api))
			}
			for i, row := range rows[1:] {
				want := api[i].(map[string]any)
				if row[0] != want["id"] || row[5] != want["currency"] {
					t.Fatalf("%s export row %d: %v, want %v", src.name, i, row, want)
				}
			}
			if rows[1][3] != "payout" || rows[1][8] != "-2500" || rows[1][11] != "-25.00" {
				t.Fatalf("%s export's newest row %v, want the payout of -2500 (-25.00)", src.name, rows[1])
			}
		}
		st, body := owner.get("/dashboard/exports/settlements.csv?from=2026-01-01&to=2026-12-31")
		if st != 200 || strings.TrimSpace(body) != strings.Join(core.SettlementsCSVHeader, ",") {
			t.Fatalf("settlements export: %d %q, want the header row only (no day closed)", st, body)
		}
		if st, page := owner.get("/dashboard/exports/settlements.csv?from=yesterday"); st != 400 || !strings.Contains(page, "from") {
			t.Fatalf("settlements export from=yesterday: %d, want 400 naming from", st)
		}
		for _, q := range []string{"created[gte]=soon", "colour=red"} {
			st, b := c.api("GET", "/v1/exports/settlements.csv?"+q, key, "", nil)
			if st != 400 || !strings.Contains(string(b), strings.SplitN(q, "=", 2)[0]) {
				t.Fatalf("API settlements export with %s: %d %s, want 400 naming the parameter", q, st, b)
			}
		}
	})
}
