package loadtest

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"
)

// fakeClock is a Clock whose SleepUntil jumps to the time asked for at once. stallAt makes
// the sleep until that instant overshoot by stall, as a generator paused by the machine
// would.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	stallAt time.Time
	stall   time.Duration
	sleeps  int
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) SleepUntil(ctx context.Context, t time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sleeps++
	if t.After(f.now) {
		f.now = t
	}
	if !f.stallAt.IsZero() && t.Equal(f.stallAt) {
		f.now = t.Add(f.stall)
	}
	return ctx.Err()
}

// funcExecutor is an Executor made of a function.
type funcExecutor func(ctx context.Context, op *Operation, rec *HistoryRecord)

func (f funcExecutor) Execute(ctx context.Context, op *Operation, rec *HistoryRecord) {
	f(ctx, op, rec)
}

// okExecutor answers every operation ok at once.
var okExecutor = funcExecutor(func(_ context.Context, op *Operation, rec *HistoryRecord) {
	rec.Outcome = OutcomeOK
	rec.MerchantID = "mer_test"
})

// runGenerator runs a generator with cfg (Executor required) and returns its report and
// history. With a fakeClock whose executor does not block, open-loop operations run
// synchronously, so the clock stands still while each runs.
func runGenerator(t *testing.T, ctx context.Context, cfg Config) (*Report, []HistoryRecord) {
	t.Helper()
	return runGeneratorWith(t, ctx, cfg, false)
}

func runGeneratorWith(t *testing.T, ctx context.Context, cfg Config, async bool) (*Report, []HistoryRecord) {
	t.Helper()
	var hist bytes.Buffer
	cfg.History = NewHistoryWriter(&hist)
	g, err := New(cfg, Target{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, fake := cfg.Clock.(*fakeClock); fake && !async {
		g.spawn = func(f func()) { f() }
	}
	rep, err := g.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ReadHistory(&hist)
	if err != nil {
		t.Fatal(err)
	}
	return rep, recs
}
