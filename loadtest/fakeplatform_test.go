package loadtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
)

// fakePlatform is a minimal in-memory merchant API with the real one's rules that the
// generator depends on: test cards, capture and refund limits, idempotent replay, one
// merchant cannot see another's payments. Its regions share the state, as regions of the
// platform share the database.
type fakePlatform struct {
	t          *testing.T
	adminToken string

	mu        sync.Mutex
	merchants map[string]string           // secret key -> merchant ID
	payments  map[string]*core.Payment    // ID -> payment
	replies   map[string]fakeReply        // merchant + key -> stored answer
	params    map[string]string           // merchant + key -> request body
	refunded  map[string]int64            // payment -> refunded
	calls     map[string]int              // route -> count
	overRefs  int                         // refunds asked above what was left
	servers   map[string]*httptest.Server // region -> server
	seq       int
	failNext  map[string]int    // route -> 503s to answer before serving
	createdBy map[string]string // payment -> merchant
}

type fakeReply struct {
	status int
	body   []byte
}

func newFakePlatform(t *testing.T, regions ...string) (*fakePlatform, Target) {
	f := &fakePlatform{t: t, adminToken: "adm_test", merchants: map[string]string{}, payments: map[string]*core.Payment{},
		replies: map[string]fakeReply{}, params: map[string]string{}, refunded: map[string]int64{}, calls: map[string]int{},
		servers: map[string]*httptest.Server{}, failNext: map[string]int{}, createdBy: map[string]string{}}
	tgt := Target{AdminToken: f.adminToken}
	for _, r := range regions {
		srv := httptest.NewServer(f.handler(r))
		t.Cleanup(srv.Close)
		f.servers[r] = srv
		tgt.Regions = append(tgt.Regions, Region{Name: r, Endpoint: srv.URL})
	}
	return f, tgt
}

func (f *fakePlatform) handler(region string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /v1/admin/merchants", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+f.adminToken {
			f.fail(w, 401, "authentication_error", "unauthenticated", "")
			return
		}
		var in struct{ Name, HomeRegion string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		f.mu.Lock()
		f.seq++
		id, key := fmt.Sprintf("mer_%s_%d", region, f.seq), fmt.Sprintf("sk_test_%d", f.seq)
		f.merchants[key] = id
		f.mu.Unlock()
		writeJSON(w, 200, core.Merchant{ID: id, Object: "merchant", Name: in.Name, HomeRegion: in.HomeRegion, SecretKey: key})
	})
	mux.HandleFunc("POST /v1/payments", f.money(f.create))
	mux.HandleFunc("POST /v1/payments/{id}/capture", f.money(f.capture))
	mux.HandleFunc("POST /v1/refunds", f.money(f.refund))
	mux.HandleFunc("GET /v1/payments/{id}", f.merchant(func(w http.ResponseWriter, r *http.Request, m string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		p := f.payments[r.PathValue("id")]
		if p == nil || f.createdBy[p.ID] != m {
			f.fail(w, 404, "invalid_request_error", core.CodeNotFound, "")
			return
		}
		writeJSON(w, 200, p)
	}))
	mux.HandleFunc("GET /v1/payments", f.merchant(func(w http.ResponseWriter, r *http.Request, m string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		out := core.List[*core.Payment]{Object: "list", Data: []*core.Payment{}}
		for id, p := range f.payments {
			if f.createdBy[id] == m && len(out.Data) < 10 {
				out.Data = append(out.Data, p)
			}
		}
		writeJSON(w, 200, out)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Payd-Region", region)
		route := r.Method + " " + r.URL.Path
		if i := strings.Index(route, "/capture"); i > 0 {
			route = "POST capture"
		}
		f.mu.Lock()
		f.calls[route]++
		fail := f.failNext[route] > 0
		if fail {
			f.failNext[route]--
		}
		f.mu.Unlock()
		if fail {
			f.fail(w, 503, "api_error", core.CodeUnavailable, "")
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakePlatform) fail(w http.ResponseWriter, status int, typ, code, paymentID string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"type": typ, "code": code, "message": code, "payment_id": paymentID}})
}

// merchant authenticates the request.
func (f *fakePlatform) merchant(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		m, ok := f.merchants[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		f.mu.Unlock()
		if !ok {
			f.fail(w, 401, "authentication_error", core.CodeUnauthenticated, "")
			return
		}
		h(w, r, m)
	}
}

