package paysdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewValidatesConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no endpoints", Config{SecretKey: testKey}, "at least one endpoint"},
		{"not a URL", Config{Endpoints: []string{"://x"}, SecretKey: testKey}, "endpoint"},
		{"no scheme", Config{Endpoints: []string{"127.0.0.1:8080"}, SecretKey: testKey}, "endpoint"},
		{"ftp", Config{Endpoints: []string{"ftp://host"}, SecretKey: testKey}, "http or https"},
		{"query", Config{Endpoints: []string{"http://host/?a=b"}, SecretKey: testKey}, "http or https"},
		{"no key", Config{Endpoints: []string{"http://host"}}, "secret key is required"},
		{"key with newline", Config{Endpoints: []string{"http://host"}, SecretKey: "sk_a\nb"}, "header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, %v; want error containing %q", c, err, tc.want)
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	c, err := New(Config{Endpoints: []string{"http://a:1/", "https://b/api/"}, SecretKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"http://a:1", "https://b/api"}; !reflect.DeepEqual(c.endpoints, want) {
		t.Errorf("endpoints = %q, want %q", c.endpoints, want)
	}
	if c.maxRetries != 4 || c.backoff != 100*time.Millisecond || c.maxBackoff != 5*time.Second {
		t.Errorf("retries %d, backoff %v, cap %v; want 4, 100ms, 5s", c.maxRetries, c.backoff, c.maxBackoff)
	}
	if c.http == nil || c.http.Timeout != 30*time.Second {
		t.Errorf("default HTTP client = %+v, want a 30s timeout", c.http)
	}
	c, err = New(Config{Endpoints: []string{"http://a"}, SecretKey: testKey, MaxRetries: -1})
	if err != nil || c.maxRetries != 0 {
		t.Errorf("MaxRetries -1 gives %d retries (%v), want 0", c.maxRetries, err)
	}
}

func TestDelayIsJitteredExponentialAndCapped(t *testing.T) {
	c := &Client{backoff: 10 * time.Millisecond, maxBackoff: 200 * time.Millisecond}
	for attempt := range 40 {
		ceil := min(10*time.Millisecond<<min(attempt, 20), 200*time.Millisecond)
		seenDiff := false
		first := c.delay(attempt)
		for range 50 {
			d := c.delay(attempt)
			if d < ceil/2 || d > ceil {
				t.Fatalf("delay(%d) = %v, want within [%v, %v]", attempt, d, ceil/2, ceil)
			}
			seenDiff = seenDiff || d != first
		}
		if !seenDiff {
			t.Errorf("delay(%d) is always %v: no jitter", attempt, first)
		}
	}
}

func TestCreatePaymentRequestAndResponseInfo(t *testing.T) {
	want := payment("pay_us-east_1", StatusSucceeded)
	srv := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Idempotent-Replayed", "true")
		reply(w, http.StatusOK, want)
	})
	c := newClient(t, srv.URL)
	var info ResponseInfo
	got, err := c.CreatePayment(context.Background(), cardParams(), WithResponseInfo(&info))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("payment = %+v, want %+v", got, want)
	}
	reqs := srv.requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.Path != "/v1/payments" {
		t.Errorf("request %s %s, want POST /v1/payments", r.Method, r.Path)
	}
	if h := r.Header.Get("Authorization"); h != "Bearer "+testKey {
		t.Errorf("Authorization = %q", h)
	}
	if h := r.Header.Get("Content-Type"); h != "application/json" {
		t.Errorf("Content-Type = %q", h)
	}
	key := r.Header.Get("Idempotency-Key")
	if !uuidV4.MatchString(key) {
		t.Errorf("generated Idempotency-Key %q is not a UUIDv4", key)
	}
	// The body must decode strictly into the server's params type.
	dec := json.NewDecoder(strings.NewReader(string(r.Body)))
	dec.DisallowUnknownFields()
	var sent CreatePaymentParams
	if err := dec.Decode(&sent); err != nil {
		t.Fatalf("body %s: %v", r.Body, err)
	}
	if !reflect.DeepEqual(sent, cardParams()) {
		t.Errorf("sent %+v, want %+v", sent, cardParams())
	}
	wantInfo := ResponseInfo{Status: 200, Replayed: true, Endpoint: srv.URL, Attempts: 1,
		IdempotencyKey: key, RequestID: "req_test", Region: "us-east"}
	if info != wantInfo {
		t.Errorf("info = %+v, want %+v", info, wantInfo)
	}
}

