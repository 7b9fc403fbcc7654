package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// mixedExecutor answers with every kind of outcome, taking a little real time.
var mixedExecutor = funcExecutor(func(_ context.Context, op *Operation, rec *HistoryRecord) {
	time.Sleep(time.Duration(1+op.Seq%3) * time.Millisecond)
	switch {
	case op.Seq%17 == 0:
		rec.Outcome, rec.ErrorCode = OutcomeError, "rate_limited"
	case op.Seq%10 == 0:
		rec.Outcome = OutcomeDeclined
	case op.Seq == 33:
		rec.Outcome, rec.ErrorCode = OutcomeNetworkError, CodeNetworkError
	default:
		rec.Outcome = OutcomeOK
	}
})

var (
	mixedOnce sync.Once
	mixed     *Report
)

// mixedReport is the report of a 1.5 s open-loop run at 100/s with mixedExecutor (made once).
func mixedReport(t *testing.T) *Report {
	t.Helper()
	mixedOnce.Do(func() {
		rep, recs := runGenerator(t, context.Background(), Config{Rate: 100, Duration: 1500 * time.Millisecond, Seed: 3, Executor: mixedExecutor})
		if len(recs) != 150 || rep.Overall.Count != 150 {
			t.Fatalf("%d operations, %d in the history; want 150", rep.Overall.Count, len(recs))
		}
		mixed = rep
	})
	if mixed == nil {
		t.Fatal("no report")
	}
	return mixed
}

func TestReportSummary(t *testing.T) {
	rep := mixedReport(t)
	o := rep.Overall
	// 0..149: multiples of 17 (9), multiples of 10 that are not (14), seq 33.
	if o.Errors != 10 || o.Declined != 14 || o.OK != 126 || rep.Errors["rate_limited"] != 9 || rep.Errors[CodeNetworkError] != 1 {
		t.Fatalf("overall %+v errors %v", o, rep.Errors)
	}
	var sum OpSummary
	for _, s := range rep.Ops {
		sum.Count += s.Count
		sum.Errors += s.Errors
		if s.Count > 0 && (s.Latency.P50 <= 0 || s.Latency.Max < s.Latency.P99 || s.ThroughputPerS <= 0) {
			t.Errorf("%s: %+v", s.Op, s)
		}
	}
	if sum.Count != o.Count || sum.Errors != o.Errors || len(rep.Ops) != len(OpTypes) {
		t.Errorf("per-op sums %+v differ from overall %+v", sum, o)
	}
	if o.Latency.P50 < 1 || o.Latency.P99 > 1000 {
		t.Errorf("latency %+v", o.Latency)
	}
	if o.ThroughputPerS < 80 || o.ThroughputPerS > 110 {
		t.Errorf("throughput %.1f, want about 100/s", o.ThroughputPerS)
	}

	var text bytes.Buffer
	if err := WriteText(&text, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"open loop at 100/s", "create_auto", "create_capture", "refund", "get", "list", "overall",
		"p99.9", "errors by code:", "rate_limited", "network_error", "service p99"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, text.String())
		}
	}
}

