package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/deploy/localcluster"
	"github.com/paycenter/paycenter/deploy/localpg"
	"github.com/paycenter/paycenter/loadtest"
)

// Instruction counts (-instructions N): figures that do not move with the machine's load.
// perf stat -e instructions needs hardware counters, which this machine's virtual CPUs do not
// expose ("<not supported>"), so PostgreSQL and payd run under valgrind's callgrind, which
// counts the instructions each process executes. Both are about 50 times slower under it,
// so the counts come from fixed-count runs at low concurrency, not from the timed ones:
//
//   - PostgreSQL per pgbench transaction: pgbench -t at instrClients clients; the counts of
//     its backends (written when they exit, at its disconnect) over its transactions.
//   - PostgreSQL per payment: N payments (create with automatic capture) through payd after a
//     warmup; the counts of the backends that served payd during them (its pool's, so its
//     workers' too), ended with pg_terminate_backend before and after.
//   - payd per payment: its count between callgrind_control's zero and dump around the same
//     payments. payd runs with GODEBUG=asyncpreemptoff=1, since callgrind fails on the
//     goroutine preemption signal.
//   - Each count is the difference between a window of N payments and one of 2N, both
//     begun on new connections, so that the connections' start and their statements'
//     preparation cancel out. payd's periodic workers (webhook delivery, recovery,
//     detectors) run once an hour in this mode: the request path is what is counted.
//
// PostgreSQL's background processes (checkpointer, WAL writer, autovacuum) are not counted,
// and neither are the load generator nor pgbench's client.

// instrClients is the concurrency of the instruction-count runs.
const instrClients = 2

// instrWarmup is the number of payments made before the counted ones: caches filled,
// connections open.
const instrWarmup = 50

// instrHistory is the number of past payments each merchant has before the counted ones
// (inserted directly): the risk score's reads of a merchant's recent payments reach as far
// as 200 of them, which a short run's fresh merchants would not show.
const instrHistory = 2000

// seedHistory inserts n succeeded card payments for each merchant: one a minute back from
// now, in the load generator's five currencies, with fingerprints other than its card's.
func seedHistory(ctx context.Context, url string, ms []loadtest.Merchant, n int) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, m := range ms {
		if _, err := conn.Exec(ctx, `
			INSERT INTO payments (id, merchant_id, region, status, amount, amount_captured, currency, channel,
				capture_method, merchant_reference, description, customer, payment_method, metadata, created_at, updated_at)
			SELECT 'pay_seed_' || $1 || '_' || g, $1, $2, 'succeeded', 1000 + g % 5000, 1000 + g % 5000,
				(ARRAY['USD', 'EUR', 'GBP', 'JPY', 'CNY'])[1 + g % 5], 'card',
				'automatic', 'seed-' || g, '', '{}', jsonb_build_object('type', 'card', 'fingerprint', 'seed' || g % 300), '{}',
				now() - g * interval '1 minute', now() - g * interval '1 minute'
			FROM generate_series(1, $3::INT) g`, m.ID, m.HomeRegion, n); err != nil {
			return fmt.Errorf("seeding history: %w", err)
		}
	}
	_, err = conn.Exec(ctx, `VACUUM ANALYZE payments`)
	return err
}

