// Command payctl is the operator's tool for a running platform: the local cluster
// (.local/cluster.json) or any deployment (-endpoint and -admin-token, or PAYCTL_ENDPOINT and
// PAYCTL_ADMIN_TOKEN).
//
//	payctl ledger check
//	payctl reconcile -channel card [-date 2026-11-25]
//	payctl merchant create -name "Acme" -region us-east
//	payctl merchant limit -merchant mer_… -rate 20 -burst 40   (Consul KV; -rate 0 removes the override)
//	payctl channels list -merchant mer_…
//	payctl channels set -merchant mer_… -channel alipay -enabled=false [-credential key=value …]
//	payctl kyc pending | kyc show | kyc review -merchant mer_… (-approve | -reject -reason …)
//	payctl fees get|set -merchant mer_…|*
//	payctl settlements list|show|lines -secret-key sk_…; payctl settlements flagged
//	payctl payouts create|list|show|schedule -secret-key sk_…
//	payctl region drain|undrain|status us-east                  (Consul KV)
//	payctl webhooks listen -secret-key sk_… -forward http://127.0.0.1:3000/hooks
//	payctl events resend evt_… -secret-key sk_…
//
// Every subcommand has its own flags; payctl help lists them, payctl <command> -h explains
// one. The operator routes go through the SDK's admin client; draining a region and merchant
// limits are Consul KV switches (package regions), as the API has no routes for them. payctl
// exits 1 when the ledger or a reconciliation disagrees or a call fails, 2 on a usage error.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/peterbourgon/ff/v3"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/deploy/localcluster"
	"github.com/paycenter/paycenter/regions"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// Exit statuses.
const (
	exitOK       = 0
	exitFailed   = 1 // a call failed, or the ledger or a reconciliation disagrees
	exitUsage    = 2 // bad command line
	envVarPrefix = "PAYCTL"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs one payctl command line and returns its exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	inv, err := parse(args)
	var ue *usageError
	switch {
	case errors.Is(err, errHelp):
		writeHelp(stdout, inv)
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "payctl: %v\n", ue)
		if ue.cmd != nil {
			fmt.Fprintf(stderr, "Run 'payctl %s -h' for its flags and an example.\n", ue.cmd.name)
		} else {
			fmt.Fprintln(stderr, "Run 'payctl help' for the commands.")
		}
		return exitUsage
	case err != nil:
		fmt.Fprintln(stderr, "payctl:", err)
		return exitUsage
	}
	if err := inv.cmd.run(ctx, &env{opts: &inv.opts, out: stdout}); err != nil {
		fmt.Fprintf(stderr, "payctl %s: %v\n", inv.cmd.name, err)
		return exitFailed
	}
	return exitOK
}

// options are every subcommand's flags; each subcommand registers the ones it takes.
type options struct {
	// Where the platform is.
	cluster    string
	endpoints  string
	adminToken string
	consulAddr string
	json       bool

	channel, date, merchant, name, region string
	enabled                               bool
	credentials                           credentials
	rate                                  float64
	burst                                 int
	regionArg                             string // the positional argument: a region, or an event ID
	webhooks                              webhookOptions
	customers                             customerOptions
	notices                               noticeOptions
	ops                                   merchantOpsOptions
	payouts                               payoutOptions
}

// credentials is the repeatable -credential key=value flag.
type credentials map[string]string

func (c *credentials) String() string {
	var kv []string
	for k, v := range *c {
		kv = append(kv, k+"="+v)
	}
	return strings.Join(kv, ",")
}

func (c *credentials) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return errors.New("want key=value")
	}
	if *c == nil {
		*c = credentials{}
	}
	(*c)[k] = val
	return nil
}

// command is one subcommand.
type command struct {
	name     string // as typed: "channels set"
	synopsis string // the flags and arguments, for the usage line
	summary  string // one line, for payctl help
	about    string // what it does, for payctl <command> -h
	example  string // a command line that works against the local platform
	// flags registers the subcommand's flags in fs, bound to o.
	flags func(fs *flag.FlagSet, o *options)
	// positional names the one positional argument it takes, "" for none.
	positional string
	// check validates the parsed options, naming the flag at fault.
	check func(o *options) error
	run   func(ctx context.Context, e *env) error
}

