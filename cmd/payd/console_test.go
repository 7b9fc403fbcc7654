package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core"
)

// consoleNode is a test node with a merchant, its key and back-office users.
type consoleNode struct {
	t    testing.TB
	node *paydtest.Node
}

const consolePassword = "correct horse battery staple"

func (c *consoleNode) api(method, path, auth, idem string, body any) (int, []byte) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.node.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+auth)
	req.Header.Set("Content-Type", "application/json")
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (c *consoleNode) apiOK(method, path, auth, idem string, body any) map[string]any {
	c.t.Helper()
	st, b := c.api(method, path, auth, idem, body)
	if st != 200 {
		c.t.Fatalf("%s %s: %d %s", method, path, st, b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		c.t.Fatalf("%s %s: %v: %s", method, path, err, b)
	}
	return m
}

// merchant onboards a merchant; it returns its ID and key.
func (c *consoleNode) merchant(name string) (string, string) {
	c.t.Helper()
	m := c.apiOK("POST", "/v1/admin/merchants", paydtest.AdminToken, "", map[string]any{"name": name, "home_region": paydtest.Region})
	return m["id"].(string), m["secret_key"].(string)
}

// pay makes a captured card payment of amount USD cents.
func (c *consoleNode) pay(key, ref string, amount int64) string {
	c.t.Helper()
	p := c.apiOK("POST", "/v1/payments", key, core.RandomToken(16), cardPayment(ref, amount, visaOK, core.CaptureAutomatic))
	return p["id"].(string)
}

// browser is a cookie-keeping HTTP client of the back office that does not follow redirects.
type browser struct {
	t    testing.TB
	base string
	jar  *cookiejar.Jar
	hc   *http.Client
}

func (c *consoleNode) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: c.t, base: c.node.URL, jar: jar, hc: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	res, err := b.hc.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	res, err := b.hc.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// csrf is the CSRF token in a page.
func (b *browser) csrf(page string) string {
	b.t.Helper()
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no CSRF token in the page: %.300s", page)
	}
	return m[1]
}

func (b *browser) login(email, password string) int {
	b.t.Helper()
	_, page := b.get("/dashboard/login")
	st, _ := b.post("/dashboard/login", url.Values{"csrf": {b.csrf(page)}, "email": {email}, "password": {password}})
	return st
}

func (b *browser) session() string {
	u, _ := url.Parse(b.base + "/dashboard/")
	for _, c := range b.jar.Cookies(u) {
		if c.Name == "pc_session" {
			return c.Value
		}
	}
	return ""
}

func (c *consoleNode) user(auth, path, email, role string, merchant string) {
	c.t.Helper()
	body := map[string]any{"email": email, "password": consolePassword, "role": role}
	if merchant != "" {
		body["merchant"] = merchant
	}
	c.apiOK("POST", path, auth, "", body)
}

func (c *consoleNode) refunds(key, payment string) []any {
	c.t.Helper()
	return c.apiOK("GET", "/v1/refunds?payment="+payment, key, "", nil)["data"].([]any)
}

