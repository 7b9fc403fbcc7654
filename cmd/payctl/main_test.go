package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres/pgtest"
	"github.com/paycenter/paycenter/regions"
	"github.com/paycenter/paycenter/regions/consultest"
	paysdk "github.com/paycenter/paycenter/sdk"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// payctl runs a command line and returns its exit status and output.
func payctl(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestParse(t *testing.T) {
	today := time.Now().UTC().Format(time.DateOnly)
	for _, tc := range []struct {
		name string
		args []string
		cmd  string  // the subcommand found
		want options // the fields compared: see below
		err  string  // a usage error containing this
	}{
		{name: "ledger check", args: []string{"ledger", "check"}, cmd: "ledger check",
			want: options{cluster: ".local/cluster.json"}},
		{name: "ledger check with endpoints and token", args: []string{"ledger", "check", "-endpoint", "http://a:1,http://b:2", "-admin-token", "adm_x", "-json"},
			cmd: "ledger check", want: options{cluster: ".local/cluster.json", endpoints: "http://a:1,http://b:2", adminToken: "adm_x", json: true}},
		{name: "reconcile defaults to today", args: []string{"reconcile", "-channel", "card"}, cmd: "reconcile",
			want: options{cluster: ".local/cluster.json", channel: "card", date: today}},
		{name: "reconcile a day", args: []string{"reconcile", "-channel=alipay", "-date", "2026-11-25"}, cmd: "reconcile",
			want: options{cluster: ".local/cluster.json", channel: "alipay", date: "2026-11-25"}},
		{name: "reconcile without a channel", args: []string{"reconcile"}, err: "-channel is required"},
		{name: "reconcile an unknown channel", args: []string{"reconcile", "-channel", "pigeon"}, err: `-channel "pigeon": want one of card,`},
		{name: "reconcile a bad date", args: []string{"reconcile", "-channel", "card", "-date", "25/11/2026"}, err: `-date "25/11/2026": want a day as YYYY-MM-DD`},
		{name: "a flag of another subcommand", args: []string{"reconcile", "-channel", "card", "-merchant", "mer_1"}, err: "flag provided but not defined: -merchant"},
		{name: "merchant create", args: []string{"merchant", "create", "-name", "Acme Coffee", "-region", "eu-west"}, cmd: "merchant create",
			want: options{cluster: ".local/cluster.json", name: "Acme Coffee", region: "eu-west"}},
		{name: "merchant create without a name", args: []string{"merchant", "create", "-region", "eu-west"}, err: "-name is required"},
		{name: "merchant create with a bad region", args: []string{"merchant", "create", "-name", "A", "-region", "EU West"}, err: `-region "EU West"`},
		{name: "merchant limit", args: []string{"merchant", "limit", "-merchant", "mer_1", "-rate", "2.5", "-burst", "7", "-consul-addr", "127.0.0.1:8500"},
			cmd: "merchant limit", want: options{cluster: ".local/cluster.json", merchant: "mer_1", rate: 2.5, burst: 7, consulAddr: "127.0.0.1:8500"}},
		{name: "merchant limit with a bad rate", args: []string{"merchant", "limit", "-merchant", "mer_1", "-rate", "fast"}, err: `invalid value "fast" for flag -rate`},
		{name: "merchant limit with a negative rate", args: []string{"merchant", "limit", "-merchant", "mer_1", "-rate", "-1"}, err: "-rate -1"},
		{name: "merchant limit without a merchant", args: []string{"merchant", "limit", "-rate", "1"}, err: "-merchant is required"},
		{name: "merchant limit takes no API flags", args: []string{"merchant", "limit", "-merchant", "m", "-admin-token", "x"}, err: "not defined: -admin-token"},
		{name: "channels list", args: []string{"channels", "list", "-merchant", "mer_1"}, cmd: "channels list",
			want: options{cluster: ".local/cluster.json", merchant: "mer_1"}},
		{name: "channels list without a merchant", args: []string{"channels", "list"}, err: "-merchant is required"},
		{name: "channels set", args: []string{"channels", "set", "-merchant", "mer_1", "-channel", "alipay", "-enabled=false",
			"-credential", "app_id=a1", "-credential", "key=k=v"}, cmd: "channels set",
			want: options{cluster: ".local/cluster.json", merchant: "mer_1", channel: "alipay", enabled: false,
				credentials: credentials{"app_id": "a1", "key": "k=v"}}},
		{name: "channels set enables by default", args: []string{"channels", "set", "-merchant", "mer_1", "-channel", "card"}, cmd: "channels set",
			want: options{cluster: ".local/cluster.json", merchant: "mer_1", channel: "card", enabled: true}},
		{name: "channels set with a bad credential", args: []string{"channels", "set", "-merchant", "m", "-channel", "card", "-credential", "novalue"},
			err: `invalid value "novalue" for flag -credential: want key=value`},
		{name: "region drain, region first", args: []string{"region", "drain", "us-east", "-consul-addr", "c:1"}, cmd: "region drain",
			want: options{cluster: ".local/cluster.json", consulAddr: "c:1", regionArg: "us-east"}},
		{name: "region undrain, flags first", args: []string{"region", "undrain", "-consul-addr", "c:1", "eu-west"}, cmd: "region undrain",
			want: options{cluster: ".local/cluster.json", consulAddr: "c:1", regionArg: "eu-west"}},
		{name: "region status", args: []string{"region", "status", "ap-south"}, cmd: "region status",
			want: options{cluster: ".local/cluster.json", regionArg: "ap-south"}},
		{name: "region without a region", args: []string{"region", "drain"}, err: "the region is required"},
		{name: "region with a bad region", args: []string{"region", "drain", "US_EAST"}, err: `region "US_EAST"`},
		{name: "region with two regions", args: []string{"region", "drain", "us-east", "eu-west"}, err: `unexpected argument "eu-west"`},
		{name: "ledger with an argument", args: []string{"ledger", "check", "now"}, err: `unexpected argument "now"`},
		{name: "no command", args: nil, err: "no command given"},
		{name: "unknown command", args: []string{"refund"}, err: `unknown command "refund"`},
		{name: "group without a subcommand", args: []string{"channels"}, err: "channels: want a subcommand: list, set"},
		{name: "unknown subcommand", args: []string{"region", "evacuate", "us-east"}, err: `region: unknown subcommand "evacuate": want drain, undrain, status`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inv, err := parse(tc.args)
			if tc.err != "" {
				var ue *usageError
				if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parse(%q) = %v; want a usage error containing %q", tc.args, err, tc.err)
				}
				if code, _, stderr := payctl(t, tc.args...); code != exitUsage || !strings.Contains(stderr, tc.err) {
					t.Errorf("run exits %d with %q; want %d and the error", code, stderr, exitUsage)
				}
				return
			}
			if err != nil {
				t.Fatalf("parse(%q): %v", tc.args, err)
			}
			if inv.cmd.name != tc.cmd {
				t.Errorf("command %q, want %q", inv.cmd.name, tc.cmd)
			}
			got := inv.opts
			if tc.cmd != "reconcile" {
				got.date = "" // only reconcile has -date
			}
			if got.String() != tc.want.String() {
				t.Errorf("options\n  %s\nwant\n  %s", got.String(), tc.want.String())
			}
		})
	}
}

