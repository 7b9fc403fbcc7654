package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paycenter/paycenter/regions"
)

// picker hands out its instances in turn.
type picker struct {
	mu    sync.Mutex
	insts []regions.Instance
	n     int
}

func (p *picker) Pick(string) (regions.Instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i := p.insts[p.n%len(p.insts)]
	p.n++
	return i, nil
}

func instance(t *testing.T, id, addr string) regions.Instance {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return regions.Instance{ID: id, Region: "us-east", Address: host, Port: p}
}

func post(t *testing.T, edge *Edge) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("POST", "/v1/payments", strings.NewReader(`{"amount":1000}`))
	req.Header.Set("Idempotency-Key", "k1")
	rec := httptest.NewRecorder()
	edge.ServeHTTP(rec, req)
	return rec
}

// A node that dies after reading a POST (the connection closed before any answer) may have
// executed it: the endpoint answers 503 and does not offer the POST to another node. A
// refused connection proves the node never saw it: the endpoint tries the next node.
func TestEdgeRetriesOnlyWhatNeverArrived(t *testing.T) {
	var live atomic.Int32
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		live.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(200)
	}))
	defer good.Close()
	dying := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = c.Close() // the node died mid-request
		}
	}))
	defer dying.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusing := ln.Addr().String()
	_ = ln.Close() // nothing listens there: connections are refused

	t.Run("died mid-request", func(t *testing.T) {
		p := &picker{insts: []regions.Instance{instance(t, "dying", dying.Listener.Addr().String()), instance(t, "good", good.Listener.Addr().String())}}
		edge, err := NewEdge(p, Config{Region: "us-east"})
		if err != nil {
			t.Fatal(err)
		}
		before := live.Load()
		rec := post(t, edge)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "1" {
			t.Fatalf("status %d (Retry-After %q), want 503 with Retry-After 1", rec.Code, rec.Header().Get("Retry-After"))
		}
		if live.Load() != before {
			t.Fatal("the endpoint re-sent a POST the dead node may have executed")
		}
	})
	t.Run("refused", func(t *testing.T) {
		p := &picker{insts: []regions.Instance{instance(t, "gone", refusing), instance(t, "good", good.Listener.Addr().String())}}
		edge, err := NewEdge(p, Config{Region: "us-east"})
		if err != nil {
			t.Fatal(err)
		}
		before := live.Load()
		if rec := post(t, edge); rec.Code != 200 || live.Load() != before+1 {
			t.Fatalf("status %d, live node saw %d requests; want the POST forwarded to the next node once", rec.Code, live.Load()-before)
		}
	})
}
