package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Generator runs load against a target. Make one with New and call Run once.
type Generator struct {
	cfg       Config
	target    Target
	merchants []Merchant
	exec      Executor

	opCtx   context.Context // parent of every operation's context
	abort   context.CancelFunc
	ran     atomic.Bool
	wg      sync.WaitGroup // running operations (open loop) or workers (closed loop)
	results *results
	series  *series
	start   time.Time

	// spawn runs an open-loop operation: go f() (tests run f synchronously, so that a fake
	// clock does not move while it runs).
	spawn func(f func())

	seq          atomic.Int64 // next operation number (closed loop)
	inflight     atomic.Int64
	completed    atomic.Int64 // every operation, warmup included (progress)
	failed       atomic.Int64
	droppedAll   atomic.Int64
	warmupOps    atomic.Int64
	lastComplete atomic.Int64 // ns since start of the last measured completion
	draining     atomic.Bool  // scheduling has stopped
}

// New makes a Generator from cfg (zero fields take their documented defaults). Unless
// cfg.Executor is set, operations go through the merchant SDK to target's endpoints,
// acting as merchants (onboarded with Onboard, or loaded with LoadMerchants).
func New(cfg Config, target Target, merchants []Merchant) (*Generator, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	g := &Generator{cfg: cfg, target: target, merchants: merchants, exec: cfg.Executor}
	if g.exec == nil {
		e, err := newSDKExecutor(cfg, target, merchants)
		if err != nil {
			return nil, fmt.Errorf("loadtest: %w", err)
		}
		g.exec = e
	}
	g.opCtx, g.abort = context.WithCancel(context.Background())
	g.results = newResults(max(4, 2*runtime.GOMAXPROCS(0)))
	g.series = &series{warmup: cfg.Warmup}
	g.spawn = func(f func()) { go f() }
	return g, nil
}

// Config is the generator's configuration, defaults applied.
func (g *Generator) Config() Config { return g.cfg }

// Abort cancels every operation in flight at once (for a second interrupt); Run then
// returns as soon as they have ended, with its report.
func (g *Generator) Abort() { g.abort() }

// Run runs the load and returns its report. Cancelling ctx stops the scheduling of new
// operations; those in flight get Config.Grace to finish before they are cancelled. Run
// may be called once.
func (g *Generator) Run(ctx context.Context) (*Report, error) {
	if !g.ran.CompareAndSwap(false, true) {
		return nil, errors.New("loadtest: Run called twice")
	}
	defer g.abort()
	clock := g.cfg.Clock
	g.start = clock.Now()
	startedAt := time.Now()
	warmupEnd := g.start.Add(g.cfg.Warmup)
	end := warmupEnd.Add(g.cfg.Duration)

	progressDone := make(chan struct{})
	stopProgress := make(chan struct{})
	go g.progress(stopProgress, progressDone)

	schedCtx, stopScheduling := context.WithCancel(ctx)
	defer stopScheduling()
	var schedEnd time.Time
	if g.cfg.OpenLoop() {
		schedEnd = g.openLoop(schedCtx, warmupEnd, end)
	} else {
		g.closedLoop(schedCtx, warmupEnd, end)
		schedEnd = clock.Now()
	}
	stopScheduling()
	g.draining.Store(true)

	// Let what is in flight finish, for Grace at most.
	done := make(chan struct{})
	go func() { g.wg.Wait(); close(done) }()
	grace := time.NewTimer(g.cfg.Grace)
	select {
	case <-done:
	case <-grace.C:
		g.abort()
		<-done
	}
	grace.Stop()
	close(stopProgress)
	<-progressDone

	var histErr error
	if g.cfg.History != nil {
		histErr = g.cfg.History.Flush()
	}
	rep := g.report(startedAt, warmupEnd, schedEnd, ctx.Err() != nil)
	return rep, histErr
}

// plan draws operation seq's type from its own random source.
func (g *Generator) plan(seq int64, intended, warmupEnd time.Time) *Operation {
	r := rand.New(rand.NewPCG(g.cfg.Seed, uint64(seq)))
	return &Operation{Seq: seq, Type: g.cfg.Mix.Pick(r), Intended: intended, Warmup: intended.Before(warmupEnd), Rand: r}
}

