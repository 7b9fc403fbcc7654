package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// payctl creates a customer, tops its wallet up and shows it; bad input names its flag.
func TestCustomersCommands(t *testing.T) {
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
	out, errOut, code := payctl("customers", "create", "-email", "payer@example.com", "-language", "zh")
	if code != 0 {
		t.Fatalf("create: %d %s %s", code, out, errOut)
	}
	id := regexp.MustCompile(`cus_[a-z0-9_-]+`).FindString(out)
	if id == "" {
		t.Fatalf("create printed no ID: %s", out)
	}
	if out, errOut, code = payctl("customers", "top-up", id, "-amount", "5000", "-channel", "wechat_pay"); code != 0 || !strings.Contains(out, "requires_action") {
		t.Fatalf("top-up: %d %s %s", code, out, errOut)
	}
	if out, errOut, code = payctl("customers", "show", id); code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "balances (minor units): none") {
		t.Fatalf("show: %d %s %s", code, out, errOut)
	}
	if _, errOut, code = payctl("customers", "create", "-email", "no-at-sign"); code == 0 || !strings.Contains(errOut, "email") {
		t.Fatalf("a bad email: %d %s", code, errOut)
	}
	if _, errOut, code = payctl("customers", "top-up", id); code == 0 || !strings.Contains(errOut, "-amount") {
		t.Fatalf("a top-up without -amount: %d %s", code, errOut)
	}
}
