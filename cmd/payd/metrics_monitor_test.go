package main

import (
	"errors"
	"net/http"
	"testing"

	"github.com/paycenter/paycenter/core"
)

// The payments counter reads each create-payment answer as the outcome a merchant sees.
func TestPaymentOutcome(t *testing.T) {
	for _, tc := range []struct {
		name         string
		rep          core.Reply
		err          error
		status, code string
	}{
		{"approved", core.Reply{Status: 200, Body: []byte(`{"status":"succeeded","failure_code":null}`)}, nil, "succeeded", ""},
		{"authorised", core.Reply{Status: 200, Body: []byte(`{"status":"requires_capture"}`)}, nil, "requires_capture", ""},
		{"declined", core.Reply{Status: http.StatusPaymentRequired, Body: []byte(`{"error":{"code":"insufficient_funds","type":"card_error"}}`)}, nil, "failed", "insufficient_funds"},
		{"failed payment object", core.Reply{Status: 200, Body: []byte(`{"status":"failed","failure_code":"card_declined"}`)}, nil, "failed", "card_declined"},
		{"channel down", core.Reply{Status: 503, Body: []byte(`{"error":{"code":"channel_unavailable"}}`)}, nil, "error", "channel_unavailable"},
		{"unknown outcome", core.Reply{Status: 202, Interim: &core.Payment{}}, nil, "processing", ""},
		{"failed call", core.Reply{}, core.Errorf(core.CodeIdempotencyKeyInUse, "in use"), "error", "idempotency_key_in_use"},
		{"internal", core.Reply{}, errors.New("boom"), "error", "internal_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if s, c := paymentOutcome(tc.rep, tc.err); s != tc.status || c != tc.code {
				t.Errorf("outcome %q %q, want %q %q", s, c, tc.status, tc.code)
			}
		})
	}
}

// A node with metrics on wraps the payments service to count outcomes; the merchant
// operations and transfer routes must still find their service (they answered 503 "not
// configured" once).
func TestMetricsNodeServesMerchantOperations(t *testing.T) {
	node := newHungLinkNode(t, func(c *Config) { c.MetricsAddr = "127.0.0.1:0" })
	for path, want := range map[string]int{"/v1/balance_transactions": 200, "/v1/settlements": 200,
		"/v1/merchant/kyc": 200, "/v1/payouts": 200, "/v1/transfers/tr_none": http.StatusNotFound} {
		if st, _, body := node.call("GET", path, node.secret, "", nil); st != want {
			t.Errorf("GET %s on a node with metrics: %d %v, want %d", path, st, body, want)
		}
	}
}
