package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/httpapi"
	"github.com/paycenter/paycenter/regions"
)

// Picker chooses a healthy node, nearest region first (regions.Router).
type Picker interface {
	Pick(from string) (regions.Instance, error)
}

// Config configures an Edge.
type Config struct {
	// Region is the endpoint's region. Required.
	Region string
	// WAN maps a node's address to the link that carries cross-region traffic to it.
	WAN map[string]string
	// MaxBody bounds request bodies (they are buffered to be re-sent). Default 1 MiB.
	MaxBody int64
	// Attempts is how many nodes a request may be offered to when connections are refused.
	// Default 3.
	Attempts int
	// Timeout bounds one forwarded request. Default 60s.
	Timeout time.Duration
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Edge is the regional endpoint's handler.
type Edge struct {
	cfg       Config
	picker    Picker
	transport http.RoundTripper
}

// NewEdge makes an edge that forwards through picker.
func NewEdge(picker Picker, cfg Config) (*Edge, error) {
	if !core.RegionNameRE.MatchString(cfg.Region) {
		return nil, fmt.Errorf("payedge: region %q", cfg.Region)
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.Attempts == 0 {
		cfg.Attempts = 3
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 60 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 64
	t.DialContext = (&net.Dialer{Timeout: 2 * time.Second}).DialContext
	return &Edge{cfg: cfg, picker: picker, transport: t}, nil
}

// ServeHTTP forwards the request.
//
// The endpoint retries on another node only failures that prove the node never saw the
// request: a refused connection, or any failure to dial (a SIGKILLed node's port, a node
// that is gone). Every other failure (a connection reset or EOF before the answer, a
// timeout) may come after the node executed the request, so the endpoint must not send a
// POST again on its own: it answers 503 service_unavailable with Retry-After 1 and nothing
// else, and the client retries with the same Idempotency-Key, which lands on a live node
// and either replays the stored answer or takes the dead node's key over (the server's
// liveness rule) and finishes the payment from its recovery point. The forwarding
// transport does not retry by itself either: the forwarded body has no GetBody, so
// net/http's automatic retry of idempotent requests on a reused connection never applies.
// The answer of a node is passed on as it is, 503s and 409s included.
func (e *Edge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
		return
	}
	if !httpapi.CleanPath(r.URL.Path) {
		e.fail(w, core.Errorf(core.CodeNotFound, "Unrecognized request URL: paths have no empty, '.' or '..' segments."))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, e.cfg.MaxBody+1))
	switch {
	case err != nil:
		e.fail(w, core.Errorf(core.CodeInvalidJSON, "The request body could not be read: it was cut off or arrived too slowly."))
		return
	case int64(len(body)) > e.cfg.MaxBody:
		e.fail(w, core.Errorf(core.CodeBodyTooLarge, "The request body exceeds %d bytes.", e.cfg.MaxBody))
		return
	}
	for attempt := 1; ; attempt++ {
		inst, err := e.picker.Pick(e.cfg.Region)
		if err != nil {
			e.fail(w, unavailable("No payment node is healthy in any region; retry shortly."))
			return
		}
		addr := inst.Addr()
		if inst.Region != e.cfg.Region && e.cfg.WAN[addr] != "" {
			addr = e.cfg.WAN[addr]
		}
		out := r.Clone(r.Context())
		out.RequestURI = ""
		out.URL.Scheme, out.URL.Host = "http", addr
		out.Host = r.Host
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		out.Header.Set("X-Forwarded-For", r.RemoteAddr)
		out.Header.Set("Payd-Edge-Region", e.cfg.Region)
		res, err := e.transport.RoundTrip(out)
		if err != nil {
			if refused(err) && attempt < e.cfg.Attempts {
				e.cfg.Logger.Warn("node refused the connection; trying another", "node", inst.ID, "region", inst.Region)
				continue
			}
			e.cfg.Logger.Warn("forwarding failed", "node", inst.ID, "err", err)
			e.fail(w, unavailable("The payment node did not answer; retry with the same Idempotency-Key."))
			return
		}
		defer res.Body.Close()
		for k, vs := range res.Header {
			w.Header()[k] = vs
		}
		w.Header().Set("Payd-Edge-Region", e.cfg.Region)
		w.WriteHeader(res.StatusCode)
		_, _ = io.Copy(w, res.Body)
		return
	}
}

func refused(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || (errors.As(err, &op) && op.Op == "dial")
}

// fail answers a request the edge cannot forward, in the one error shape of the API (core/
// httpapi renders it, from the same table as the nodes) and with a request ID of its own, so
// that a merchant can quote it like any other.
func (e *Edge) fail(w http.ResponseWriter, err *core.Error) {
	id := core.NewRandomID(core.PrefixRequest)
	w.Header().Set("Payd-Edge-Region", e.cfg.Region)
	if err.Code != core.CodeUnavailable {
		e.cfg.Logger.Info("request refused at the edge", "request_id", id, "code", err.Code)
	}
	httpapi.WriteError(w, id, err)
}

func unavailable(msg string) *core.Error {
	err := core.Errorf(core.CodeUnavailable, "%s", msg)
	err.RetryAfter = 1
	return err
}
