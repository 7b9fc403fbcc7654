package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// payctl reads and changes the notification settings and a template; the platform's refusals
// (a bad reply-to, a template that does not parse) come back naming what is wrong.
func TestNotificationSettingsAndTemplatesCommands(t *testing.T) {
	node := paydtest.Start(t)
	ctx := context.Background()
	admin, err := paysdk.NewAdmin(paysdk.AdminConfig{Endpoints: []string{node.URL}, Token: paydtest.AdminToken})
	if err != nil {
		t.Fatal(err)
	}
	m, err := admin.CreateMerchant(ctx, paysdk.CreateMerchantParams{Name: "Acme", HomeRegion: paydtest.Region})
	if err != nil {
		t.Fatal(err)
	}
	common := []string{"-endpoint", node.URL, "-secret-key", m.SecretKey, "-cluster", t.TempDir() + "/none.json"}
	payctl := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := run(ctx, append(args, common...), &out, &errOut)
		return out.String(), errOut.String(), code
	}
	out, errOut, code := payctl("notification-settings", "get")
	if code != 0 || !strings.Contains(out, "payment_failed     email on   sms on") || !strings.Contains(out, "top-up reminder: off") {
		t.Fatalf("get: %d %s %s", code, out, errOut)
	}
	out, errOut, code = payctl("notification-settings", "set", "-notice", "payment_failed.sms=off", "-threshold", "cny=5000",
		"-sender-name", "Acme Shop", "-reminder-days", "30", "-reminder-below", "cny=2000")
	if code != 0 || !strings.Contains(out, "payment_failed     email on   sms off") || !strings.Contains(out, "every 30 days, wallets below map[CNY:2000]") ||
		!strings.Contains(out, "sender name: Acme Shop") || !strings.Contains(out, "map[CNY:5000]") {
		t.Fatalf("set: %d %s %s", code, out, errOut)
	}
	if out, errOut, code = payctl("notification-settings", "set", "-reply-to", "nobody"); code != exitFailed || !strings.Contains(errOut, "reply_to") {
		t.Fatalf("bad reply-to: %d %s %s", code, out, errOut)
	}
	if out, errOut, code = payctl("notification-settings", "set", "-notice", "payment_failed=off"); code != exitUsage || !strings.Contains(errOut, "notice.channel") {
		t.Fatalf("bad -notice: %d %s %s", code, out, errOut)
	}
	out, errOut, code = payctl("templates", "set", "top_up_receipt", "-language", "en", "-subject", "Topped up {{money .amount .currency}}", "-text", "Thanks.")
	if code != 0 || !strings.Contains(out, "the merchant's own") {
		t.Fatalf("templates set: %d %s %s", code, out, errOut)
	}
	if out, errOut, code = payctl("templates", "set", "top_up_receipt", "-language", "en", "-subject", "{{.amount", "-text", "x"); code != exitFailed || !strings.Contains(errOut, "subject") {
		t.Fatalf("a bad template: %d %s %s", code, out, errOut)
	}
	if out, errOut, code = payctl("templates", "show", "top_up_receipt", "-language", "en"); code != 0 || !strings.Contains(out, "subject: Topped up") {
		t.Fatalf("templates show: %d %s %s", code, out, errOut)
	}
	if out, errOut, code = payctl("templates", "reset", "top_up_receipt", "-language", "en"); code != 0 || !strings.Contains(out, "shipped") || !strings.Contains(out, "Top-up received") {
		t.Fatalf("templates reset: %d %s %s", code, out, errOut)
	}
	if out, errOut, code = payctl("templates", "show", "top_up_receipt"); code != exitUsage || !strings.Contains(errOut, "-language") {
		t.Fatalf("templates show without -language: %d %s %s", code, out, errOut)
	}
}
