package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core/httpapi"
	"github.com/paycenter/paycenter/regions"
)

// onePicker always picks the same node, or fails.
type onePicker struct {
	inst regions.Instance
	err  error
}

func (p onePicker) Pick(string) (regions.Instance, error) { return p.inst, p.err }

func instanceOf(t *testing.T, url string) regions.Instance {
	t.Helper()
	host, port, err := net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(port)
	return regions.Instance{ID: "node-1", Region: "us-east", Address: host, Port: n}
}

// edgeServer serves an edge in front of node (or of a picker that fails, if node is nil), with
// the timeouts payedge runs with, but a short grace.
func edgeServer(t *testing.T, node http.Handler, maxBody int64) *httptest.Server {
	t.Helper()
	p := onePicker{err: errors.New("no healthy node")}
	if node != nil {
		ns := httptest.NewServer(node)
		t.Cleanup(ns.Close)
		p = onePicker{inst: instanceOf(t, ns.URL)}
	}
	edge, err := NewEdge(p, Config{Region: "us-east", MaxBody: maxBody, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(httpapi.LimitBodyTime(edge, httpapi.BodyTimeouts{Grace: 300 * time.Millisecond, MinRate: 1024}))
	srv.Config.ReadHeaderTimeout = 2 * time.Second
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// requireAPIError checks the answer is the API's one error shape, with the status and type of
// the one table, and a request ID in body and header.
func requireAPIError(t *testing.T, res *http.Response, status int, typ, code string) {
	t.Helper()
	defer res.Body.Close()
	var body struct {
		Error struct {
			Type, Code, Message string
			RequestID           string `json:"request_id"`
		}
	}
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("%d %q: not JSON: %v", res.StatusCode, b, err)
	}
	e := body.Error
	if res.StatusCode != status || e.Type != typ || e.Code != code || e.Message == "" {
		t.Fatalf("got %d %s, want %d %s %s", res.StatusCode, b, status, typ, code)
	}
	if e.RequestID == "" || res.Header.Get("Request-Id") != e.RequestID || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("request ID %q, header %q, Content-Type %q", e.RequestID, res.Header.Get("Request-Id"), res.Header.Get("Content-Type"))
	}
}

func TestEdgeErrorsKeepTheContract(t *testing.T) {
	node := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/die" { // the node dies mid-request
			conn, _, _ := http.NewResponseController(w).Hijack()
			conn.Close()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	})
	srv := edgeServer(t, node, 1<<10)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	t.Run("body too large", func(t *testing.T) {
		res, err := http.Post(srv.URL+"/v1/payments", "application/json", strings.NewReader(`{"d":"`+strings.Repeat("x", 2<<10)+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		requireAPIError(t, res, 400, "invalid_request_error", "body_too_large")
	})
	t.Run("node dies", func(t *testing.T) {
		res, err := http.Get(srv.URL + "/die")
		if err != nil {
			t.Fatal(err)
		}
		if res.Header.Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
		requireAPIError(t, res, 503, "api_error", "service_unavailable")
	})
	t.Run("no node", func(t *testing.T) {
		res, err := http.Get(edgeServer(t, nil, 0).URL + "/v1/balance")
		if err != nil {
			t.Fatal(err)
		}
		requireAPIError(t, res, 503, "api_error", "service_unavailable")
	})
	for _, path := range []string{"//v1/payments", "/v1/payments/../balance", "/v1/./balance"} {
		t.Run("unclean path "+path, func(t *testing.T) {
			res, err := noRedirect.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			requireAPIError(t, res, 404, "invalid_request_error", "resource_missing")
		})
	}
	t.Run("slow body", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprint(conn, "POST /v1/payments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
		answered := make(chan *http.Response, 1)
		go func() {
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				close(answered)
				return
			}
			answered <- res
		}()
		tick := time.NewTicker(100 * time.Millisecond) // the client's trickle: 10 bytes a second
		defer tick.Stop()
		deadline := time.After(8 * time.Second)
		for {
			select {
			case res, ok := <-answered:
				if ok {
					requireAPIError(t, res, 400, "invalid_request_error", "invalid_json")
				}
				return
			case <-tick.C:
				_, _ = conn.Write([]byte(" "))
			case <-deadline:
				t.Fatal("a body trickled at 10 bytes a second still held its connection after 8s")
			}
		}
	})
}
