// Package eventually waits, in tests, for what happens in the background: a notification
// delivered and acknowledged, a breaker gone half-open, a delivery job finished. It polls a
// condition until it holds or a deadline passes, so that a test neither sleeps for a fixed
// time (too short on a busy machine, wasted on an idle one) nor checks a count at one instant
// (before the background work is done).
//
// A deadline is not a timing assertion: it only bounds how long a failing test hangs. Pass
// Patience unless the test is about how soon something happens.
package eventually

import (
	"testing"
	"time"
)

// Patience is the deadline to use unless a test has a reason for another: far longer than
// anything here takes on a loaded machine running -race beside busy CPUs (where a step that
// takes milliseconds idle has been seen to take several seconds), and waited in full only by
// a test that is failing anyway.
const Patience = 30 * time.Second

// maxInterval caps the pause between two polls.
const maxInterval = 20 * time.Millisecond

// True polls cond until it returns true. When limit passes first, it fails t, saying that
// it was waiting for what.
func True(t testing.TB, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	if !poll(limit, cond) {
		t.Fatalf("timed out after %s waiting for %s", limit, what)
	}
}

// Value polls get until it reports ok, and returns the value it got then. When limit passes
// first, it fails t, saying that it was waiting for what and quoting the last value got.
func Value[T any](t testing.TB, limit time.Duration, what string, get func() (T, bool)) T {
	t.Helper()
	var last T
	if !poll(limit, func() bool {
		v, ok := get()
		last = v
		return ok
	}) {
		t.Fatalf("timed out after %s waiting for %s; last seen: %+v", limit, what, last)
	}
	return last
}

// poll calls cond, with short, growing pauses, until it returns true (poll reports true) or
// limit has passed (false). cond is always called at least once, and once more after the
// deadline, so a condition met during the last pause is not missed.
func poll(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	pause := time.Millisecond
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, maxInterval)
	}
}