// String prints every option, for comparisons.
func (o options) String() string {
	return strings.Join([]string{"cluster=" + o.cluster, "endpoints=" + o.endpoints, "token=" + o.adminToken, "consul=" + o.consulAddr,
		"json=" + boolStr(o.json), "channel=" + o.channel, "date=" + o.date, "merchant=" + o.merchant, "name=" + o.name,
		"region=" + o.region, "enabled=" + boolStr(o.enabled), "credentials=" + sortedCreds(o.credentials),
		"rate=" + jsonStr(o.rate), "burst=" + jsonStr(o.burst), "regionArg=" + o.regionArg}, " ")
}

func boolStr(b bool) string { return jsonStr(b) }

func jsonStr(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func sortedCreds(c credentials) string { return jsonStr(map[string]string(c)) } // json sorts map keys

func TestEnvironmentVariables(t *testing.T) {
	t.Setenv("PAYCTL_CHANNEL", "alipay")
	t.Setenv("PAYCTL_ADMIN_TOKEN", "adm_env")
	t.Setenv("PAYCTL_DATE", "not-a-day")
	inv, err := parse([]string{"reconcile", "-date", "2026-01-02"})
	if err != nil {
		t.Fatal(err)
	}
	if inv.opts.channel != "alipay" || inv.opts.adminToken != "adm_env" || inv.opts.date != "2026-01-02" {
		t.Errorf("options %s; want channel and token from the environment, the date from the command line", inv.opts)
	}
	if _, err := parse([]string{"reconcile"}); err == nil || !strings.Contains(err.Error(), `-date "not-a-day"`) {
		t.Errorf("a bad PAYCTL_DATE: %v", err)
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		code, out, _ := payctl(t, args...)
		if code != exitOK {
			t.Errorf("%q exits %d", args, code)
		}
		for _, c := range commands {
			if !strings.Contains(out, c.name) || !strings.Contains(out, "$ "+c.example+"\n") || !strings.Contains(out, c.summary) {
				t.Errorf("%q does not show %s with its summary and example:\n%s", args, c.name, out)
			}
		}
	}
	for _, c := range commands {
		t.Run(c.name, func(t *testing.T) {
			for _, args := range [][]string{
				append(strings.Fields(c.name), "-h"),
				append([]string{"help"}, strings.Fields(c.name)...),
			} {
				code, out, _ := payctl(t, args...)
				if code != exitOK {
					t.Errorf("%q exits %d", args, code)
				}
				if !strings.HasPrefix(out, "Usage: payctl "+c.name) || !strings.Contains(out, c.about) || !strings.Contains(out, "  $ "+c.example+"\n") {
					t.Errorf("%q:\n%s", args, out)
				}
				fs := newFlagSet(c, &options{})
				for _, name := range flagNames(fs) {
					if !strings.Contains(out, "  -"+name+" ") && !strings.Contains(out, "  -"+name+"\n") {
						t.Errorf("%q does not document -%s:\n%s", args, name, out)
					}
				}
			}
		})
	}
	if code, _, stderr := payctl(t, "help", "refund"); code != exitUsage || !strings.Contains(stderr, `unknown command "refund"`) {
		t.Errorf("help of an unknown command: %d %q", code, stderr)
	}
}

// TestExamplesParse checks that every example in the help is a valid command line.
func TestExamplesParse(t *testing.T) {
	for _, c := range commands {
		args := shellWords(t, c.example)
		if len(args) == 0 || args[0] != "payctl" {
			t.Fatalf("%s: example %q does not start with payctl", c.name, c.example)
		}
		inv, err := parse(args[1:])
		if err != nil {
			t.Errorf("%s: example %q: %v", c.name, c.example, err)
			continue
		}
		if inv.cmd != c {
			t.Errorf("example %q runs %s, not %s", c.example, inv.cmd.name, c.name)
		}
	}
}

// shellWords splits a command line as a shell would, for the examples' simple quoting.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	for _, m := range regexp.MustCompile(`"[^"]*"|\S+`).FindAllString(s, -1) {
		words = append(words, strings.Trim(m, `"`))
	}
	return words
}