func TestGeneratedKeysDifferPerCall(t *testing.T) {
	srv := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, payment("pay_1", StatusSucceeded))
	})
	c := newClient(t, srv.URL)
	for range 3 {
		if _, err := c.CreatePayment(context.Background(), cardParams()); err != nil {
			t.Fatal(err)
		}
	}
	keys := srv.keys()
	if keys[0] == keys[1] || keys[1] == keys[2] || keys[0] == keys[2] {
		t.Errorf("separate calls reused a key: %q", keys)
	}
}

// TestSameKeyAcrossRetriesAndFailover checks that one logical call sends one key to every
// endpoint it tries, moving on after a network error or a 5xx and wrapping around.
func TestSameKeyAcrossRetriesAndFailover(t *testing.T) {
	ok := func(_ int, w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, payment("pay_1", StatusSucceeded))
	}
	unavailable := func(_ int, w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusServiceUnavailable, "api_error", "channel_unavailable", "down", 0)
	}
	// failOnce answers 500 to its first request, then 200.
	failOnce := func(n int, w http.ResponseWriter, r *http.Request) {
		if n == 0 {
			apiError(w, http.StatusInternalServerError, "api_error", "internal_error", "boom", 0)
			return
		}
		ok(n, w, r)
	}
	for _, tc := range []struct {
		name         string
		first, other func(int, http.ResponseWriter, *http.Request)
		closeFirst   bool
		wantFirst    int // requests the first endpoint gets (if open)
		wantOther    int
		wantAttempts int
		wantServedBy int // 0: first endpoint, 1: the other
	}{
		{name: "first endpoint refuses connections", closeFirst: true, other: ok,
			wantOther: 1, wantAttempts: 2, wantServedBy: 1},
		{name: "first endpoint answers 503", first: unavailable, other: ok,
			wantFirst: 1, wantOther: 1, wantAttempts: 2, wantServedBy: 1},
		{name: "both fail once, wraps around to the first", first: failOnce, other: unavailable,
			wantFirst: 2, wantOther: 1, wantAttempts: 3, wantServedBy: 0},
		{name: "closed first, other fails once, wraps around", closeFirst: true, other: failOnce,
			wantOther: 2, wantAttempts: 4, wantServedBy: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other := newFake(t, tc.other)
			var first *fake
			firstURL := closedURL(t)
			if !tc.closeFirst {
				first = newFake(t, tc.first)
				firstURL = first.URL
			}
			c := newClient(t, firstURL, other.URL)
			var info ResponseInfo
			got, err := c.CreatePayment(context.Background(), cardParams(), WithResponseInfo(&info))
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != "pay_1" {
				t.Errorf("payment %q, want pay_1", got.ID)
			}
			keys := other.keys()
			if first != nil {
				if n := first.count(); n != tc.wantFirst {
					t.Errorf("first endpoint got %d requests, want %d", n, tc.wantFirst)
				}
				keys = append(keys, first.keys()...)
			}
			if n := other.count(); n != tc.wantOther {
				t.Errorf("other endpoint got %d requests, want %d", n, tc.wantOther)
			}
			key := allEqual(t, keys)
			if info.IdempotencyKey != key || info.Attempts != tc.wantAttempts || info.Status != 200 {
				t.Errorf("info = %+v, want key %q, %d attempts, status 200", info, key, tc.wantAttempts)
			}
			if served := []string{firstURL, other.URL}[tc.wantServedBy]; info.Endpoint != served {
				t.Errorf("served by %s, want %s", info.Endpoint, served)
			}
		})
	}
}

