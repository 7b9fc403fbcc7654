package cardacq_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/cardacq"
)

// fakeStripe is an httptest server that answers like Stripe with the JSON each test scripts,
// and records every request.
type fakeStripe struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	reqs   []recorded
	routes map[string][]reply // "POST /v1/payment_intents" → replies, used in order; the last repeats
}

type recorded struct {
	Method, Path, Key, Auth string
	Form                    url.Values
}

// reply is one scripted answer; hang makes the handler wait until the client gives up, drop
// closes the connection without answering (a lost response).
type reply struct {
	status int
	body   string
	hang   bool
	drop   bool
}

func newFake(t *testing.T) *fakeStripe {
	f := &fakeStripe{t: t, routes: map[string][]reply{}}
	f.on("POST /v1/payment_methods", 200, `{"id": "pm_test", "object": "payment_method", "type": "card"}`)
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeStripe) on(route string, status int, body string) *fakeStripe {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[route] = []reply{{status: status, body: body}}
	return f
}

// script replaces route's replies: they are used in order, the last one repeats.
func (f *fakeStripe) script(route string, replies ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[route] = replies
}

func (f *fakeStripe) hang(route string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[route] = []reply{{hang: true}}
}

func (f *fakeStripe) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		f.t.Errorf("fake stripe: %v", err)
	}
	route := r.Method + " " + r.URL.Path
	f.mu.Lock()
	f.reqs = append(f.reqs, recorded{Method: r.Method, Path: r.URL.Path, Key: r.Header.Get("Idempotency-Key"),
		Auth: r.Header.Get("Authorization"), Form: r.Form})
	replies := f.routes[route]
	var rep reply
	switch {
	case len(replies) == 0:
		rep = reply{status: 404, body: stripeError("invalid_request_error", "resource_missing", "", "Unrecognized request URL ("+route+").")}
	case len(replies) == 1:
		rep = replies[0]
	default:
		rep, f.routes[route] = replies[0], replies[1:]
	}
	f.mu.Unlock()
	if rep.hang {
		<-r.Context().Done()
		return
	}
	if rep.drop {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			f.t.Errorf("fake stripe: hijack: %v", err)
			return
		}
		conn.Close()
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_fake")
	w.WriteHeader(rep.status)
	_, _ = w.Write([]byte(rep.body))
}

// requests returns the recorded requests for route ("POST /v1/payment_intents"), or all.
func (f *fakeStripe) requests(route string) []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []recorded
	for _, r := range f.reqs {
		if route == "" || r.Method+" "+r.Path == route {
			out = append(out, r)
		}
	}
	return out
}

func (f *fakeStripe) acquirer(t *testing.T, mod ...func(*cardacq.Config)) *cardacq.Acquirer {
	t.Helper()
	cfg := cardacq.Config{APIKey: "sk_test_fake", BackendURL: f.srv.URL, MaxNetworkRetries: -1}
	for _, m := range mod {
		m(&cfg)
	}
	a, err := cardacq.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// paymentIntent is a PaymentIntent's JSON with the given fields over a base object.
func paymentIntent(id, status string, fields map[string]any) string {
	pi := map[string]any{
		"id": id, "object": "payment_intent", "status": status, "amount": 1000, "currency": "usd",
		"amount_received": 0, "amount_capturable": 0, "capture_method": "automatic", "metadata": map[string]string{},
		"last_payment_error": nil, "latest_charge": nil,
	}
	for k, v := range fields {
		pi[k] = v
	}
	return mustJSON(pi)
}

// stripeError is the body of a Stripe error answer.
func stripeError(typ, code, declineCode, msg string, extra ...map[string]any) string {
	e := map[string]any{"type": typ, "message": msg}
	if code != "" {
		e["code"] = code
	}
	if declineCode != "" {
		e["decline_code"] = declineCode
	}
	for _, x := range extra {
		for k, v := range x {
			e[k] = v
		}
	}
	return mustJSON(map[string]any{"error": e})
}

func list(object, url string, data ...string) string {
	return fmt.Sprintf(`{"object": %q, "url": %q, "has_more": false, "data": [%s]}`, object, url, strings.Join(data, ","))
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func cardReq(id string, capture bool) core.AuthorizeRequest {
	return core.AuthorizeRequest{Key: core.AuthorizeKey(id), PaymentID: id, MerchantID: "mch_1", Channel: core.ChannelCard,
		Amount: 1000, Currency: "USD", Capture: capture,
		Card: &core.CardData{Number: "4242424242424242", ExpMonth: 12, ExpYear: time.Now().Year() + 2, CVC: "123"}}
}
