// Command loadtest puts a mix of merchant operations on the platform through the merchant
// SDK, open loop (-rate: a constant arrival rate, latencies corrected for coordinated
// omission) or closed loop (-concurrency workers), and reports throughput and latency per
// operation (text on stdout, -json, -html) and every operation (-history, for the chaos
// checker). See the loadtest package for the design.
//
//	loadtest [-cluster .local/cluster.json | -endpoints us-east=URL,eu-west=URL -admin-token T]
//	         [-concurrency 16 | -rate 200 -max-inflight 512] [-duration 30s] [-ops N] [-warmup 5s]
//	         [-mix create_auto=50,create_capture=20,refund=10,get=15,list=5] [-merchants 16]
//	         [-region us-east] [-seed 1] [-json out.json] [-html report.html] [-history history.jsonl]
//
// Every flag can also be given as LOADTEST_<FLAG> (LOADTEST_ADMIN_TOKEN, ...). The last line
// on stdout is
//
//	loadtest: ops=N ok=N errors=N dropped=N throughput_per_s=N p50_ms=N p99_ms=N
//
// An interrupt (SIGINT, SIGTERM) stops scheduling and waits for the operations in flight
// (-grace at most); a second one cancels them. The reports are written in both cases.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/loadtest"
)

func main() {
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	abort := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		fmt.Fprintln(os.Stderr, "loadtest: interrupted: no new operations; waiting for those in flight (interrupt again to cancel them)")
		stop()
		<-sigs
		fmt.Fprintln(os.Stderr, "loadtest: interrupted again: cancelling the operations in flight")
		close(abort)
		signal.Stop(sigs)
	}()
	if err := run(ctx, abort, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	cluster, endpoints, adminToken                string
	rate                                          float64
	concurrency, maxInFlight, merchants, retries  int
	duration, warmup, opTimeout, attemptTimeout   time.Duration
	grace, backoff                                time.Duration
	ops                                           int64
	mix, channels, currencies, region, runID      string
	seed                                          uint64
	declineShare, partialShare                    float64
	minAmount, maxAmount                          int64
	jsonOut, htmlOut, historyOut, merchantsFile   string
	quiet, verbose                                bool
	explicitRate, explicitConcurrency, noDeclines bool
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.cluster, "cluster", ".local/cluster.json", "the local platform's cluster.json (written by 'make up'); unused with -endpoints")
	fs.StringVar(&o.endpoints, "endpoints", "", "comma-separated region endpoints of a deployed platform, as region=URL (or a bare URL, whose region is asked from its /readyz)")
	fs.StringVar(&o.adminToken, "admin-token", "", "admin token, to onboard merchants (default: the cluster's)")
	fs.Float64Var(&o.rate, "rate", 0, "open loop: operations scheduled per second, whatever the latency (0: closed loop)")
	fs.IntVar(&o.concurrency, "concurrency", loadtest.DefaultConcurrency, "closed loop: workers, each starting its next operation when its last ends")
	fs.IntVar(&o.maxInFlight, "max-inflight", loadtest.DefaultMaxInFlight, "open loop: operations in flight at most; beyond, an operation is dropped and counted")
	fs.DurationVar(&o.duration, "duration", loadtest.DefaultDuration, "measured duration (after the warmup)")
	fs.Int64Var(&o.ops, "ops", 0, "stop after this many operations (warmup included), or at -duration if sooner (0: no limit)")
	fs.DurationVar(&o.warmup, "warmup", 0, "warmup before the measured duration; its operations are excluded from the results")
	fs.StringVar(&o.mix, "mix", loadtest.DefaultMix, "operation mix, op=weight (create_auto, create_capture, refund, get, list)")
	fs.IntVar(&o.merchants, "merchants", loadtest.DefaultMerchants, "merchants to onboard, homed round-robin across the regions")
	fs.StringVar(&o.merchantsFile, "merchants-file", "", "reuse the merchants in this file if it exists, else save the onboarded ones to it (with their secret keys, mode 0600)")
	fs.StringVar(&o.region, "region", "", "region the clients sit in: their SDK tries its endpoint first, then the others nearest first (default: each merchant's home region)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of every operation's choices")
	fs.StringVar(&o.currencies, "currencies", strings.Join(loadtest.DefaultCurrencies, ","), "currencies payments are drawn from")
	fs.StringVar(&o.channels, "channels", loadtest.DefaultChannels, "create_auto's channel mix (create_capture, refunds: card channels only)")
	fs.Float64Var(&o.declineShare, "decline-share", loadtest.DefaultDeclineShare, "share of card payments sent with the declining test card 4000000000000002 (402 card_declined is expected, not an error)")
	fs.Float64Var(&o.partialShare, "partial-capture-share", loadtest.DefaultPartialCaptureShare, "share of create_capture operations capturing only part of the amount")
	fs.Int64Var(&o.minAmount, "min-amount", loadtest.DefaultMinAmount, "smallest payment amount, minor units")
	fs.Int64Var(&o.maxAmount, "max-amount", loadtest.DefaultMaxAmount, "largest payment amount, minor units")
	fs.DurationVar(&o.opTimeout, "op-timeout", loadtest.DefaultOpTimeout, "deadline of each operation, retries included")
	fs.DurationVar(&o.attemptTimeout, "attempt-timeout", loadtest.DefaultAttemptTimeout, "timeout of each HTTP attempt")
	fs.IntVar(&o.retries, "retries", 0, "SDK retries per call (0: the SDK's default, 4; negative: none)")
	fs.DurationVar(&o.backoff, "backoff", 0, "SDK backoff base (0: the SDK's default, 100ms)")
	fs.DurationVar(&o.grace, "grace", loadtest.DefaultGrace, "how long operations in flight may finish once scheduling stops")
	fs.StringVar(&o.jsonOut, "json", "", "write the JSON report (config, per-second series, per-op summaries, errors) to this file")
	fs.StringVar(&o.htmlOut, "html", "", "write the HTML report (charts and summary) to this file")
	fs.StringVar(&o.historyOut, "history", "", "write one JSON line per operation to this file (for the chaos checker)")
	fs.StringVar(&o.runID, "run-id", "", "name of the run in idempotency keys and references (default: random)")
	fs.BoolVar(&o.quiet, "quiet", false, "no progress line on stderr")
	fs.BoolVar(&o.verbose, "v", false, "log the SDK's failovers between regions on stderr")
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("LOADTEST")); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "rate":
			o.explicitRate = true
		case "concurrency":
			o.explicitConcurrency = true
		case "decline-share":
			o.noDeclines = o.declineShare == 0
		}
	})
	if o.explicitRate && o.explicitConcurrency && o.rate > 0 {
		return nil, errors.New("-rate (open loop) and -concurrency (closed loop) exclude each other")
	}
	if o.rate < 0 {
		return nil, errors.New("-rate must not be negative")
	}
	if o.duration <= 0 {
		return nil, errors.New("-duration must be positive: the run is always bounded in time")
	}
	if o.concurrency < 1 || o.maxInFlight < 1 || o.merchants < 1 {
		return nil, errors.New("-concurrency, -max-inflight and -merchants must be at least 1")
	}
	return o, nil
}

