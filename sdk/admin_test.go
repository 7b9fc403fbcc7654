package paysdk

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

const testAdminToken = "adm_test_0123456789"

func newAdmin(t *testing.T, endpoints ...string) *Admin {
	t.Helper()
	a, err := NewAdmin(AdminConfig{Endpoints: endpoints, Token: testAdminToken, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestNewAdminValidatesConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  AdminConfig
		want string
	}{
		{"no endpoints", AdminConfig{Token: testAdminToken}, "at least one endpoint"},
		{"bad endpoint", AdminConfig{Endpoints: []string{"ftp://x"}, Token: testAdminToken}, "http or https"},
		{"no token", AdminConfig{Endpoints: []string{"http://host"}}, "an admin token is required"},
		{"token with newline", AdminConfig{Endpoints: []string{"http://host"}, Token: "adm\nx"}, "admin token holds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := NewAdmin(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewAdmin = %v, %v; want error containing %q", a, err, tc.want)
			}
		})
	}
}

func TestAdminRequests(t *testing.T) {
	srv := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1/admin/merchants":
			reply(w, http.StatusOK, &Merchant{ID: "mer_us-east_1", Object: "merchant", Name: "Acme", HomeRegion: "us-east", SecretKey: "sk_1"})
		case r.URL.Path == "/v1/admin/ledger/check":
			reply(w, http.StatusOK, &LedgerReport{Balanced: false, Journals: 3, Entries: 9, UnbalancedJournals: []string{"jnl_1"}})
		case r.URL.Path == "/v1/admin/reconciliations":
			reply(w, http.StatusOK, &ReconciliationReport{Object: "reconciliation", Channel: ChannelAlipay, Date: "2026-11-25",
				ChannelLines: 2, PlatformLines: 1, Matched: 1, MissingOnPlatform: []ReconciliationLine{{Kind: "charge", PaymentID: "pay_1", Amount: 5, Currency: "CNY"}}})
		case strings.HasSuffix(r.URL.Path, "/channels"):
			reply(w, http.StatusOK, &List[ChannelAuthorization]{Object: "list", Data: []ChannelAuthorization{{Channel: ChannelCard, Enabled: true}}})
		default:
			reply(w, http.StatusOK, &ChannelAuthorization{Object: "channel_authorization", Merchant: "mer_us-east_1", Channel: ChannelAlipay, HasCredentials: true})
		}
	})
	a := newAdmin(t, srv.URL)
	ctx := context.Background()
	for _, tc := range []struct {
		name, method, path, body string
		run                      func() (any, error)
		check                    func(v any) bool
	}{
		{"create merchant", "POST", "/v1/admin/merchants", `{"name":"Acme","home_region":"us-east"}`,
			func() (any, error) {
				return a.CreateMerchant(ctx, CreateMerchantParams{Name: "Acme", HomeRegion: "us-east"})
			},
			func(v any) bool { m := v.(*Merchant); return m.ID == "mer_us-east_1" && m.SecretKey == "sk_1" }},
		{"list channels", "GET", "/v1/admin/merchants/mer_us-east_1/channels", "",
			func() (any, error) { return a.ChannelAuthorizations(ctx, "mer_us-east_1") },
			func(v any) bool {
				l := v.(*List[ChannelAuthorization])
				return len(l.Data) == 1 && l.Data[0].Channel == ChannelCard && l.Data[0].Enabled
			}},
		{"set channel", "POST", "/v1/admin/merchants/mer_us-east_1/channels/alipay", `{"enabled":false,"credentials":{"app_id":"a1"}}`,
			func() (any, error) {
				return a.SetChannel(ctx, "mer_us-east_1", ChannelAlipay, SetChannelParams{Credentials: map[string]string{"app_id": "a1"}})
			},
			func(v any) bool { return v.(*ChannelAuthorization).HasCredentials }},
		{"set channel without credentials", "POST", "/v1/admin/merchants/mer_us-east_1/channels/alipay", `{"enabled":true}`,
			func() (any, error) {
				return a.SetChannel(ctx, "mer_us-east_1", ChannelAlipay, SetChannelParams{Enabled: true})
			},
			func(v any) bool { return v.(*ChannelAuthorization).Channel == ChannelAlipay }},
		{"ledger check", "GET", "/v1/admin/ledger/check", "",
			func() (any, error) { return a.CheckLedger(ctx) },
			func(v any) bool {
				r := v.(*LedgerReport)
				return !r.Balanced && r.Journals == 3 && r.UnbalancedJournals[0] == "jnl_1"
			}},
		{"reconcile", "POST", "/v1/admin/reconciliations", `{"channel":"alipay","date":"2026-11-25"}`,
			func() (any, error) {
				return a.Reconcile(ctx, ReconcileParams{Channel: ChannelAlipay, Date: "2026-11-25"})
			},
			func(v any) bool { r := v.(*ReconciliationReport); return r.Disagreements() == 1 && r.Matched == 1 }},
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
			if r.Method != tc.method || r.Path != tc.path {
				t.Errorf("request %s %s, want %s %s", r.Method, r.Path, tc.method, tc.path)
			}
			if got := strings.TrimSpace(string(r.Body)); got != tc.body {
				t.Errorf("body %s, want %s", got, tc.body)
			}
			if h := r.Header.Get("Authorization"); h != "Bearer "+testAdminToken {
				t.Errorf("Authorization = %q", h)
			}
			if k := r.Header.Get("Idempotency-Key"); k != "" {
				t.Errorf("an operator call sent Idempotency-Key %q", k)
			}
		})
	}
}