// commands lists payctl's subcommands in the order help shows them.
var commands = []*command{
	{
		name: "ledger check", summary: "check that the whole ledger balances",
		about: "Checks that every journal of the ledger sums to zero, that every payment's amounts, wallet, merchant balance " +
			"(available + pending) and payout agree with their postings, and that no balance went negative after a movement " +
			"out except by an operator's allow_negative adjustment. Exits 1 if not.",
		example: "payctl ledger check",
		flags:   apiFlags,
		run:     ledgerCheck,
	},
	{
		name: "reconcile", synopsis: "-channel CHANNEL [-date YYYY-MM-DD]",
		summary: "compare a channel's statement for a day with the platform's records",
		about:   "Fetches the channel's statement for the day (UTC) and matches it line by line with the platform's charges and refunds. Exits 1 if any line disagrees.",
		example: "payctl reconcile -channel card -date " + time.Now().UTC().Format(time.DateOnly),
		flags: func(fs *flag.FlagSet, o *options) {
			apiFlags(fs, o)
			fs.StringVar(&o.channel, "channel", "", "the channel to reconcile: "+channelNames())
			fs.StringVar(&o.date, "date", time.Now().UTC().Format(time.DateOnly), "the day to reconcile, YYYY-MM-DD (UTC)")
		},
		check: func(o *options) error {
			if err := checkChannel(o.channel); err != nil {
				return err
			}
			if _, err := time.Parse(time.DateOnly, o.date); err != nil {
				return fmt.Errorf("-date %q: want a day as YYYY-MM-DD", o.date)
			}
			return nil
		},
		run: reconcile,
	},
	{
		name: "merchant create", synopsis: "-name NAME -region REGION",
		summary: "onboard a merchant and print its secret key (shown once)",
		about:   "Creates a merchant homed in the region and prints its ID and secret key. The key is shown only here.",
		example: `payctl merchant create -name "Acme Coffee" -region us-east`,
		flags: func(fs *flag.FlagSet, o *options) {
			apiFlags(fs, o)
			fs.StringVar(&o.name, "name", "", "the merchant's name")
			fs.StringVar(&o.region, "region", "", "the merchant's home region, e.g. us-east")
		},
		check: func(o *options) error {
			if o.name == "" {
				return errors.New("-name is required")
			}
			if !core.RegionNameRE.MatchString(o.region) {
				return fmt.Errorf("-region %q: want a region name such as us-east", o.region)
			}
			return nil
		},
		run: merchantCreate,
	},
	{
		name: "merchant limit", synopsis: "-merchant ID -rate PER_SECOND [-burst N]",
		summary: "set or remove a merchant's API rate limit on every node (Consul KV)",
		about:   "Writes the merchant's API limit to Consul's KV store, where every node follows it. -rate 0 removes the override, so the nodes' default applies.",
		example: "payctl merchant limit -merchant mer_us-east_5z8k2q7m0c1d -rate 20 -burst 40",
		flags: func(fs *flag.FlagSet, o *options) {
			consulFlags(fs, o)
			fs.StringVar(&o.merchant, "merchant", "", "the merchant's ID")
			fs.Float64Var(&o.rate, "rate", 0, "API calls per second; 0 removes the override")
			fs.IntVar(&o.burst, "burst", 0, "API burst (default: twice the rate)")
		},
		check: func(o *options) error {
			switch {
			case o.merchant == "":
				return errors.New("-merchant is required")
			case o.rate < 0:
				return fmt.Errorf("-rate %v: want 0 (remove the override) or more", o.rate)
			case o.burst < 0:
				return fmt.Errorf("-burst %d: want 0 (twice the rate) or more", o.burst)
			}
			return nil
		},
		run: merchantLimit,
	},
	{
		name: "channels list", synopsis: "-merchant ID",
		summary: "list a merchant's channel authorisations",
		about:   "Prints, per channel, whether the merchant may use it and whether it has its own credentials for it.",
		example: "payctl channels list -merchant mer_us-east_5z8k2q7m0c1d",
		flags: func(fs *flag.FlagSet, o *options) {
			apiFlags(fs, o)
			fs.StringVar(&o.merchant, "merchant", "", "the merchant's ID")
		},
		check: func(o *options) error {
			if o.merchant == "" {
				return errors.New("-merchant is required")
			}
			return nil
		},
		run: channelsList,
	},
	{
		name: "channels set", synopsis: "-merchant ID -channel CHANNEL [-enabled=false] [-credential key=value ...]",
		summary: "authorise or forbid a channel for a merchant, optionally with its own credentials",
		about:   "Authorises (-enabled, the default) or forbids (-enabled=false) the channel for the merchant. -credential, repeatable, stores the merchant's own credentials for the channel; they are never shown again.",
		example: "payctl channels set -merchant mer_us-east_5z8k2q7m0c1d -channel alipay -enabled=false",
		flags: func(fs *flag.FlagSet, o *options) {
			apiFlags(fs, o)
			fs.StringVar(&o.merchant, "merchant", "", "the merchant's ID")
			fs.StringVar(&o.channel, "channel", "", "the channel: "+channelNames())
			fs.BoolVar(&o.enabled, "enabled", true, "authorise (true) or forbid (false) the channel")
			fs.Var(&o.credentials, "credential", "key=value of the merchant's own channel credentials (repeatable)")
		},
		check: func(o *options) error {
			if o.merchant == "" {
				return errors.New("-merchant is required")
			}
			return checkChannel(o.channel)
		},
		run: channelsSet,
	},
	{
		name: "region drain", synopsis: "REGION", positional: "region",
		summary: "drain a region: its nodes fail readiness and traffic moves to the nearest region (Consul KV)",
		about:   "Throws the region's drain switch in Consul's KV store: its nodes fail readiness, so routers and the endpoints of other regions stop sending them traffic.",
		example: "payctl region drain us-east",
		flags:   consulFlags,
		run:     regionDrain,
	},
	{
		name: "region undrain", synopsis: "REGION", positional: "region",
		summary: "undrain a region: its nodes take traffic again once healthy (Consul KV)",
		about:   "Removes the region's drain switch from Consul's KV store.",
		example: "payctl region undrain us-east",
		flags:   consulFlags,
		run:     regionUndrain,
	},
	{
		name: "region status", synopsis: "REGION", positional: "region",
		summary: "say whether a region is drained (Consul KV)",
		about:   "Reads the region's drain switch from Consul's KV store.",
		example: "payctl region status us-east",
		flags:   consulFlags,
		run:     regionStatus,
	},
}