// runInstructions starts a platform under callgrind, counts, and prints one line.
func runInstructions(ctx context.Context, o options) error {
	if _, err := exec.LookPath("valgrind"); err != nil {
		return fmt.Errorf("-instructions needs valgrind (Debian package valgrind): %w", err)
	}
	dir, err := os.MkdirTemp("", "paybench-instr-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	out := o.callgrindDir
	if out == "" {
		out = filepath.Join(dir, "callgrind")
	}
	if out, err = filepath.Abs(out); err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o777); err != nil {
		return err
	}
	if err := os.Chmod(out, 0o777); err != nil { // the postgres user writes there too
		return err
	}
	bin, err := localpg.BinDir()
	if err != nil {
		return err
	}
	payd, err := filepath.Abs(o.payd)
	if err != nil {
		return err
	}
	vg := "valgrind --tool=callgrind --dump-instr=no -q --callgrind-out-file=" + out
	pgWrap, paydWrap := filepath.Join(dir, "postgres.sh"), filepath.Join(dir, "payd.sh")
	// A backend is a fork of the postmaster and would inherit its count (its start, about
	// 45 M): only what runs inside PostgresMain, a backend's own loop, is counted.
	pgVG := vg + "/pg.%p --collect-atstart=no --toggle-collect=PostgresMain "
	if err := os.WriteFile(pgWrap, []byte("#!/bin/sh\nexec "+pgVG+filepath.Join(bin, "postgres")+` "$@"`+"\n"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(paydWrap, []byte("#!/bin/sh\nGODEBUG=asyncpreemptoff=1 exec "+vg+"/payd.%p "+payd+` "$@"`+"\n"), 0o755); err != nil {
		return err
	}
	// Under callgrind every statement takes tens of times longer: payd's database timeouts
	// are widened so that none of them expires. Its periodic workers run once an hour (the
	// heartbeat every 5 s): their polling would count in proportion to the time callgrind
	// and the machine's load stretch a run to, so what is counted is the request path.
	nodeArgs := append(quotaArgs[:len(quotaArgs):len(quotaArgs)], "-db-statement-timeout", "20s", "-liveness-timeout", "21s",
		"-db-connect-timeout", "20s", "-db-tcp-timeout", "20s", "-heartbeat-interval", "5s",
		"-recovery-interval", "1h", "-detector-interval", "1h", "-webhooks-interval", "1h",
		// A small pool, which both windows fill: the same connections' starts cancel out.
		"-max-conns", "4")
	fmt.Fprintln(os.Stderr, "starting a platform under callgrind: PostgreSQL and one payd ...")
	c, err := localcluster.Up(ctx, localcluster.Options{Dir: dir, Payd: paydWrap, NodeArgs: nodeArgs, PostgresExec: pgWrap, Out: io.Discard})
	if err != nil {
		return err
	}
	defer localcluster.Down(dir, nil, io.Discard)
	paydPID := c.Regions[0].Nodes[0].PID

	// 1. pgbench.
	benchURL := strings.Replace(c.DatabaseURL, "/paycenter?", "/pgbench?", 1)
	if err := createDatabase(ctx, strings.Replace(c.DatabaseURL, "/paycenter?", "/postgres?", 1), "pgbench"); err != nil {
		return err
	}
	pgbench, err := pgbenchPath()
	if err != nil {
		return err
	}
	if b, err := exec.CommandContext(ctx, pgbench, "-i", "-q", "-s", strconv.Itoa(instrClients), benchURL).CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -i: %w\n%s", err, b)
	}
	txs := max(10*o.instructions, 1000) // a backend's start is spread over many
	fmt.Fprintf(os.Stderr, "pgbench under callgrind: %d transactions at %d clients ...\n", txs, instrClients)
	cmd := exec.CommandContext(ctx, pgbench, "-n", "-c", strconv.Itoa(instrClients), "-j", strconv.Itoa(instrClients),
		"-t", strconv.Itoa(txs/instrClients), benchURL)
	var pgbenchOut strings.Builder
	cmd.Stdout, cmd.Stderr = &pgbenchOut, &pgbenchOut
	if err := cmd.Start(); err != nil {
		return err
	}
	pids, err := clientBackends(ctx, c.DatabaseURL, "pgbench", instrClients)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return err
	}
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("pgbench: %w\n%s", err, pgbenchOut.String())
	}
	pgTx, err := sumCounts(ctx, out, "pg", pids)
	if err != nil {
		return err
	}
	perTx := float64(pgTx) / float64(txs/instrClients*instrClients)

	// 2. Payments.
	target, err := loadtest.ClusterTarget(filepath.Join(dir, "cluster.json"))
	if err != nil {
		return err
	}
	ms, err := loadtest.Onboard(ctx, target, instrClients, loadtest.OnboardOptions{NamePrefix: "bench-"})
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
	cfg := loadtest.Config{Duration: time.Hour, Concurrency: instrClients, Mix: mix, Channels: channels, NoDeclines: true, Seed: 1}
	payments := func(n int64) (*loadtest.Report, error) {
		cfg.Ops = n
		rep, _, err := runLoad(ctx, cfg, target, ms, "", "", nil)
		if err == nil && rep.Overall.Errors > 0 {
			err = fmt.Errorf("%d of %d payments failed%s", rep.Overall.Errors, rep.Overall.Count, errorCodes(rep))
		}
		return rep, err
	}
	if err := seedHistory(ctx, c.DatabaseURL, ms, instrHistory); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "payments under callgrind: %d to warm up, then %d and %d counted, at %d clients ...\n", instrWarmup, o.instructions, 2*o.instructions, instrClients)
	if _, err := payments(instrWarmup); err != nil {
		return err
	}
	// window counts what PostgreSQL's backends serving payd and payd itself execute during fn.
	dumps := 0
	window := func(fn func() error) (pg, payd int64, err error) {
		if _, err := endBackends(ctx, c.DatabaseURL); err != nil {
			return 0, 0, err
		}
		if err := callgrindControl(ctx, "-z", paydPID); err != nil {
			return 0, 0, err
		}
		if err := fn(); err != nil {
			return 0, 0, err
		}
		if err := callgrindControl(ctx, "-d", paydPID); err != nil {
			return 0, 0, err
		}
		dumps++
		pids, err := endBackends(ctx, c.DatabaseURL)
		if err != nil {
			return 0, 0, err
		}
		if pg, err = sumCounts(ctx, out, "pg", pids); err != nil {
			return 0, 0, err
		}
		payd, err = dumpCount(ctx, filepath.Join(out, fmt.Sprintf("payd.%d.%d", paydPID, dumps)))
		return pg, payd, err
	}
	// Each window starts with new connections, whose start and statement preparations
	// count in it: the payments' own cost is the difference between a window of N payments
	// and one of 2N, over the N more.
	var rep1, rep2 *loadtest.Report
	pg1, payd1, err := window(func() (err error) {
		rep1, err = payments(int64(o.instructions))
		return err
	})
	if err != nil {
		return err
	}
	pg2, payd2, err := window(func() (err error) {
		rep2, err = payments(2 * int64(o.instructions))
		return err
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "counted: PostgreSQL %d over %d payments, %d over %d; payd %d and %d\n",
		pg1, rep1.Overall.Count, pg2, rep2.Overall.Count, payd1, payd2)
	pgPay, paydPay := pg2-pg1, payd2-payd1
	rep := &loadtest.Report{Overall: loadtest.OpSummary{Count: rep2.Overall.Count - rep1.Overall.Count}}
	n := float64(rep.Overall.Count)
	fmt.Printf("instructions:   callgrind (perf stat -e instructions is not supported here): PostgreSQL %.2f M per pgbench transaction (%d); per payment (%d) PostgreSQL %.2f M (%.1f pgbench transactions) and payd %.2f M\n",
		perTx/1e6, txs/instrClients*instrClients, rep.Overall.Count, float64(pgPay)/n/1e6, float64(pgPay)/n/perTx, float64(paydPay)/n/1e6)
	fmt.Printf("bench-instructions: pg_per_pgbench_tx=%.0f pg_per_payment=%.0f payd_per_payment=%.0f\n", perTx, float64(pgPay)/n, float64(paydPay)/n)
	return nil
}

