package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	"github.com/paycenter/paycenter/deploy/localpg"
)

var (
	tpsRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)
	txRE  = regexp.MustCompile(`number of transactions actually processed: ([0-9]+)`)
)

// pgbenchResult is the outcome of a pgbench run.
type pgbenchResult struct {
	TPS float64
	// Transactions is the number of transactions pgbench committed.
	Transactions int64
	// CPU is the user and system time of the pgbench process itself (the client side).
	CPU time.Duration
}

// pgbenchPath is pgbench in PostgreSQL's binaries.
func pgbenchPath() (string, error) {
	bin, err := localpg.BinDir()
	if err != nil {
		return "", fmt.Errorf("pgbench: %w", err)
	}
	return filepath.Join(bin, "pgbench"), nil
}

// pgbenchInit creates pgbench's tables at scale factor 10 in the database at url.
func pgbenchInit(ctx context.Context, url string) error {
	pgbench, err := pgbenchPath()
	if err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, pgbench, "-i", "-q", "-s", "10", url).CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -i: %w\n%s", err, out)
	}
	return nil
}

// runPgbench measures what the database alone can commit: pgbench's TPC-B-like transaction
// (three UPDATEs, a SELECT and an INSERT) at the given concurrency, against url (initialised
// by pgbenchInit), for secs seconds.
func runPgbench(ctx context.Context, url string, clients, secs int) (pgbenchResult, error) {
	pgbench, err := pgbenchPath()
	if err != nil {
		return pgbenchResult{}, err
	}
	threads := min(clients, 2)
	cmd := exec.CommandContext(ctx, pgbench, "-n", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(threads),
		"-T", strconv.Itoa(secs), url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return pgbenchResult{}, fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	res, err := parsePgbench(out, secs)
	if err != nil {
		return pgbenchResult{}, err
	}
	res.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return res, nil
}

// parsePgbench reads the throughput and the transaction count from pgbench's output; if it
// printed no count, the count is tps × secs.
func parsePgbench(out []byte, secs int) (pgbenchResult, error) {
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return pgbenchResult{}, fmt.Errorf("pgbench printed no tps:\n%s", out)
	}
	tps, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return pgbenchResult{}, fmt.Errorf("pgbench tps: %w", err)
	}
	res := pgbenchResult{TPS: tps, Transactions: int64(tps*float64(secs) + 0.5)}
	if m := txRE.FindSubmatch(out); m != nil {
		if res.Transactions, err = strconv.ParseInt(string(m[1]), 10, 64); err != nil {
			return pgbenchResult{}, fmt.Errorf("pgbench transactions: %w", err)
		}
	}
	return res, nil
}
