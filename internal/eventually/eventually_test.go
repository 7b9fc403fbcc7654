package eventually

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a testing.TB that records a failure instead of ending the test.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestTrueWaitsForTheCondition(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	go func() {
		for range 3 {
			n.Add(1)
		}
	}()
	r := &recorder{TB: t}
	True(r, Patience, "three increments", func() bool { return n.Load() == 3 })
	if r.failed != "" || n.Load() != 3 {
		t.Fatalf("failed %q with n = %d", r.failed, n.Load())
	}
}

func TestValueReturnsTheValueThatSatisfied(t *testing.T) {
	t.Parallel()
	calls := 0
	r := &recorder{TB: t}
	got := Value(r, Patience, "the fifth call", func() (int, bool) {
		calls++
		return calls, calls == 5
	})
	if r.failed != "" || got != 5 {
		t.Fatalf("got %d, failed %q", got, r.failed)
	}
}

func TestTimeoutFailsQuotingTheLastValue(t *testing.T) {
	t.Parallel()
	r := &recorder{TB: t}
	start := time.Now()
	calls := 0
	Value(r, 30*time.Millisecond, "a value that never comes", func() (string, bool) {
		calls++
		return fmt.Sprintf("call %d", calls), false
	})
	if time.Since(start) < 30*time.Millisecond {
		t.Fatalf("gave up before the deadline")
	}
	if want := fmt.Sprintf("waiting for a value that never comes; last seen: call %d", calls); !strings.Contains(r.failed, want) {
		t.Fatalf("failure %q, want it to contain %q", r.failed, want)
	}
	r = &recorder{TB: t}
	True(r, 0, "false", func() bool { return false })
	if !strings.Contains(r.failed, "waiting for false") {
		t.Fatalf("failure %q", r.failed)
	}
}
