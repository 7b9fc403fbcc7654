package cardacq_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/cardacq"
	"github.com/paycenter/paycenter/core/cardacq/stripemocktest"
	"github.com/paycenter/paycenter/core/gatewaytest"
)

// recordingProxy sits between the Acquirer and stripe-mock and records every exchange.
type recordingProxy struct {
	URL string
	mu  sync.Mutex
	ex  []exchange
}

type exchange struct {
	Method, Path, Key string
	Form              url.Values
	Status            int
	Body              string
}

func newRecordingProxy(t *testing.T, target string) *recordingProxy {
	p := &recordingProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		out, err := http.NewRequestWithContext(r.Context(), r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		form, _ := url.ParseQuery(string(body))
		if r.Method == http.MethodGet {
			form = r.URL.Query()
		}
		p.mu.Lock()
		p.ex = append(p.ex, exchange{Method: r.Method, Path: r.URL.Path, Key: r.Header.Get("Idempotency-Key"), Form: form,
			Status: resp.StatusCode, Body: string(answer)})
		p.mu.Unlock()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(answer)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func (p *recordingProxy) exchanges() []exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]exchange(nil), p.ex...)
}

func stripeMockAcquirer(t *testing.T, url string, mod ...func(*cardacq.Config)) *cardacq.Acquirer {
	t.Helper()
	cfg := cardacq.Config{APIKey: stripemocktest.APIKey, BackendURL: url, MaxNetworkRetries: -1, RequestTimeout: 10 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	a, err := cardacq.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// stripeMockHarness is what the Acquirer can show against stripe-mock: every request shape is
// accepted by Stripe's OpenAPI specification and every fixture answer maps, but stripe-mock
// is stateless (no key replay, no test-card declines, no refund limits, no state checks).
func stripeMockHarness(url string) gatewaytest.Harness {
	return gatewaytest.Harness{
		New: func(t *testing.T) core.Gateway {
			return stripeMockAcquirer(t, url)
		},
		Channels:              []core.Channel{core.ChannelCard, core.ChannelDebitCard},
		Stateful:              false,
		HonoursTestCards:      false,
		SupportsManualCapture: true,
		Queries:               true,
	}
}

// TestConformanceStripeMock runs the gateway conformance suite against stripe-mock through a
// recording proxy, then checks every exchange: stripe-mock accepted every request (a 4xx
// would mean a request Stripe's API does not accept) and every money-moving request carried
// its channel key as Idempotency-Key.
func TestConformanceStripeMock(t *testing.T) {
	sm := stripemocktest.Start(t)
	proxy := newRecordingProxy(t, sm.URL)
	gatewaytest.Run(t, stripeMockHarness(proxy.URL))

	ex := proxy.exchanges()
	seen := map[string]int{}
	for _, e := range ex {
		if e.Status >= 300 {
			t.Errorf("stripe-mock refused %s %s (%v): %d %s", e.Method, e.Path, e.Form, e.Status, e.Body)
		}
		if e.Method != http.MethodPost {
			seen[e.Method+" "+pathKind(e.Path)]++
			continue
		}
		kind := pathKind(e.Path)
		seen[kind]++
		want := map[string]string{"payment_methods": ":payment_method", "payment_intents": ":authorize",
			"capture": ":capture", "cancel": ":void", "refunds": ":refund"}[kind]
		if want == "" || !strings.HasSuffix(e.Key, want) {
			t.Errorf("POST %s: Idempotency-Key %q, want a channel key ending in %q", e.Path, e.Key, want)
		}
		if kind == "payment_intents" && e.Form.Get("metadata[channel_key]") != e.Key {
			t.Errorf("POST %s: Idempotency-Key %q is not the channel key %q", e.Path, e.Key, e.Form.Get("metadata[channel_key]"))
		}
	}
	for _, kind := range []string{"payment_methods", "payment_intents", "capture", "cancel", "refunds", "GET payment_intents"} {
		if seen[kind] == 0 {
			t.Errorf("the suite sent no %s request: %v", kind, seen)
		}
	}
}

// pathKind names the endpoint of a /v1 path.
func pathKind(p string) string {
	parts := strings.Split(strings.Trim(p, "/"), "/")
	switch {
	case len(parts) >= 4 && parts[1] == "payment_intents":
		return parts[3] // capture, cancel
	case len(parts) >= 2:
		return parts[1]
	}
	return p
}

// TestStripeMockFixtures pins what the Acquirer makes of stripe-mock v0.203.0's fixtures, so
// that a change of version that changes them is noticed.
func TestStripeMockFixtures(t *testing.T) {
	sm := stripemocktest.Start(t)
	a := stripeMockAcquirer(t, sm.URL)
	ctx := context.Background()

	// The PaymentIntent fixture is requires_payment_method with a last_payment_error and no
	// codes: a decline with processing_error.
	res, err := a.Authorize(ctx, cardReq("pay_fixture", false))
	if err != nil || res.Outcome != core.OutcomeDeclined || res.DeclineCode != core.CodeProcessingError || !strings.HasPrefix(res.Reference, "pi_") {
		t.Fatalf("Authorize: %+v, %v", res, err)
	}
	c, err := a.Capture(ctx, core.CaptureRequest{Key: "pay_fixture:capture", PaymentID: "pay_fixture", Channel: core.ChannelCard, Reference: res.Reference, Amount: 600})
	if err != nil || !c.OK || c.Amount != 600 || c.Reference != res.Reference {
		t.Fatalf("Capture: %+v, %v", c, err)
	}
	v, err := a.Void(ctx, core.VoidRequest{Key: "pay_fixture:void", PaymentID: "pay_fixture", Channel: core.ChannelCard, Reference: res.Reference})
	if err != nil || !v.OK {
		t.Fatalf("Void: %+v, %v", v, err)
	}
	r, err := a.Refund(ctx, core.RefundRequest{Key: "re_fixture:refund", PaymentID: "pay_fixture", RefundID: "re_fixture", Channel: core.ChannelCard, Reference: res.Reference, Amount: 300})
	if err != nil || !r.OK || r.Amount != 300 || !strings.HasPrefix(r.Reference, "re_") {
		t.Fatalf("Refund: %+v, %v", r, err)
	}
	st, err := a.QueryPayment(ctx, core.PaymentQuery{Key: "pay_fixture:authorize", PaymentID: "pay_fixture", Channel: core.ChannelCard, Reference: res.Reference})
	if err != nil || !st.Found || st.Outcome != core.OutcomeDeclined || st.Reference != res.Reference {
		t.Fatalf("QueryPayment by reference: %+v, %v", st, err)
	}
	// Search answers a fixture list whatever the query; its intent has no channel_key.
	st, err = a.QueryPayment(ctx, core.PaymentQuery{Key: "pay_fixture:authorize", PaymentID: "pay_fixture", Channel: core.ChannelCard})
	if err != nil || !st.Found {
		t.Fatalf("QueryPayment by key: %+v, %v", st, err)
	}
	// The balance transaction fixture's source expands to an application fee: no lines.
	lines, err := a.Statement(ctx, core.ChannelCard, time.Now())
	if err != nil || len(lines) != 0 {
		t.Fatalf("Statement: %+v, %v", lines, err)
	}
}

// TestStripeMockBadRequests: stripe-mock's 400 for a request Stripe would refuse is a decline
// (authorisation); its 401 for a key that is not a secret test key is "not executed".
func TestStripeMockBadRequests(t *testing.T) {
	sm := stripemocktest.Start(t)
	ctx := context.Background()
	req := cardReq("pay_bad", true)
	req.Card.Number = ""
	res, err := stripeMockAcquirer(t, sm.URL).Authorize(ctx, req)
	if err != nil || res.Outcome != core.OutcomeDeclined || res.DeclineCode != core.CodeProcessingError {
		t.Fatalf("Authorize of an empty card number: %+v, %v", res, err)
	}

	bad := stripeMockAcquirer(t, sm.URL, func(c *cardacq.Config) { c.APIKey = "not-a-key" })
	_, err1 := bad.Authorize(ctx, cardReq("pay_bad", true))
	_, err2 := bad.Capture(ctx, core.CaptureRequest{Key: "k", Channel: core.ChannelCard, Reference: "pi_1", Amount: 1})
	_, err3 := bad.Refund(ctx, core.RefundRequest{Key: "k", Channel: core.ChannelCard, Reference: "pi_1", Amount: 1})
	_, err4 := bad.QueryPayment(ctx, core.PaymentQuery{Key: "k", Channel: core.ChannelCard, Reference: "pi_1"})
	for i, err := range []error{err1, err2, err3, err4} {
		if !errors.Is(err, core.ErrNotExecuted) {
			t.Errorf("call %d with a bad key: %v; want ErrNotExecuted", i+1, err)
		}
	}
}
