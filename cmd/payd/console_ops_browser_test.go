package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
)

// TestConsoleOperatorPagesInBrowser walks operators through the operator pages in a real
// headless Chromium: a risk analyst opens an AML case and escalates it with a note, and
// writes a rule whose broken expression is shown at its error, then dry-runs and saves it;
// an operator switches a merchant's channel off through the confirmation and runs a
// reconciliation with a double click (one run is stored). Screenshots go where
// TestConsoleInBrowser's go.
func TestConsoleOperatorPagesInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	shots := screenshots(t)
	c := &consoleNode{t: t, node: paydtest.Start(t)}
	merchant, key := c.merchant("Browser Ops Shop")
	for i := range 3 {
		c.apiOK("POST", "/v1/payments", key, core.RandomToken(16),
			withCustomer(cardPayment(fmt.Sprintf("ops-aml-%d", i), 970_000+int64(i)*1000, visaOK, core.CaptureAutomatic), "split@example.com"))
	}
	small := c.pay(key, "ops-small", 700)
	cases, err := c.node.Service.RunAML(t.Context(), postgres.AMLWorkerConfig{}, nil)
	if err != nil || len(cases) != 1 {
		t.Fatalf("AML run: %+v %v, want one case", cases, err)
	}
	caseID := cases[0].ID
	c.user(paydtest.AdminToken, "/v1/admin/console_users", "analyst@risk.test", core.RoleRisk, "")
	c.user(paydtest.AdminToken, "/v1/admin/console_users", "desk@ops.test", core.RoleOperator, "")

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	tab := func(t *testing.T) context.Context {
		ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
		t.Cleanup(cancel)
		if err := chromedp.Do(ctx); err != nil {
			t.Fatal(err)
		}
		ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
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
	// text reads an element's text; a read that finds no node (a navigation still replacing
	// the page) is "".
	text := func(ctx context.Context, sel string) string {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			return ""
		}
		return s
	}
	login := func(t *testing.T, ctx context.Context, email string) {
		t.Helper()
		do(t, ctx, chromedp.Navigate(c.node.URL+"/dashboard/login"), chromedp.WaitVisible(chromedp.CSS("#email")),
			chromedp.SendKeys(chromedp.CSS("#email"), email), chromedp.SendKeys(chromedp.CSS("#password"), consolePassword),
			chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#merchants")))
	}

	t.Run("a risk analyst opens an AML case and escalates it", func(t *testing.T) {
		ctx := tab(t)
		login(t, ctx, "analyst@risk.test")
		do(t, ctx, chromedp.Navigate(c.node.URL+"/dashboard/ops/aml?status=open"), chromedp.WaitVisible(chromedp.CSS("#aml-cases")))
		if s := text(ctx, "#aml-cases"); !strings.Contains(s, caseID) || !strings.Contains(s, "structuring") {
			t.Fatalf("open cases %q lack %s", s, caseID)
		}
		shot(t, ctx, "ops-aml-cases")
		do(t, ctx, chromedp.Click(chromedp.CSS(`a[href="/dashboard/ops/aml/`+caseID+`"]`)), chromedp.WaitVisible(chromedp.CSS("#case-form")))
		if s := text(ctx, "#case-payments"); strings.Count(s, "pay_") != 3 || !strings.Contains(s, "9700.00 USD") {
			t.Fatalf("the case's payments: %q, want the three payments", s)
		}
		do(t, ctx, chromedp.SetValue(chromedp.CSS("#case-new-status"), "escalated"),
			chromedp.SendKeys(chromedp.CSS("#case-note"), "three payments just below the threshold"),
			chromedp.Click(chromedp.CSS("#case-submit")))
		eventually(t, "the case shows as escalated with the note", func() bool {
			return strings.Contains(text(ctx, "#case-status"), "escalated") && strings.Contains(text(ctx, "#case-history"), "just below the threshold")
		})
		shot(t, ctx, "ops-aml-case")
		got, err := c.node.Service.AMLCase(t.Context(), caseID)
		if err != nil || got.Status != "escalated" {
			t.Fatalf("the case is %+v (%v), want escalated", got, err)
		}
	})

	t.Run("a risk analyst writes a rule, sees its error and its dry run, and saves it", func(t *testing.T) {
		ctx := tab(t)
		login(t, ctx, "analyst@risk.test")
		do(t, ctx, chromedp.Navigate(c.node.URL+"/dashboard/ops/rules"), chromedp.Click(chromedp.CSS("#new-rule")),
			chromedp.WaitVisible(chromedp.CSS("#rule-form")),
			chromedp.SendKeys(chromedp.CSS("#rule-name"), "small-cards"), chromedp.SetValue(chromedp.CSS("#rule-action"), "block"),
			chromedp.SendKeys(chromedp.CSS("#rule-expression"), "amount < 1000 &&"), chromedp.Click(chromedp.CSS("#rule-dry-run-button")))
		eventually(t, "the compile error shows at its position", func() bool {
			return strings.Contains(text(ctx, "#rule-error"), "line 1, column") && strings.Contains(text(ctx, "#rule-error-at"), "^")
		})
		shot(t, ctx, "ops-rule-error")
		if s := text(ctx, "#rule-form"); strings.Contains(s, "Save rule") {
			t.Fatal("a save button is offered for an expression that does not compile")
		}
		do(t, ctx, chromedp.SetValue(chromedp.CSS("#rule-expression"), "amount < 1000"), chromedp.Click(chromedp.CSS("#rule-dry-run-button")))
		eventually(t, "the dry run shows before saving", func() bool {
			s := text(ctx, "#rule-dry-run")
			return strings.Contains(s, "matched 1 of 4") && strings.Contains(s, small)
		})
		shot(t, ctx, "ops-rule-dry-run")
		do(t, ctx, chromedp.Click(chromedp.CSS("#rule-save")))
		eventually(t, "the saved rule's page", func() bool { return strings.HasPrefix(text(ctx, "#rule-id"), "rr_") })
		rules, err := c.node.Service.RiskRules(t.Context(), "")
		if err != nil || len(rules) != 1 || rules[0].Name != "small-cards" || rules[0].Expression != "amount < 1000" || !rules[0].Enabled {
			t.Fatalf("rules after the save: %+v %v", rules, err)
		}
		shot(t, ctx, "ops-rule")
	})

	t.Run("an operator switches a channel off through the confirmation", func(t *testing.T) {
		ctx := tab(t)
		login(t, ctx, "desk@ops.test")
		do(t, ctx, chromedp.Navigate(c.node.URL+"/dashboard/ops/merchants/"+merchant), chromedp.WaitVisible(chromedp.CSS("#switch-alipay")))
		shot(t, ctx, "ops-merchant-controls")
		do(t, ctx, chromedp.Click(chromedp.CSS("#switch-alipay")), chromedp.WaitVisible(chromedp.CSS("#channel-confirm-form")))
		shot(t, ctx, "ops-channel-confirm")
		chans, err := c.node.Service.Channels(t.Context(), merchant)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range chans {
			if !a.Enabled {
				t.Fatalf("%s is off before the confirmation", a.Channel)
			}
		}
		do(t, ctx, chromedp.Click(chromedp.CSS("#confirm-button")))
		eventually(t, "alipay shows as off", func() bool { return text(ctx, "#channel-alipay .channel-enabled") == "no" })
		chans, err = c.node.Service.Channels(t.Context(), merchant)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range chans {
			if a.Enabled != (a.Channel != core.ChannelAlipay) {
				t.Fatalf("after the switch %s is enabled %v", a.Channel, a.Enabled)
			}
		}
	})

	t.Run("an operator runs a reconciliation with a double click: one run", func(t *testing.T) {
		ctx := tab(t)
		login(t, ctx, "desk@ops.test")
		// The day of the payments' charges (all four, unless the test straddled midnight: then
		// the ones of the small payment's day).
		var today string
		var charges int
		if err := c.node.DB.Pool.QueryRow(t.Context(), `WITH d AS (SELECT (min(created_at) AT TIME ZONE 'UTC')::DATE AS day
				FROM ledger_entries WHERE payment_id = $1)
			SELECT d.day::TEXT, (SELECT count(DISTINCT payment_id) FROM ledger_entries e
				WHERE (e.created_at AT TIME ZONE 'UTC')::DATE = d.day) FROM d`, small).Scan(&today, &charges); err != nil {
			t.Fatal(err)
		}
		do(t, ctx, chromedp.Navigate(c.node.URL+"/dashboard/ops/reconciliation"), chromedp.WaitVisible(chromedp.CSS("#reconcile-form")),
			chromedp.SetValue(chromedp.CSS("#reconcile-channel"), "card"), chromedp.SetValue(chromedp.CSS("#reconcile-date"), today),
			chromedp.DoubleClick(chromedp.CSS("#reconcile-button")))
		eventually(t, "the run's page shows it done", func() bool {
			s := text(ctx, "#run-status")
			return s == core.RunBalanced || s == core.RunDifferences
		})
		if s := text(ctx, "#run-matched"); s != fmt.Sprint(charges) || text(ctx, "#run-status") != core.RunBalanced {
			t.Fatalf("the run matched %q lines (%s), want %d, balanced", s, text(ctx, "#run-status"), charges)
		}
		shot(t, ctx, "ops-reconciliation-run")
		runs, err := c.node.Service.ReconciliationRuns(t.Context(), 10)
		if err != nil || len(runs) != 1 {
			t.Fatalf("runs after a double click: %+v %v, want 1", runs, err)
		}
		do(t, ctx, chromedp.Navigate(c.node.URL+"/dashboard/ops/reconciliation"), chromedp.WaitVisible(chromedp.CSS("#recon-runs")))
		if s := text(ctx, "#recon-runs"); !strings.Contains(s, runs[0].ID) || !strings.Contains(s, "desk@ops.test") {
			t.Fatalf("the runs list %q lacks %s by desk@ops.test", s, runs[0].ID)
		}
		shot(t, ctx, "ops-reconciliation")
	})
}
