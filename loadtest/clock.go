package loadtest

import (
	"context"
	"time"
)

// Clock is the generator's source of time. The open-loop scheduler sleeps on it until each
// operation's intended start, and every latency is a difference of its readings. Tests
// inject a fake one; RealClock is the default.
type Clock interface {
	// Now is the current time.
	Now() time.Time
	// SleepUntil returns at t (at once if t is not in the future), or with ctx's error when
	// ctx is done first.
	SleepUntil(ctx context.Context, t time.Time) error
}

// RealClock returns the system clock.
func RealClock() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