// money handles a money-moving POST: a key is required, and a known key replays its
// answer (or is a 422 with other parameters). h is called with f.mu held.
func (f *fakePlatform) money(h func(r *http.Request, m string, body []byte) (int, any)) http.HandlerFunc {
	return f.merchant(func(w http.ResponseWriter, r *http.Request, m string) {
		key := r.Header.Get("Idempotency-Key")
		if key == "" {
			f.fail(w, 400, "invalid_request_error", core.CodeIdempotencyKeyRequired, "")
			return
		}
		var body json.RawMessage
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		defer f.mu.Unlock()
		sk := m + "/" + key
		if rep, ok := f.replies[sk]; ok {
			if f.params[sk] != r.URL.Path+string(body) {
				f.fail(w, 422, "idempotency_error", core.CodeIdempotencyKeyReused, "")
				return
			}
			w.Header().Set("Idempotent-Replayed", "true")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rep.status)
			_, _ = w.Write(rep.body)
			return
		}
		status, out := h(r, m, body)
		b, _ := json.Marshal(out)
		f.replies[sk], f.params[sk] = fakeReply{status, b}, r.URL.Path+string(body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(b)
	})
}

func apiError(typ, code, paymentID string) map[string]any {
	return map[string]any{"error": map[string]string{"type": typ, "code": code, "message": code, "payment_id": paymentID}}
}

func (f *fakePlatform) create(r *http.Request, m string, body []byte) (int, any) {
	var p core.CreatePaymentParams
	if err := json.Unmarshal(body, &p); err != nil {
		return 400, apiError("invalid_request_error", core.CodeInvalidJSON, "")
	}
	if err := p.Validate(); err != nil {
		return 400, apiError("invalid_request_error", core.ErrorCode(err), "")
	}
	f.seq++
	now := time.Now()
	pay := &core.Payment{ID: fmt.Sprintf("pay_%d", f.seq), Object: "payment", Amount: p.Amount, Currency: p.Currency, Channel: p.Channel,
		CaptureMethod: p.CaptureMethod, MerchantReference: p.MerchantReference, CreatedAt: now, UpdatedAt: now}
	f.payments[pay.ID], f.createdBy[pay.ID] = pay, m
	switch {
	case p.Channel.IsCard() && p.PaymentMethod.Card.Number == cardDecline:
		pay.Status = core.StatusFailed
		return 402, apiError("card_error", core.CodeCardDeclined, pay.ID)
	case !p.Channel.IsCard():
		pay.Status = core.StatusRequiresAction
	case p.CaptureMethod == core.CaptureManual:
		pay.Status, pay.AmountCapturable = core.StatusRequiresCapture, p.Amount
	default:
		pay.Status, pay.AmountCaptured = core.StatusSucceeded, p.Amount
	}
	return 200, pay
}

func (f *fakePlatform) capture(r *http.Request, m string, body []byte) (int, any) {
	var p core.CaptureParams
	_ = json.Unmarshal(body, &p)
	pay := f.payments[r.PathValue("id")]
	if pay == nil || f.createdBy[pay.ID] != m {
		return 404, apiError("invalid_request_error", core.CodeNotFound, "")
	}
	if pay.Status != core.StatusRequiresCapture {
		return 422, apiError("invalid_request_error", core.CodeInvalidState, pay.ID)
	}
	amt := pay.Amount
	if p.Amount != nil {
		amt = *p.Amount
	}
	if amt > pay.AmountCapturable {
		return 400, apiError("invalid_request_error", core.CodeAmountTooLarge, pay.ID)
	}
	pay.Status, pay.AmountCaptured, pay.AmountCapturable = core.StatusSucceeded, amt, 0
	return 200, pay
}

func (f *fakePlatform) refund(r *http.Request, m string, body []byte) (int, any) {
	var p core.CreateRefundParams
	_ = json.Unmarshal(body, &p)
	pay := f.payments[p.Payment]
	if pay == nil || f.createdBy[pay.ID] != m {
		return 404, apiError("invalid_request_error", core.CodeNotFound, "")
	}
	left := pay.AmountCaptured - pay.AmountRefunded
	amt := left
	if p.Amount != nil {
		amt = *p.Amount
	}
	if amt > left || amt <= 0 {
		f.overRefs++
		return 400, apiError("invalid_request_error", core.CodeAmountTooLarge, pay.ID)
	}
	pay.AmountRefunded += amt
	f.seq++
	return 200, core.Refund{ID: fmt.Sprintf("re_%d", f.seq), Object: "refund", Payment: pay.ID, Amount: amt, Currency: pay.Currency, Status: core.RefundSucceeded}
}

// payment returns a copy of a stored payment.
func (f *fakePlatform) payment(id string) (core.Payment, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.payments[id]
	if p == nil {
		return core.Payment{}, false
	}
	return *p, true
}