func TestAllEndpointsDownReturnsNetworkError(t *testing.T) {
	a, b := closedURL(t), closedURL(t)
	c, err := New(Config{Endpoints: []string{a, b}, SecretKey: testKey, Backoff: time.Millisecond, MaxRetries: 3})
	if err != nil {
		t.Fatal(err)
	}
	var info ResponseInfo
	_, err = c.CreatePayment(context.Background(), cardParams(), WithResponseInfo(&info))
	var apiErr *Error
	if err == nil || errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want a network error, not *Error", err)
	}
	if !strings.Contains(err.Error(), "POST /v1/payments") {
		t.Errorf("err %q does not name the request", err)
	}
	if info.Attempts != 4 || info.Status != 0 || info.Endpoint != b {
		t.Errorf("info = %+v, want 4 attempts, status 0, last endpoint %s", info, b)
	}
}

func TestGetRetriesAndFailsOverWithoutKey(t *testing.T) {
	down := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusBadGateway, "api_error", "internal_error", "bad gateway", 0)
	})
	up := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, payment("pay_us-east_1", StatusSucceeded))
	})
	c := newClient(t, down.URL, up.URL)
	got, err := c.GetPayment(context.Background(), "pay_us-east_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "pay_us-east_1" {
		t.Errorf("payment %q", got.ID)
	}
	for _, r := range append(down.requests(), up.requests()...) {
		if r.Method != http.MethodGet || r.Path != "/v1/payments/pay_us-east_1" {
			t.Errorf("request %s %s", r.Method, r.Path)
		}
		if k := r.Header.Get("Idempotency-Key"); k != "" {
			t.Errorf("GET sent Idempotency-Key %q", k)
		}
	}
	if down.count() != 1 || up.count() != 1 {
		t.Errorf("requests: down %d, up %d; want 1 and 1", down.count(), up.count())
	}
}

// TestRetryAfter checks the waits of 409 idempotency_key_in_use and 429 answers, which are
// retried on the same endpoint.
func TestRetryAfter(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		typ, code  string
		retryAfter int
		cap        time.Duration
		minWait    time.Duration
		maxWait    time.Duration
	}{
		{name: "409 in use honours Retry-After", status: 409, typ: "idempotency_error", code: CodeIdempotencyKeyInUse,
			retryAfter: 1, cap: MaxBackoff, minWait: time.Second, maxWait: 3 * time.Second},
		{name: "409 in use waits at most the backoff cap", status: 409, typ: "idempotency_error", code: CodeIdempotencyKeyInUse,
			retryAfter: 30, cap: 20 * time.Millisecond, minWait: 20 * time.Millisecond, maxWait: 2 * time.Second},
		{name: "429 honours Retry-After beyond the cap", status: 429, typ: "rate_limit_error", code: CodeRateLimited,
			retryAfter: 1, cap: 20 * time.Millisecond, minWait: time.Second, maxWait: 3 * time.Second},
		{name: "429 without Retry-After backs off", status: 429, typ: "rate_limit_error", code: CodeRateLimited,
			cap: MaxBackoff, maxWait: time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			busy := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 0 {
					apiError(w, tc.status, tc.typ, tc.code, "wait", tc.retryAfter)
					return
				}
				reply(w, http.StatusOK, payment("pay_1", StatusSucceeded))
			})
			spare := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				reply(w, http.StatusOK, payment("pay_spare", StatusSucceeded))
			})
			c := newClient(t, busy.URL, spare.URL)
			c.maxBackoff = tc.cap
			var info ResponseInfo
			got, err := c.CapturePayment(context.Background(), "pay_1", CaptureParams{}, WithResponseInfo(&info))
			if err != nil {
				t.Fatal(err)
			}
			if got.ID != "pay_1" || spare.count() != 0 {
				t.Errorf("served %q, spare endpoint got %d requests: want the same endpoint", got.ID, spare.count())
			}
			if busy.count() != 2 || info.Attempts != 2 {
				t.Fatalf("%d requests, %d attempts; want 2", busy.count(), info.Attempts)
			}
			allEqual(t, busy.keys())
			reqs := busy.requests()
			if wait := reqs[1].At.Sub(reqs[0].At); wait < tc.minWait || wait > tc.maxWait {
				t.Errorf("waited %v, want %v to %v", wait, tc.minWait, tc.maxWait)
			}
		})
	}
}

