package loadtest

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The open loop issues exactly rate × duration operations, at start + i/rate, measured from
// those intended times.
func TestOpenLoopSchedulesAtTheRate(t *testing.T) {
	clock := newFakeClock()
	start := clock.Now()
	rep, recs := runGenerator(t, context.Background(), Config{
		Rate: 100, Duration: 2 * time.Second, Clock: clock, Executor: okExecutor,
	})
	if rep.Overall.Count != 200 || rep.Overall.OK != 200 || rep.Overall.Dropped != 0 || len(recs) != 200 {
		t.Fatalf("count %d ok %d dropped %d history %d, want 200 operations", rep.Overall.Count, rep.Overall.OK, rep.Overall.Dropped, len(recs))
	}
	slices.SortFunc(recs, func(a, b HistoryRecord) int { return int(a.Seq - b.Seq) })
	for i, r := range recs {
		want := start.Add(time.Duration(i) * 10 * time.Millisecond).UnixNano()
		if r.Seq != int64(i) || r.ScheduledNS != want || r.InvokeNS != want {
			t.Fatalf("operation %d: seq %d scheduled %d invoked %d, want both %d", i, r.Seq, r.ScheduledNS, r.InvokeNS, want)
		}
	}
	if len(rep.Series) != 2 || rep.Series[0].Started != 100 || rep.Series[1].Started != 100 {
		t.Fatalf("series %+v, want 100 started in each of 2 seconds", rep.Series)
	}
	if rep.Overall.ThroughputPerS < 99 || rep.Overall.ThroughputPerS > 101.5 {
		t.Errorf("throughput %.1f/s, want 100", rep.Overall.ThroughputPerS)
	}
}

// When the generator falls behind its schedule (here: paused for 500 ms), the late
// operations are issued at once and their latency counts from their intended start: the
// corrected latency includes the pause, the service latency does not.
func TestOpenLoopMeasuresFromIntendedStart(t *testing.T) {
	clock := newFakeClock()
	clock.stallAt = clock.Now().Add(100 * time.Millisecond) // operation 10's slot
	clock.stall = 500 * time.Millisecond
	rep, recs := runGenerator(t, context.Background(), Config{
		Rate: 100, Duration: time.Second, Clock: clock, Executor: okExecutor,
	})
	if rep.Overall.Count != 100 {
		t.Fatalf("count %d, want 100", rep.Overall.Count)
	}
	late := 0
	for _, r := range recs {
		lag := time.Duration(r.InvokeNS - r.ScheduledNS)
		if r.Seq >= 10 && r.Seq < 60 {
			// Slots 100 ms to 590 ms: all issued at 600 ms, when the pause ended.
			late++
			if want := time.Duration(600-10*r.Seq) * time.Millisecond; lag != want {
				t.Errorf("operation %d started %v late, want %v", r.Seq, lag, want)
			}
		} else if lag != 0 {
			t.Errorf("operation %d started %v late, want on time", r.Seq, lag)
		}
	}
	if late != 50 {
		t.Errorf("%d operations issued late, want 50", late)
	}
	if l := rep.Overall.Latency; l.Max < 499 || l.Max > 501 || l.P99 < 400 {
		t.Errorf("corrected latency %+v: want max 500 ms and p99 above 400 ms", l)
	}
	if s := rep.Overall.Service; s.Max > 0.01 {
		t.Errorf("service latency %+v: want about 0 (the executor takes no time)", s)
	}
}

// With every slot of the in-flight pool taken, the next operations are dropped and counted,
// per type and per second, never sent.
func TestOpenLoopCountsDropsWhenInFlightIsFull(t *testing.T) {
	clock := newFakeClock()
	var sent atomic.Int64
	blocked := funcExecutor(func(ctx context.Context, _ *Operation, rec *HistoryRecord) {
		sent.Add(1)
		<-ctx.Done() // released by the end of the grace period
		rec.Outcome, rec.ErrorCode = OutcomeUnknown, CodeCanceled
	})
	rep, recs := runGeneratorWith(t, context.Background(), Config{
		Rate: 100, Duration: 2 * time.Second, MaxInFlight: 2, Grace: 50 * time.Millisecond, Clock: clock, Executor: blocked,
	}, true)
	if sent.Load() != 2 || len(recs) != 2 {
		t.Fatalf("%d operations sent, %d in the history, want 2", sent.Load(), len(recs))
	}
	if rep.Overall.Dropped != 198 || rep.Overall.Count != 2 || rep.Overall.Unfinished != 2 || rep.Overall.Errors != 0 {
		t.Fatalf("overall %+v: want 198 dropped, 2 unfinished (cancelled after the grace period)", rep.Overall)
	}
	var perType, perSecond, unfinished int64
	for _, s := range rep.Ops {
		perType += s.Dropped
	}
	for _, p := range rep.Series {
		perSecond += p.Dropped
		unfinished += p.Unfinished
	}
	if perType != 198 || perSecond != 198 {
		t.Errorf("drops per type %d, per second %d, want 198", perType, perSecond)
	}
	if len(rep.Errors) != 0 || unfinished != 2 {
		t.Errorf("errors %v, unfinished in the series %d; want none, 2", rep.Errors, unfinished)
	}
}

