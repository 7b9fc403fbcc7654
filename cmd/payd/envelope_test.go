package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/httpapi"
)

// TestPathsAreNeverRedirected: a path with empty, "." or ".." segments is a JSON 404 with a
// request ID, not net/http's 307 in HTML.
func TestPathsAreNeverRedirected(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, path := range []string{"//v1/payments", "/v1/payments/../balance", "/v1/./balance", "/v1/balance/", "/v1//balance"} {
		t.Run(path, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 404 || res.Header.Get("Location") != "" || res.Header.Get("Content-Type") != "application/json" || res.Header.Get("Request-Id") == "" {
				t.Fatalf("%s: %d %v", path, res.StatusCode, res.Header)
			}
		})
	}
}

// TestSlowBodyIsCutOff: a body trickled below the minimum rate loses its connection soon after
// the grace period, instead of holding it for as long as the client likes.
func TestSlowBodyIsCutOff(t *testing.T) {
	e := newEnvWith(t, envOptions{api: func(c *httpapi.Config) {
		c.BodyTimeouts = httpapi.BodyTimeouts{Grace: 300 * time.Millisecond, MinRate: 1024, Max: 10 * time.Second}
	}})
	_, key := e.merchant("Acme")
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	fmt.Fprintf(conn, "POST /v1/payments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nIdempotency-Key: %s\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n{", key, newKey())
	answered := make(chan string, 1)
	go func() {
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			answered <- "closed: " + err.Error()
			return
		}
		res.Body.Close()
		answered <- res.Status
	}()
	tick := time.NewTicker(100 * time.Millisecond) // the client's trickle: 20 bytes a second
	defer tick.Stop()
	deadline := time.After(8 * time.Second)
	for {
		select {
		case got := <-answered:
			t.Logf("after %v: %s", time.Since(start).Round(time.Millisecond), got)
			if n := e.count("payments"); n != 0 {
				t.Fatalf("a cut-off body made %d payments", n)
			}
			return
		case <-tick.C:
			_, _ = conn.Write([]byte(`"a":1,`[:2]))
		case <-deadline:
			t.Fatal("a body trickled at 20 bytes a second still held its connection after 8s")
		}
	}
}

// TestErrorsNameTheirRequest: errors made before any route (unclean paths, unknown routes,
// wrong methods) have the one shape and a request ID.
func TestErrorsNameTheirRequest(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ method, path string }{{"GET", "/nope"}, {"DELETE", "/v1/payments"}, {"GET", "//v1/payments"}} {
		r := e.send(tc.method, tc.path, http.Header{}, "")
		code := core.CodeNotFound
		if tc.method == "DELETE" {
			code = core.CodeMethodNotAllowed
		}
		requireError(t, r, map[string]int{core.CodeNotFound: 404, core.CodeMethodNotAllowed: 405}[code], code, "")
	}
}

// TestUnsetChannelHasNoUpdateTime: a channel authorisation no operator set has no updated_at
// (it showed 0001-01-01T00:00:00Z); one that was set has its time.
func TestUnsetChannelHasNoUpdateTime(t *testing.T) {
	e := newEnv(t)
	id, _ := e.merchant("Acme")
	e.expect(e.call("POST", "/v1/admin/merchants/"+id+"/channels/alipay", testAdminToken, "", map[string]any{"enabled": false}), 200)
	r := e.expect(e.call("GET", "/v1/admin/merchants/"+id+"/channels", testAdminToken, "", nil), 200)
	data, _ := r.get("data").([]any)
	if len(data) == 0 {
		t.Fatalf("no channels: %s", r.Body)
	}
	for _, d := range data {
		a := d.(map[string]any)
		_, has := a["updated_at"]
		if has != (a["channel"] == "alipay") {
			t.Errorf("channel %v: updated_at %v", a["channel"], a["updated_at"])
		}
	}
}

// TestFailedAuthenticationsLimitedPerSource: after a burst of failures an address is answered
// 429 with Retry-After, even with a good key, until its allowance refills; another address
// (named by a trusted proxy's X-Forwarded-For) is not affected.
func TestFailedAuthenticationsLimitedPerSource(t *testing.T) {
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	e := newEnvWith(t, envOptions{api: func(c *httpapi.Config) {
		c.AuthFailures = httpapi.AuthFailureLimit{PerMinute: 60, Burst: 3, TrustedProxies: loopback}
	}})
	_, key := e.merchant("Acme")
	from := func(addr, key string) *resp {
		h := jsonHeader(key, "")
		h.Set("X-Forwarded-For", addr+":5555")
		return e.send("GET", "/v1/balance", h, "")
	}
	for i := 0; i < 3; i++ {
		requireError(t, from("203.0.113.7", "sk_guess"), 401, core.CodeUnauthenticated, "")
	}
	r := from("203.0.113.7", key)
	requireError(t, r, 429, core.CodeRateLimited, "")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	requireError(t, from("203.0.113.8", "sk_guess"), 401, core.CodeUnauthenticated, "")
	e.expect(from("203.0.113.8", key), 200)
	e.clock.Advance(1100 * time.Millisecond) // one failure's worth at 60 a minute
	e.expect(from("203.0.113.7", key), 200)
	// The admin token is guarded the same way.
	for i := 0; i < 3; i++ {
		h := jsonHeader("not-the-admin-token", "")
		h.Set("X-Forwarded-For", "198.51.100.1")
		e.send("GET", "/v1/admin/ledger/check", h, "")
	}
	h := jsonHeader(testAdminToken, "")
	h.Set("X-Forwarded-For", "198.51.100.1")
	requireError(t, e.send("GET", "/v1/admin/ledger/check", h, ""), 429, core.CodeRateLimited, "")
}