func TestRetriesRunOutOnInUse(t *testing.T) {
	srv := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusConflict, "idempotency_error", CodeIdempotencyKeyInUse, "in use", 1)
	})
	c, err := New(Config{Endpoints: []string{srv.URL}, SecretKey: testKey, Backoff: time.Millisecond, MaxRetries: 2})
	if err != nil {
		t.Fatal(err)
	}
	c.maxBackoff = time.Millisecond
	_, err = c.CancelPayment(context.Background(), "pay_1", CancelParams{})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeIdempotencyKeyInUse || e.RetryAfter != time.Second || e.Status != 409 {
		t.Fatalf("err = %#v, want the 409 in-use error with RetryAfter 1s", err)
	}
	if srv.count() != 3 {
		t.Errorf("%d requests, want 3", srv.count())
	}
}

func TestCardDeclinedIsNotRetried(t *testing.T) {
	srv := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusPaymentRequired, map[string]any{"error": map[string]string{
			"type": "card_error", "code": "card_declined", "message": "Your card was declined.",
			"payment_id": "pay_us-east_9", "request_id": "req_decline",
		}})
	})
	spare := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, payment("pay_spare", StatusSucceeded))
	})
	c := newClient(t, srv.URL, spare.URL)
	var info ResponseInfo
	got, err := c.CreatePayment(context.Background(), cardParams(), WithResponseInfo(&info))
	if got != nil {
		t.Errorf("payment = %+v, want nil", got)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v (%T), want *Error", err, err)
	}
	want := Error{Status: 402, Type: "card_error", Code: CodeCardDeclined, Message: "Your card was declined.",
		PaymentID: "pay_us-east_9", RequestID: "req_decline"}
	if *e != want {
		t.Errorf("error = %+v, want %+v", *e, want)
	}
	if !IsCode(err, CodeCardDeclined) || IsCode(err, CodeInsufficientFunds) {
		t.Error("IsCode does not match the code")
	}
	if srv.count() != 1 || spare.count() != 0 {
		t.Errorf("requests %d and %d, want 1 and 0: a decline is final", srv.count(), spare.count())
	}
	if info.Status != 402 || info.Attempts != 1 || info.RequestID != "req_test" {
		t.Errorf("info = %+v", info)
	}
	for _, s := range []string{"402", "card_declined", "Your card was declined.", "pay_us-east_9", "req_decline"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Error() = %q lacks %q", err.Error(), s)
		}
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	for _, tc := range []struct {
		status    int
		typ, code string
		param     string
	}{
		{400, "invalid_request_error", CodeParameterInvalid, "amount"},
		{400, "invalid_request_error", CodeIdempotencyKeyRequired, "Idempotency-Key"},
		{401, "authentication_error", CodeUnauthenticated, ""},
		{403, "authentication_error", CodeForbidden, ""},
		{404, "invalid_request_error", CodeNotFound, ""},
		{409, "invalid_request_error", CodeDuplicateReference, "merchant_reference"},
		{422, "idempotency_error", CodeIdempotencyKeyReused, "Idempotency-Key"},
		{422, "invalid_request_error", CodeInvalidState, ""},
	} {
		t.Run(tc.code, func(t *testing.T) {
			srv := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				reply(w, tc.status, map[string]any{"error": map[string]string{
					"type": tc.typ, "code": tc.code, "message": "no", "param": tc.param, "request_id": "req_x"}})
			})
			spare := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				reply(w, http.StatusOK, payment("pay_spare", StatusSucceeded))
			})
			c := newClient(t, srv.URL, spare.URL)
			_, err := c.CreateRefund(context.Background(), CreateRefundParams{Payment: "pay_1"})
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status || e.Code != tc.code || e.Type != tc.typ || e.Param != tc.param {
				t.Fatalf("err = %#v, want %d %s", err, tc.status, tc.code)
			}
			if srv.count() != 1 || spare.count() != 0 {
				t.Errorf("requests %d and %d, want 1 and 0", srv.count(), spare.count())
			}
		})
	}
}

