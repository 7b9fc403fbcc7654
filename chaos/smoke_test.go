package chaos_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/chaos"
	"github.com/paycenter/paycenter/deploy/localcluster"
)

// consulBinary finds consul the way deploy/localcluster's tests do.
func consulBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PAY_CONSUL_BIN"); p != "" {
		return p
	}
	if p, err := filepath.Abs("../.local/bin/consul"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("consul"); err == nil {
		return p
	}
	msg := "no consul binary: run deploy/tools/consul/build.sh (make test does)"
	if os.Getenv("PAY_REQUIRE_CONSUL") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// TestSmoke starts the whole platform from freshly built binaries, runs a node kill and a
// channel fault under load, briefly, and asserts every invariant.
//
// The nodes run with a 10 s lease and a 4 s channel timeout (PAYD_LEASE and
// PAYD_CHANNEL_TIMEOUT, inherited from this process) instead of 30 s and 10 s, so that keys
// held by the killed node free up sooner and the test stays short; the settle bound is
// scaled the same way (2 × lease + 2 recovery sweeps + a channel timeout + slack = 45 s).
// Its clients never abandon an operation (AbandonShare -1): they retry every one to its
// end, so nothing waits for the recovery worker and the test stays near a minute; the full
// suite (cmd/chaos) has a quarter of them go away after one attempt.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the whole multi-region platform")
	}
	consul := consulBinary(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	for _, cmd := range []string{"payd", "payedge", "paywan", "channelsim"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, cmd), "github.com/paycenter/paycenter/cmd/"+cmd).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", cmd, err, out)
		}
	}
	t.Setenv("PAYD_LEASE", "10s")
	t.Setenv("PAYD_CHANNEL_TIMEOUT", "4s") // the lease must exceed it
	state := filepath.Join(dir, "state")
	var log strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	if _, err := localcluster.Up(ctx, localcluster.Options{Dir: state, Bin: bin, Consul: consul, Out: &log}); err != nil {
		t.Fatalf("up: %v\n%s", err, log.String())
	}
	t.Cleanup(func() { _ = localcluster.Down(state, nil, io.Discard) })

	target, err := chaos.LocalTarget(localcluster.File(state), bin)
	if err != nil {
		t.Fatal(err)
	}
	exps, err := chaos.Select("node-kill,channel-lost-responses")
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	rc, err := chaos.StartReceiver()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	results := chaos.Run(ctx, target, exps, chaos.RunConfig{Duration: 12 * time.Second, Clients: 6, AbandonShare: -1,
		SettleBound: 45 * time.Second, SteadyTimeout: 60 * time.Second, Log: &progress, Receiver: rc})
	var table strings.Builder
	chaos.WriteTable(&table, results)
	sum := chaos.Summarize(results)
	t.Logf("\n%s\n%s\n%s", progress.String(), table.String(), sum.Line())
	for _, r := range results {
		if !r.Passed {
			t.Errorf("%s failed: %s %v", r.Name, r.Error, r.Verdict.Violations)
		}
	}
	if sum.Experiments != 2 || !sum.OK() {
		t.Fatalf("chaos smoke failed: %s", sum.Line())
	}
	for _, r := range results {
		if w := r.Verdict.Webhooks; !w.Checked || w.Delivered == 0 || w.Delivered != w.Events {
			t.Errorf("%s: webhooks %+v", r.Name, w)
		}
		if r.Acknowledged == 0 || r.Verdict.AckedPayments == 0 || r.Verdict.Linearizability.Checked == 0 {
			t.Errorf("%s checked nothing: %+v", r.Name, r)
		}
	}
	// The killed node was started again and the platform returns to how it was (on a busy
	// machine a far region's readiness can take a while to settle).
	if err := target.WaitSteady(ctx, 60*time.Second); err != nil {
		t.Errorf("not steady after the smoke: %v", err)
	}
}
