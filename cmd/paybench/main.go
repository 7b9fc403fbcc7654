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
// It starts its own platform (PostgreSQL and one payd, no WAN emulation) and stops it, and
// ends with one line:
//
//	bench: payments_per_s=N pgbench_tps=N ratio=N p50_ms=N p99_ms=N
//
//	paybench [-duration 20s] [-concurrency 16] [-merchants 16] [-payd bin/payd]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/deploy/localcluster"
	"github.com/paycenter/paycenter/loadtest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "paybench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	duration := flag.Duration("duration", 20*time.Second, "how long each measurement runs")
	concurrency := flag.Int("concurrency", 16, "concurrent clients, for pgbench and for the closed-loop run")
	merchants := flag.Int("merchants", 16, "merchants the payments spread over")
	payd := flag.String("payd", "bin/payd", "the payd binary")
	jsonOut := flag.String("json", "", "write the load generator's reports here (prefix; -closed.json and -open.json are added)")
	flag.Parse()

	dir, err := os.MkdirTemp("", "paybench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintln(os.Stderr, "starting a platform: PostgreSQL and one payd ...")
	c, err := localcluster.Up(ctx, localcluster.Options{Dir: dir, Payd: *payd, Out: io.Discard})
	if err != nil {
		return err
	}
	defer localcluster.Down(dir, nil, io.Discard)

	// 1. The database alone.
	benchURL := strings.Replace(c.DatabaseURL, "/paycenter?", "/pgbench?", 1)
	if err := createDatabase(ctx, strings.Replace(c.DatabaseURL, "/paycenter?", "/postgres?", 1), "pgbench"); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "pgbench (TPC-B-like, scale 10) at %d clients for %s ...\n", *concurrency, *duration)
	tps, err := pgbenchTPS(ctx, benchURL, *concurrency, int(duration.Seconds()))
	if err != nil {
		return err
	}
	fmt.Printf("pgbench:        %.0f transactions/s at %d clients\n", tps, *concurrency)

	// 2. Payments through the platform.
	target, err := loadtest.ClusterTarget(filepath.Join(dir, "cluster.json"))
	if err != nil {
		return err
	}
	ms, err := loadtest.Onboard(ctx, target, *merchants, loadtest.OnboardOptions{NamePrefix: "bench-"})
	if err != nil {
		return err
	}
	mix, err := loadtest.ParseMix("create_auto=100")
	if err != nil {
		return err
	}
	channels, err := loadtest.ParseChannels("card=100")
	if err != nil {
		return err
	}
	base := loadtest.Config{Duration: *duration, Warmup: 3 * time.Second, Mix: mix, Channels: channels, NoDeclines: true, Seed: 1}
	closed := base
	closed.Concurrency = *concurrency
	fmt.Fprintf(os.Stderr, "payments, closed loop at %d clients for %s ...\n", *concurrency, *duration)
	maxRep, err := runLoad(ctx, closed, target, ms, *jsonOut, "closed")
	if err != nil {
		return err
	}
	max := maxRep.Overall.ThroughputPerS
	fmt.Printf("payments:       %.0f/s maximum (closed loop, %d clients; p50 %.1f ms, p99 %.1f ms; %d errors)\n",
		max, *concurrency, maxRep.Overall.Latency.P50, maxRep.Overall.Latency.P99, maxRep.Overall.Errors)
	open := base
	open.Rate = max / 2
	fmt.Fprintf(os.Stderr, "payments, open loop at %.0f/s (half the maximum) for %s ...\n", open.Rate, *duration)
	halfRep, err := runLoad(ctx, open, target, ms, *jsonOut, "open")
	if err != nil {
		return err
	}
	l := halfRep.Overall.Latency
	fmt.Printf("at half load:   %.0f/s offered, p50 %.1f ms, p99 %.1f ms, max %.1f ms (from intended start; %d dropped, %d errors)\n",
		open.Rate, l.P50, l.P99, l.Max, halfRep.Overall.Dropped, halfRep.Overall.Errors)
	ratio := 0.0
	if tps > 0 {
		ratio = max / tps
	}
	fmt.Printf("bench: payments_per_s=%.0f pgbench_tps=%.0f ratio=%.2f p50_ms=%.1f p99_ms=%.1f\n", max, tps, ratio, l.P50, l.P99)
	return nil
}

func runLoad(ctx context.Context, cfg loadtest.Config, target loadtest.Target, ms []loadtest.Merchant, jsonOut, name string) (*loadtest.Report, error) {
	g, err := loadtest.New(cfg, target, ms)
	if err != nil {
		return nil, err
	}
	rep, err := g.Run(ctx)
	if err != nil {
		return nil, err
	}
	if jsonOut != "" {
		f, err := os.Create(jsonOut + "-" + name + ".json")
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if err := loadtest.WriteJSON(f, rep); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

func createDatabase(ctx context.Context, url, name string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	return err
}