func TestReplayedServerErrorIsNotRetried(t *testing.T) {
	srv := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Idempotent-Replayed", "true")
		apiError(w, http.StatusInternalServerError, "api_error", CodeInternal, "stored failure", 0)
	})
	c := newClient(t, srv.URL, closedURL(t))
	var info ResponseInfo
	_, err := c.CreatePayment(context.Background(), cardParams(), WithResponseInfo(&info))
	if !IsCode(err, CodeInternal) {
		t.Fatalf("err = %v, want internal_error", err)
	}
	if srv.count() != 1 || !info.Replayed || info.Status != 500 {
		t.Errorf("%d requests, info %+v; want 1 request, a replayed 500", srv.count(), info)
	}
}

func TestNonJSONErrorBody(t *testing.T) {
	srv := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte("<html>bad request from proxy</html>"))
	})
	c := newClient(t, srv.URL)
	_, err := c.Balance(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.Status != 400 || e.Code != "" || !strings.Contains(e.Message, "bad request from proxy") {
		t.Fatalf("err = %#v", err)
	}
}

func TestAcceptedIsRetriedUntilFinal(t *testing.T) {
	srv := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n < 2 {
			reply(w, http.StatusAccepted, payment("pay_1", StatusProcessing))
			return
		}
		reply(w, http.StatusOK, payment("pay_1", StatusSucceeded))
	})
	c := newClient(t, srv.URL)
	var info ResponseInfo
	got, err := c.CreatePayment(context.Background(), cardParams(), WithResponseInfo(&info))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusSucceeded {
		t.Errorf("status %q, want succeeded", got.Status)
	}
	if srv.count() != 3 || info.Attempts != 3 || info.Status != 200 {
		t.Errorf("%d requests, info %+v; want 3 and a final 200", srv.count(), info)
	}
	allEqual(t, srv.keys())
}

func TestAcceptedWhenRetriesRunOut(t *testing.T) {
	for _, tc := range []struct {
		name string
		// later answers the requests after the first 202.
		later func(w http.ResponseWriter)
	}{
		{"always 202", func(w http.ResponseWriter) {
			reply(w, http.StatusAccepted, payment("pay_1", StatusProcessing))
		}},
		{"202 then in use", func(w http.ResponseWriter) {
			apiError(w, http.StatusConflict, "idempotency_error", CodeIdempotencyKeyInUse, "busy", 0)
		}},
		{"202 then 503", func(w http.ResponseWriter) {
			apiError(w, http.StatusServiceUnavailable, "api_error", CodeChannelUnavailable, "down", 0)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t, func(n int, w http.ResponseWriter, _ *http.Request) {
				if n == 0 {
					w.Header().Set("Payd-Region", "eu-west")
					reply(w, http.StatusAccepted, payment("pay_1", StatusProcessing))
					return
				}
				tc.later(w)
			})
			c, err := New(Config{Endpoints: []string{srv.URL}, SecretKey: testKey, Backoff: time.Millisecond, MaxRetries: 2})
			if err != nil {
				t.Fatal(err)
			}
			var info ResponseInfo
			got, err := c.CreatePayment(context.Background(), cardParams(), WithResponseInfo(&info))
			if err != nil {
				t.Fatalf("err = %v, want nil: a 202 is not an error", err)
			}
			if got == nil || got.ID != "pay_1" || got.Status != StatusProcessing {
				t.Fatalf("payment = %+v, want pay_1 processing", got)
			}
			if info.Status != http.StatusAccepted || info.Attempts != 3 || srv.count() != 3 {
				t.Errorf("info = %+v, %d requests; want status 202 after 3 attempts", info, srv.count())
			}
			allEqual(t, srv.keys())
		})
	}
}