// apiFlags are the flags of the subcommands that call the admin API.
func apiFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.cluster, "cluster", ".local/cluster.json", "the local platform's description, used for what -endpoint and -admin-token leave unset")
	fs.StringVar(&o.endpoints, "endpoint", "", "the platform's regional endpoints, nearest first, comma-separated, e.g. https://us-east.pay.example.com")
	fs.StringVar(&o.adminToken, "admin-token", "", "the operator token")
	fs.BoolVar(&o.json, "json", false, "print the API's answer as JSON instead of a summary")
}

// consulFlags are the flags of the subcommands that throw Consul KV switches.
func consulFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.cluster, "cluster", ".local/cluster.json", "the local platform's description, used when -consul-addr is unset")
	fs.StringVar(&o.consulAddr, "consul-addr", "", "the Consul agent's HTTP address, e.g. 127.0.0.1:8500")
}

func channelNames() string {
	names := make([]string, len(core.Channels))
	for i, c := range core.Channels {
		names[i] = string(c)
	}
	return strings.Join(names, ", ")
}

func checkChannel(ch string) error {
	switch {
	case ch == "":
		return fmt.Errorf("-channel is required: one of %s", channelNames())
	case !core.Channel(ch).Valid():
		return fmt.Errorf("-channel %q: want one of %s", ch, channelNames())
	}
	return nil
}

// lookup finds a subcommand by its words, and says what is wrong if none matches.
func lookup(args []string) (*command, []string, error) {
	if len(args) == 0 {
		return nil, nil, &usageError{err: errors.New("no command given")}
	}
	for _, c := range commands {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			return c, args[len(words):], nil
		}
	}
	var subs []string
	for _, c := range commands {
		if group, sub, ok := strings.Cut(c.name, " "); ok && group == args[0] {
			subs = append(subs, sub)
		}
	}
	if len(subs) > 0 {
		if len(args) == 1 || strings.HasPrefix(args[1], "-") {
			return nil, nil, &usageError{err: fmt.Errorf("%s: want a subcommand: %s", args[0], strings.Join(subs, ", "))}
		}
		return nil, nil, &usageError{err: fmt.Errorf("%s: unknown subcommand %q: want %s", args[0], args[1], strings.Join(subs, ", "))}
	}
	return nil, nil, &usageError{err: fmt.Errorf("unknown command %q", args[0])}
}

