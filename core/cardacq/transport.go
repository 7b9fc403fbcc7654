package cardacq

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptrace"
	"sync"
	"sync/atomic"
)

// attempts records how the HTTP attempts of one call ended, so that a failed call can be
// classified: if every attempt failed to connect, nothing reached the acquirer and the call
// certainly did nothing (core.ErrNotExecuted); otherwise the outcome is unknown. stripe-go
// retries internally, so the error it returns describes only the last attempt; the record
// covers all of them.
type attempts struct {
	mu     sync.Mutex
	total  int
	unsent int // attempts that failed before a connection existed
}

type attemptsKey struct{}

// track returns a context whose HTTP attempts are recorded in the returned log.
func track(ctx context.Context) (context.Context, *attempts) {
	a := &attempts{}
	return context.WithValue(ctx, attemptsKey{}, a), a
}

// record counts one attempt; connected says a connection was obtained during it.
func (a *attempts) record(err error, connected bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.total++
	if err != nil && !connected && unsent(err) {
		a.unsent++
	}
}

// nothingSent reports whether no attempt can have reached the acquirer: none was made, or
// every one failed to connect.
func (a *attempts) nothingSent() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.total == a.unsent
}

// unsent reports whether err, returned by a transport, means the request was not sent: the
// connection could not be established (refused, unreachable, DNS failure, dial timeout or a
// context that ended while dialling). Anything else — a reset, a timeout waiting for the
// answer, a TLS failure after connecting — may come after the request was written.
func unsent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// recordingTransport records each attempt's outcome in the attempts log of the request's
// context, if any. Besides the error it watches, through net/http's client trace, whether a
// connection was obtained: net/http itself replays a request that carries an
// Idempotency-Key on a fresh connection when a reused one breaks, so the request may have
// been written before a final dial error.
type recordingTransport struct {
	inner http.RoundTripper
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	a, ok := req.Context().Value(attemptsKey{}).(*attempts)
	if !ok {
		return t.inner.RoundTrip(req)
	}
	var connected atomic.Bool
	trace := &httptrace.ClientTrace{GotConn: func(httptrace.GotConnInfo) { connected.Store(true) }}
	resp, err := t.inner.RoundTrip(req.WithContext(httptrace.WithClientTrace(req.Context(), trace)))
	a.record(err, connected.Load())
	return resp, err
}