func TestContextCancellationStopsRetries(t *testing.T) {
	t.Run("cancelled before the call", func(t *testing.T) {
		srv := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			reply(w, http.StatusOK, payment("pay_1", StatusSucceeded))
		})
		c := newClient(t, srv.URL)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := c.CreatePayment(ctx, cardParams())
		if !errors.Is(err, context.Canceled) || srv.count() != 0 {
			t.Errorf("err = %v after %d requests, want context.Canceled and none", err, srv.count())
		}
	})
	t.Run("cancelled during the backoff", func(t *testing.T) {
		srv := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			apiError(w, http.StatusServiceUnavailable, "api_error", CodeChannelUnavailable, "down", 0)
		})
		// The answer comes at once; the cancellation lands in the first wait (30 s to 1 min).
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		time.AfterFunc(200*time.Millisecond, cancel)
		c, err := New(Config{Endpoints: []string{srv.URL}, SecretKey: testKey, Backoff: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		var info ResponseInfo
		_, err = c.CapturePayment(ctx, "pay_1", CaptureParams{}, WithResponseInfo(&info))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %v: the backoff was not cut short", d)
		}
		if srv.count() != 1 || info.Attempts != 1 || info.Status != 0 {
			t.Errorf("%d requests, info %+v; want 1 attempt and no answer", srv.count(), info)
		}
	})
	t.Run("cancelled during a request", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		release := make(chan struct{})
		srv := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
			cancel()
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})
		defer close(release)
		c := newClient(t, srv.URL, srv.URL)
		_, err := c.GetPayment(ctx, "pay_1")
		if !errors.Is(err, context.Canceled) || srv.count() != 1 {
			t.Errorf("err = %v after %d requests, want context.Canceled after 1", err, srv.count())
		}
	})
	t.Run("deadline shorter than Retry-After", func(t *testing.T) {
		srv := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			apiError(w, http.StatusTooManyRequests, "rate_limit_error", CodeRateLimited, "slow down", 60)
		})
		c := newClient(t, srv.URL)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.Merchant(ctx)
		if !IsCode(err, CodeRateLimited) || srv.count() != 1 {
			t.Errorf("err = %v after %d requests, want the 429 at once", err, srv.count())
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("took %v waiting for a retry the deadline cannot allow", d)
		}
	})
}

func TestWithIdempotencyKey(t *testing.T) {
	t.Run("honoured on every retry and endpoint", func(t *testing.T) {
		var calls atomic.Int32
		handle := func(_ int, w http.ResponseWriter, _ *http.Request) {
			if calls.Add(1) < 3 {
				apiError(w, http.StatusServiceUnavailable, "api_error", CodeChannelUnavailable, "down", 0)
				return
			}
			reply(w, http.StatusOK, &Refund{ID: "re_1", Object: "refund", Payment: "pay_1", Status: RefundSucceeded})
		}
		a, b := newFake(t, handle), newFake(t, handle)
		c := newClient(t, a.URL, b.URL)
		var info ResponseInfo
		got, err := c.CreateRefund(context.Background(), CreateRefundParams{Payment: "pay_1"},
			WithIdempotencyKey("order-1-refund"), WithResponseInfo(&info))
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != "re_1" {
			t.Errorf("refund %q", got.ID)
		}
		keys := append(a.keys(), b.keys()...)
		if len(keys) != 3 || allEqual(t, keys) != "order-1-refund" || info.IdempotencyKey != "order-1-refund" {
			t.Errorf("keys %q, info %+v; want order-1-refund three times", keys, info)
		}
		if a.count() != 2 || b.count() != 1 || info.Endpoint != a.URL {
			t.Errorf("requests a %d, b %d, served by %s; want 2, 1, a", a.count(), b.count(), info.Endpoint)
		}
	})
	for _, key := range []string{"", "has space", strings.Repeat("k", MaxIdempotencyKey+1), "naïve"} {
		t.Run("invalid "+key[:min(len(key), 10)], func(t *testing.T) {
			srv := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
				reply(w, http.StatusOK, payment("pay_1", StatusSucceeded))
			})
			c := newClient(t, srv.URL)
			info := ResponseInfo{Attempts: 99}
			_, err := c.CreatePayment(context.Background(), cardParams(), WithIdempotencyKey(key), WithResponseInfo(&info))
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeIdempotencyKeyInvalid || e.Status != 0 {
				t.Errorf("err = %#v, want a local idempotency_key_invalid", err)
			}
			if srv.count() != 0 || info.Attempts != 0 {
				t.Errorf("%d requests, info %+v; want nothing sent", srv.count(), info)
			}
		})
	}
}

