package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/paycenter/paycenter/deploy/localpg"
)

var tpsRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

// pgbenchTPS measures what the database alone can commit: pgbench's TPC-B-like transaction
// (three UPDATEs, a SELECT and an INSERT) at the given concurrency, against url, for secs
// seconds, after initialising its tables at scale factor 10 in that database.
func pgbenchTPS(ctx context.Context, url string, clients, secs int) (float64, error) {
	bin, err := localpg.BinDir()
	if err != nil {
		return 0, err
	}
	pgbench := filepath.Join(bin, "pgbench")
	if out, err := exec.CommandContext(ctx, pgbench, "-i", "-q", "-s", "10", url).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("pgbench -i: %w\n%s", err, out)
	}
	threads := min(clients, 2)
	out, err := exec.CommandContext(ctx, pgbench, "-n", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(threads),
		"-T", strconv.Itoa(secs), url).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %w\n%s", err, out)
	}
	m := tpsRE.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench printed no tps:\n%s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}