// On the real clock, a short open-loop run issues every slot and keeps to the schedule.
func TestOpenLoopRealClock(t *testing.T) {
	start := time.Now()
	rep, recs := runGenerator(t, context.Background(), Config{Rate: 200, Duration: 500 * time.Millisecond, Executor: okExecutor})
	elapsed := time.Since(start)
	if rep.Overall.Count != 100 || len(recs) != 100 {
		t.Fatalf("count %d, want 100", rep.Overall.Count)
	}
	if elapsed < 490*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("run took %v, want about 500ms", elapsed)
	}
	lags := make([]time.Duration, len(recs))
	for i, r := range recs {
		lags[i] = time.Duration(r.InvokeNS - r.ScheduledNS)
	}
	slices.Sort(lags)
	if med := lags[len(lags)/2]; med < 0 || med > 50*time.Millisecond {
		t.Errorf("median start lag %v, want a few ms", med)
	}
}

// The closed loop keeps exactly Concurrency operations in flight until the end.
func TestClosedLoop(t *testing.T) {
	var cur, peak atomic.Int64
	exec := funcExecutor(func(ctx context.Context, _ *Operation, rec *HistoryRecord) {
		n := cur.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		cur.Add(-1)
		rec.Outcome = OutcomeOK
	})
	rep, recs := runGenerator(t, context.Background(), Config{Concurrency: 4, Duration: 300 * time.Millisecond, Executor: exec})
	if peak.Load() != 4 {
		t.Errorf("peak concurrency %d, want 4", peak.Load())
	}
	if n := rep.Overall.Count; n < 40 || n > 4*60+4 || int64(len(recs)) != n {
		t.Errorf("%d operations (%d in the history), want about 4 × 300ms/5ms", n, len(recs))
	}
	if rep.Config.Mode != "closed" || rep.Config.Concurrency != 4 {
		t.Errorf("config %+v", rep.Config)
	}
	for _, r := range recs {
		if r.ScheduledNS != r.InvokeNS {
			t.Fatalf("closed loop: operation %d scheduled %d, invoked %d; want equal", r.Seq, r.ScheduledNS, r.InvokeNS)
		}
	}
}

// -ops bounds the run by count.
func TestOpsLimit(t *testing.T) {
	start := time.Now()
	rep, recs := runGenerator(t, context.Background(), Config{Concurrency: 8, Ops: 50, Duration: time.Minute, Executor: okExecutor})
	if rep.Overall.Count != 50 || len(recs) != 50 {
		t.Fatalf("count %d, history %d, want 50", rep.Overall.Count, len(recs))
	}
	if time.Since(start) > 10*time.Second {
		t.Error("the run did not stop at the operation limit")
	}
	clock := newFakeClock()
	rep, _ = runGenerator(t, context.Background(), Config{Rate: 1000, Ops: 30, Duration: time.Minute, Clock: clock, Executor: okExecutor})
	if rep.Overall.Count != 30 {
		t.Fatalf("open loop: count %d, want 30", rep.Overall.Count)
	}
}