func TestPathsAndMethods(t *testing.T) {
	srv := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/v1/refunds"):
			reply(w, http.StatusOK, &Refund{ID: "re_1", Object: "refund"})
		case r.URL.Path == "/v1/balance":
			reply(w, http.StatusOK, &Balance{Object: "balance", Data: []CurrencyTotal{{Currency: "USD", Available: 5, OnHold: 7}}})
		case r.URL.Path == "/v1/merchant":
			reply(w, http.StatusOK, &Merchant{ID: "mer_1", Object: "merchant", HomeRegion: "us-east"})
		case r.URL.Path == "/v1/payments" && r.Method == http.MethodGet:
			reply(w, http.StatusOK, &List[*Payment]{Object: "list", Data: []*Payment{payment("pay_1", StatusSucceeded)}, HasMore: true})
		default:
			reply(w, http.StatusOK, payment("pay_1", StatusCanceled))
		}
	})
	c := newClient(t, srv.URL)
	ctx := context.Background()
	amount := int64(500)
	type call struct {
		name, method, path, body string
		run                      func() (any, error)
		check                    func(v any) bool
	}
	for _, tc := range []call{
		{"capture", "POST", "/v1/payments/pay_1/capture", `{"amount":500}`,
			func() (any, error) { return c.CapturePayment(ctx, "pay_1", CaptureParams{Amount: &amount}) },
			func(v any) bool { return v.(*Payment).ID == "pay_1" }},
		{"cancel", "POST", "/v1/payments/pay_1/cancel", `{"cancellation_reason":"abandoned"}`,
			func() (any, error) {
				return c.CancelPayment(ctx, "pay_1", CancelParams{CancellationReason: "abandoned"})
			},
			func(v any) bool { return v.(*Payment).Status == StatusCanceled }},
		{"escaped id", "GET", "/v1/payments/pay%2F..%2Fx", "",
			func() (any, error) { return c.GetPayment(ctx, "pay/../x") },
			func(v any) bool { return v.(*Payment).ID == "pay_1" }},
		{"refund", "POST", "/v1/refunds", `{"payment":"pay_1","amount":500,"reason":"duplicate"}`,
			func() (any, error) {
				return c.CreateRefund(ctx, CreateRefundParams{Payment: "pay_1", Amount: &amount, Reason: "duplicate"})
			},
			func(v any) bool { return v.(*Refund).ID == "re_1" }},
		{"get refund", "GET", "/v1/refunds/re_1", "",
			func() (any, error) { return c.GetRefund(ctx, "re_1") },
			func(v any) bool { return v.(*Refund).ID == "re_1" }},
		{"balance", "GET", "/v1/balance", "",
			func() (any, error) { return c.Balance(ctx) },
			func(v any) bool { b := v.(*Balance); return len(b.Data) == 1 && b.Data[0].OnHold == 7 }},
		{"merchant", "GET", "/v1/merchant", "",
			func() (any, error) { return c.Merchant(ctx) },
			func(v any) bool { return v.(*Merchant).HomeRegion == "us-east" }},
		{"list", "GET", "/v1/payments", "",
			func() (any, error) { return c.ListPayments(ctx, PaymentFilter{}) },
			func(v any) bool { l := v.(*List[*Payment]); return l.HasMore && len(l.Data) == 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.count()
			v, err := tc.run()
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(v) {
				t.Errorf("unexpected answer %+v", v)
			}
			reqs := srv.requests()[before:]
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			r := reqs[0]
			if r.Method != tc.method || r.Path != tc.path || r.Query != "" {
				t.Errorf("request %s %s?%s, want %s %s", r.Method, r.Path, r.Query, tc.method, tc.path)
			}
			if got := strings.TrimSpace(string(r.Body)); got != tc.body {
				t.Errorf("body %s, want %s", got, tc.body)
			}
			if hasKey := r.Header.Get("Idempotency-Key") != ""; hasKey != (tc.method == "POST") {
				t.Errorf("Idempotency-Key sent: %v on %s", hasKey, tc.method)
			}
		})
	}
	t.Run("empty ids are refused locally", func(t *testing.T) {
		before := srv.count()
		_, e1 := c.GetPayment(ctx, "")
		_, e2 := c.CapturePayment(ctx, "", CaptureParams{})
		_, e3 := c.CancelPayment(ctx, "", CancelParams{})
		_, e4 := c.GetRefund(ctx, "")
		for _, err := range []error{e1, e2, e3, e4} {
			if !IsCode(err, CodeParameterMissing) {
				t.Errorf("err = %v, want parameter_missing", err)
			}
		}
		if srv.count() != before {
			t.Error("a request was sent")
		}
	})
}

