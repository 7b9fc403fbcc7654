package sdkcontract

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/httpapi"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// The contract tests run the client against the real HTTP layer (core/httpapi) over a fake
// payment service, to check that both sides agree on routes, headers, bodies, the error
// shape, Retry-After and list parameters.

const contractKey = "sk_contract_test_key"

// fakeService is a tiny in-memory payment service with an idempotency table.
type fakeService struct {
	mu       sync.Mutex
	replies  map[string]core.Reply // stored final replies by Idempotency-Key
	calls    map[string]int        // calls per key
	inUse    map[string]bool       // keys to answer 409 in-use once
	filter   core.PaymentFilter    // the last list filter
	merchant *core.Merchant
}

func newFakeService() *fakeService {
	return &fakeService{replies: map[string]core.Reply{}, calls: map[string]int{}, inUse: map[string]bool{},
		merchant: &core.Merchant{ID: "mer_us-east_1", Object: "merchant", Name: "Shop", HomeRegion: "us-east", Status: "active"}}
}

// idempotent plays the server's key handling: a stored reply is replayed; an in-use key
// answers 409 once; op's reply is stored unless it is a 202.
func (f *fakeService) idempotent(req core.IdempotentRequest, op func(n int) core.Reply) (core.Reply, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[req.Key]++
	if r, ok := f.replies[req.Key]; ok {
		r.Replayed = true
		return r, nil
	}
	if f.inUse[req.Key] {
		delete(f.inUse, req.Key)
		e := core.ParamError(core.CodeIdempotencyKeyInUse, "Idempotency-Key", "busy")
		e.RetryAfter = 1
		return core.Reply{}, e
	}
	r := op(f.calls[req.Key])
	if r.Status != http.StatusAccepted {
		f.replies[req.Key] = r
	}
	return r, nil
}

func (f *fakeService) CreatePayment(_ context.Context, req core.IdempotentRequest, p core.CreatePaymentParams) (core.Reply, error) {
	return f.idempotent(req, func(n int) core.Reply {
		pay := &core.Payment{ID: "pay_us-east_" + p.MerchantReference, Object: "payment", Status: core.StatusSucceeded,
			Amount: p.Amount, Currency: p.Currency, Channel: p.Channel, CaptureMethod: p.CaptureMethod,
			MerchantReference: p.MerchantReference, Metadata: p.Metadata, Region: req.Region}
		switch p.MerchantReference {
		case "decline":
			code, msg := core.CodeCardDeclined, "Your card was declined."
			pay.Status, pay.FailureCode, pay.FailureMessage = core.StatusFailed, &code, &msg
			return req.Render(nil, &core.Error{Code: code, Message: msg, PaymentID: pay.ID})
		case "slow":
			if n < 3 {
				pay.Status = core.StatusProcessing
				r := req.Render(pay, nil)
				r.Status = http.StatusAccepted
				return r
			}
		}
		return req.Render(pay, nil)
	})
}

func (f *fakeService) CapturePayment(_ context.Context, req core.IdempotentRequest, id string, p core.CaptureParams) (core.Reply, error) {
	return f.idempotent(req, func(int) core.Reply {
		if id != "pay_us-east_1" {
			return req.Render(nil, core.Errorf(core.CodeNotFound, "No such payment: '%s'.", id))
		}
		amount := int64(1000)
		if p.Amount != nil {
			amount = *p.Amount
		}
		return req.Render(&core.Payment{ID: id, Object: "payment", Status: core.StatusSucceeded, AmountCaptured: amount}, nil)
	})
}

func (f *fakeService) CancelPayment(_ context.Context, req core.IdempotentRequest, id string, p core.CancelParams) (core.Reply, error) {
	return f.idempotent(req, func(int) core.Reply {
		return req.Render(&core.Payment{ID: id, Object: "payment", Status: core.StatusCanceled, Description: p.CancellationReason}, nil)
	})
}

func (f *fakeService) CreateRefund(_ context.Context, req core.IdempotentRequest, p core.CreateRefundParams) (core.Reply, error) {
	return f.idempotent(req, func(int) core.Reply {
		return req.Render(&core.Refund{ID: "re_us-east_1", Object: "refund", Payment: p.Payment, Amount: 1000,
			Status: core.RefundSucceeded, Reason: p.Reason}, nil)
	})
}

func (f *fakeService) Payment(_ context.Context, _, id string) (*core.Payment, error) {
	return &core.Payment{ID: id, Object: "payment", Status: core.StatusSucceeded}, nil
}

func (f *fakeService) Payments(_ context.Context, _ string, filter core.PaymentFilter) (*core.List[*core.Payment], error) {
	f.mu.Lock()
	f.filter = filter
	f.mu.Unlock()
	return &core.List[*core.Payment]{Object: "list", Data: []*core.Payment{{ID: "pay_us-east_1", Object: "payment"}}, HasMore: true}, nil
}

