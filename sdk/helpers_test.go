package paysdk

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"
)

const testKey = "sk_test_123"

// seen is one request a fake server received.
type seen struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
	At     time.Time
}

// fake is a region endpoint played by a test: handle answers the n-th request (from 0).
type fake struct {
	*httptest.Server
	mu     sync.Mutex
	seen   []seen
	handle func(n int, w http.ResponseWriter, r *http.Request)
}

func newFake(t *testing.T, handle func(n int, w http.ResponseWriter, r *http.Request)) *fake {
	t.Helper()
	f := &fake{handle: handle}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		n := len(f.seen)
		f.seen = append(f.seen, seen{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: body, At: time.Now()})
		f.mu.Unlock()
		f.handle(n, w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) requests() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.seen...)
}

func (f *fake) count() int { return len(f.requests()) }

// keys is the Idempotency-Key of every request f received.
func (f *fake) keys() []string {
	var out []string
	for _, s := range f.requests() {
		out = append(out, s.Header.Get("Idempotency-Key"))
	}
	return out
}

// closedURL is the URL of a server that no longer listens: connections are refused.
func closedURL(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u
}

// newClient makes a client with tiny backoffs.
func newClient(t *testing.T, endpoints ...string) *Client {
	t.Helper()
	c, err := New(Config{Endpoints: endpoints, SecretKey: testKey, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// reply writes v as JSON with status and the server's usual headers.
func reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_test")
	w.Header().Set("Payd-Region", "us-east")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError writes the API's error shape.
func apiError(w http.ResponseWriter, status int, typ, code, msg string, retryAfter int) {
	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	reply(w, status, map[string]any{"error": map[string]string{
		"type": typ, "code": code, "message": msg, "request_id": "req_err",
	}})
}

func payment(id string, st Status) *Payment {
	return &Payment{ID: id, Object: "payment", Status: st, Amount: 1000, Currency: "USD",
		Channel: ChannelCard, MerchantReference: "order-1", Region: "us-east",
		CreatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), UpdatedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func cardParams() CreatePaymentParams {
	return CreatePaymentParams{Amount: 1000, Currency: "usd", Channel: ChannelCard,
		MerchantReference: "order-1", Metadata: map[string]string{"order": "1"},
		PaymentMethod: &PaymentMethodData{Type: "card", Card: &CardData{
			Number: "4242424242424242", ExpMonth: 12, ExpYear: 2099, CVC: "123"}}}
}

// allEqual fails unless every key is the same non-empty value, and returns it.
func allEqual(t *testing.T, keys []string) string {
	t.Helper()
	if len(keys) == 0 {
		t.Fatal("no keys")
	}
	for _, k := range keys {
		if k == "" || k != keys[0] {
			t.Fatalf("Idempotency-Keys differ or are empty: %q", keys)
		}
	}
	return keys[0]
}
