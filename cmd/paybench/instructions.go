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
//   - From both, what the same window counts with payd idle for as long (its workers'
//     polling, its connections' start) is subtracted: the payments' own cost remains.
//
// PostgreSQL's background processes (checkpointer, WAL writer, autovacuum) are not counted,
// and neither are the load generator nor pgbench's client.

// instrClients is the concurrency of the instruction-count runs.
const instrClients = 2

// instrWarmup is the number of payments made before the counted ones: caches filled,
// connections open.
const instrWarmup = 50

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
	out := filepath.Join(dir, "callgrind")
	if err := os.Mkdir(out, 0o777); err != nil {
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
	if err := os.WriteFile(pgWrap, []byte("#!/bin/sh\nexec "+vg+"/pg.%p "+filepath.Join(bin, "postgres")+` "$@"`+"\n"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(paydWrap, []byte("#!/bin/sh\nGODEBUG=asyncpreemptoff=1 exec "+vg+"/payd.%p "+payd+` "$@"`+"\n"), 0o755); err != nil {
		return err
	}
	// Under callgrind every statement takes tens of times longer: payd's database timeouts
	// are widened so that none of them expires.
	nodeArgs := append(quotaArgs[:len(quotaArgs):len(quotaArgs)], "-db-statement-timeout", "20s", "-liveness-timeout", "21s",
		"-db-connect-timeout", "20s", "-db-tcp-timeout", "20s")
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
	fmt.Fprintf(os.Stderr, "payments under callgrind: %d to warm up, then %d counted, at %d clients ...\n", instrWarmup, o.instructions, instrClients)
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
	var rep *loadtest.Report
	start := time.Now()
	pgPay, paydPay, err := window(func() (err error) {
		rep, err = payments(int64(o.instructions))
		return err
	})
	if err != nil {
		return err
	}
	// What payd's workers and its connections cost in the same time without payments is
	// subtracted: under callgrind a payment takes tens of times longer, and the workers'
	// polling would otherwise count tens of times over.
	idle := time.Since(start)
	fmt.Fprintf(os.Stderr, "idle under callgrind for %s ...\n", idle.Round(time.Second))
	pgIdle, paydIdle, err := window(func() error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(idle):
			return nil
		}
	})
	if err != nil {
		return err
	}
	pgPay, paydPay = pgPay-pgIdle, paydPay-paydIdle
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
