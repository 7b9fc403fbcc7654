// Command paybench measures, on this machine and in one run, what the database alone can
// commit and how many payments per second the whole platform makes of it:
//
//  1. pgbench's TPC-B-like transaction against the platform's PostgreSQL at the same
//     concurrency (the database's own limit), and
//  2. end-to-end payments (create with automatic capture: authentication, idempotency key,
//     serializable phases, channel call, ledger, outbox) through a payd node over HTTP, with
//     the load generator: closed loop for the maximum throughput, then open loop at half of
//     it for latency percentiles corrected for coordinated omission.
//
// It starts its own platform (PostgreSQL and one payd, no WAN emulation) and stops it. The
// node runs with its per-node quotas lifted (-channel-rate, -merchant-rate and
// -merchant-burst at 1000000): they are configured policy, not the platform's cost, and at
// their defaults they would cap the benchmark at about 200 payments/s.
//
// For each of the two measured windows, the pgbench run and the closed-loop payments run,
// it accounts the CPU time (user and system, from /proc) of PostgreSQL (the postmaster, its
// live children and those it reaped), of pgbench or of payd and the load generator (which
// runs inside paybench), and of the whole machine, and prints it per transaction and per
// payment; what the machine spent beyond those components (other processes, kernel
// threads) is printed as "elsewhere". With -profile FILE it also writes a 10 s CPU profile of payd taken during the
// closed-loop run (payd then serves its metrics and pprof on a free loopback port, which
// costs it a little CPU).
//
// A "bound:" line then says what a payment costs PostgreSQL, counted in pgbench
// transactions, and what it costs the whole machine, whose inverse bounds the ratio while
// the cores are saturated. It ends with one line, whose percentiles are those of the
// half-load run with the worst p99:
//
//	bench: payments_per_s=N pgbench_tps=N ratio=N p50_ms=N p99_ms=N errors=N
//
// payments_per_s counts the payments made (succeeded, or declined as meant); a refusal
// (4xx, e.g. 403 kyc_required), a failure or a timeout is an error: printed by code, and
// paybench then exits non-zero, since such figures are not the platform's.
//
// With -risk-rules N it saves N platform-wide risk rules first (see benchRules), so that
// every payment is evaluated against them: the cost of risk evaluation on the hot path.
//
// With -seed 0,1000000,3000000 it measures the payments at each history size: before a
// step's runs it loads the payments that make up the difference with COPY (seed.go), runs the
// key and event reapers once (-seed-reap) and, with -seed-check, the ledger check; it ends
// with a table of the steps. The profile and the statements are taken at the last step, and
// -explain prints EXPLAIN (ANALYZE, BUFFERS) of the hot statements there (explain.go).
//
//	paybench [-duration 20s] [-concurrency 16] [-merchants 16] [-payd bin/payd] [-json PREFIX] [-profile FILE] [-risk-rules N] [-statements N]
//	         [-seed N,N,... [-seed-workers 2] [-seed-check] [-seed-reap=false]] [-explain]
//	paybench -instructions N [-payd bin/payd]
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
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/deploy/localcluster"
	"github.com/paycenter/paycenter/deploy/localpg"
	"github.com/paycenter/paycenter/loadtest"
)

// quotaArgs lift payd's per-node quotas (per channel, per merchant) and the volume an
// unverified merchant may take before KYC: configured policy, not platform cost.
var quotaArgs = []string{"-channel-rate", "1000000", "-merchant-rate", "1000000", "-merchant-burst", "1000000",
	"-kyc-unverified-limit", "-1"}

// warmup is the load generator's warmup before each measured run.
const warmup = 3 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "paybench:", err)
		os.Exit(1)
	}
}

// options are paybench's flags.
type options struct {
	duration     time.Duration
	concurrency  int
	merchants    int
	payd         string
	jsonOut      string
	profile      string
	riskRules    int
	statements   int
	instructions int
	callgrindDir string
	seed         []int
	seedWorkers  int
	seedCheck    bool
	seedReap     bool
	explain      bool
	metricsAddr  string // payd's metrics and pprof, with -profile
}