func TestAdminLocalValidation(t *testing.T) {
	srv := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, http.StatusOK, map[string]any{}) })
	a := newAdmin(t, srv.URL)
	ctx := context.Background()
	_, e1 := a.ChannelAuthorizations(ctx, "")
	_, e2 := a.SetChannel(ctx, "", ChannelCard, SetChannelParams{})
	_, e3 := a.SetChannel(ctx, "mer_1", "", SetChannelParams{})
	_, e4 := a.Reconcile(ctx, ReconcileParams{Date: "2026-11-25"})
	_, e5 := a.Reconcile(ctx, ReconcileParams{Channel: ChannelCard, Date: "25/11/2026"})
	for i, tc := range []struct {
		err   error
		code  string
		param string
	}{{e1, CodeParameterMissing, "merchant"}, {e2, CodeParameterMissing, "merchant"}, {e3, CodeParameterMissing, "channel"},
		{e4, CodeParameterMissing, "channel"}, {e5, CodeParameterInvalid, "date"}} {
		var e *Error
		if !errors.As(tc.err, &e) || e.Code != tc.code || e.Param != tc.param || e.Status != 0 {
			t.Errorf("call %d: err = %#v, want a local %s on %s", i+1, tc.err, tc.code, tc.param)
		}
	}
	if srv.count() != 0 {
		t.Errorf("%d requests sent, want none", srv.count())
	}
}

func TestAdminErrorsAndFailover(t *testing.T) {
	t.Run("wrong token is a typed 401, not retried", func(t *testing.T) {
		srv := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			apiError(w, http.StatusUnauthorized, TypeAuthentication, CodeUnauthenticated, "Invalid admin token.", 0)
		})
		spare := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) { reply(w, http.StatusOK, &LedgerReport{}) })
		_, err := newAdmin(t, srv.URL, spare.URL).CheckLedger(context.Background())
		var e *Error
		if !errors.As(err, &e) || e.Status != 401 || e.Code != CodeUnauthenticated || e.Type != TypeAuthentication {
			t.Fatalf("err = %#v, want a 401 unauthenticated *Error", err)
		}
		if srv.count() != 1 || spare.count() != 0 {
			t.Errorf("requests %d and %d, want 1 and 0", srv.count(), spare.count())
		}
	})
	t.Run("unknown merchant is a typed 404", func(t *testing.T) {
		srv := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			apiError(w, http.StatusNotFound, TypeInvalidRequest, CodeNotFound, "No such merchant.", 0)
		})
		_, err := newAdmin(t, srv.URL).ChannelAuthorizations(context.Background(), "mer_none")
		if !IsCode(err, CodeNotFound) {
			t.Fatalf("err = %v, want resource_missing", err)
		}
	})
	t.Run("a dead endpoint and a 503 fail over to the next", func(t *testing.T) {
		down := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			apiError(w, http.StatusServiceUnavailable, TypeAPI, CodeUnavailable, "draining", 0)
		})
		up := newFake(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
			reply(w, http.StatusOK, &Merchant{ID: "mer_eu-west_1", SecretKey: "sk_2"})
		})
		m, err := newAdmin(t, closedURL(t), down.URL, up.URL).CreateMerchant(context.Background(), CreateMerchantParams{Name: "x", HomeRegion: "eu-west"})
		if err != nil || m.ID != "mer_eu-west_1" {
			t.Fatalf("merchant %+v, %v", m, err)
		}
		if down.count() != 1 || up.count() != 1 {
			t.Errorf("requests: down %d, up %d; want 1 and 1", down.count(), up.count())
		}
	})
}