// TestAgainstARealNode runs the API subcommands against a real node: the PostgreSQL service
// and the HTTP API on a test database.
func TestAgainstARealNode(t *testing.T) {
	node := paydtest.Start(t)
	api := []string{"-endpoint", node.URL, "-admin-token", paydtest.AdminToken, "-cluster", t.TempDir() + "/none.json"}
	with := func(args ...string) []string { return append(args, api...) }

	code, out, stderr := payctl(t, with("merchant", "create", "-name", "Acme Coffee", "-region", paydtest.Region)...)
	if code != exitOK {
		t.Fatalf("merchant create: %d %s", code, stderr)
	}
	m := regexp.MustCompile(`merchant (mer_\S+) \(Acme Coffee\), home region us-east\nsecret key: (sk_\S+) \(shown once\)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("merchant create printed:\n%s", out)
	}
	merchantID, secretKey := m[1], m[2]

	t.Run("channels", func(t *testing.T) {
		code, out, stderr := payctl(t, with("channels", "set", "-merchant", merchantID, "-channel", "alipay", "-enabled=false")...)
		if code != exitOK || out != "alipay for "+merchantID+": enabled=false own_credentials=false\n" {
			t.Fatalf("channels set: %d %q %s", code, out, stderr)
		}
		code, out, _ = payctl(t, with("channels", "set", "-merchant", merchantID, "-channel", "wechat_pay", "-credential", "app_id=own", "-json")...)
		var a paysdk.ChannelAuthorization
		if code != exitOK || json.Unmarshal([]byte(out), &a) != nil || !a.Enabled || !a.HasCredentials || a.Channel != paysdk.ChannelWeChatPay {
			t.Fatalf("channels set -json: %d %q", code, out)
		}
		code, out, _ = payctl(t, with("channels", "list", "-merchant", merchantID)...)
		if code != exitOK || !regexp.MustCompile(`(?m)^alipay\s+enabled=false\s+own_credentials=false$`).MatchString(out) ||
			!regexp.MustCompile(`(?m)^wechat_pay\s+enabled=true\s+own_credentials=true$`).MatchString(out) {
			t.Errorf("channels list: %d\n%s", code, out)
		}
		code, _, stderr = payctl(t, with("channels", "list", "-merchant", "mer_us-east_nobody")...)
		if code != exitFailed || !strings.Contains(stderr, "404") || !strings.Contains(stderr, paysdk.CodeNotFound) {
			t.Errorf("channels list of an unknown merchant: %d %q", code, stderr)
		}
	})

	t.Run("merchant operations", func(t *testing.T) {
		code, out, stderr := payctl(t, with("fees", "set", "-merchant", merchantID, "-channel", "card", "-percent-bps", "290", "-fixed", "30")...)
		if code != exitOK || out != "fees for "+merchantID+" on card: 2.90% + 30 minor units, refund_fees=false\n" {
			t.Fatalf("fees set: %d %q %s", code, out, stderr)
		}
		code, _, stderr = payctl(t, with("fees", "set", "-merchant", merchantID, "-percent-bps", "10001")...)
		if code != exitUsage || !strings.Contains(stderr, "-percent-bps 10001") {
			t.Errorf("fees set out of range: %d %q", code, stderr)
		}
		code, out, _ = payctl(t, with("kyc", "show", "-merchant", merchantID)...)
		if code != exitOK || !strings.HasPrefix(out, "merchant "+merchantID+": kyc unverified, charges_enabled=true payouts_enabled=false\n") {
			t.Errorf("kyc show: %d %q", code, out)
		}
		code, _, stderr = payctl(t, with("kyc", "review", "-merchant", merchantID, "-approve")...)
		if code != exitFailed || !strings.Contains(stderr, paysdk.CodeInvalidState) {
			t.Errorf("approving an unsubmitted KYC: %d %q", code, stderr)
		}
		body := `{"legal_name":"Acme Coffee Ltd","registration_number":"12345678","country":"GB","address":{"line1":"1 High St","city":"London","postal_code":"EC1A 1BB"},` +
			`"representative":{"name":"Jo Bloggs","id_number":"AB123456C","date_of_birth":"1985-01-31","phone":"+442071234567"},` +
			`"bank_account":{"holder_name":"Acme Coffee Ltd","account_number":"31926819","bank_code":"601613","currency":"GBP"}}`
		req, _ := http.NewRequest(http.MethodPost, node.URL+"/v1/merchant/kyc", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+secretKey)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("submit kyc: %d", res.StatusCode)
		}
		code, out, stderr = payctl(t, with("kyc", "review", "-merchant", merchantID, "-approve")...)
		if code != exitOK || !strings.HasPrefix(out, "merchant "+merchantID+": kyc verified, charges_enabled=true payouts_enabled=true\n") {
			t.Errorf("kyc review -approve: %d %q %s", code, out, stderr)
		}
		code, _, stderr = payctl(t, with("balance", "adjust", "-merchant", merchantID, "-amount", "-1", "-currency", "GBP", "-reason", "fee")...)
		if code != exitFailed || !strings.Contains(stderr, "balance_insufficient") {
			t.Errorf("a debit below zero: %d %q", code, stderr)
		}
		code, out, stderr = payctl(t, with("balance", "adjust", "-merchant", merchantID, "-amount", "250", "-currency", "GBP", "-reason", "goodwill")...)
		if code != exitOK || !strings.Contains(out, ": 250 minor units of GBP to "+merchantID+" (goodwill)") {
			t.Errorf("balance adjust: %d %q %s", code, out, stderr)
		}
	})

	// A payment, so that the ledger and the card statement have something to agree on.
	c, err := paysdk.New(paysdk.Config{Endpoints: []string{node.URL}, SecretKey: secretKey})
	if err != nil {
		t.Fatal(err)
	}
	pay, err := c.CreatePayment(context.Background(), paysdk.CreatePaymentParams{Amount: 1234, Currency: "usd", Channel: paysdk.ChannelCard,
		MerchantReference: "payctl-1", PaymentMethod: &paysdk.PaymentMethodData{Card: &paysdk.CardData{Number: "4242424242424242", ExpMonth: 12, ExpYear: time.Now().Year() + 2}}})
	if err != nil || pay.Status != paysdk.StatusSucceeded {
		t.Fatalf("payment: %+v, %v", pay, err)
	}
	today := time.Now().UTC().Format(time.DateOnly)

	t.Run("balanced", func(t *testing.T) {
		code, out, stderr := payctl(t, with("ledger", "check")...)
		if code != exitOK || !strings.HasPrefix(out, "ledger balanced: true\n") {
			t.Errorf("ledger check: %d %q %s", code, out, stderr)
		}
		code, out, stderr = payctl(t, with("reconcile", "-channel", "card", "-date", today)...)
		if code != exitOK || !strings.Contains(out, "1 statement lines, 1 platform lines, 1 matched") || !strings.Contains(out, "balanced: every line matches") {
			t.Errorf("reconcile: %d %q %s", code, out, stderr)
		}
	})

	t.Run("the channel moved money the platform does not know of", func(t *testing.T) {
		// A charge at the channel with no payment behind it.
		if _, err := node.Channels.Authorize(context.Background(), core.AuthorizeRequest{Key: "stray", PaymentID: "pay_us-east_stray",
			Channel: core.ChannelCard, Amount: 500, Currency: "USD", Capture: true,
			Card: &core.CardData{Number: "4242424242424242", ExpMonth: 12, ExpYear: time.Now().Year() + 2}}); err != nil {
			t.Fatal(err)
		}
		code, out, stderr := payctl(t, with("reconcile", "-channel", "card", "-date", today)...)
		if code != exitFailed || !strings.Contains(out, "missing on platform: charge pay_us-east_stray") || !strings.Contains(out, "5.00 USD") ||
			!strings.Contains(stderr, "1 lines disagree") {
			t.Errorf("reconcile: %d\n%s%s", code, out, stderr)
		}
		code, out, _ = payctl(t, with("reconcile", "-channel", "card", "-date", today, "-json")...)
		var rep paysdk.ReconciliationReport
		if code != exitFailed || json.Unmarshal([]byte(out), &rep) != nil || rep.Balanced || len(rep.MissingOnPlatform) != 1 {
			t.Errorf("reconcile -json: %d %q; want the report and exit 1", code, out)
		}
	})

	t.Run("the ledger does not balance", func(t *testing.T) {
		if _, err := node.DB.Pool.Exec(context.Background(), `INSERT INTO ledger_entries
			(id, journal_id, merchant_id, region, account, currency, amount, kind, created_at)
			VALUES ('le_broken', 'jnl_broken', $1, 'us-east', 'merchant_available', 'USD', 7, 'test', now())`, merchantID); err != nil {
			t.Fatal(err)
		}
		code, out, stderr := payctl(t, with("ledger", "check")...)
		if code != exitFailed || !strings.Contains(out, "ledger balanced: false") || !strings.Contains(out, "UNBALANCED journal jnl_broken") ||
			!strings.Contains(stderr, "the ledger does not balance") {
			t.Errorf("ledger check: %d\n%s%s", code, out, stderr)
		}
		code, out, _ = payctl(t, with("ledger", "check", "-json")...)
		var rep paysdk.LedgerReport
		if code != exitFailed || json.Unmarshal([]byte(out), &rep) != nil || rep.Balanced {
			t.Errorf("ledger check -json: %d %q; want the report and exit 1", code, out)
		}
	})

	t.Run("wrong token", func(t *testing.T) {
		code, _, stderr := payctl(t, "ledger", "check", "-endpoint", node.URL, "-admin-token", "adm_wrong")
		if code != exitFailed || !strings.Contains(stderr, "401") || !strings.Contains(stderr, paysdk.CodeUnauthenticated) {
			t.Errorf("ledger check with a wrong token: %d %q", code, stderr)
		}
	})

	t.Run("no platform", func(t *testing.T) {
		code, _, stderr := payctl(t, "ledger", "check", "-cluster", t.TempDir()+"/cluster.json")
		if code != exitFailed || !strings.Contains(stderr, "no -endpoint/-admin-token and no local platform") {
			t.Errorf("ledger check without a platform: %d %q", code, stderr)
		}
	})
}

// TestSwitchesAgainstConsul throws the region and merchant-limit switches in a real Consul
// agent and reads them back as the nodes do.
func TestSwitchesAgainstConsul(t *testing.T) {
	agent := consultest.Start(t)
	addr := []string{"-consul-addr", agent.HTTPAddr, "-cluster", t.TempDir() + "/none.json"}
	step := func(want string, args ...string) {
		t.Helper()
		code, out, stderr := payctl(t, append(args, addr...)...)
		if code != exitOK || !strings.Contains(out, want) {
			t.Fatalf("%q: %d %q %s; want %q", args, code, out, stderr, want)
		}
	}
	step("region eu-west drained: false", "region", "status", "eu-west")
	step("region eu-west drained:", "region", "drain", "eu-west")
	step("region eu-west drained: true", "region", "status", "eu-west")
	step("region us-east drained: false", "region", "status", "us-east")
	step("region eu-west undrained", "region", "undrain", "eu-west")
	step("region eu-west drained: false", "region", "status", "eu-west")

	step("merchant mer_us-east_1: 2.5 calls/s, burst 5, on every node", "merchant", "limit", "-merchant", "mer_us-east_1", "-rate", "2.5")
	sw, err := regions.NewSwitches(agent.Client, regions.SwitchesConfig{})
	if err != nil {
		t.Fatal(err)
	}
	l, ok, err := sw.MerchantLimit(context.Background(), "mer_us-east_1")
	if err != nil || !ok || l.PerSecond != 2.5 || l.Burst != 5 {
		t.Fatalf("the nodes read the limit %+v (set %v, %v); want 2.5/s, burst 5", l, ok, err)
	}
	step("merchant mer_us-east_1: 1.0 calls/s, burst 9", "merchant", "limit", "-merchant", "mer_us-east_1", "-rate", "1", "-burst", "9")
	step("override removed", "merchant", "limit", "-merchant", "mer_us-east_1", "-rate", "0")
	if l, ok, err = sw.MerchantLimit(context.Background(), "mer_us-east_1"); err != nil || ok {
		t.Errorf("after removal the nodes read %+v (set %v, %v); want none", l, ok, err)
	}
	if d, err := sw.Drained(context.Background(), "eu-west"); err != nil || d {
		t.Errorf("eu-west drained %v (%v) after undrain", d, err)
	}

	code, _, stderr := payctl(t, "region", "status", "us-east", "-consul-addr", "127.0.0.1:1")
	if code != exitFailed || stderr == "" {
		t.Errorf("status against no Consul: %d %q", code, stderr)
	}
}

func flagNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}