func TestConsoleServer(t *testing.T) {
	c := &consoleNode{t: t, node: paydtest.Start(t)}
	merchant, key := c.merchant("Console Shop")
	other, otherKey := c.merchant("Other Shop")
	pay := c.pay(key, "order-1", 5000)
	otherPay := c.pay(otherKey, "order-x", 700)
	c.user(paydtest.AdminToken, "/v1/admin/console_users", "ops@paycenter.test", core.RoleOperator, "")
	c.user(key, "/v1/console_users", "owner@shop.test", core.RoleOwner, "")
	c.user(paydtest.AdminToken, "/v1/admin/console_users", "analyst@shop.test", core.RoleAnalyst, merchant)
	c.user(otherKey, "/v1/console_users", "owner@other.test", core.RoleOwner, "")
	_ = other

	t.Run("bootstrap refuses bad input naming the param", func(t *testing.T) {
		for _, tt := range []struct {
			body  map[string]any
			param string
		}{
			{map[string]any{"email": "not-an-address", "password": consolePassword, "role": "operator"}, "email"},
			{map[string]any{"email": "a@b.test", "password": "short", "role": "operator"}, "password"},
			{map[string]any{"email": "a@b.test", "password": consolePassword, "role": "owner"}, "role"},
			{map[string]any{"email": "ops@paycenter.test", "password": consolePassword, "role": "operator"}, "email"},
		} {
			st, b := c.api("POST", "/v1/admin/console_users", paydtest.AdminToken, "", tt.body)
			if st != 400 || !strings.Contains(string(b), `"param":"`+tt.param+`"`) {
				t.Errorf("%v: %d %s, want 400 naming %s", tt.body, st, b, tt.param)
			}
		}
		st, _ := c.api("POST", "/v1/console_users", key, "", map[string]any{"email": "x@y.test", "password": consolePassword, "role": "owner", "merchant": other})
		if st != 400 {
			t.Errorf("a merchant key created a user of another merchant: %d", st)
		}
	})

	t.Run("the session ID changes at login", func(t *testing.T) {
		b := c.browser()
		u, _ := url.Parse(c.node.URL + "/dashboard/")
		planted := "planted-session-token-0123456789"
		b.jar.SetCookies(u, []*http.Cookie{{Name: "pc_session", Value: planted, Path: "/dashboard/"}})
		if st := b.login("owner@shop.test", consolePassword); st != http.StatusSeeOther {
			t.Fatalf("login: %d", st)
		}
		got := b.session()
		if got == "" || got == planted {
			t.Fatalf("session cookie after login = %q (planted %q)", got, planted)
		}
		if st, _ := b.get("/dashboard/payments"); st != 200 {
			t.Fatalf("payments page with the new session: %d", st)
		}
		// Logging in again gives yet another ID, and the first one is dead after logout.
		first := got
		if st, page := b.get("/dashboard/payments"); st == 200 {
			if st, _ := b.post("/dashboard/logout", url.Values{"csrf": {b.csrf(page)}}); st != http.StatusSeeOther {
				t.Fatalf("logout: %d", st)
			}
		}
		b2 := c.browser()
		b2.jar.SetCookies(u, []*http.Cookie{{Name: "pc_session", Value: first, Path: "/dashboard/"}})
		if st, _ := b2.get("/dashboard/payments"); st != http.StatusSeeOther {
			t.Fatalf("a logged-out session still opens pages: %d", st)
		}
	})

	t.Run("a missing CSRF token is 403 and refunds nothing", func(t *testing.T) {
		b := c.browser()
		b.login("owner@shop.test", consolePassword)
		for _, csrf := range []string{"", "wrong-token"} {
			form := url.Values{"idempotency_key": {core.RandomToken(16)}, "amount": {"100"}}
			if csrf != "" {
				form.Set("csrf", csrf)
			}
			if st, _ := b.post("/dashboard/payments/"+pay+"/refund", form); st != http.StatusForbidden {
				t.Fatalf("refund with csrf %q: %d, want 403", csrf, st)
			}
		}
		if n := len(c.refunds(key, pay)); n != 0 {
			t.Fatalf("%d refunds after refused forms", n)
		}
		// The login form has its own token too.
		if st, _ := b.post("/dashboard/login", url.Values{"email": {"owner@shop.test"}, "password": {consolePassword}}); st != http.StatusForbidden {
			t.Fatalf("login without its CSRF token: %d", st)
		}
	})

	t.Run("another merchant's payment is 404", func(t *testing.T) {
		b := c.browser()
		b.login("owner@shop.test", consolePassword)
		if st, _ := b.get("/dashboard/payments/" + otherPay); st != 404 {
			t.Fatalf("another merchant's payment page: %d, want 404", st)
		}
		st, page := b.get("/dashboard/payments/" + pay)
		if st != 200 || !strings.Contains(page, pay) {
			t.Fatalf("own payment page: %d", st)
		}
		form := url.Values{"csrf": {b.csrf(page)}, "idempotency_key": {core.RandomToken(16)}, "amount": {"100"}}
		if st, _ := b.post("/dashboard/payments/"+otherPay+"/refund", form); st != 404 {
			t.Fatalf("refunding another merchant's payment: %d, want 404", st)
		}
		if n := len(c.refunds(otherKey, otherPay)); n != 0 {
			t.Fatalf("the other merchant's payment has %d refunds", n)
		}
		if st, _ := b.get("/dashboard/ops/merchants"); st != 404 {
			t.Fatalf("a merchant user on an operator page: %d, want 404", st)
		}
	})

	t.Run("an analyst cannot refund", func(t *testing.T) {
		b := c.browser()
		b.login("analyst@shop.test", consolePassword)
		st, page := b.get("/dashboard/payments/" + pay)
		if st != 200 || strings.Contains(page, "refund-button") {
			t.Fatalf("analyst's payment page: %d, refund button shown: %v", st, strings.Contains(page, "refund-button"))
		}
		form := url.Values{"csrf": {b.csrf(page)}, "idempotency_key": {core.RandomToken(16)}, "amount": {"100"}}
		if st, _ := b.post("/dashboard/payments/"+pay+"/refund", form); st != http.StatusForbidden {
			t.Fatalf("analyst's refund: %d, want 403", st)
		}
		if n := len(c.refunds(key, pay)); n != 0 {
			t.Fatalf("%d refunds after the analyst's refused one", n)
		}
	})

	t.Run("the same form refunds once", func(t *testing.T) {
		b := c.browser()
		b.login("owner@shop.test", consolePassword)
		_, page := b.get("/dashboard/payments/" + pay)
		form := url.Values{"csrf": {b.csrf(page)}, "idempotency_key": {core.RandomToken(16)}, "amount": {"1200"}, "reason": {"requested_by_customer"}}
		for range 2 {
			if st, body := b.post("/dashboard/payments/"+pay+"/refund", form); st != http.StatusSeeOther {
				t.Fatalf("refund: %d %.400s", st, body)
			}
		}
		rs := c.refunds(key, pay)
		if len(rs) != 1 || rs[0].(map[string]any)["amount"].(float64) != 1200 {
			t.Fatalf("refunds after submitting one form twice: %v", rs)
		}
		var audited int
		var who string
		err := c.node.DB.Pool.QueryRow(t.Context(), `SELECT count(*), min(u.email) FROM console_audit a JOIN console_users u ON u.id = a.user_id
			WHERE a.action = 'refund.created' AND a.merchant_id = $1`, merchant).Scan(&audited, &who)
		if err != nil || audited != 1 || who != "owner@shop.test" {
			t.Fatalf("refund audit entries: %d by %q (%v), want 1 by the owner", audited, who, err)
		}
		st, b2 := c.api("GET", "/v1/admin/ledger/check", paydtest.AdminToken, "", nil)
		if st != 200 || !strings.Contains(string(b2), `"balanced":true`) {
			t.Fatalf("ledger check: %d %s", st, b2)
		}
	})

	t.Run("five wrong passwords lock the account", func(t *testing.T) {
		c.user(key, "/v1/console_users", "locked@shop.test", core.RoleAdmin, "")
		b := c.browser()
		for i := range core.MaxFailedLogins {
			if st := b.login("locked@shop.test", "wrong password number "+string(rune('a'+i))); st != http.StatusUnauthorized {
				t.Fatalf("wrong password %d: %d, want 401", i+1, st)
			}
		}
		if st := b.login("locked@shop.test", consolePassword); st != http.StatusTooManyRequests {
			t.Fatalf("the right password on a locked account: %d, want 429", st)
		}
		if b.session() != "" {
			t.Fatal("a locked account got a session")
		}
	})

	t.Run("the overview sums the payments and refunds", func(t *testing.T) {
		list := c.apiOK("GET", "/v1/payments?limit=100", key, "", nil)["data"].([]any)
		var count, volume, refunded int64
		now := time.Now().UTC()
		sameDay := true // false when the test runs across midnight UTC
		for _, p := range list {
			pm := p.(map[string]any)
			created, err := time.Parse(time.RFC3339Nano, pm["created_at"].(string))
			if err != nil {
				t.Fatal(err)
			}
			sameDay = sameDay && created.UTC().Truncate(24*time.Hour).Equal(now.Truncate(24*time.Hour))
			count++
			if pm["status"] == "succeeded" {
				volume += int64(pm["amount"].(float64))
			}
			refunded += int64(pm["amount_refunded"].(float64))
		}
		ov, err := c.node.Service.ConsoleOverview(t.Context(), merchant, now)
		if err != nil {
			t.Fatal(err)
		}
		periods := [][]core.PaymentStats{ov.Last30}
		if sameDay {
			periods = append(periods, ov.Today)
		}
		for _, st := range periods {
			if len(st) != 1 || st[0].Count != count || st[0].Volume != volume || st[0].RefundVolume != refunded || st[0].Channel != core.ChannelCard {
				t.Fatalf("overview %+v, want %d payments, %d volume, %d refunded on card", st, count, volume, refunded)
			}
		}
		if len(ov.Days) != 30 || (sameDay && ov.Days[29].Volume != volume) {
			t.Fatalf("chart days %d, today's volume %+v, want 30 days and %d", len(ov.Days), ov.Days[len(ov.Days)-1], volume)
		}
		b := c.browser()
		b.login("analyst@shop.test", consolePassword)
		if st, page := b.get("/dashboard/"); st != 200 || !strings.Contains(page, core.FormatAmount(volume, "USD")) || !strings.Contains(page, "<svg") {
			t.Fatalf("overview page: %d, no %s or no chart", st, core.FormatAmount(volume, "USD"))
		}
	})

	t.Run("the CSV export matches the API", func(t *testing.T) {
		for i := range 3 {
			c.pay(key, "bulk-"+string(rune('a'+i)), int64(1000+i))
		}
		list := c.apiOK("GET", "/v1/payments?limit=100", key, "", nil)["data"].([]any)
		for _, get := range []func() (int, string){
			func() (int, string) {
				b := c.browser()
				b.login("analyst@shop.test", consolePassword)
				return b.get("/dashboard/exports/payments.csv")
			},
			func() (int, string) {
				st, b := c.api("GET", "/v1/exports/payments.csv", key, "", nil)
				return st, string(b)
			},
		} {
			st, body := get()
			if st != 200 {
				t.Fatalf("export: %d %s", st, body)
			}
			rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(rows[0], ",") != strings.Join(core.PaymentCSVHeader, ",") || len(rows)-1 != len(list) {
				t.Fatalf("export has %d rows (header %v), the API %d payments", len(rows)-1, rows[0], len(list))
			}
			for i, p := range list {
				pm := p.(map[string]any)
				r := rows[i+1]
				if r[0] != pm["id"] || r[5] != jsonNum(pm["amount"]) || r[8] != jsonNum(pm["amount_refunded"]) || r[2] != pm["status"] {
					t.Fatalf("row %d %v, API %v", i, r, pm)
				}
			}
		}
		st, b := c.api("GET", "/v1/exports/payments.csv?colour=red", key, "", nil)
		if st != 400 || !strings.Contains(string(b), `"param":"colour"`) {
			t.Fatalf("unknown export parameter: %d %s", st, b)
		}
	})
}

func jsonNum(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