func (f *fakeService) Refunds(context.Context, string, core.RefundFilter) (*core.List[*core.Refund], error) {
	return nil, errors.New("not used")
}

func (f *fakeService) Refund(_ context.Context, _, id string) (*core.Refund, error) {
	return nil, core.Errorf(core.CodeNotFound, "No such refund: '%s'.", id)
}

func (f *fakeService) Balance(context.Context, string) (*core.Balance, error) {
	return &core.Balance{Object: "balance", Data: []core.CurrencyTotal{{Currency: "USD", Available: 900, OnHold: 100}}}, nil
}

func (f *fakeService) CreateMerchant(context.Context, string, string) (*core.Merchant, error) {
	return nil, errors.New("not used")
}

func (f *fakeService) Authenticate(_ context.Context, secret string) (*core.Merchant, error) {
	if secret != contractKey {
		return nil, core.Errorf(core.CodeUnauthenticated, "Invalid API key.")
	}
	return f.merchant, nil
}

func (f *fakeService) RollKey(context.Context, string, string, time.Duration) (*core.Merchant, error) {
	return nil, errors.New("not used")
}

func (f *fakeService) APIKeys(context.Context, string, string) ([]core.APIKey, error) {
	return nil, errors.New("not used")
}

func (f *fakeService) RevokeKey(context.Context, string, string, string) (*core.APIKey, error) {
	return nil, errors.New("not used")
}

func (f *fakeService) RevokeAllKeys(context.Context, string) (*core.Merchant, error) {
	return nil, errors.New("not used")
}

func (f *fakeService) CheckLedger(context.Context) (*core.LedgerReport, error) { return nil, nil }
func (f *fakeService) Ping(context.Context) error                              { return nil }