// openLoop schedules operation i at start + i/Rate until end, the Ops limit or ctx. It
// returns the end of the schedule it covered: the slot of the first operation it did not
// schedule (at most end), or the time ctx stopped it.
func (g *Generator) openLoop(ctx context.Context, warmupEnd, end time.Time) time.Time {
	slots := make(chan struct{}, g.cfg.MaxInFlight)
	for i := int64(0); ; i++ {
		intended := g.start.Add(time.Duration(float64(i) * float64(time.Second) / g.cfg.Rate))
		if !intended.Before(end) {
			return end
		}
		if g.cfg.Ops > 0 && i >= g.cfg.Ops {
			return intended
		}
		if g.cfg.Clock.SleepUntil(ctx, intended) != nil {
			return g.cfg.Clock.Now()
		}
		op := g.plan(i, intended, warmupEnd)
		off := intended.Sub(g.start)
		g.series.started(off)
		select {
		case slots <- struct{}{}:
			g.wg.Add(1)
			g.inflight.Add(1)
			g.spawn(func() {
				defer g.wg.Done()
				defer func() { <-slots }()
				g.execute(op, g.cfg.Clock.Now())
			})
		default:
			g.series.dropped(off)
			g.droppedAll.Add(1)
			if !op.Warmup {
				g.results.drop(op.Seq, op.Type)
			}
		}
	}
}

// closedLoop runs Concurrency workers, each starting its next operation when its last one
// ends, until end, the Ops limit or ctx; it returns when they stop starting operations.
func (g *Generator) closedLoop(ctx context.Context, warmupEnd, end time.Time) {
	stopped := make(chan struct{}) // closed when every worker is out of work
	var workers sync.WaitGroup
	for range g.cfg.Concurrency {
		workers.Add(1)
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			defer workers.Done()
			for ctx.Err() == nil {
				now := g.cfg.Clock.Now()
				if !now.Before(end) {
					return
				}
				seq := g.seq.Add(1) - 1
				if g.cfg.Ops > 0 && seq >= g.cfg.Ops {
					return
				}
				op := g.plan(seq, now, warmupEnd)
				g.series.started(now.Sub(g.start))
				g.inflight.Add(1)
				g.execute(op, now)
			}
		}()
	}
	go func() { workers.Wait(); close(stopped) }()
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-stopped:
			cancel()
		case <-waitCtx.Done():
		}
	}()
	_ = g.cfg.Clock.SleepUntil(waitCtx, end)
	// Scheduling stops here: the workers see end or ctx before their next operation.
}

// execute performs one operation, started at invoke, and records it.
func (g *Generator) execute(op *Operation, invoke time.Time) {
	defer g.inflight.Add(-1)
	clock := g.cfg.Clock
	rec := &HistoryRecord{Seq: op.Seq, Op: op.Type, Warmup: op.Warmup, ScheduledNS: op.Intended.UnixNano(), InvokeNS: invoke.UnixNano()}
	ctx, cancel := context.WithTimeout(g.opCtx, g.cfg.OpTimeout)
	g.exec.Execute(ctx, op, rec)
	complete := clock.Now()
	cancel()
	rec.CompleteNS = complete.UnixNano()
	if rec.Outcome == "" {
		rec.Outcome, rec.ErrorCode = OutcomeUnknown, CodeUnknownOutcome
	}
	corrected, service := complete.Sub(op.Intended), complete.Sub(invoke)
	off := complete.Sub(g.start)
	g.series.completed(off, rec, corrected, service)
	g.completed.Add(1)
	if rec.isError() {
		g.failed.Add(1)
	}
	if op.Warmup {
		g.warmupOps.Add(1)
	} else {
		g.results.complete(rec, corrected, service)
		for {
			last := g.lastComplete.Load()
			if int64(off) <= last || g.lastComplete.CompareAndSwap(last, int64(off)) {
				break
			}
		}
	}
	if g.cfg.History != nil {
		if err := g.cfg.History.Write(rec); err != nil {
			g.cfg.Logger.Error("loadtest: writing the history", "err", err)
		}
	}
}

// progress writes a line per second to Config.Progress (if set) and seals the series'
// old seconds, until stop is closed.
func (g *Generator) progress(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		elapsed := g.cfg.Clock.Now().Sub(g.start)
		cur := int(elapsed / time.Second)
		g.series.seal(cur - 2)
		if g.cfg.Progress == nil {
			continue
		}
		n, errs, p50, p99 := g.series.live(cur - 1)
		phase := ""
		switch {
		case g.draining.Load():
			phase = " (stopped; waiting for those in flight)"
		case elapsed < g.cfg.Warmup:
			phase = " (warmup)"
		}
		fmt.Fprintf(g.cfg.Progress, "loadtest: %4ds%s ops=%d rate=%d/s errors=%d (last s: %d) dropped=%d inflight=%d p50=%.1fms p99=%.1fms\n",
			int(elapsed.Seconds()), phase, g.completed.Load(), n, g.failed.Load(), errs, g.droppedAll.Load(), g.inflight.Load(), p50, p99)
	}
}