func TestListPaymentsQuery(t *testing.T) {
	gte := time.Date(2025, 3, 1, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))
	lte := time.Date(2025, 3, 31, 23, 59, 59, 500_000_000, time.UTC)
	minAmount, maxAmount := int64(0), int64(5000)
	for _, tc := range []struct {
		name string
		f    PaymentFilter
		want map[string]string
	}{
		{"empty", PaymentFilter{}, map[string]string{}},
		{"all", PaymentFilter{Limit: 25, StartingAfter: "pay_us-east_9", Status: StatusRequiresCapture,
			MerchantReference: "order&1=2 +", CreatedGTE: &gte, CreatedLTE: &lte,
			Channel: ChannelAlipay, AmountGTE: &minAmount, AmountLTE: &maxAmount, Customer: "ana+1@example.com"},
			map[string]string{"limit": "25", "starting_after": "pay_us-east_9", "status": "requires_capture",
				"merchant_reference": "order&1=2 +", "created[gte]": "2025-03-01T08:00:00+08:00",
				"created[lte]": "2025-03-31T23:59:59.5Z", "channel": "alipay", "amount[gte]": "0",
				"amount[lte]": "5000", "customer": "ana+1@example.com"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
				reply(w, http.StatusOK, &List[*Payment]{Object: "list", Data: []*Payment{}})
			})
			c := newClient(t, srv.URL)
			if _, err := c.ListPayments(context.Background(), tc.f); err != nil {
				t.Fatal(err)
			}
			got, err := url.ParseQuery(srv.requests()[0].Query)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Errorf("query %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if len(got[k]) != 1 || got[k][0] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for k, tm := range map[string]*time.Time{"created[gte]": tc.f.CreatedGTE, "created[lte]": tc.f.CreatedLTE} {
				if tm == nil {
					continue
				}
				back, err := time.Parse(time.RFC3339Nano, got[k][0])
				if err != nil || !back.Equal(*tm) {
					t.Errorf("%s parses back to %v (%v), want %v", k, back, err, *tm)
				}
			}
		})
	}
}

func TestLogsRetriesAndFailovers(t *testing.T) {
	down := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		apiError(w, http.StatusServiceUnavailable, "api_error", CodeChannelUnavailable, "down", 0)
	})
	up := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, payment("pay_1", StatusSucceeded))
	})
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := New(Config{Endpoints: []string{down.URL, up.URL}, SecretKey: testKey, Backoff: time.Millisecond, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	var info ResponseInfo
	if _, err := c.CreatePayment(context.Background(), cardParams(), WithResponseInfo(&info)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	for _, want := range []string{
		"level=INFO msg=\"paysdk: failing over to the next endpoint\"", "from=" + down.URL, "to=" + up.URL,
		"level=DEBUG msg=\"paysdk: retrying\"", "idempotency_key=" + info.IdempotencyKey, "channel_unavailable",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, testKey) {
		t.Errorf("log leaks the secret key:\n%s", out)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