// clientBackends waits until want client backends serve database name and returns their
// PIDs.
func clientBackends(ctx context.Context, url, name string, want int) ([]int, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var pids []int
		if err := conn.QueryRow(ctx, `SELECT COALESCE(array_agg(pid), '{}') FROM pg_stat_activity
			WHERE datname = $1 AND backend_type = 'client backend'`, name).Scan(&pids); err != nil {
			return nil, err
		}
		if len(pids) >= want {
			return pids, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%d of %d client backends of %s connected", len(pids), want, name)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// endBackends terminates the client backends serving the database at url (other than its
// own), so that callgrind writes their counts, and returns their PIDs.
func endBackends(ctx context.Context, url string) ([]int, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	var pids []int
	if err := conn.QueryRow(ctx, `SELECT COALESCE(array_agg(pid), '{}') FROM pg_stat_activity
		WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`).Scan(&pids); err != nil {
		return nil, err
	}
	_, err = conn.Exec(ctx, `SELECT pg_terminate_backend(p) FROM unnest($1::INT4[]) p`, pids)
	return pids, err
}

// callgrindControl sends callgrind_control's option (-z zero, -d dump) to the process pid.
func callgrindControl(ctx context.Context, option string, pid int) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if b, err := exec.CommandContext(ctx, "callgrind_control", option, strconv.Itoa(pid)).CombinedOutput(); err != nil {
		return fmt.Errorf("callgrind_control %s %d: %w\n%s", option, pid, err, b)
	}
	return nil
}

// sumCounts waits for the callgrind files dir/prefix.PID of pids (written as those processes
// exit) and sums their instruction counts.
func sumCounts(ctx context.Context, dir, prefix string, pids []int) (int64, error) {
	var sum int64
	for _, pid := range pids {
		n, err := dumpCount(ctx, filepath.Join(dir, fmt.Sprintf("%s.%d", prefix, pid)))
		if err != nil {
			return 0, err
		}
		sum += n
	}
	return sum, nil
}

// dumpCount waits (up to two minutes) for the callgrind file to be complete and returns its
// instruction count: its "totals:" line, written last.
func dumpCount(ctx context.Context, file string) (int64, error) {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if n, ok, err := totals(file); err != nil || ok {
			return n, err
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("callgrind wrote no totals to %s", file)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// totals reads the "totals:" line of a callgrind file; false if the file is not (yet) there
// or not complete.
func totals(file string) (int64, bool, error) {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "totals:"); ok {
			n, err := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return n, err == nil, err
		}
	}
	return 0, false, sc.Err()
}
