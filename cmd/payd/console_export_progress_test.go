package main

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core"
)

// seedExport seeds n payments (3 of them with a description of two lines and quotes, as CSV
// writes in quoted fields) for the merchant.
func (c *consoleNode) seedExport(merchant string, n int) {
	c.t.Helper()
	if err := seedPayments(c.t.Context(), c.node, merchant, n); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.node.DB.Pool.Exec(c.t.Context(), `UPDATE payments SET description = 'two "lines"' || chr(10) || 'of text'
		WHERE merchant_id = $1 AND id IN ('pay_us-east_seed1', 'pay_us-east_seed2', 'pay_us-east_seed7')`, merchant); err != nil {
		c.t.Fatal(err)
	}
}

// csvRows reads a CSV file's data rows (its header row checked and dropped).
func csvRows(t *testing.T, body string, header []string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(recs) == 0 || strings.Join(recs[0], ",") != strings.Join(header, ",") {
		t.Fatalf("not a CSV export with its header row (%v): %.200q", err, body)
	}
	return recs[1:]
}

// The back office sends an export's row count in X-Export-Rows before its rows, counted
// with the export's own filters; the file has exactly that many rows.
func TestConsoleExportRowCountHeader(t *testing.T) {
	c := &consoleNode{t: t, node: paydtest.Start(t)}
	merchant, key := c.merchant("Count Shop")
	c.user(key, "/v1/console_users", "owner@count.test", core.RoleOwner, "")
	c.seedExport(merchant, 1200)
	pay := c.pay(key, "count-real", 2500)
	c.apiOK("POST", "/v1/refunds", key, core.RandomToken(16), map[string]any{"payment": pay, "amount": 500})
	b := c.browser()
	b.login("owner@count.test", consolePassword)
	get := func(path string) (string, string) {
		t.Helper()
		res, err := b.hc.Get(b.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
		return res.Header.Get(core.ExportRowsHeader), string(body)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	for _, tc := range []struct {
		path   string
		header []string
		want   int // -1: not known here, the file's count is checked against the header
	}{
		{"/dashboard/exports/payments.csv", core.PaymentCSVHeader, 1201},
		{"/dashboard/exports/payments.csv?channel=alipay", core.PaymentCSVHeader, 400},
		{"/dashboard/exports/payments.csv?status=failed&amount_min=2000", core.PaymentCSVHeader, -1},
		{"/dashboard/exports/payments.csv?from=" + day + "&to=" + day, core.PaymentCSVHeader, -1},
		{"/dashboard/exports/refunds.csv", core.RefundCSVHeader, 1},
		{"/dashboard/exports/balance_transactions.csv?from=" + day, core.BalanceTransactionCSVHeader, 2},
		{"/dashboard/exports/settlements.csv", core.SettlementsCSVHeader, 0},
	} {
		h, body := get(tc.path)
		n, err := strconv.Atoi(h)
		rows := csvRows(t, body, tc.header)
		if err != nil || n != len(rows) || (tc.want >= 0 && n != tc.want) {
			t.Errorf("%s: %s %q, %d rows in the file; want %d", tc.path, core.ExportRowsHeader, h, len(rows), tc.want)
		}
	}
}

// A large export from the payments page shows its progress as "N of M rows", reaches the
// total, and saves a file equal to the export the server sends.
func TestConsoleExportProgressInBrowser(t *testing.T) {
	exe := chromiumPath(t)
	c := &consoleNode{t: t, node: paydtest.Start(t)}
	merchant, key := c.merchant("Progress Shop")
	c.user(key, "/v1/console_users", "owner@progress.test", core.RoleOwner, "")
	const seeded = 4000
	c.seedExport(merchant, seeded)

	downloads := t.TempDir()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(browserCtx, 120*time.Second)
	defer cancel()
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	attr := func(sel, name string) string {
		t.Helper()
		a, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
		if err != nil || !a.Exists {
			t.Fatalf("%s[%s]: %v", sel, name, err)
		}
		return a.Value
	}

	yes := true
	progress := chromedp.Events(ctx, cdpbrowser.DownloadProgress)
	do(chromedp.Navigate(c.node.URL+"/dashboard/login"), chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), "owner@progress.test"), chromedp.SendKeys(chromedp.CSS("#password"), consolePassword),
		chromedp.Click(chromedp.CSS("#signin")), chromedp.WaitVisible(chromedp.CSS("#last30")),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: &yes})
			return err
		}),
		chromedp.Navigate(c.node.URL+"/dashboard/payments"), chromedp.WaitVisible(chromedp.CSS("#export")),
		chromedp.Click(chromedp.CSS("#export")),
		chromedp.WaitVisible(chromedp.CSS(`#export-progress-payments[data-state="done"]`)))

	rows, total := attr("#export-progress-payments", "data-rows"), attr("#export-progress-payments", "data-total")
	if rows != strconv.Itoa(seeded) || total != rows {
		t.Fatalf("progress ended at %s of %s rows, want %d of %d", rows, total, seeded, seeded)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#export-progress-payments")))
	if err != nil || !strings.Contains(text, strconv.Itoa(seeded)+" of "+strconv.Itoa(seeded)+" rows") {
		t.Fatalf("progress text %q (%v)", text, err)
	}

	var file string
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("waiting for the download: %v", err)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCompleted {
			file = filepath.Join(downloads, ev.GUID)
			break
		}
		if ev.State == cdpbrowser.DownloadProgressStateCanceled {
			t.Fatal("the download was canceled")
		}
	}
	saved, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	b := c.browser()
	b.login("owner@progress.test", consolePassword)
	_, want := b.get("/dashboard/exports/payments.csv")
	if got := csvRows(t, string(saved), core.PaymentCSVHeader); len(got) != seeded || string(saved) != want {
		t.Fatalf("the saved file has %d rows and differs from the export (%d bytes, want %d)", len(got), len(saved), len(want))
	}
}