// Cancelling the run stops scheduling; in-flight operations get the grace period, are then
// cancelled, and are still recorded; the report says it was interrupted.
func TestCancelStopsSchedulingAndWaitsForInFlight(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var started atomic.Int64
	exec := funcExecutor(func(opCtx context.Context, _ *Operation, rec *HistoryRecord) {
		if started.Add(1) == 4 {
			cancel()
		}
		<-opCtx.Done()
		rec.Outcome, rec.ErrorCode = OutcomeUnknown, CodeCanceled
	})
	begin := time.Now()
	rep, recs := runGenerator(t, ctx, Config{Concurrency: 4, Duration: time.Minute, Grace: 100 * time.Millisecond, Executor: exec})
	if time.Since(begin) > 10*time.Second {
		t.Fatal("the run did not stop")
	}
	if !rep.Interrupted || rep.Overall.Count != 4 || rep.Overall.Unfinished != 4 || len(recs) != 4 || started.Load() != 4 {
		t.Fatalf("interrupted %v, count %d, history %d, started %d; want true, 4, 4, 4", rep.Interrupted, rep.Overall.Count, len(recs), started.Load())
	}
}

// Operations scheduled in the warmup run and are in the history, not in the results.
func TestWarmupIsExcluded(t *testing.T) {
	clock := newFakeClock()
	rep, recs := runGenerator(t, context.Background(), Config{
		Rate: 10, Warmup: time.Second, Duration: time.Second, Clock: clock, Executor: okExecutor,
	})
	warm := 0
	for _, r := range recs {
		if r.Warmup {
			warm++
		}
	}
	if len(recs) != 20 || warm != 10 || rep.WarmupOps != 10 || rep.Overall.Count != 10 {
		t.Fatalf("history %d (%d warmup), report warmup %d count %d; want 20 (10), 10, 10", len(recs), warm, rep.WarmupOps, rep.Overall.Count)
	}
	if !rep.Series[0].Warmup || rep.Series[1].Warmup {
		t.Errorf("series warmup flags %v %v, want true false", rep.Series[0].Warmup, rep.Series[1].Warmup)
	}
	if rep.MeasuredS < 0.89 || rep.MeasuredS > 1.01 {
		t.Errorf("measured %.3fs, want about 1s", rep.MeasuredS)
	}
}

// The same seed gives the same operations, whatever the timing; another seed others.
func TestSeedDeterminesOperations(t *testing.T) {
	types := func(seed uint64) []OpType {
		var mu sync.Mutex
		out := make([]OpType, 200)
		exec := funcExecutor(func(_ context.Context, op *Operation, rec *HistoryRecord) {
			mu.Lock()
			out[op.Seq] = op.Type
			mu.Unlock()
			_ = op.Rand.Uint64() // the executor's own draws do not disturb other operations
			rec.Outcome = OutcomeOK
		})
		runGenerator(t, context.Background(), Config{Concurrency: 7, Ops: 200, Duration: time.Minute, Seed: seed, Executor: exec})
		return out
	}
	a, b, c := types(7), types(7), types(8)
	if !slices.Equal(a, b) {
		t.Error("two runs with seed 7 differ")
	}
	if slices.Equal(a, c) {
		t.Error("seeds 7 and 8 gave the same operations")
	}
}

func TestRunTwice(t *testing.T) {
	g, err := New(Config{Ops: 1, Executor: okExecutor}, Target{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Run(context.Background()); err == nil {
		t.Error("a second Run did not fail")
	}
}

func TestConfigValidation(t *testing.T) {
	for _, cfg := range []Config{
		{Rate: -1},
		{DeclineShare: 2},
		{MinAmount: 10, MaxAmount: 5},
		{MaxAmount: 1_000_000_000},
		{Currencies: []string{"xyz"}},
		{RunID: "has space"},
	} {
		cfg.Executor = okExecutor
		if _, err := New(cfg, Target{}, nil); err == nil {
			t.Errorf("New(%+v) accepted it", cfg)
		}
	}
	if _, err := New(Config{}, Target{}, nil); err == nil {
		t.Error("New without executor nor merchants accepted it")
	}
	g, err := New(Config{Executor: okExecutor}, Target{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := g.Config()
	if c.Concurrency != DefaultConcurrency || c.MaxInFlight != DefaultMaxInFlight || c.Duration != DefaultDuration ||
		c.Mix.String() != DefaultMix || c.DeclineShare != DefaultDeclineShare || c.RunID == "" {
		t.Errorf("defaults not applied: %+v", c)
	}
	g, _ = New(Config{Executor: okExecutor, NoDeclines: true}, Target{}, nil)
	if g.Config().DeclineShare != 0 {
		t.Error("NoDeclines did not zero the decline share")
	}
}
