package main

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

// logFlushAfter is how long a log line may wait in the node's buffer before it is written:
// one write system call carries the lines of many requests instead of one per request.
// Lines at WARN and above are written at once, with whatever waits before them.
const (
	logFlushAfter = 50 * time.Millisecond
	logBufferMax  = 64 << 10
)

// coalescingWriter buffers whole log records and writes them together, at most
// logFlushAfter after the first one waiting, at logBufferMax bytes, or at Flush. A node
// killed outright loses at most that much of its INFO lines.
type coalescingWriter struct {
	mu      sync.Mutex
	w       io.Writer
	buf     []byte
	pending bool
}

func newCoalescingWriter(w io.Writer) *coalescingWriter { return &coalescingWriter{w: w} }

// Write takes one record (slog's handlers write each record with one call).
func (c *coalescingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(c.buf, p...)
	if len(c.buf) >= logBufferMax {
		return len(p), c.flushLocked()
	}
	if !c.pending {
		c.pending = true
		time.AfterFunc(logFlushAfter, func() { _ = c.Flush() })
	}
	return len(p), nil
}

// Flush writes what waits.
func (c *coalescingWriter) Flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

func (c *coalescingWriter) flushLocked() error {
	c.pending = false
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.w.Write(c.buf)
	if cap(c.buf) > 4*logBufferMax {
		c.buf = nil // after a burst of large records, give the memory back
	} else {
		c.buf = c.buf[:0]
	}
	return err
}

// flushingHandler writes records at WARN and above (and all before them) at once.
type flushingHandler struct {
	slog.Handler
	w *coalescingWriter
}

func (h flushingHandler) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		if ferr := h.w.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (h flushingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return flushingHandler{Handler: h.Handler.WithAttrs(attrs), w: h.w}
}

func (h flushingHandler) WithGroup(name string) slog.Handler {
	return flushingHandler{Handler: h.Handler.WithGroup(name), w: h.w}
}