// invocation is a parsed command line.
type invocation struct {
	cmd  *command // nil: payctl help without a command
	opts options
}

// errHelp asks for help: payctl help [command], or -h.
var errHelp = errors.New("help requested")

// usageError is a bad command line.
type usageError struct {
	cmd *command
	err error
}

func (e *usageError) Error() string {
	if e.cmd != nil {
		return e.cmd.name + ": " + e.err.Error()
	}
	return e.err.Error()
}

func (e *usageError) Unwrap() error { return e.err }

// parse parses a command line: the subcommand, its flags (from the arguments, then from
// PAYCTL_* variables), its positional argument, and checks them.
func parse(args []string) (*invocation, error) {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
		if len(args) < 2 {
			return &invocation{}, errHelp
		}
		c, _, err := lookup(args[1:])
		if err != nil {
			return nil, err
		}
		return &invocation{cmd: c}, errHelp
	}
	c, rest, err := lookup(args)
	if err != nil {
		return nil, err
	}
	inv := &invocation{cmd: c}
	// The positional argument may come before the flags ("region drain us-east -consul-addr
	// A") or after them.
	if c.positional != "" && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		inv.opts.regionArg, rest = rest[0], rest[1:]
	}
	fs := newFlagSet(c, &inv.opts)
	if err := ff.Parse(fs, rest, ff.WithEnvVarPrefix(envVarPrefix)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return inv, errHelp
		}
		// ff prefixes the flag package's own message, which names the flag already.
		if inner := errors.Unwrap(err); inner != nil && strings.HasPrefix(err.Error(), "error parsing commandline arguments: ") {
			err = inner
		}
		return nil, &usageError{cmd: c, err: err}
	}
	extra := fs.Args()
	if c.positional != "" && inv.opts.regionArg == "" && len(extra) > 0 {
		inv.opts.regionArg, extra = extra[0], extra[1:]
	}
	if len(extra) > 0 {
		return nil, &usageError{cmd: c, err: fmt.Errorf("unexpected argument %q", extra[0])}
	}
	if c.positional == "event" && !strings.HasPrefix(inv.opts.regionArg, core.PrefixEvent+"_") {
		return nil, &usageError{cmd: c, err: errors.New("the event's ID is required, e.g. evt_us-east_…")}
	}
	if c.positional == "region" && !core.RegionNameRE.MatchString(inv.opts.regionArg) {
		if inv.opts.regionArg == "" {
			return nil, &usageError{cmd: c, err: errors.New("the region is required, e.g. us-east")}
		}
		return nil, &usageError{cmd: c, err: fmt.Errorf("region %q: want a region name such as us-east", inv.opts.regionArg)}
	}
	if c.check != nil {
		if err := c.check(&inv.opts); err != nil {
			return nil, &usageError{cmd: c, err: err}
		}
	}
	return inv, nil
}