// The JSON report parses back, with the configuration, the per-second series and the
// summaries.
func TestReportJSON(t *testing.T) {
	rep := mixedReport(t)
	var buf bytes.Buffer
	if err := WriteJSON(&buf, rep); err != nil {
		t.Fatal(err)
	}
	back, err := ReadReport(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if back.Config.Mode != "open" || back.Config.RatePerS != 100 || back.Config.Seed != 3 || back.Config.Mix != DefaultMix {
		t.Errorf("config %+v", back.Config)
	}
	if back.Overall.Count != rep.Overall.Count || back.Overall.Latency != rep.Overall.Latency || len(back.Ops) != len(rep.Ops) {
		t.Errorf("summaries changed in the round trip")
	}
	h, err := hdrhistogram.Decode([]byte(back.Overall.LatencyHDR))
	if err != nil {
		t.Errorf("overall histogram: %v", err)
	} else if h.TotalCount() != 150 || Summarize(h) != back.Overall.Latency {
		t.Errorf("overall histogram: %d values, %+v; want 150, %+v", h.TotalCount(), Summarize(h), back.Overall.Latency)
	}
	if len(back.Series) != 2 {
		t.Fatalf("series %+v, want 2 seconds", back.Series)
	}
	var completed, started int64
	for _, p := range back.Series {
		completed += p.Completed
		started += p.Started
		if p.Completed > 0 && (p.P50 <= 0 || p.P99 < p.P50 || p.ThroughputPerS <= 0) {
			t.Errorf("point %+v", p)
		}
	}
	if completed != 150 || started != 150 || back.Series[0].Started != 100 {
		t.Errorf("series counts: completed %d started %d first %d", completed, started, back.Series[0].Started)
	}
	// The raw JSON names the fields a dashboard reads.
	var raw map[string]any
	if err := json.Unmarshal(buf.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"config", "series", "ops", "overall", "errors", "measured_s"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON report lacks %q", k)
		}
	}
	if s := raw["series"].([]any)[0].(map[string]any); s["p99_ms"] == nil || s["throughput_per_s"] == nil {
		t.Errorf("series point %v", s)
	}
}

// The HTML report holds the two SVG charts and the summary table, and loads nothing.
func TestReportHTML(t *testing.T) {
	rep := mixedReport(t)
	var buf bytes.Buffer
	if err := WriteHTML(&buf, rep); err != nil {
		t.Fatal(err)
	}
	h := buf.String()
	if n := strings.Count(h, "<svg"); n != 2 {
		t.Errorf("%d SVG charts, want 2", n)
	}
	if n := strings.Count(h, `<polyline class="series"`); n < 5 {
		t.Errorf("%d chart lines, want throughput (3) and latency (3)", n)
	}
	for _, want := range []string{"Throughput", "Latency", `<table id="summary">`, "<td>create_auto</td>", `class="overall"`,
		"<td>overall</td>", `<table id="errors">`, "rate_limited", "p99.9"} {
		if !strings.Contains(h, want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "http://cdn", "https://"} {
		if strings.Contains(h, bad) {
			t.Errorf("HTML report contains %q", bad)
		}
	}
	if !strings.Contains(h, fmt.Sprintf("<td>%d</td>", rep.Overall.Count)) {
		t.Error("the summary table lacks the overall count")
	}
}

func TestFinalLine(t *testing.T) {
	rep := &Report{Overall: OpSummary{Count: 1234, OK: 1200, Declined: 30, Errors: 4, Dropped: 7, ThroughputPerS: 61.7,
		Latency: Latency{P50: 12.3456, P99: 80.5}}}
	want := "loadtest: ops=1234 ok=1200 errors=4 dropped=7 throughput_per_s=61.7 p50_ms=12.35 p99_ms=80.50"
	if got := FinalLine(rep); got != want {
		t.Errorf("FinalLine = %q, want %q", got, want)
	}
	re := regexp.MustCompile(`^loadtest: ops=\d+ ok=\d+ errors=\d+ dropped=\d+ throughput_per_s=[0-9.]+ p50_ms=[0-9.]+ p99_ms=[0-9.]+$`)
	if got := FinalLine(mixedReport(t)); !re.MatchString(got) {
		t.Errorf("FinalLine = %q", got)
	}
}

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		max  float64
		n    int
		last float64
	}{{0, 5, 1}, {97, 5, 100}, {1, 5, 1}, {0.37, 5, 0.4}, {2300, 5, 2500}} {
		ticks := niceTicks(tc.max, tc.n)
		if got := ticks[len(ticks)-1]; got < tc.max || got-tc.last > 1e-9 || tc.last-got > 1e-9 {
			t.Errorf("niceTicks(%v) = %v, want last %v", tc.max, ticks, tc.last)
		}
	}
}
