package main

import (
	"context"
	"encoding/csv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/risk"
)

// chromiumPath finds Debian's Chromium on PATH. Without it the browser tests are skipped,
// unless PAY_REQUIRE_CHROMIUM is set (make test sets it), when they fail.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("PAY_REQUIRE_CHROMIUM") != "" {
		t.Fatal("chromium is not on PATH and PAY_REQUIRE_CHROMIUM is set (make ensure-chromium installs it)")
	}
	t.Skip("chromium is not on PATH (make ensure-chromium installs it)")
	return ""
}

// screenshots is where the browser test writes its screenshots: $PAY_ARTIFACTS/console,
// or a temporary directory it logs.
func screenshots(t *testing.T) string {
	dir := t.TempDir()
	if a := os.Getenv("PAY_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, "console")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// TestConsoleInBrowser drives the back office in a real headless Chromium: one browser and
// one node for every subtest, each user in a browser context of its own (its own cookies).
func TestConsoleInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	shots := screenshots(t)
	c := &consoleNode{t: t, node: paydtest.Start(t)}
	merchant, key := c.merchant("Browser Shop")
	c.user(key, "/v1/console_users", "owner@browser.test", core.RoleOwner, "")
	c.user(paydtest.AdminToken, "/v1/admin/console_users", "analyst@browser.test", core.RoleAnalyst, merchant)
	c.user(paydtest.AdminToken, "/v1/admin/console_users", "risk-ops@paycenter.test", core.RoleRisk, "")
	c.user(key, "/v1/console_users", "clumsy@browser.test", core.RoleAdmin, "")
	pay := c.pay(key, "browser-order-1", 8000)
	for i := range 3 {
		c.pay(key, "browser-order-more-"+string(rune('a'+i)), int64(1500+100*i))
	}

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}

	// tab opens a tab in a browser context of its own; its actions get 60 s.
	tab := func(t *testing.T) context.Context {
		ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		if err := chromedp.Do(ctx); err != nil {
			t.Fatal(err)
		}
		ctx, cancelT := context.WithTimeout(ctx, 60*time.Second)
		t.Cleanup(cancelT)
		return ctx
	}
	do := func(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	shot := func(t *testing.T, ctx context.Context, name string) {
		t.Helper()
		b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := func(t *testing.T, ctx context.Context, sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	eval := func(t *testing.T, ctx context.Context, js string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	login := func(t *testing.T, ctx context.Context, email, password string) {
		t.Helper()
		do(t, ctx, chromedp.Navigate(c.node.URL+"/dashboard/login"), chromedp.WaitVisible(chromedp.CSS("#email")),
			chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.Click(chromedp.CSS("#signin")))
	}

	t.Run("owner refunds once on a double click and exports the payments", func(t *testing.T) {
		ctx := tab(t)
		login(t, ctx, "owner@browser.test", consolePassword)
		do(t, ctx, chromedp.WaitVisible(chromedp.CSS("#last30")))
		if s := text(t, ctx, "#last30"); !strings.Contains(s, "card") || !strings.Contains(s, "USD") {
			t.Fatalf("overview: %q", s)
		}
		shot(t, ctx, "overview")
		do(t, ctx, chromedp.Navigate(c.node.URL+"/dashboard/payments"), chromedp.WaitVisible(chromedp.CSS("#payments")))
		if s := text(t, ctx, "#payments"); !strings.Contains(s, pay) {
			t.Fatalf("payments list has no %s: %q", pay, s)
		}
		shot(t, ctx, "payments")
		do(t, ctx, chromedp.Click(chromedp.CSS(`a[href="/dashboard/payments/`+pay+`"]`)), chromedp.WaitVisible(chromedp.CSS("#refund-form")))
		if s := text(t, ctx, "#payment-id"); s != pay {
			t.Fatalf("opened %q, want %s", s, pay)
		}
		do(t, ctx, chromedp.SendKeys(chromedp.CSS("#refund-amount"), "2500"), chromedp.SetValue(chromedp.CSS("#refund-reason"), "requested_by_customer"),
			chromedp.DoubleClick(chromedp.CSS("#refund-button")))
		// The page after the refund lists it.
		do(t, ctx, chromedp.WaitVisible(chromedp.CSS("#refunds td.num")))
		eventually(t, "the refunded amount shows", func() bool {
			return strings.Contains(text(t, ctx, "#refunded"), "25.00 USD")
		})
		shot(t, ctx, "payment")
		rs := c.refunds(key, pay)
		if len(rs) != 1 || rs[0].(map[string]any)["amount"].(float64) != 2500 {
			t.Fatalf("refunds after a double click: %v", rs)
		}
		if s := text(t, ctx, "#timeline"); !strings.Contains(s, "refund.") {
			t.Fatalf("timeline has no refund event: %q", s)
		}

		body := eval(t, ctx, `fetch("/dashboard/exports/payments.csv").then(r => r.text())`)
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		list := c.apiOK("GET", "/v1/payments?limit=100", key, "", nil)["data"].([]any)
		if len(rows) != len(list)+1 {
			t.Fatalf("the export has %d rows, the API %d payments", len(rows)-1, len(list))
		}
		for i, p := range list {
			pm := p.(map[string]any)
			if r := rows[i+1]; r[0] != pm["id"] || r[5] != jsonNum(pm["amount"]) || r[8] != jsonNum(pm["amount_refunded"]) {
				t.Fatalf("row %d %v, API %v", i, r, pm)
			}
		}
	})

	t.Run("the payments page fits 375 px", func(t *testing.T) {
		ctx := tab(t)
		login(t, ctx, "owner@browser.test", consolePassword)
		do(t, ctx, chromedp.WaitVisible(chromedp.CSS("#last30")), chromedp.EmulateViewport(375, 812),
			chromedp.Navigate(c.node.URL+"/dashboard/payments"), chromedp.WaitVisible(chromedp.CSS("#payments")))
		// Nothing is wider than the viewport (wide tables scroll inside their own box).
		js := `const d = document.documentElement; d.scrollWidth <= d.clientWidth ? "fits" : d.scrollWidth + " > " + d.clientWidth`
		if w := eval(t, ctx, js); w != "fits" {
			t.Fatalf("page width at 375 px: %s", w)
		}
		shot(t, ctx, "payments-375")
	})

	t.Run("an analyst has no refund button and its POST is refused", func(t *testing.T) {
		ctx := tab(t)
		login(t, ctx, "analyst@browser.test", consolePassword)
		do(t, ctx, chromedp.WaitVisible(chromedp.CSS("#last30")), chromedp.Navigate(c.node.URL+"/dashboard/payments/"+pay),
			chromedp.WaitVisible(chromedp.CSS("#payment-id")))
		if got := eval(t, ctx, `String(document.querySelector("#refund-button") === null)`); got != "true" {
			t.Fatal("the analyst sees a refund button")
		}
		status := eval(t, ctx, `fetch("/dashboard/payments/`+pay+`/refund", {method: "POST", body: new URLSearchParams({
			csrf: document.querySelector("input[name=csrf]").value, idempotency_key: "analyst-try", amount: "100"})}).then(r => String(r.status))`)
		if status != "403" {
			t.Fatalf("the analyst's refund POST answered %s, want 403", status)
		}
		if n := len(c.refunds(key, pay)); n != 1 {
			t.Fatalf("%d refunds after the analyst's try, want 1", n)
		}
	})

	t.Run("a risk operator approves a held payment", func(t *testing.T) {
		c.apiOK("POST", "/v1/admin/risk/rules", paydtest.AdminToken, "", map[string]any{"name": "hold-large", "action": risk.ActionReview, "expression": "amount >= 50000"})
		held := c.apiOK("POST", "/v1/payments", key, core.RandomToken(16), cardPayment("browser-held", 90000, visaOK, core.CaptureAutomatic))
		if held["status"] != string(core.StatusRequiresReview) {
			t.Fatalf("the large payment is %v, want requires_review", held["status"])
		}
		id := held["id"].(string)
		ctx := tab(t)
		login(t, ctx, "risk-ops@paycenter.test", consolePassword)
		do(t, ctx, chromedp.WaitVisible(chromedp.CSS("#merchants")))
		shot(t, ctx, "ops-merchants")
		do(t, ctx, chromedp.Navigate(c.node.URL+"/dashboard/ops/reviews"), chromedp.WaitVisible(chromedp.CSS("#reviews")))
		if s := text(t, ctx, "#reviews"); !strings.Contains(s, id) {
			t.Fatalf("review queue has no %s: %q", id, s)
		}
		shot(t, ctx, "ops-reviews")
		do(t, ctx, chromedp.Click(chromedp.CSS(`form[action="/dashboard/ops/reviews/`+id+`/approve"] button`)),
			chromedp.WaitVisible(chromedp.CSS("#closed")))
		// The click's navigation may still be replacing the page (the old one has a #closed
		// table too): a read that finds no node is a "not yet".
		eventually(t, "the review shows as approved", func() bool {
			s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#closed")))
			return err == nil && strings.Contains(s, id) && strings.Contains(s, "approved")
		})
		if p := c.apiOK("GET", "/v1/payments/"+id, key, "", nil); p["status"] != string(core.StatusSucceeded) {
			t.Fatalf("approved payment is %v, want succeeded", p["status"])
		}
	})

	t.Run("a merchant sees its balance page, also at 375 px", func(t *testing.T) {
		ctx := tab(t)
		login(t, ctx, "owner@browser.test", consolePassword)
		do(t, ctx, chromedp.WaitVisible(chromedp.CSS("#last30")), chromedp.Navigate(c.node.URL+"/dashboard/balance"),
			chromedp.WaitVisible(chromedp.CSS("#balance")))
		bal := c.apiOK("GET", "/v1/balance", key, "", nil)["data"].([]any)[0].(map[string]any)
		s := text(t, ctx, "#balance")
		for _, field := range []string{"available", "pending"} {
			if want := core.FormatAmount(int64(bal[field].(float64)), "USD"); !strings.Contains(s, want) {
				t.Fatalf("balance page %q lacks the %s amount %s", s, field, want)
			}
		}
		if s := text(t, ctx, "#balance-transactions"); !strings.Contains(s, pay) {
			t.Fatalf("balance transactions have no line for %s: %q", pay, s)
		}
		shot(t, ctx, "balance")
		do(t, ctx, chromedp.Navigate(c.node.URL+"/dashboard/customers"), chromedp.WaitVisible(chromedp.CSS("#customers")))
		shot(t, ctx, "customers")
		do(t, ctx, chromedp.EmulateViewport(375, 812), chromedp.Navigate(c.node.URL+"/dashboard/balance"), chromedp.WaitVisible(chromedp.CSS("#balance")))
		js := `const d = document.documentElement; d.scrollWidth <= d.clientWidth ? "fits" : d.scrollWidth + " > " + d.clientWidth`
		if w := eval(t, ctx, js); w != "fits" {
			t.Fatalf("balance page width at 375 px: %s", w)
		}
		shot(t, ctx, "balance-375")
	})

	t.Run("an operator approves a KYC submission through the page", func(t *testing.T) {
		c.apiOK("POST", "/v1/merchant/kyc", key, "", kycSubmission)
		ctx := tab(t)
		login(t, ctx, "risk-ops@paycenter.test", consolePassword)
		do(t, ctx, chromedp.WaitVisible(chromedp.CSS("#merchants")), chromedp.Navigate(c.node.URL+"/dashboard/ops/kyc"),
			chromedp.WaitVisible(chromedp.CSS("#kyc-"+merchant)))
		s := text(t, ctx, "#kyc-"+merchant)
		if !strings.Contains(s, "Harbour Books GmbH") || !strings.Contains(s, "0130") || strings.Contains(s, "T22000130") || strings.Contains(s, "0532013001") {
			t.Fatalf("KYC card %q: want the legal name and last fours only", s)
		}
		shot(t, ctx, "ops-kyc")
		do(t, ctx, chromedp.Click(chromedp.CSS(`form[action="/dashboard/ops/kyc/`+merchant+`/approve"] button`)),
			chromedp.WaitVisible(chromedp.CSS("#kyc-empty")))
		if st := c.kycStatus(key); st != core.KYCVerified {
			t.Fatalf("after the approval the KYC is %s", st)
		}
		do(t, ctx, chromedp.Navigate(c.node.URL+"/dashboard/ops/merchants/"+merchant), chromedp.WaitVisible(chromedp.CSS("#kyc-status")))
		if s := text(t, ctx, "#kyc-status"); s != core.KYCVerified {
			t.Fatalf("merchant page KYC status %q", s)
		}
		shot(t, ctx, "ops-merchant")
	})

	t.Run("a merchant sees its payouts and pays out once on a double click", func(t *testing.T) {
		// The KYC approved above verified the merchant's EUR bank account.
		if _, err := c.node.Service.CreateAdjustment(t.Context(), core.AdjustmentParams{Merchant: merchant, Amount: 10_000, Currency: "EUR", Reason: "float"}); err != nil {
			t.Fatal(err)
		}
		ctx := tab(t)
		login(t, ctx, "owner@browser.test", consolePassword)
		do(t, ctx, chromedp.WaitVisible(chromedp.CSS("#last30")), chromedp.Navigate(c.node.URL+"/dashboard/payouts"),
			chromedp.WaitVisible(chromedp.CSS("#payout-form")))
		if s := text(t, ctx, "#available"); !strings.Contains(s, "100.00 EUR") {
			t.Fatalf("payouts page shows %q, want 100.00 EUR available", s)
		}
		do(t, ctx, chromedp.SetValue(chromedp.CSS("#payout-currency"), "EUR"), chromedp.SendKeys(chromedp.CSS("#payout-amount"), "4000"),
			chromedp.DoubleClick(chromedp.CSS("#payout-button")), chromedp.WaitVisible(chromedp.CSS("#payout-transactions")))
		id := text(t, ctx, "#payout-id")
		if s := text(t, ctx, "#payout-transactions"); !strings.Contains(s, "payout") {
			t.Fatalf("payout %s's page has no payout balance transaction: %q", id, s)
		}
		shot(t, ctx, "payout")
		pos := c.apiOK("GET", "/v1/payouts", key, "", nil)["data"].([]any)
		if len(pos) != 1 || pos[0].(map[string]any)["id"] != id || pos[0].(map[string]any)["amount"].(float64) != 4000 {
			t.Fatalf("payouts after a double click: %v, want one of 4000 (%s)", pos, id)
		}
		do(t, ctx, chromedp.Navigate(c.node.URL+"/dashboard/payouts"), chromedp.WaitVisible(chromedp.CSS("#payouts")))
		if s := text(t, ctx, "#payouts"); !strings.Contains(s, id) || !strings.Contains(s, "40.00 EUR") {
			t.Fatalf("payouts list %q lacks %s", s, id)
		}
		shot(t, ctx, "payouts")
	})

	t.Run("five wrong passwords lock the login", func(t *testing.T) {
		ctx := tab(t)
		for i := range core.MaxFailedLogins {
			login(t, ctx, "clumsy@browser.test", "not my password "+string(rune('a'+i)))
			do(t, ctx, chromedp.WaitVisible(chromedp.CSS("#login-error")))
		}
		login(t, ctx, "clumsy@browser.test", consolePassword)
		do(t, ctx, chromedp.WaitVisible(chromedp.CSS("#login-error")))
		if s := text(t, ctx, "#login-error"); !strings.Contains(s, "locked") {
			t.Fatalf("after five wrong passwords the right one says %q", s)
		}
		shot(t, ctx, "login-locked")
	})
}
