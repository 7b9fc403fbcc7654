package regions_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/paycenter/paycenter/regions"
)

// testLogger logs to the test's output, at debug level when -v is given.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelInfo
	if testing.Verbose() {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: level}))
}

// countingHandler passes records on to next and counts, at any level, those whose message
// is msg: a test can wait for something that shows only in the log (a failed query).
type countingHandler struct {
	next slog.Handler
	msg  string
	n    *atomic.Int64
}

// countingLogger returns a test logger and the count of its records saying msg.
func countingLogger(t testing.TB, msg string) (*slog.Logger, *atomic.Int64) {
	n := new(atomic.Int64)
	return slog.New(countingHandler{next: testLogger(t).Handler(), msg: msg, n: n}), n
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	if !h.next.Enabled(ctx, r.Level) {
		return nil
	}
	return h.next.Handle(ctx, r)
}

func (h countingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return countingHandler{next: h.next.WithAttrs(as), msg: h.msg, n: h.n}
}

func (h countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{next: h.next.WithGroup(name), msg: h.msg, n: h.n}
}

// fakeNode is a stand-in payd: an HTTP server whose /readyz answers 200 or 503 at the
// test's word, registered in Consul like a real node.
type fakeNode struct {
	id, region string
	srv        *httptest.Server
	ready      atomic.Bool
	readyzHits atomic.Int64
	reg        *regions.Registrar
}

func newFakeNode(t testing.TB, client *api.Client, service, id, region string) *fakeNode {
	t.Helper()
	n := &fakeNode{id: id, region: region}
	n.ready.Store(true)
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		n.readyzHits.Add(1)
		if !n.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	}))
	t.Cleanup(n.srv.Close)
	var err error
	n.reg, err = regions.NewRegistrar(client, regions.RegistrarConfig{
		Service:        service,
		NodeID:         id,
		Region:         region,
		Addr:           n.srv.Listener.Addr().String(),
		ResyncInterval: 250 * time.Millisecond,
		Logger:         testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (n *fakeNode) addr() string { return n.srv.Listener.Addr().String() }

// register registers the node once.
func (n *fakeNode) register(t testing.TB) {
	t.Helper()
	if err := n.reg.Register(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// keepRegistered starts the registrar's keeper, stopped at the end of the test.
func (n *fakeNode) keepRegistered(t testing.TB) {
	t.Helper()
	if err := n.reg.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.reg.Stop)
}

// startRouter starts a Router for service and stops it at the end of the test.
func startRouter(t testing.TB, client *api.Client, cfg regions.RouterConfig) *regions.Router {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	r, err := regions.NewRouter(client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Stop)
	ctx, cancel := context.WithTimeout(t.Context(), propagateWithin)
	defer cancel()
	if err := r.WaitSynced(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

// Deadlines for eventually and friends. They are generous on purpose: CI runs these tests
// with -race on a busy 2-core machine, and eventually returns as soon as its condition
// holds, so a long deadline costs nothing when things work. What a test measures, it logs.
const (
	// propagateWithin bounds how long a change made through Consul's API (a KV write, a
	// registration, a deregistration) takes to reach a watcher or the catalog.
	propagateWithin = 20 * time.Second
	// detectWithin bounds how long the router may take to see a node's readiness change: the
	// check runs every second, then Consul's blocking query answers at once.
	detectWithin = 30 * time.Second
	// restartWithin bounds how long a restarted agent takes to show the state again: checks
	// run again, registrars register again.
	restartWithin = 60 * time.Second
)

// eventually polls cond every 20ms until it holds and returns how long that took, or fails
// the test after timeout with what cond last said.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() (ok bool, state string)) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v; last: %s", what, timeout, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