// config turns the options into the generator's configuration.
func (o *options) config() (loadtest.Config, error) {
	mix, err := loadtest.ParseMix(o.mix)
	if err != nil {
		return loadtest.Config{}, err
	}
	channels, err := loadtest.ParseChannels(o.channels)
	if err != nil {
		return loadtest.Config{}, err
	}
	var currencies []string
	for _, c := range strings.Split(o.currencies, ",") {
		c = strings.ToLower(strings.TrimSpace(c))
		if c == "" {
			continue
		}
		if _, ok := core.NormalizeCurrency(c); !ok {
			return loadtest.Config{}, fmt.Errorf("-currencies: unsupported currency %q", c)
		}
		currencies = append(currencies, c)
	}
	return loadtest.Config{
		Rate: o.rate, Concurrency: o.concurrency, MaxInFlight: o.maxInFlight,
		Duration: o.duration, Warmup: o.warmup, Ops: o.ops, OpTimeout: o.opTimeout, Grace: o.grace,
		Mix: mix, Seed: o.seed, ClientRegion: o.region, Currencies: currencies, Channels: channels,
		DeclineShare: o.declineShare, NoDeclines: o.noDeclines, PartialCaptureShare: o.partialShare,
		MinAmount: o.minAmount, MaxAmount: o.maxAmount,
		MaxRetries: o.retries, Backoff: o.backoff, AttemptTimeout: o.attemptTimeout,
		RunID: o.runID,
	}, nil
}