// newFlagSet makes c's flag set, bound to o. It prints nothing: run reports errors.
func newFlagSet(c *command, o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("payctl "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.flags(fs, o)
	return fs
}

// writeHelp prints every command with its example, or one command's usage and flags.
func writeHelp(w io.Writer, inv *invocation) {
	if inv == nil || inv.cmd == nil {
		fmt.Fprint(w, "payctl operates a running platform: the local one (.local/cluster.json) or a deployment\n"+
			"(-endpoint and -admin-token for the API, -consul-addr for the switches; or PAYCTL_* variables).\n\n"+
			"Usage: payctl <command> [flags]\n\nCommands:\n")
		for _, c := range commands {
			fmt.Fprintf(w, "  %-16s %s\n  %-16s   $ %s\n", c.name, c.summary, "", c.example)
		}
		fmt.Fprint(w, "\nRun 'payctl <command> -h' (or 'payctl help <command>') for a command's flags.\n"+
			"Exit status: 0 done, 1 the call failed or the ledger or a reconciliation disagrees, 2 bad usage.\n")
		return
	}
	c := inv.cmd
	fmt.Fprintf(w, "Usage: payctl %s", c.name)
	if c.synopsis != "" {
		fmt.Fprintf(w, " %s", c.synopsis)
	}
	fs := newFlagSet(c, &options{})
	envExample := "CLUSTER"
	for _, f := range []string{"consul-addr", "admin-token"} {
		if fs.Lookup(f) != nil {
			envExample = strings.ToUpper(strings.ReplaceAll(f, "-", "_"))
		}
	}
	fmt.Fprintf(w, " [flags]\n\n%s\n\nExample:\n  $ %s\n\nFlags (each also as %s_<FLAG>, e.g. %s_%s):\n", c.about, c.example, envVarPrefix, envVarPrefix, envExample)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// env is what a running subcommand needs.
type env struct {
	opts *options
	out  io.Writer
}

// cluster reads the local platform's description.
func (e *env) cluster(missing string) (*localcluster.Cluster, error) {
	c, err := localcluster.Load(strings.TrimSuffix(e.opts.cluster, "/cluster.json"))
	if err != nil {
		return nil, fmt.Errorf("no %s and no local platform (%s): %w", missing, e.opts.cluster, err)
	}
	return c, nil
}

// admin makes the admin client: -endpoint and -admin-token, else the local platform's.
func (e *env) admin() (*paysdk.Admin, error) {
	o := e.opts
	var eps []string
	for _, ep := range strings.Split(o.endpoints, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			eps = append(eps, ep)
		}
	}
	token := o.adminToken
	if len(eps) == 0 || token == "" {
		c, err := e.cluster("-endpoint/-admin-token")
		if err != nil {
			return nil, err
		}
		if len(eps) == 0 {
			for _, r := range c.Regions {
				eps = append(eps, r.Endpoint)
			}
		}
		if token == "" {
			token = c.AdminToken
		}
	}
	a, err := paysdk.NewAdmin(paysdk.AdminConfig{Endpoints: eps, Token: token})
	if err != nil {
		return nil, fmt.Errorf("-endpoint/-admin-token: %w", err)
	}
	return a, nil
}

// switches makes the Consul KV switches: -consul-addr, else the local platform's agent.
func (e *env) switches() (*regions.Switches, error) {
	addr := e.opts.consulAddr
	if addr == "" {
		c, err := e.cluster("-consul-addr")
		if err != nil {
			return nil, err
		}
		if addr = c.ConsulAddr; addr == "" {
			return nil, errors.New("the local platform runs without Consul: give -consul-addr")
		}
	}
	client, err := api.NewClient(&api.Config{Address: addr})
	if err != nil {
		return nil, fmt.Errorf("-consul-addr %q: %w", addr, err)
	}
	return regions.NewSwitches(client, regions.SwitchesConfig{})
}

// printJSON prints v indented, for -json.
func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func ledgerCheck(ctx context.Context, e *env) error {
	a, err := e.admin()
	if err != nil {
		return err
	}
	rep, err := a.CheckLedger(ctx)
	if err != nil {
		return err
	}
	if e.opts.json {
		if err := e.printJSON(rep); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.out, "ledger balanced: %v\njournals: %d\nentries: %d\n", rep.Balanced, rep.Journals, rep.Entries)
		for _, j := range rep.UnbalancedJournals {
			fmt.Fprintln(e.out, "UNBALANCED journal", j)
		}
		for _, p := range rep.PaymentMismatches {
			fmt.Fprintln(e.out, "MISMATCH payment", p)
		}
		for _, w := range rep.WalletMismatches {
			fmt.Fprintln(e.out, "MISMATCH wallet", w)
		}
		for _, b := range rep.BalanceMismatches {
			fmt.Fprintln(e.out, "MISMATCH balance", b)
		}
		for _, n := range rep.NegativeBalances {
			fmt.Fprintln(e.out, "NEGATIVE balance", n)
		}
	}
	if !rep.Balanced {
		return fmt.Errorf("the ledger does not balance: %d journals unbalanced, %d payments, %d wallets and %d balances or payouts disagree with their postings, %d balances went negative",
			len(rep.UnbalancedJournals), len(rep.PaymentMismatches), len(rep.WalletMismatches), len(rep.BalanceMismatches), len(rep.NegativeBalances))
	}
	return nil
}

