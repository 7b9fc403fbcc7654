package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/paycenter/paycenter/core"
)

// send is call with full control of the request: headers are set as given (several values
// for one name are sent as several headers), and the body is sent as is.
func (e *env) send(method, path string, header http.Header, body string) *resp {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header = header
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	out := &resp{Status: res.StatusCode, Header: res.Header}
	out.Body, _ = io.ReadAll(res.Body)
	_ = json.Unmarshal(out.Body, &out.JSON)
	return out
}

func jsonHeader(key, idem string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	if key != "" {
		h.Set("Authorization", "Bearer "+key)
	}
	if idem != "" {
		h.Set("Idempotency-Key", idem)
	}
	return h
}

// requireError checks a coded error answer: status, code, param, and the one error shape
// with the answer's request ID.
func requireError(t *testing.T, r *resp, status int, code, param string) {
	t.Helper()
	if r.Status != status || r.str("error.code") != code || r.str("error.param") != param {
		t.Fatalf("got %d %s, want %d %s param %q", r.Status, r.Body, status, code, param)
	}
	if r.str("error.message") == "" || r.str("error.request_id") == "" || r.str("error.request_id") != r.Header.Get("Request-Id") {
		t.Fatalf("error lacks a message or request id: %s", r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
}

const goodCard = `"payment_method":{"type":"card","card":{"number":"4242424242424242","exp_month":12,"exp_year":2099}}`

// TestStrictJSONBodies: every name exactly once and exactly as documented, valid UTF-8, no NUL
// or control characters in text; anything else is a 400 naming the parameter, and changes
// nothing.
func TestStrictJSONBodies(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	pay := func(fields string) string {
		return `{"currency":"usd","channel":"card","merchant_reference":"strict-1",` + goodCard + `,` + fields + `}`
	}
	cases := []struct {
		name, body, code, param string
	}{
		{"duplicate amount", pay(`"amount":1000,"amount":99999999`), core.CodeParameterInvalid, "amount"},
		{"case-variant duplicate", pay(`"amount":1000,"Amount":5`), core.CodeParameterUnknown, "Amount"},
		{"upper-case name", pay(`"AMOUNT":1000`), core.CodeParameterUnknown, "AMOUNT"},
		{"duplicate nested name", `{"amount":1000,"currency":"usd","channel":"card","merchant_reference":"strict-1","payment_method":{"type":"card","card":{"number":"4242424242424242","number":"4000000000000002","exp_month":12,"exp_year":2099}}}`, core.CodeParameterInvalid, "payment_method.card.number"},
		{"duplicate metadata key", pay(`"amount":1000,"metadata":{"a":"1","a":"2"}`), core.CodeParameterInvalid, "metadata[a]"},
		{"unknown nested field", `{"amount":1000,"currency":"usd","channel":"card","merchant_reference":"strict-1","payment_method":{"type":"card","card":{"number":"4242424242424242","exp_month":12,"exp_year":2099,"zip":"10001"}}}`, core.CodeParameterUnknown, "payment_method.card.zip"},
		{"NUL in description", pay(`"amount":1000,"description":"x\u0000y"`), core.CodeParameterInvalid, "description"},
		{"control character in description", pay(`"amount":1000,"description":"x\u001by"`), core.CodeParameterInvalid, "description"},
		{"NUL in metadata value", pay(`"amount":1000,"metadata":{"k":"x\u0000"}`), core.CodeParameterInvalid, "metadata[k]"},
		{"NUL in metadata key", pay(`"amount":1000,"metadata":{"k\u0000":"v"}`), core.CodeParameterInvalid, "metadata"},
		{"null metadata value", pay(`"amount":1000,"metadata":{"k":null}`), core.CodeParameterInvalid, "metadata[k]"},
		{"NUL in customer name", pay(`"amount":1000,"customer":{"name":"a\u0000b"}`), core.CodeParameterInvalid, "customer.name"},
		{"line break in customer email", pay(`"amount":1000,"customer":{"email":"a@b.c\nBcc: x@y.z"}`), core.CodeParameterInvalid, "customer.email"},
		{"invalid UTF-8 in description", pay(`"amount":1000,"description":"caf` + "\xe9" + `"`), core.CodeParameterInvalid, "description"},
		{"invalid UTF-8 in customer name", pay(`"amount":1000,"customer":{"name":"` + "\xff\xfe" + `"}`), core.CodeParameterInvalid, "customer.name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.send("POST", "/v1/payments", jsonHeader(key, newKey()), tc.body)
			requireError(t, r, 400, tc.code, tc.param)
		})
	}
	for _, table := range []string{"payments", "idempotency_keys", "ledger_entries", "outbox_events"} {
		if n := e.count(table); n != 0 {
			t.Errorf("bad input wrote %d rows to %s", n, table)
		}
	}
	if n := e.sim.Calls(); n != 0 {
		t.Errorf("bad input reached the channel %d times", n)
	}

	t.Run("merchant names", func(t *testing.T) {
		for _, name := range []string{`"a\u0000b"`, `"a\u0007b"`, `"` + "\xc3\x28" + `"`} {
			r := e.send("POST", "/v1/admin/merchants", jsonHeader(testAdminToken, ""), `{"name":`+name+`,"home_region":"us-east"}`)
			requireError(t, r, 400, core.CodeParameterInvalid, "name")
		}
		r := e.send("POST", "/v1/admin/merchants", jsonHeader(testAdminToken, ""), `{"name":"Acme","home_region":"us\u0000east"}`)
		requireError(t, r, 400, core.CodeParameterInvalid, "home_region")
		if n := e.count("merchants"); n != 1 {
			t.Errorf("%d merchants, want the one made above", n)
		}
	})
}

// TestCancelReasonCheckedBeforeTheVoid: a cancellation reason the database could not store
// is refused before the channel voids anything, not after (which answered 500 with the hold
// already released).
func TestCancelReasonCheckedBeforeTheVoid(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	p := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("cancel-nul", 5000, visaOK, core.CaptureManual)), 200)
	id := p.str("id")
	calls := e.sim.Calls()
	for _, reason := range []string{`"x\u0000y"`, `"` + "\xff" + `"`, `"` + strings.Repeat("r", core.MaxCancelReasonLen+1) + `"`} {
		r := e.send("POST", "/v1/payments/"+id+"/cancel", jsonHeader(key, newKey()), `{"cancellation_reason":`+reason+`}`)
		requireError(t, r, 400, core.CodeParameterInvalid, "cancellation_reason")
	}
	if n := e.sim.Calls(); n != calls {
		t.Fatalf("refused cancels reached the channel %d times", n-calls)
	}
	if got := e.expect(e.call("GET", "/v1/payments/"+id, key, "", nil), 200).str("status"); got != "requires_capture" {
		t.Fatalf("status %s after refused cancels, want requires_capture", got)
	}
	c := e.expect(e.call("POST", "/v1/payments/"+id+"/cancel", key, newKey(), map[string]any{"cancellation_reason": "requested_by_customer\nsee ticket 42"}), 200)
	if c.str("status") != "canceled" {
		t.Fatalf("cancel: %s", c.Body)
	}
}