// run is the command; abort cancels the operations in flight (a second interrupt).
func run(ctx context.Context, abort <-chan struct{}, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	cfg, err := o.config()
	if err != nil {
		return err
	}
	if cfg.RunID == "" {
		cfg.RunID = strings.ToLower(core.RandomToken(6))
	}
	if !o.quiet {
		cfg.Progress = stderr
	}
	if o.verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}

	var target loadtest.Target
	if o.endpoints != "" {
		target, err = loadtest.EndpointsTarget(ctx, strings.Split(o.endpoints, ","), o.adminToken, nil)
	} else {
		target, err = loadtest.ClusterTarget(o.cluster)
		if o.adminToken != "" {
			target.AdminToken = o.adminToken
		}
	}
	if err != nil {
		return err
	}

	merchants, err := merchantsFor(ctx, o, cfg.RunID, target, stderr)
	if err != nil {
		return err
	}

	// Open the outputs before the run, so a bad path fails now rather than after it.
	var historyFile *os.File
	if o.historyOut != "" {
		if historyFile, err = os.Create(o.historyOut); err != nil {
			return err
		}
		defer historyFile.Close()
		cfg.History = loadtest.NewHistoryWriter(historyFile)
	}
	jsonFile, err := create(o.jsonOut)
	if err != nil {
		return err
	}
	htmlFile, err := create(o.htmlOut)
	if err != nil {
		return err
	}

	g, err := loadtest.New(cfg, target, merchants)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "loadtest: run %s against %s with %d merchants\n", cfg.RunID, describeTarget(target), len(merchants))
	done := make(chan struct{})
	go func() {
		select {
		case <-abort:
			g.Abort()
		case <-done:
		}
	}()
	rep, runErr := g.Run(ctx)
	close(done)
	if rep == nil {
		return runErr
	}

	var errs []error
	if runErr != nil {
		errs = append(errs, runErr)
	}
	if historyFile != nil {
		errs = append(errs, historyFile.Close())
	}
	if jsonFile != nil {
		errs = append(errs, loadtest.WriteJSON(jsonFile, rep), jsonFile.Close())
	}
	if htmlFile != nil {
		errs = append(errs, loadtest.WriteHTML(htmlFile, rep), htmlFile.Close())
	}
	if err := loadtest.WriteText(stdout, rep); err != nil {
		errs = append(errs, err)
	}
	for _, p := range []string{o.jsonOut, o.htmlOut, o.historyOut} {
		if p != "" {
			fmt.Fprintf(stdout, "wrote %s\n", p)
		}
	}
	fmt.Fprintln(stdout, loadtest.FinalLine(rep))
	return errors.Join(errs...)
}

// merchantsFor loads the merchants of -merchants-file, or onboards -merchants of them (and
// saves them to -merchants-file if given).
func merchantsFor(ctx context.Context, o *options, runID string, target loadtest.Target, stderr io.Writer) ([]loadtest.Merchant, error) {
	if o.merchantsFile != "" {
		ms, err := loadtest.LoadMerchants(o.merchantsFile)
		if err == nil {
			fmt.Fprintf(stderr, "loadtest: acting as the %d merchants of %s\n", len(ms), o.merchantsFile)
			return ms, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	start := time.Now()
	ms, err := loadtest.Onboard(ctx, target, o.merchants, loadtest.OnboardOptions{NamePrefix: "loadtest-" + runID + "-"})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(stderr, "loadtest: onboarded %d merchants in %.1fs\n", len(ms), time.Since(start).Seconds())
	if o.merchantsFile != "" {
		if err := loadtest.SaveMerchants(o.merchantsFile, ms); err != nil {
			return nil, err
		}
	}
	return ms, nil
}

func describeTarget(t loadtest.Target) string {
	parts := make([]string, len(t.Regions))
	for i, r := range t.Regions {
		parts[i] = r.Name + "=" + r.Endpoint
	}
	return strings.Join(parts, ", ")
}

// create opens path for writing, or returns nil for an empty path.
func create(path string) (*os.File, error) {
	if path == "" {
		return nil, nil
	}
	return os.Create(path)
}
