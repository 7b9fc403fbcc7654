// Command chaos runs the chaos experiments against a running platform and checks that
// payments stayed exactly-once (package chaos).
//
//	chaos [-cluster .local/cluster.json] [-bin bin] [-experiments all|name,...] [-duration 30s]
//	      [-clients N] [-settle 90s] [-region us-east] [-json out.json] [-history-dir DIR]
//	chaos -endpoints us-east=URL,eu-west=URL -database-url URL -admin-token T
//	      [-channelsim URL] [-consul-addr ADDR] -experiments external -name NAME -inject-cmd CMD -heal-cmd CMD
//	chaos -list
//	chaos -failover [-clients 8] [-region us-east] [-duration 13s]
//	chaos -experiments region-kill-inflight ...   (the same)
//
// -failover runs the region-kill-inflight measurement instead of the experiments: clients
// pay through the region, every payd of it is killed with SIGKILL with payments in flight,
// and each one is retried with its key through the other regions. It prints
//
//	failover: ops=N acked=N duplicates=N lost=N max_gap_ms=N p99_retry_ms=N
//
// (max_gap_ms: the longest time between consecutive acknowledgements after the kill) and
// exits 1 if a payment was doubled or lost.
//
// With -cluster (the default) it drives the local platform (make up) and may kill and
// restart its processes; it restarts whatever it killed and leaves the platform healthy.
// With -endpoints it runs against a deployed platform, where it can inject only channel
// faults (through the simulator's control API) or run commands that inject faults (Chaos
// Mesh, see deploy/chaosmesh). Every flag can be given as PAYCHAOS_<FLAG>.
//
// It prints a table, writes the results as JSON with -json, ends with the line
//
//	chaos: experiments=N passed=N duplicates=N lost=N stuck=N max_gap_ms=N
//
// and exits 1 if any invariant broke (2 on bad usage).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/peterbourgon/ff/v3"

	"github.com/paycenter/paycenter/chaos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cluster     = fs.String("cluster", ".local/cluster.json", "the local platform's cluster.json (make up)")
		bin         = fs.String("bin", "bin", "directory of payd (to restart killed nodes of the local platform)")
		experiments = fs.String("experiments", "all", "experiments to run: all, or a comma-separated list (-list shows them)")
		duration    = fs.Duration("duration", 30*time.Second, "load per experiment: a quarter before the fault, half under it, a quarter after")
		clients     = fs.Int("clients", 0, "concurrent SDK clients (default 3 per region)")
		abandon     = fs.Float64("abandon", 0.25, "share of operations whose client goes away after one attempt without an answer, until healing (0: none)")
		settle      = fs.Duration("settle", chaos.DefaultSettleBound, "bound after healing for every client answer and every payment to settle")
		region      = fs.String("region", "", "region hit by node, region and database-link faults (default the first)")
		jsonOut     = fs.String("json", "", "write the results to this JSON file")
		historyDir  = fs.String("history-dir", "", "write each experiment's client history (JSON lines) here")
		list        = fs.Bool("list", false, "list the experiments and exit")
		endpoints   = fs.String("endpoints", "", "a deployed platform: region=URL,... (nearest-first order); replaces -cluster")
		databaseURL = fs.String("database-url", "", "with -endpoints: the database (read-only use: the checker reads it)")
		adminToken  = fs.String("admin-token", "", "with -endpoints: the operator token (merchants, ledger check)")
		channelSim  = fs.String("channelsim", "", "with -endpoints: the channel simulator's base URL (charges, channel faults)")
		consulAddr  = fs.String("consul-addr", "", "with -endpoints: a Consul agent, to check every node is passing")
		injectCmd   = fs.String("inject-cmd", "", "the external experiment's fault: a shell command (e.g. kubectl apply -f ...)")
		healCmd     = fs.String("heal-cmd", "", "the external experiment's healing: a shell command (e.g. kubectl delete -f ...)")
		name        = fs.String("name", "", "the external experiment's name in the results (e.g. node-kill)")
		webhooks    = fs.Bool("webhooks", true, "run the suite's webhook receiver (on loopback; local platform only) and check that every event is delivered, signed")
		failover    = fs.Bool("failover", false, "run the region-kill-inflight measurement (local platform) and print its failover: line; -clients (default 8), -region and -duration (default 13s: a quarter before the kill) apply")
	)
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("PAYCHAOS")); err != nil {
		return 2
	}
	if *list {
		for _, x := range chaos.Catalogue() {
			fmt.Fprintf(stdout, "%-32s %s\n", x.Name, x.Description)
		}
		return 0
	}
	if *failover || *experiments == "region-kill-inflight" {
		t, err := chaos.LocalTarget(*cluster, *bin)
		if err != nil {
			fmt.Fprintln(stderr, "chaos:", err)
			return 2
		}
		fcfg := chaos.FailoverConfig{Clients: *clients, Region: *region, SettleBound: *settle, Log: stderr}
		if fs.Lookup("duration").Value.String() != fs.Lookup("duration").DefValue {
			fcfg.Before, fcfg.After = *duration/4, *duration-*duration/4
		}
		res, err := chaos.RunFailover(ctx, t, fcfg)
		for _, v := range res.Violations {
			fmt.Fprintf(stdout, "violation: %s: %s\n", v.Invariant, v.Detail)
		}
		fmt.Fprintln(stdout, res.Line())
		if err != nil {
			fmt.Fprintln(stderr, "chaos:", err)
			return 1
		}
		if res.Duplicates > 0 || res.Lost > 0 {
			return 1
		}
		return 0
	}
	exps, err := chaos.Select(*experiments)
	if err != nil {
		fmt.Fprintln(stderr, "chaos:", err)
		return 2
	}
	var t *chaos.Target
	if *endpoints != "" {
		var rs []chaos.Region
		for _, pair := range strings.Split(*endpoints, ",") {
			name, url, ok := strings.Cut(strings.TrimSpace(pair), "=")
			if !ok {
				fmt.Fprintf(stderr, "chaos: -endpoints wants region=URL pairs, got %q\n", pair)
				return 2
			}
			rs = append(rs, chaos.Region{Name: name, Endpoint: strings.TrimRight(url, "/")})
		}
		t, err = chaos.RemoteTarget(rs, *databaseURL, *adminToken, *channelSim, *consulAddr)
	} else {
		t, err = chaos.LocalTarget(*cluster, *bin)
	}
	if err != nil {
		fmt.Fprintln(stderr, "chaos:", err)
		return 2
	}
	abandonShare := *abandon
	if abandonShare == 0 {
		abandonShare = -1
	}
	cfg := chaos.RunConfig{Duration: *duration, Clients: *clients, AbandonShare: abandonShare, SettleBound: *settle, Region: *region,
		InjectCmd: *injectCmd, HealCmd: *healCmd, ExternalName: *name, HistoryDir: *historyDir, Log: stderr}
	if *webhooks && *endpoints == "" {
		rc, err := chaos.StartReceiver()
		if err != nil {
			fmt.Fprintln(stderr, "chaos: webhook receiver:", err)
			return 2
		}
		defer rc.Close()
		cfg.Receiver = rc
	}
	started := time.Now()
	results := chaos.Run(ctx, t, exps, cfg)
	if ctx.Err() != nil {
		// Interrupted: undo whatever fault is still on before leaving.
		rctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if err := t.Restore(rctx, stderr); err != nil {
			fmt.Fprintln(stderr, "chaos: restore:", err)
		}
		cancel()
	}
	fmt.Fprintln(stdout)
	chaos.WriteTable(stdout, results)
	sum := chaos.Summarize(results)
	if *jsonOut != "" {
		clientsUsed := cfg.Clients
		if clientsUsed == 0 {
			clientsUsed = 3 * len(t.Regions)
		}
		err := chaos.WriteJSON(*jsonOut, chaos.Report{StartedAt: started.UTC(), Target: t.Regions, Duration: duration.String(),
			SettleBound: settle.String(), Clients: clientsUsed, Experiments: results, Summary: sum, Limits: chaos.Limits})
		if err != nil {
			fmt.Fprintln(stderr, "chaos:", err)
		}
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, sum.Line())
	if !sum.OK() {
		if errors.Is(ctx.Err(), context.Canceled) {
			fmt.Fprintln(stderr, "chaos: interrupted")
		}
		return 1
	}
	return 0
}