// TestRequestEnvelope: Content-Type, repeated headers, query parameters and path IDs are
// checked on every route before anything is looked up.
func TestRequestEnvelope(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	body := `{"amount":1000,"currency":"usd","channel":"card","merchant_reference":"env-1",` + goodCard + `}`

	t.Run("content type", func(t *testing.T) {
		for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "application/json; charset=latin1", "application/jsonx"} {
			h := jsonHeader(key, newKey())
			h.Set("Content-Type", ct)
			requireError(t, e.send("POST", "/v1/payments", h, body), 415, core.CodeUnsupportedMediaType, "")
		}
		h := jsonHeader(key, newKey())
		h["Content-Type"] = []string{"application/json", "text/plain"}
		requireError(t, e.send("POST", "/v1/payments", h, body), 415, core.CodeUnsupportedMediaType, "")
		if n := e.count("payments"); n != 0 {
			t.Fatalf("refused bodies made %d payments", n)
		}
		h = jsonHeader(key, newKey())
		h.Set("Content-Type", "application/json; charset=UTF-8")
		e.expect(e.send("POST", "/v1/payments", h, body), 200)
		h = jsonHeader(key, newKey()) // no Content-Type at all: taken as JSON
		h.Del("Content-Type")
		e.expect(e.send("POST", "/v1/payments", h, strings.Replace(body, "env-1", "env-2", 1)), 200)
	})
	t.Run("two idempotency keys", func(t *testing.T) {
		h := jsonHeader(key, "")
		h["Idempotency-Key"] = []string{newKey(), newKey()}
		requireError(t, e.send("POST", "/v1/payments", h, body), 400, core.CodeIdempotencyKeyInvalid, "Idempotency-Key")
	})
	t.Run("two authorizations", func(t *testing.T) {
		h := jsonHeader("", "")
		h["Authorization"] = []string{"Bearer " + key, "Bearer sk_other"}
		requireError(t, e.send("GET", "/v1/balance", h, ""), 400, core.CodeParameterInvalid, "Authorization")
	})
	t.Run("401 names the scheme; basic auth with the key as user", func(t *testing.T) {
		r := e.send("GET", "/v1/balance", http.Header{}, "")
		requireError(t, r, 401, core.CodeUnauthenticated, "")
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
		}
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/balance", nil)
		req.SetBasicAuth(key, "")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("basic auth: %d", res.StatusCode)
		}
	})
	t.Run("query parameters on retrieve routes", func(t *testing.T) {
		for _, path := range []string{"/v1/balance?expand=x", "/v1/merchant?x=1", "/v1/payments/pay_us-east_x?expand[]=customer"} {
			r := e.send("GET", path, jsonHeader(key, ""), "")
			if r.Status != 400 || r.str("error.code") != core.CodeParameterUnknown {
				t.Fatalf("%s: %d %s", path, r.Status, r.Body)
			}
		}
	})
	t.Run("malformed path IDs", func(t *testing.T) {
		long := "pay_us-east_" + strings.Repeat("a", 100<<10)
		for _, path := range []string{"/v1/payments/" + long, "/v1/payments/pay%00x", "/v1/refunds/re_%FF", "/v1/payments/" + long + "/capture"} {
			method := "GET"
			if strings.HasSuffix(path, "/capture") {
				method = "POST"
			}
			r := e.send(method, path, jsonHeader(key, newKey()), "")
			requireError(t, r, 404, core.CodeNotFound, "id")
			if len(r.Body) > 1024 {
				t.Fatalf("404 of %d bytes echoes the ID", len(r.Body))
			}
		}
	})
	t.Run("errors do not echo long input", func(t *testing.T) {
		long := strings.Repeat("z", 100<<10)
		for _, c := range []struct{ method, path, key, body string }{
			{"GET", "/v1/payments?" + long + "=1", key, ""},
			{"GET", "/v1/balance?" + long + "=1", key, ""},
			{"POST", "/v1/admin/merchants/mer_us-east_x/channels/" + long, testAdminToken, `{"enabled":true}`},
			{"POST", "/v1/notifications/" + long, "", `{}`},
			{"POST", "/v1/payments", key, `{"` + long + `":1}`},
			{"POST", "/v1/payments", key, `{"metadata":{"` + long[:60<<10] + `":1}}`},
			{"DELETE", "/v1/" + long, key, ""},
		} {
			r := e.send(c.method, c.path, jsonHeader(c.key, newKey()), c.body)
			if r.Status < 400 || r.Status >= 500 || len(r.Body) > 2048 {
				t.Errorf("%s %.40s…: %d, %d bytes", c.method, c.path, r.Status, len(r.Body))
			}
		}
	})
	t.Run("list filters", func(t *testing.T) {
		for q, param := range map[string]string{
			"merchant_reference=" + strings.Repeat("r", 500<<10): "merchant_reference",
			"merchant_reference=a%00b":                           "merchant_reference",
			"starting_after=pay%00":                              "starting_after",
		} {
			r := e.send("GET", "/v1/payments?"+q, jsonHeader(key, ""), "")
			requireError(t, r, 400, core.CodeParameterInvalid, param)
		}
	})
}