// parseFlags parses the command line.
func parseFlags() options {
	var o options
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "how long each measurement runs")
	flag.IntVar(&o.concurrency, "concurrency", 16, "concurrent clients, for pgbench and for the closed-loop run")
	flag.IntVar(&o.merchants, "merchants", 16, "merchants the payments spread over")
	flag.StringVar(&o.payd, "payd", "bin/payd", "the payd binary")
	flag.StringVar(&o.jsonOut, "json", "", "write the load generator's reports and the CPU accounts here (prefix; -closed.json, -open.json and -cpu.json are added)")
	flag.StringVar(&o.profile, "profile", "", "write a CPU profile of payd, taken during the closed-loop run (10 s or -duration if shorter), to this file")
	flag.IntVar(&o.riskRules, "risk-rules", 0, "platform-wide risk rules to save before the payments run (two of them velocity counters; none matches): the cost of risk evaluation")
	flag.IntVar(&o.statements, "statements", 0, "load pg_stat_statements and print the N statements that took the database the most time in the closed-loop run, per payment")
	flag.IntVar(&o.instructions, "instructions", 0, "instead of the timed runs: count instructions under valgrind's callgrind, over N pgbench transactions and N payments (see instructions.go)")
	flag.StringVar(&o.callgrindDir, "callgrind-dir", "", "with -instructions: keep callgrind's files here (pg.PID, payd.PID.N) for callgrind_annotate")
	seed := flag.String("seed", "", "history sizes to measure at, in stored payments, ascending (e.g. 0,1000000,3000000): before each step's runs, load the payments that make up the difference with COPY (see seed.go); empty: no history")
	flag.IntVar(&o.seedWorkers, "seed-workers", 2, "with -seed: concurrent COPY streams and index builds")
	flag.BoolVar(&o.seedCheck, "seed-check", false, "with -seed: run the ledger check (the admin check's service method) after each load; exits non-zero if it fails")
	flag.BoolVar(&o.seedReap, "seed-reap", true, "with -seed: after each load, run the idempotency key reaper and the event reaper once (what their workers do), so that the runs measure the steady state they keep; false keeps the expired keys and old events")
	flag.BoolVar(&o.explain, "explain", false, "after the last step's runs: print EXPLAIN (ANALYZE, BUFFERS) of each hot statement (see explain.go)")
	flag.Parse()
	steps, err := parseSeedSteps(*seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "paybench: -seed:", err)
		os.Exit(2)
	}
	o.seed = steps
	return o
}

// parseSeedSteps parses -seed: ascending history sizes; empty is one step at 0.
func parseSeedSteps(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return []int{0}, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(f, "_", "")))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("%q is not a number of payments", f)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("sizes must ascend: %d after %d", n, out[len(out)-1])
		}
		out = append(out, n)
	}
	return out, nil
}

