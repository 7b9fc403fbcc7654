// Command payctl is the operator's tool for a running platform: the local cluster
// (.local/cluster.json) or any deployment (-endpoint and -admin-token, or PAYCTL_ENDPOINT and
// PAYCTL_ADMIN_TOKEN).
//
//	payctl ledger check
//	payctl reconcile -channel card [-date 2026-11-25]
//	payctl merchant create -name "Acme" -region us-east
//	payctl channels list -merchant mer_…
//	payctl channels set -merchant mer_… -channel alipay -enabled=false [-credential key=value …]
//	payctl region drain|undrain|status us-east       (Consul KV; -consul-addr or the local cluster's)
//	payctl merchant limit -merchant mer_… -rate 20 -burst 40   (-rate 0 removes the override)
//
// Add -json to print the API's JSON instead of a summary.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/peterbourgon/ff/v3"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/deploy/localcluster"
	"github.com/paycenter/paycenter/regions"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "payctl:", err)
		os.Exit(1)
	}
}

type client struct {
	endpoint, token string
	json            bool
	out             io.Writer
}

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func run(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: payctl ledger check | reconcile | merchant create | channels list | channels set (see the package doc)")
	}
	cmd := args[0]
	args = args[1:]
	if (cmd == "ledger" || cmd == "channels" || cmd == "merchant" || cmd == "region") && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = cmd+" "+args[0], args[1:]
	}
	var regionName string
	if strings.HasPrefix(cmd, "region ") && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		regionName, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("payctl "+cmd, flag.ContinueOnError)
	cluster := fs.String("cluster", ".local/cluster.json", "local cluster description, used when -endpoint is not set")
	endpoint := fs.String("endpoint", "", "a regional endpoint of the platform, e.g. https://us-east.pay.example.com")
	token := fs.String("admin-token", "", "the operator token")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	channel := fs.String("channel", "", "payment channel")
	date := fs.String("date", time.Now().UTC().Format("2006-01-02"), "day to reconcile, YYYY-MM-DD (UTC)")
	merchant := fs.String("merchant", "", "merchant ID")
	name := fs.String("name", "", "merchant name")
	region := fs.String("region", "", "merchant home region")
	enabled := fs.Bool("enabled", true, "authorise (true) or forbid (false) the channel")
	consulAddr := fs.String("consul-addr", "", "Consul agent for region and limit switches (default: the local cluster's)")
	ratePS := fs.Float64("rate", 0, "merchant API calls per second (0 removes the override)")
	burst := fs.Int("burst", 0, "merchant API burst (default: twice the rate)")
	var creds multi
	fs.Var(&creds, "credential", "key=value of the merchant's own channel credentials (repeatable)")
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("PAYCTL")); err != nil {
		return err
	}
	c := &client{endpoint: *endpoint, token: *token, json: *asJSON, out: out}
	switchCmd := strings.HasPrefix(cmd, "region ") || cmd == "merchant limit"
	if (c.endpoint == "" && !(switchCmd && *consulAddr != "")) || (switchCmd && *consulAddr == "") {
		cl, err := localcluster.Load(strings.TrimSuffix(*cluster, "/cluster.json"))
		if err != nil {
			return fmt.Errorf("no -endpoint/-consul-addr and no local cluster (%s): %w", *cluster, err)
		}
		if c.endpoint == "" {
			c.endpoint = cl.Regions[0].Endpoint
		}
		if c.token == "" {
			c.token = cl.AdminToken
		}
		if *consulAddr == "" {
			*consulAddr = cl.ConsulAddr
		}
	}
	if strings.HasPrefix(cmd, "region ") || cmd == "merchant limit" {
		return switches(ctx, cmd, *consulAddr, regionName, *merchant, *ratePS, *burst, out)
	}
	switch cmd {
	case "ledger check":
		var rep core.LedgerReport
		if err := c.do(ctx, "GET", "/v1/admin/ledger/check", nil, &rep); err != nil || c.json {
			return err
		}
		fmt.Fprintf(out, "ledger balanced: %v\njournals: %d\nentries: %d\n", rep.Balanced, rep.Journals, rep.Entries)
		for _, j := range rep.UnbalancedJournals {
			fmt.Fprintln(out, "UNBALANCED journal", j)
		}
		for _, p := range rep.PaymentMismatches {
			fmt.Fprintln(out, "MISMATCH payment", p)
		}
		if !rep.Balanced {
			return errors.New("the ledger does not balance")
		}
		return nil
	case "reconcile":
		var rep core.ReconciliationReport
		if err := c.do(ctx, "POST", "/v1/admin/reconciliations", map[string]string{"channel": *channel, "date": *date}, &rep); err != nil || c.json {
			return err
		}
		fmt.Fprintf(out, "reconciliation of %s on %s: %d statement lines, %d platform lines, %d matched\n",
			rep.Channel, rep.Date, rep.ChannelLines, rep.PlatformLines, rep.Matched)
		for _, l := range rep.MissingOnPlatform {
			fmt.Fprintf(out, "  missing on platform: %-6s %s %s %s\n", l.Kind, l.PaymentID, l.RefundID, core.FormatAmount(l.Amount, l.Currency))
		}
		for _, l := range rep.MissingOnChannel {
			fmt.Fprintf(out, "  missing on channel:  %-6s %s %s %s\n", l.Kind, l.PaymentID, l.RefundID, core.FormatAmount(l.Amount, l.Currency))
		}
		for _, m := range rep.AmountMismatches {
			fmt.Fprintf(out, "  amount mismatch:     %-6s %s %s platform %s, channel %s\n", m.Kind, m.PaymentID, m.RefundID,
				core.FormatAmount(m.PlatformAmount, m.Currency), core.FormatAmount(m.ChannelAmount, m.Currency))
		}
		if rep.Balanced {
			fmt.Fprintln(out, "balanced: every line matches")
			return nil
		}
		return fmt.Errorf("%d lines disagree", len(rep.MissingOnPlatform)+len(rep.MissingOnChannel)+len(rep.AmountMismatches))
	case "merchant create":
		var m core.Merchant
		if err := c.do(ctx, "POST", "/v1/admin/merchants", map[string]string{"name": *name, "home_region": *region}, &m); err != nil || c.json {
			return err
		}
		fmt.Fprintf(out, "merchant %s (%s), home region %s\nsecret key: %s (shown once)\n", m.ID, m.Name, m.HomeRegion, m.SecretKey)
		return nil
	case "channels list":
		var list core.List[core.ChannelAuthorization]
		if err := c.do(ctx, "GET", "/v1/admin/merchants/"+*merchant+"/channels", nil, &list); err != nil || c.json {
			return err
		}
		for _, a := range list.Data {
			fmt.Fprintf(out, "%-14s enabled=%-5v own_credentials=%v\n", a.Channel, a.Enabled, a.HasCredentials)
		}
		return nil
	case "channels set":
		body := map[string]any{"enabled": *enabled}
		if len(creds) > 0 {
			m := map[string]string{}
			for _, kv := range creds {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("-credential %q: want key=value", kv)
				}
				m[k] = v
			}
			body["credentials"] = m
		}
		var a core.ChannelAuthorization
		if err := c.do(ctx, "POST", "/v1/admin/merchants/"+*merchant+"/channels/"+*channel, body, &a); err != nil || c.json {
			return err
		}
		fmt.Fprintf(out, "%s for %s: enabled=%v own_credentials=%v\n", a.Channel, a.Merchant, a.Enabled, a.HasCredentials)
		return nil
	}
	return fmt.Errorf("unknown command %q", cmd)
}

