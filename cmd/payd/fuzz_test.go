package main

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/paycenter/paycenter/core"
)

// fuzzRoutes are the POST routes whose bodies FuzzPostBodies decodes; {payment} and
// {merchant} are filled in with objects made for the fuzz run.
var fuzzRoutes = []struct {
	path  string
	admin bool
	idem  bool
}{
	{"/v1/payments", false, true},
	{"/v1/payments/{payment}/capture", false, true},
	{"/v1/payments/{payment}/cancel", false, true},
	{"/v1/refunds", false, true},
	{"/v1/api_keys/roll", false, false},
	{"/v1/api_keys/key_0123456789abcdef01234567/revoke", false, false},
	{"/v1/admin/merchants", true, false},
	{"/v1/admin/merchants/{merchant}/channels/card", true, false},
	{"/v1/admin/merchants/{merchant}/api_keys/revoke_all", true, false},
}

// fuzzTables are what a request can write to.
var fuzzTables = []string{"merchants", "api_keys", "api_key_events", "payments", "refunds", "idempotency_keys",
	"ledger_entries", "outbox_events", "merchant_channels"}

// FuzzPostBodies sends arbitrary bodies to every POST route of a node on a real PostgreSQL:
// no body may cause a server error, and a body refused as input (400, 415) writes nothing.
// (Other 4xx answers of money-moving routes, such as a 422 for a payment's state, are stored
// with their Idempotency-Key, as they must be to be replayed.)
//
// `go test` runs the seeds below; `make fuzz FUZZTIME=60s` fuzzes for longer.
func FuzzPostBodies(f *testing.F) {
	pay := `{"amount":1000,"currency":"usd","channel":"card","merchant_reference":"fz-1","payment_method":{"type":"card","card":{"number":"4242424242424242","exp_month":12,"exp_year":2099}}`
	seeds := []string{
		pay + `}`,
		pay + `,"amount":99999999}`,
		pay + `,"Amount":5}`,
		`{"AMOUNT":1000}`,
		pay + `,"description":"x\u0000y"}`,
		pay + `,"description":"caf` + "\xe9" + `"}`,
		pay + `,"metadata":{"k":null}}`,
		pay + `,"metadata":{"k\u0000":"v","k\u0000":"w"}}`,
		pay + `,"customer":{"name":"a\u0000","email":"a@b"}}`,
		`{"amount":1000,"currency":"usd","channel":"card","merchant_reference":"fz-2","payment_method":{"card":{"number":"0000000000000000","exp_month":1,"exp_year":2099,"zip":"1"}}}`,
		`{"cancellation_reason":"x\u0000y"}`,
		`{"cancellation_reason":"` + strings.Repeat("r", 201) + `"}`,
		`{"amount":1e30}`,
		`{"amount":-1}`,
		`{"amount":null}`,
		`{"payment":"pay\u0000","amount":1}`,
		`{"payment":"` + strings.Repeat("p", 1000) + `"}`,
		`{"reason":"fraudulent","payment":"pay_us-east_x"}`,
		`{"expire_current_in":86401}`,
		`{"expire_current_in":3600,"expire_current_in":0}`,
		`{"name":"a\u0000b","home_region":"us-east"}`,
		`{"name":"Acme","home_region":"us\u0000east"}`,
		`{"enabled":true,"credentials":{"k":"\u0000"}}`,
		`{"enabled":true,"credentials":{"k":1}}`,
		`[]`, `null`, `"x"`, `{`, `{"a":1}{"b":2}`, "\xff\xfe", ``, `{}`,
	}
	for i := range fuzzRoutes {
		for _, s := range seeds {
			f.Add(uint8(i), "application/json", []byte(s))
		}
	}
	f.Add(uint8(0), "text/plain", []byte(pay+`}`))
	f.Add(uint8(2), "application/json; charset=latin1", []byte(`{}`))

	// One node and database for the whole run: the fuzzing engine calls the target many
	// times in each of its processes.
	e := newEnv(f)
	merchantID, key := e.merchant("Fuzz")
	paymentID := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("fz-manual", 5000, visaOK, core.CaptureManual)), 200).str("id")
	f.Fuzz(func(t *testing.T, route uint8, contentType string, body []byte) {
		e.t = t
		if strings.ContainsFunc(contentType, func(r rune) bool { return (r < 0x20 && r != '\t') || r == 0x7f }) {
			t.Skip("not a header value an HTTP client can send")
		}
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		path := strings.NewReplacer("{payment}", paymentID, "{merchant}", merchantID).Replace(rt.path)
		h := http.Header{"Content-Type": {contentType}}
		if rt.admin {
			h.Set("Authorization", "Bearer "+testAdminToken)
		} else {
			h.Set("Authorization", "Bearer "+key)
		}
		if rt.idem {
			h.Set("Idempotency-Key", newKey())
		}
		before := e.rowCounts()
		r := e.send("POST", path, h, string(body))
		if r.Status >= 500 {
			t.Fatalf("POST %s %q: %d %s", path, body, r.Status, r.Body)
		}
		if r.Status == 400 || r.Status == 415 {
			if after := e.rowCounts(); after != before {
				t.Fatalf("POST %s %q answered %d but wrote: %v -> %v", path, body, r.Status, before, after)
			}
			if r.str("error.request_id") == "" || r.str("error.code") == "" {
				t.Fatalf("POST %s: error without the one shape: %s", path, r.Body)
			}
		}
		// Keep a working key: a roll or revoke_all that succeeded replaced it.
		if r.Status == 200 && (strings.HasSuffix(path, "/roll") || strings.HasSuffix(path, "/revoke_all")) {
			key = r.str("secret_key")
		}
	})
}

// rowCounts counts the rows of every table a request can write to.
func (e *env) rowCounts() [9]int {
	var out [9]int
	for i, table := range fuzzTables {
		if err := e.db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&out[i]); err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}