// contractServer serves the real merchant API over svc.
func contractServer(t *testing.T, svc *fakeService) *httptest.Server {
	t.Helper()
	h, err := httpapi.NewServer(svc, svc, svc, httpapi.Config{AdminToken: "admin-token-0123456789", Region: "us-east",
		NodeID: "n1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestContractWithHTTPAPI(t *testing.T) {
	svc := newFakeService()
	srv := contractServer(t, svc)
	c, err := paysdk.New(paysdk.Config{Endpoints: []string{closedURL(t), srv.URL}, SecretKey: contractKey, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	t.Run("create, then replay with the same key", func(t *testing.T) {
		var info paysdk.ResponseInfo
		p, err := c.CreatePayment(ctx, cardParams(), paysdk.WithIdempotencyKey("contract-1"), paysdk.WithResponseInfo(&info))
		if err != nil {
			t.Fatal(err)
		}
		if p.ID != "pay_us-east_order-1" || p.Currency != "USD" || p.CaptureMethod != paysdk.CaptureAutomatic || p.Region != "us-east" {
			t.Errorf("payment = %+v (the server normalises currency and capture method)", p)
		}
		if info.Status != 200 || info.Replayed || info.Region != "us-east" || info.RequestID == "" || info.Endpoint != srv.URL || info.Attempts != 2 {
			t.Errorf("info = %+v", info)
		}
		p2, err := c.CreatePayment(ctx, cardParams(), paysdk.WithIdempotencyKey("contract-1"), paysdk.WithResponseInfo(&info))
		if err != nil || p2.ID != p.ID || !info.Replayed {
			t.Errorf("replay: %+v, %v, info %+v", p2, err, info)
		}
	})
	t.Run("202 until the outcome is known", func(t *testing.T) {
		pp := cardParams()
		pp.MerchantReference = "slow"
		var info paysdk.ResponseInfo
		p, err := c.CreatePayment(ctx, pp, paysdk.WithResponseInfo(&info))
		if err != nil || p.Status != paysdk.StatusSucceeded || info.Status != 200 {
			t.Fatalf("payment %+v, err %v, info %+v", p, err, info)
		}
		svc.mu.Lock()
		n := svc.calls[info.IdempotencyKey]
		svc.mu.Unlock()
		if n != 3 {
			t.Errorf("service saw the key %d times, want 3", n)
		}
	})
	t.Run("decline", func(t *testing.T) {
		pp := cardParams()
		pp.MerchantReference = "decline"
		_, err := c.CreatePayment(ctx, pp)
		var e *paysdk.Error
		if !errors.As(err, &e) || e.Status != 402 || e.Type != "card_error" || e.Code != paysdk.CodeCardDeclined ||
			e.PaymentID != "pay_us-east_decline" || e.RequestID == "" {
			t.Errorf("err = %#v", err)
		}
	})
	t.Run("validation error names the parameter", func(t *testing.T) {
		pp := cardParams()
		pp.Amount = -1
		_, err := c.CreatePayment(ctx, pp)
		var e *paysdk.Error
		if !errors.As(err, &e) || e.Status != 400 || e.Code != paysdk.CodeParameterInvalid || e.Param != "amount" {
			t.Errorf("err = %#v", err)
		}
	})
	t.Run("in use is retried after Retry-After", func(t *testing.T) {
		svc.mu.Lock()
		svc.inUse["contract-busy"] = true
		svc.mu.Unlock()
		var info paysdk.ResponseInfo
		start := time.Now()
		p, err := c.CapturePayment(ctx, "pay_us-east_1", paysdk.CaptureParams{}, paysdk.WithIdempotencyKey("contract-busy"), paysdk.WithResponseInfo(&info))
		if err != nil || p.AmountCaptured != 1000 {
			t.Fatalf("capture %+v, %v", p, err)
		}
		if d := time.Since(start); d < time.Second || info.Attempts != 3 {
			t.Errorf("took %v over %d attempts; want ≥ 1s (Retry-After) and 3 (closed, 409, 200)", d, info.Attempts)
		}
	})
	t.Run("capture, cancel, refund bodies are accepted", func(t *testing.T) {
		amount := int64(400)
		if p, err := c.CapturePayment(ctx, "pay_us-east_1", paysdk.CaptureParams{Amount: &amount}); err != nil || p.AmountCaptured != 400 {
			t.Errorf("capture %+v, %v", p, err)
		}
		if _, err := c.CapturePayment(ctx, "pay_us-east_2", paysdk.CaptureParams{}); !paysdk.IsCode(err, paysdk.CodeNotFound) {
			t.Errorf("capture of a missing payment: %v", err)
		}
		if p, err := c.CancelPayment(ctx, "pay_us-east_1", paysdk.CancelParams{CancellationReason: "abandoned"}); err != nil || p.Status != paysdk.StatusCanceled {
			t.Errorf("cancel %+v, %v", p, err)
		}
		if r, err := c.CreateRefund(ctx, paysdk.CreateRefundParams{Payment: "pay_us-east_1", Amount: &amount, Reason: "duplicate"}); err != nil || r.Reason != "duplicate" {
			t.Errorf("refund %+v, %v", r, err)
		}
	})
	t.Run("reads", func(t *testing.T) {
		if p, err := c.GetPayment(ctx, "pay_us-east_1"); err != nil || p.ID != "pay_us-east_1" {
			t.Errorf("get payment %+v, %v", p, err)
		}
		if _, err := c.GetRefund(ctx, "re_none"); !paysdk.IsCode(err, paysdk.CodeNotFound) {
			t.Errorf("get refund: %v", err)
		}
		if b, err := c.Balance(ctx); err != nil || b.Data[0].Available != 900 {
			t.Errorf("balance %+v, %v", b, err)
		}
		if m, err := c.Merchant(ctx); err != nil || m.ID != "mer_us-east_1" {
			t.Errorf("merchant %+v, %v", m, err)
		}
	})
	t.Run("list filter round-trips", func(t *testing.T) {
		gte := time.Date(2025, 3, 1, 8, 0, 0, 0, time.FixedZone("", 8*3600))
		lte := time.Date(2025, 3, 31, 23, 59, 59, 123456789, time.UTC)
		minAmount, maxAmount := int64(100), int64(900)
		f := paysdk.PaymentFilter{Limit: 25, StartingAfter: "pay_us-east_9", Status: paysdk.StatusRequiresCapture,
			MerchantReference: "a+b&c", CreatedGTE: &gte, CreatedLTE: &lte, Channel: paysdk.ChannelWeChatPay,
			AmountGTE: &minAmount, AmountLTE: &maxAmount, Customer: "cus 7+x"}
		l, err := c.ListPayments(ctx, f)
		if err != nil || !l.HasMore || len(l.Data) != 1 {
			t.Fatalf("list %+v, %v", l, err)
		}
		svc.mu.Lock()
		got := svc.filter
		svc.mu.Unlock()
		if got.Limit != 25 || got.StartingAfter != f.StartingAfter || string(got.Status) != string(f.Status) || got.MerchantReference != f.MerchantReference ||
			got.CreatedGTE == nil || !got.CreatedGTE.Equal(gte) || got.CreatedLTE == nil || !got.CreatedLTE.Equal(lte) ||
			got.Channel != core.ChannelWeChatPay || got.AmountGTE == nil || *got.AmountGTE != 100 || got.AmountLTE == nil ||
			*got.AmountLTE != 900 || got.Customer != "cus 7+x" {
			t.Errorf("server parsed %+v, want %+v", got, f)
		}
		if _, err := c.ListPayments(ctx, paysdk.PaymentFilter{Limit: 1000}); !paysdk.IsCode(err, paysdk.CodeParameterInvalid) {
			t.Errorf("limit 1000: %v", err)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		bad, err := paysdk.New(paysdk.Config{Endpoints: []string{srv.URL}, SecretKey: "sk_wrong", Backoff: time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		_, err = bad.Balance(ctx)
		var e *paysdk.Error
		if !errors.As(err, &e) || e.Status != 401 || e.Type != "authentication_error" {
			t.Errorf("err = %#v", err)
		}
	})
}