// run starts the platform, runs the measurements and prints them.
func run(ctx context.Context) error {
	o := parseFlags()
	if o.instructions > 0 {
		return runInstructions(ctx, o)
	}
	dir, err := os.MkdirTemp("", "paybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	nodeArgs := quotaArgs
	metricsAddr := ""
	if o.profile != "" {
		port, err := localpg.FreePort()
		if err != nil {
			return err
		}
		metricsAddr = "127.0.0.1:" + strconv.Itoa(port)
		o.metricsAddr = metricsAddr
		nodeArgs = append(nodeArgs[:len(nodeArgs):len(nodeArgs)], "-metrics-addr", metricsAddr)
	}
	fmt.Fprintln(os.Stderr, "starting a platform: PostgreSQL and one payd ...")
	fmt.Fprintf(os.Stderr, "payd's per-node quotas are lifted (configured policy, not platform cost): %s\n", strings.Join(quotaArgs, " "))
	var pgSettings []string
	if o.statements > 0 {
		pgSettings = append(pgSettings, statementsSetting)
	}
	c, err := localcluster.Up(ctx, localcluster.Options{Dir: dir, Payd: o.payd, NodeArgs: nodeArgs, PostgresSettings: pgSettings, Out: io.Discard})
	if err != nil {
		return err
	}
	defer localcluster.Down(dir, nil, io.Discard)
	if len(c.Regions) == 0 || len(c.Regions[0].Nodes) == 0 || c.Postgres.PID == 0 {
		return errors.New("the platform started without a payd node or a postmaster PID")
	}
	meter := cpuMeter{Postmaster: c.Postgres.PID, Payd: c.Regions[0].Nodes[0].PID}
	cores := runtime.NumCPU()

	// 1. The database alone.
	pg, pgCPU, err := benchDatabase(ctx, c, o, meter, cores)
	if err != nil {
		return err
	}
	fmt.Printf("pgbench:        %.0f transactions/s at %d clients\n", pg.TPS, o.concurrency)

	// 2. Payments through the platform.
	target, err := loadtest.ClusterTarget(filepath.Join(dir, "cluster.json"))
	if err != nil {
		return err
	}
	ms, err := loadtest.Onboard(ctx, target, o.merchants, loadtest.OnboardOptions{NamePrefix: "bench-"})
	if err != nil {
		return err
	}
	if o.riskRules > 0 {
		if err := seedRules(ctx, target, o.riskRules); err != nil {
			return fmt.Errorf("risk rules: %w", err)
		}
		fmt.Fprintf(os.Stderr, "%d risk rules saved (two velocity counters)\n", o.riskRules)
	}
	mix, err := loadtest.ParseMix("create_auto=100")
	if err != nil {
		return err
	}
	channels, err := loadtest.ParseChannels("card=100")
	if err != nil {
		return err
	}
	base := loadtest.Config{Duration: o.duration, Warmup: warmup, Mix: mix, Channels: channels, NoDeclines: true, Seed: 1}
	var steps []stepResult
	stored := 0
	for si, size := range o.seed {
		if size > stored {
			plan := seedPlan{From: stored, To: size, Seed: 22, Merchants: seedMerchants(ms), Now: time.Now()}
			t0 := time.Now()
			res, err := seedHistoryInto(ctx, c.DatabaseURL, plan, o.seedWorkers, os.Stderr)
			if err != nil {
				return err
			}
			total := time.Since(t0)
			fmt.Printf("history:        %d payments loaded in %s (COPY %s, indexes %s, counters and rollups %s, vacuum %s): %s\n",
				size-stored, total.Round(time.Second), res.Load.Round(time.Second), res.Index.Round(time.Second),
				res.Derived.Round(time.Second), res.Vac.Round(time.Second), rowCounts(res.Rows))
			stored = size
			if o.seedReap {
				if err := reapSeeded(ctx, c.DatabaseURL, os.Stdout); err != nil {
					return err
				}
			}
			if o.seedCheck {
				if err := checkSeededLedger(ctx, c.DatabaseURL, os.Stdout); err != nil {
					return err
				}
			}
		}
		last := si == len(o.seed)-1
		if len(o.seed) > 1 || stored > 0 {
			fmt.Printf("history:        %d stored payments\n", stored)
		}
		st, err := measurePayments(ctx, o, base, target, ms, meter, cores, c.DatabaseURL, last)
		if err != nil {
			return err
		}
		st.History = stored
		steps = append(steps, st)
	}
	st := steps[len(steps)-1]
	if o.explain {
		if err := explainHot(ctx, c.DatabaseURL, os.Stdout); err != nil {
			return err
		}
	}
	fmt.Println(pgCPU.line("pgbench transaction", "transaction"))
	fmt.Println(st.payCPU.line("payment", "payment"))
	fmt.Println(boundLine(pgCPU, st.payCPU))
	if o.jsonOut != "" {
		if err := writeCPUJSON(o.jsonOut+"-cpu.json", pgCPU, st.payCPU); err != nil {
			return err
		}
	}
	errs := 0
	for _, s := range steps {
		errs += int(s.errs)
	}
	if len(steps) > 1 {
		printHistoryTable(os.Stdout, steps)
	}
	ratio := 0.0
	if pg.TPS > 0 {
		ratio = st.max / pg.TPS
	}
	history := ""
	if stored > 0 {
		history = fmt.Sprintf(" history=%d", stored)
	}
	fmt.Printf("bench: payments_per_s=%.0f pgbench_tps=%.0f ratio=%.2f p50_ms=%.1f p99_ms=%.1f errors=%d%s\n", st.max, pg.TPS, ratio, st.worst.P50, st.worst.P99, errs, history)
	if st.profErr != nil {
		return st.profErr
	}
	if errs > 0 {
		return fmt.Errorf("%d payments were refused or failed: the figures are not the platform's", errs)
	}
	return nil
}

// stepResult is one history size's measurement.
type stepResult struct {
	History   int
	max       float64
	closedP99 float64
	worst     loadtest.Latency
	halfP99   []float64
	errs      int64
	payCPU    cpuAccount
	profErr   error
}

// measurePayments runs the payments phases: closed loop, then half load halfLoadRuns times.
// The profile and the statements are taken in the last step only (the largest history).
func measurePayments(ctx context.Context, o options, base loadtest.Config, target loadtest.Target, ms []loadtest.Merchant,
	meter cpuMeter, cores int, databaseURL string, last bool) (stepResult, error) {
	var st stepResult
	closed := base
	closed.Concurrency = o.concurrency
	waitProfile := func() error { return nil }
	profile := o.profile != "" && last
	if profile {
		secs := profileSeconds(o.duration)
		fmt.Fprintf(os.Stderr, "profiling payd for %d s after the warmup (pprof on %s) ...\n", secs, o.metricsAddr)
		waitProfile = startProfile(ctx, o.metricsAddr, warmup, secs, o.profile)
	}
	statements := o.statements > 0 && last
	if statements {
		if err := resetStatements(ctx, databaseURL); err != nil {
			return st, err
		}
	}
	fmt.Fprintf(os.Stderr, "payments, closed loop at %d clients for %s ...\n", o.concurrency, o.duration)
	maxRep, win, err := runLoad(ctx, closed, target, ms, o.jsonOut, "closed", &meter)
	if err != nil {
		return st, err
	}
	max := answeredPerS(maxRep)
	st.max, st.closedP99 = max, maxRep.Overall.Latency.P99
	fmt.Printf("payments:       %.0f/s maximum (closed loop, %d clients; p50 %.1f ms, p99 %.1f ms; %d errors%s)\n",
		max, o.concurrency, maxRep.Overall.Latency.P50, maxRep.Overall.Latency.P99, maxRep.Overall.Errors, errorCodes(maxRep))
	st.errs = maxRep.Overall.Errors
	// The CPU window spans the whole run, warmup and drain included, so it is divided by
	// every operation of the run: the warmup's (WarmupOps) and the measured ones (Count).
	st.payCPU = newCPUAccount("payments", maxRep.WarmupOps+maxRep.Overall.Count, win, cores,
		cpuPart{Name: "postgres", CPUS: seconds(win.Postgres)},
		cpuPart{Name: "payd", CPUS: seconds(win.Payd)},
		cpuPart{Name: "load generator", CPUS: seconds(win.Self)})
	if statements {
		if err := printStatements(ctx, os.Stdout, databaseURL, o.statements, maxRep.WarmupOps+maxRep.Overall.Count); err != nil {
			return st, err
		}
	}
	st.profErr = waitProfile()
	if profile {
		if st.profErr != nil {
			fmt.Fprintln(os.Stderr, "paybench:", st.profErr)
		} else {
			fmt.Printf("profile:        payd during the closed-loop run: go tool pprof %s %s\n", o.payd, o.profile)
		}
	}

	// The half-load phase runs halfLoadRuns times: one run's p99 says little about the tail
	// (it moved from 10 to 51 ms between two runs of the same build); the worst one is printed.
	open := base
	open.Rate = max / 2
	for i := 1; i <= halfLoadRuns; i++ {
		open.Seed = uint64(i)
		fmt.Fprintf(os.Stderr, "payments, open loop at %.0f/s (half the maximum) for %s, run %d of %d ...\n", open.Rate, o.duration, i, halfLoadRuns)
		halfRep, _, err := runLoad(ctx, open, target, ms, o.jsonOut, fmt.Sprintf("open-%d", i), nil)
		if err != nil {
			return st, err
		}
		l := halfRep.Overall.Latency
		fmt.Printf("at half load %d: %.0f/s offered, p50 %.1f ms, p99 %.1f ms, max %.1f ms (from intended start; %d dropped, %d errors%s)\n",
			i, open.Rate, l.P50, l.P99, l.Max, halfRep.Overall.Dropped, halfRep.Overall.Errors, errorCodes(halfRep))
		st.errs += halfRep.Overall.Errors
		st.halfP99 = append(st.halfP99, l.P99)
		if l.P99 >= st.worst.P99 {
			st.worst = l
		}
	}
	return st, nil
}

// printHistoryTable prints the steps' figures against the first step's.
func printHistoryTable(w io.Writer, steps []stepResult) {
	fmt.Fprintln(w, "cost with history (closed loop; p99 of each half-load run; CPU per payment from the closed loop):")
	fmt.Fprintf(w, "  %12s  %10s  %8s  %24s  %14s  %10s\n", "stored", "payments/s", "vs first", "p99 at half load (ms)", "postgres ms", "payd ms")
	for _, s := range steps {
		p99 := make([]string, len(s.halfP99))
		for i, v := range s.halfP99 {
			p99[i] = strconv.FormatFloat(v, 'f', 1, 64)
		}
		fmt.Fprintf(w, "  %12d  %10.0f  %+7.1f%%  %24s  %14.3f  %10.3f\n", s.History, s.max,
			100*(s.max/steps[0].max-1), strings.Join(p99, " / "), s.payCPU.perOp("postgres"), s.payCPU.perOp("payd"))
	}
}

// halfLoadRuns is how many times the half-load phase runs.
const halfLoadRuns = 3

// answeredPerS is the throughput of the payments the platform made (succeeded or declined as
// the load generator meant): a refusal (4xx), a failure or a timeout is not a payment, and
// an answer that costs the platform less would inflate the figure.
func answeredPerS(rep *loadtest.Report) float64 {
	o := rep.Overall
	if o.Count == 0 {
		return 0
	}
	return o.ThroughputPerS * float64(o.OK+o.Declined) / float64(o.Count)
}

// errorCodes lists a report's errors by code ("; 12 kyc_required"), or "".
func errorCodes(rep *loadtest.Report) string {
	codes := make([]string, 0, len(rep.Errors))
	for code := range rep.Errors {
		codes = append(codes, code)
	}
	sort.Strings(codes)
	var b strings.Builder
	for _, code := range codes {
		fmt.Fprintf(&b, "; %d %s", rep.Errors[code], code)
	}
	return b.String()
}

// benchDatabase runs pgbench against the cluster's PostgreSQL, in a database of its own,
// and accounts the CPU that PostgreSQL and pgbench spend during the run.
func benchDatabase(ctx context.Context, c *localcluster.Cluster, o options, meter cpuMeter, cores int) (pgbenchResult, cpuAccount, error) {
	benchURL := strings.Replace(c.DatabaseURL, "/paycenter?", "/pgbench?", 1)
	if err := createDatabase(ctx, strings.Replace(c.DatabaseURL, "/paycenter?", "/postgres?", 1), "pgbench"); err != nil {
		return pgbenchResult{}, cpuAccount{}, err
	}
	if err := pgbenchInit(ctx, benchURL); err != nil {
		return pgbenchResult{}, cpuAccount{}, err
	}
	fmt.Fprintf(os.Stderr, "pgbench (TPC-B-like, scale 10) at %d clients for %s ...\n", o.concurrency, o.duration)
	var res pgbenchResult
	win, err := meter.measure(func() (err error) {
		res, err = runPgbench(ctx, benchURL, o.concurrency, int(o.duration.Seconds()))
		return err
	})
	if err != nil {
		return pgbenchResult{}, cpuAccount{}, err
	}
	acct := newCPUAccount("pgbench", res.Transactions, win, cores,
		cpuPart{Name: "postgres", CPUS: seconds(win.Postgres)},
		cpuPart{Name: "pgbench", CPUS: res.CPU.Seconds()})
	return res, acct, nil
}

// runLoad runs the load generator with cfg and writes its report to jsonOut-name.json if
// jsonOut is set. With meter set, it also returns the CPU spent during the whole run
// (warmup included); without, a zero window.
func runLoad(ctx context.Context, cfg loadtest.Config, target loadtest.Target, ms []loadtest.Merchant, jsonOut, name string, meter *cpuMeter) (*loadtest.Report, cpuWindow, error) {
	g, err := loadtest.New(cfg, target, ms)
	if err != nil {
		return nil, cpuWindow{}, err
	}
	var rep *loadtest.Report
	runIt := func() (err error) {
		rep, err = g.Run(ctx)
		return err
	}
	var win cpuWindow
	if meter != nil {
		win, err = meter.measure(runIt)
	} else {
		err = runIt()
	}
	if err != nil {
		return nil, cpuWindow{}, err
	}
	if jsonOut != "" {
		f, err := os.Create(jsonOut + "-" + name + ".json")
		if err != nil {
			return nil, cpuWindow{}, err
		}
		defer f.Close()
		if err := loadtest.WriteJSON(f, rep); err != nil {
			return nil, cpuWindow{}, fmt.Errorf("writing the %s report: %w", name, err)
		}
	}
	return rep, win, nil
}

// writeCPUJSON writes the CPU accounts to file.
func writeCPUJSON(file string, accounts ...cpuAccount) error {
	b, err := json.MarshalIndent(accounts, "", "  ")
	if err != nil {
		return fmt.Errorf("cpu accounts: %w", err)
	}
	if err := os.WriteFile(file, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("cpu accounts: %w", err)
	}
	return nil
}

// createDatabase creates database name through the server at url.
func createDatabase(ctx context.Context, url, name string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("creating database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err = conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return fmt.Errorf("creating database %s: %w", name, err)
	}
	return nil
}

// perOp is part name's CPU per operation in ms, or 0.
func (a cpuAccount) perOp(name string) float64 {
	for _, p := range a.Parts {
		if p.Name == name {
			return p.MSPerOp
		}
	}
	return 0
}
