package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	waitfor "github.com/paycenter/paycenter/internal/eventually"
)

type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) read() (string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String(), l.writes
}

// INFO lines are written together, soon; a WARN line is written at once with those before it.
func TestServeLoggerCoalescesInfoAndFlushesWarnings(t *testing.T) {
	out := &lockedBuffer{}
	log, flush := newServeLogger(out, "json", "info")
	const lines = 200
	for i := range lines {
		log.Info("request", "n", i)
	}
	waitfor.True(t, 30*time.Second, "the INFO lines written", func() bool {
		s, _ := out.read()
		return strings.Count(s, `"msg":"request"`) == lines
	})
	// Only a stall of 50 ms between most of the 200 calls could make this many writes.
	if _, writes := out.read(); writes > lines/2 {
		t.Fatalf("%d writes for %d lines: not coalesced", writes, lines)
	}
	log.Info("before")
	log.Warn("channel call failed")
	// No wait: the warning's Handle returned after writing it and the line before it.
	if s, _ := out.read(); !strings.Contains(s, `"msg":"before"`) || !strings.Contains(s, `"msg":"channel call failed"`) {
		t.Fatalf("after a WARN line, written: %s", s)
	}
	log.Info("last")
	if err := flush(); err != nil {
		t.Fatal(err)
	}
	if s, _ := out.read(); !strings.Contains(s, `"msg":"last"`) {
		t.Fatal("flush did not write the waiting line")
	}
}
