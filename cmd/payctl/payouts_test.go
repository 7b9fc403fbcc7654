package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	paysdk "github.com/paycenter/paycenter/sdk"
)

const kycBody = `{"legal_name":"Acme GmbH","registration_number":"HRB 12345","country":"DE",
	"address":{"line1":"Unter den Linden 1","city":"Berlin","postal_code":"10117"},
	"representative":{"name":"Erika Mustermann","id_number":"T22000129","date_of_birth":"1980-05-17","phone":"+4930123456"},
	"bank_account":{"holder_name":"Acme GmbH","account_number":"0532013000","bank_code":"37040044","currency":"EUR"}}`

// An operator reviews the KYC queue and approves, sets and reads fees, credits the balance;
// the merchant pays out, lists and shows its payouts, sets its schedule and reads its
// settlements; the ledger still checks. Refusals exit 1 naming what is wrong.
func TestPayoutAndReviewCommands(t *testing.T) {
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
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, node.URL+"/v1/merchant/kyc", strings.NewReader(kycBody))
	req.Header.Set("Authorization", "Bearer "+m.SecretKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("submit kyc: %v %v", resp, err)
	}
	resp.Body.Close()
	none := t.TempDir() + "/none.json"
	run1 := func(common []string, args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := run(ctx, append(args, common...), &out, &errOut)
		return out.String(), errOut.String(), code
	}
	op := func(args ...string) (string, string, int) {
		return run1([]string{"-endpoint", node.URL, "-admin-token", paydtest.AdminToken, "-cluster", none}, args...)
	}
	mer := func(args ...string) (string, string, int) {
		return run1([]string{"-endpoint", node.URL, "-secret-key", m.SecretKey, "-cluster", none}, args...)
	}
	must := func(want string) func(out, errOut string, code int) string {
		return func(out, errOut string, code int) string {
			t.Helper()
			if code != 0 || !strings.Contains(out, want) {
				t.Fatalf("exit %d, want output with %q:\n%s%s", code, want, out, errOut)
			}
			return out
		}
	}
	// Not verified yet: no payout.
	if _, errOut, code := mer("payouts", "create", "-amount", "100", "-currency", "EUR"); code != exitFailed || !strings.Contains(errOut, "kyc_required") {
		t.Fatalf("payout before KYC: %d %s", code, errOut)
	}
	must(m.ID)(op("kyc", "pending"))
	must("verified")(op("kyc", "review", "-merchant", m.ID, "-approve"))
	must("no KYC submission is pending")(op("kyc", "pending"))
	must("2.90% + 30")(op("fees", "set", "-merchant", m.ID, "-channel", "card", "-percent-bps", "290", "-fixed", "30"))
	must(m.ID + " on card: 2.90% + 30")(op("fees", "get", "-merchant", m.ID))
	must("adjustment")(op("balance", "adjust", "-merchant", m.ID, "-amount", "5000", "-currency", "EUR", "-reason", "float"))

	out := must("paid")(mer("payouts", "create", "-amount", "2000", "-currency", "EUR", "-idempotency-key", "po-cli-1"))
	id := regexp.MustCompile(`po_[a-z0-9_-]+`).FindString(out)
	if id == "" || !strings.Contains(out, "…3000") {
		t.Fatalf("payout printed %q", out)
	}
	if again := must("paid")(mer("payouts", "create", "-amount", "2000", "-currency", "EUR", "-idempotency-key", "po-cli-1")); !strings.Contains(again, id) {
		t.Errorf("the same key made another payout: %s", again)
	}
	if _, errOut, code := mer("payouts", "create", "-amount", "3001", "-currency", "EUR"); code != exitFailed || !strings.Contains(errOut, "balance_insufficient") {
		t.Errorf("payout above the balance: %d %s", code, errOut)
	}
	if _, errOut, code := mer("payouts", "create", "-currency", "EUR"); code != exitUsage || !strings.Contains(errOut, "-amount") {
		t.Errorf("payout without -amount: %d %s", code, errOut)
	}
	must(id)(mer("payouts", "list", "-status", "paid"))
	must("bank reference")(mer("payouts", "show", id))
	must("weekly on friday, delay_days 2")(mer("payouts", "schedule", "-interval", "weekly", "-weekly-anchor", "friday", "-delay-days", "2"))
	must("weekly on friday")(mer("payouts", "schedule"))
	if _, _, code := mer("settlements", "list"); code != 0 {
		t.Errorf("settlements list: %d", code)
	}
	must("no settlement day is flagged")(op("settlements", "flagged"))
	must("ledger balanced: true")(op("ledger", "check"))
	b, err := paysdk.New(paysdk.Config{Endpoints: []string{node.URL}, SecretKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	bal, err := b.Balance(ctx)
	if err != nil || len(bal.Data) != 1 || bal.Data[0].Available != 3000 {
		t.Errorf("balance after the payout: %+v, %v; want 3000 EUR available", bal, err)
	}
}