// switches throws the runtime switches kept in Consul KV.
func switches(ctx context.Context, cmd, consulAddr, region, merchant string, perSecond float64, burst int, out io.Writer) error {
	if consulAddr == "" {
		return errors.New("no Consul: give -consul-addr (the platform runs without Consul)")
	}
	client, err := api.NewClient(&api.Config{Address: consulAddr})
	if err != nil {
		return err
	}
	sw, err := regions.NewSwitches(client, regions.SwitchesConfig{})
	if err != nil {
		return err
	}
	switch cmd {
	case "region drain":
		if err := sw.Drain(ctx, region); err != nil {
			return err
		}
		fmt.Fprintf(out, "region %s drained: its nodes fail readiness and its traffic moves to the nearest region\n", region)
	case "region undrain":
		if err := sw.Undrain(ctx, region); err != nil {
			return err
		}
		fmt.Fprintf(out, "region %s undrained: its nodes take traffic again once healthy\n", region)
	case "region status":
		d, err := sw.Drained(ctx, region)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "region %s drained: %v\n", region, d)
	case "merchant limit":
		if merchant == "" {
			return errors.New("-merchant is required")
		}
		if perSecond <= 0 {
			if err := sw.DeleteMerchantLimit(ctx, merchant); err != nil {
				return err
			}
			fmt.Fprintf(out, "merchant %s: override removed; the nodes' default applies\n", merchant)
			return nil
		}
		if burst == 0 {
			burst = int(2 * perSecond)
		}
		if err := sw.SetMerchantLimit(ctx, merchant, perSecond, burst); err != nil {
			return err
		}
		fmt.Fprintf(out, "merchant %s: %.1f calls/s, burst %d, on every node\n", merchant, perSecond, burst)
	default:
		return fmt.Errorf("unknown command %q", cmd)
	}
	return nil
}

// do calls the admin API; with -json it prints the answer as is.
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.endpoint, "/")+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message, Param string } `json:"error"`
		}
		_ = json.Unmarshal(raw, &e)
		return fmt.Errorf("%s %s: HTTP %d %s: %s", method, path, res.StatusCode, e.Error.Code, e.Error.Message)
	}
	if c.json {
		_, err := c.out.Write(raw)
		return err
	}
	return json.Unmarshal(raw, out)
}
