package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/deploy/localcluster"
	"github.com/paycenter/paycenter/loadtest"
	paysdk "github.com/paycenter/paycenter/sdk"
)

func TestFlags(t *testing.T) {
	o, err := parseFlags([]string{"-rate", "50", "-duration", "5s", "-mix", "get=1,list=1", "-decline-share", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := o.config()
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.OpenLoop() || cfg.Rate != 50 || cfg.Duration != 5*time.Second || cfg.Mix.String() != "get=1,list=1" || !cfg.NoDeclines {
		t.Errorf("config %+v", cfg)
	}
	o, err = parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err = o.config(); err != nil || cfg.OpenLoop() || cfg.Concurrency != loadtest.DefaultConcurrency || o.cluster != ".local/cluster.json" {
		t.Errorf("defaults: %+v %v", cfg, err)
	}
	for _, bad := range [][]string{
		{"-rate", "10", "-concurrency", "4"},
		{"-duration", "0s"},
		{"-rate", "-1"},
		{"-concurrency", "0"},
		{"extra"},
		{"-nope"},
	} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted it", bad)
		}
	}
	for _, bad := range [][]string{{"-mix", "fly=1"}, {"-channels", "cash=1"}, {"-currencies", "usd,xyz"}} {
		o, err := parseFlags(bad, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := o.config(); err == nil {
			t.Errorf("config of %q accepted it", bad)
		}
	}
	// Environment variables.
	t.Setenv("LOADTEST_RATE", "7")
	if o, err = parseFlags(nil, io.Discard); err != nil || o.rate != 7 {
		t.Errorf("LOADTEST_RATE: %v %v", o, err)
	}
}

func TestMissingCluster(t *testing.T) {
	err := run(context.Background(), nil, []string{"-cluster", filepath.Join(t.TempDir(), "cluster.json"), "-quiet"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "make up") {
		t.Errorf("run without a cluster: %v", err)
	}
}

var finalLine = regexp.MustCompile(`(?m)^loadtest: ops=(\d+) ok=(\d+) errors=(\d+) dropped=(\d+) throughput_per_s=([0-9.]+) p50_ms=([0-9.]+) p99_ms=([0-9.]+)$`)

// A short closed-loop and open-loop load against a real single-region platform (PostgreSQL
// and one payd) give valid reports and a history whose payments exist.
func TestAgainstLocalPlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and payd")
	}
	dir := t.TempDir()
	payd := filepath.Join(dir, "payd")
	if out, err := exec.Command("go", "build", "-o", payd, "github.com/paycenter/paycenter/cmd/payd").CombinedOutput(); err != nil {
		t.Fatalf("build payd: %v\n%s", err, out)
	}
	state := filepath.Join(dir, "state")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var upLog bytes.Buffer
	t.Cleanup(func() { _ = localcluster.Down(state, nil, io.Discard) })
	c, err := localcluster.Up(ctx, localcluster.Options{Dir: state, Payd: payd, Out: &upLog})
	if err != nil {
		t.Fatalf("up: %v\n%s", err, upLog.String())
	}
	merchantsFile := filepath.Join(dir, "merchants.json")

	load := func(name string, args ...string) (*loadtest.Report, []loadtest.HistoryRecord) {
		t.Helper()
		jsonOut, htmlOut, histOut := filepath.Join(dir, name+".json"), filepath.Join(dir, name+".html"), filepath.Join(dir, name+".jsonl")
		var stdout, stderr bytes.Buffer
		args = append(args, "-cluster", localcluster.File(state), "-merchants", "4", "-merchants-file", merchantsFile,
			"-json", jsonOut, "-html", htmlOut, "-history", histOut, "-seed", "11")
		if err := run(ctx, nil, args, &stdout, &stderr); err != nil {
			t.Fatalf("%s: %v\n%s\n%s", name, err, stdout.String(), stderr.String())
		}
		t.Logf("%s:\n%s", name, stdout.String())
		m := finalLine.FindStringSubmatch(stdout.String())
		if m == nil || !strings.HasSuffix(strings.TrimSpace(stdout.String()), m[0]) {
			t.Fatalf("%s: no final line at the end of stdout:\n%s", name, stdout.String())
		}
		ops, _ := strconv.Atoi(m[1])
		errs, _ := strconv.Atoi(m[3])
		if ops == 0 || errs != 0 {
			t.Fatalf("%s: %d operations, %d errors\n%s\n%s", name, ops, errs, stdout.String(), stderr.String())
		}
		if !strings.Contains(stderr.String(), "loadtest: ") {
			t.Errorf("%s: no progress line on stderr", name)
		}
		f, err := os.Open(jsonOut)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rep, err := loadtest.ReadReport(f)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Overall.Count != int64(ops) || len(rep.Series) < 2 {
			t.Fatalf("%s: report count %d (final line %d), %d points", name, rep.Overall.Count, ops, len(rep.Series))
		}
		var completed int64
		for _, p := range rep.Series {
			completed += p.Completed
		}
		if completed != int64(ops) {
			t.Errorf("%s: the series counts %d completions, want %d", name, completed, ops)
		}
		h, err := os.ReadFile(htmlOut)
		if err != nil || strings.Count(string(h), "<svg") != 2 || !strings.Contains(string(h), "<td>overall</td>") {
			t.Errorf("%s: HTML report (%v) lacks its charts or summary", name, err)
		}
		hf, err := os.Open(histOut)
		if err != nil {
			t.Fatal(err)
		}
		defer hf.Close()
		recs, err := loadtest.ReadHistory(hf)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(recs)) != rep.Overall.Count+rep.WarmupOps {
			t.Fatalf("%s: %d history lines for %d operations", name, len(recs), rep.Overall.Count)
		}
		return rep, recs
	}

	closed, closedRecs := load("closed", "-duration", "3s", "-concurrency", "4")
	if closed.Config.Mode != "closed" || closed.Overall.OK == 0 {
		t.Errorf("closed loop: %+v", closed.Overall)
	}
	open, openRecs := load("open", "-duration", "2s", "-rate", "20")
	if open.Config.Mode != "open" || open.Overall.Count != 40 || open.Overall.Dropped != 0 {
		t.Errorf("open loop at 20/s for 2s: %+v, want 40 operations", open.Overall)
	}

	// Every ok operation that names a payment names one the platform returns.
	ms, err := loadtest.LoadMerchants(merchantsFile)
	if err != nil {
		t.Fatal(err)
	}
	clients := map[string]*paysdk.Client{}
	for _, m := range ms {
		if clients[m.ID], err = paysdk.New(paysdk.Config{Endpoints: []string{c.Regions[0].Endpoint}, SecretKey: m.SecretKey}); err != nil {
			t.Fatal(err)
		}
	}
	checked := 0
	for _, r := range append(closedRecs, openRecs...) {
		if r.Outcome != loadtest.OutcomeOK || r.Result.PaymentID == "" {
			continue
		}
		p, err := clients[r.MerchantID].GetPayment(ctx, r.Result.PaymentID)
		if err != nil {
			t.Errorf("operation %d (%s): payment %s: %v", r.Seq, r.Op, r.Result.PaymentID, err)
			continue
		}
		if p.ID != r.Result.PaymentID || (r.Params.Amount != 0 && p.Amount != r.Params.Amount) || p.AmountCaptured < r.Result.AmountCaptured {
			t.Errorf("operation %d (%s): recorded %+v, platform has %s %d captured %d", r.Seq, r.Op, r.Result, p.ID, p.Amount, p.AmountCaptured)
		}
		checked++
	}
	if checked == 0 {
		t.Error("no ok operation named a payment")
	}
	t.Logf("%d payments checked", checked)
}