func reconcile(ctx context.Context, e *env) error {
	a, err := e.admin()
	if err != nil {
		return err
	}
	rep, err := a.Reconcile(ctx, paysdk.ReconcileParams{Channel: paysdk.Channel(e.opts.channel), Date: e.opts.date})
	if err != nil {
		return err
	}
	if e.opts.json {
		if err := e.printJSON(rep); err != nil {
			return err
		}
	} else {
		out := e.out
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
		}
	}
	if !rep.Balanced {
		return fmt.Errorf("%d lines disagree", rep.Disagreements())
	}
	return nil
}

func merchantCreate(ctx context.Context, e *env) error {
	a, err := e.admin()
	if err != nil {
		return err
	}
	m, err := a.CreateMerchant(ctx, paysdk.CreateMerchantParams{Name: e.opts.name, HomeRegion: e.opts.region})
	if err != nil {
		return err
	}
	if e.opts.json {
		return e.printJSON(m)
	}
	fmt.Fprintf(e.out, "merchant %s (%s), home region %s\nsecret key: %s (shown once)\n", m.ID, m.Name, m.HomeRegion, m.SecretKey)
	return nil
}

func channelsList(ctx context.Context, e *env) error {
	a, err := e.admin()
	if err != nil {
		return err
	}
	list, err := a.ChannelAuthorizations(ctx, e.opts.merchant)
	if err != nil {
		return err
	}
	if e.opts.json {
		return e.printJSON(list)
	}
	if len(list.Data) == 0 {
		fmt.Fprintf(e.out, "merchant %s has no channel authorisations set: the platform's defaults apply\n", e.opts.merchant)
	}
	for _, c := range list.Data {
		fmt.Fprintf(e.out, "%-14s enabled=%-5v own_credentials=%v\n", c.Channel, c.Enabled, c.HasCredentials)
	}
	return nil
}

func channelsSet(ctx context.Context, e *env) error {
	a, err := e.admin()
	if err != nil {
		return err
	}
	auth, err := a.SetChannel(ctx, e.opts.merchant, paysdk.Channel(e.opts.channel),
		paysdk.SetChannelParams{Enabled: e.opts.enabled, Credentials: e.opts.credentials})
	if err != nil {
		return err
	}
	if e.opts.json {
		return e.printJSON(auth)
	}
	fmt.Fprintf(e.out, "%s for %s: enabled=%v own_credentials=%v\n", auth.Channel, auth.Merchant, auth.Enabled, auth.HasCredentials)
	return nil
}

func merchantLimit(ctx context.Context, e *env) error {
	sw, err := e.switches()
	if err != nil {
		return err
	}
	o := e.opts
	if o.rate == 0 {
		if err := sw.DeleteMerchantLimit(ctx, o.merchant); err != nil {
			return err
		}
		fmt.Fprintf(e.out, "merchant %s: override removed; the nodes' default applies\n", o.merchant)
		return nil
	}
	burst := o.burst
	if burst == 0 {
		burst = max(int(2*o.rate), 1)
	}
	if err := sw.SetMerchantLimit(ctx, o.merchant, o.rate, burst); err != nil {
		return err
	}
	fmt.Fprintf(e.out, "merchant %s: %.1f calls/s, burst %d, on every node\n", o.merchant, o.rate, burst)
	return nil
}

func regionDrain(ctx context.Context, e *env) error {
	sw, err := e.switches()
	if err != nil {
		return err
	}
	if err := sw.Drain(ctx, e.opts.regionArg); err != nil {
		return err
	}
	fmt.Fprintf(e.out, "region %s drained: its nodes fail readiness and its traffic moves to the nearest region\n", e.opts.regionArg)
	return nil
}

func regionUndrain(ctx context.Context, e *env) error {
	sw, err := e.switches()
	if err != nil {
		return err
	}
	if err := sw.Undrain(ctx, e.opts.regionArg); err != nil {
		return err
	}
	fmt.Fprintf(e.out, "region %s undrained: its nodes take traffic again once healthy\n", e.opts.regionArg)
	return nil
}

func regionStatus(ctx context.Context, e *env) error {
	sw, err := e.switches()
	if err != nil {
		return err
	}
	d, err := sw.Drained(ctx, e.opts.regionArg)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.out, "region %s drained: %v\n", e.opts.regionArg, d)
	return nil
}
