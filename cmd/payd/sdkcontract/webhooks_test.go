package sdkcontract

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/internal/eventually"
	paysdk "github.com/paycenter/paycenter/sdk"
)

type hook struct {
	header http.Header
	body   []byte
}

// hookReceiver is a merchant's webhook endpoint on loopback.
func hookReceiver(t *testing.T) (string, func() []hook) {
	t.Helper()
	var mu sync.Mutex
	var got []hook
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, hook{r.Header.Clone(), b})
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() []hook {
		mu.Lock()
		defer mu.Unlock()
		return append([]hook(nil), got...)
	}
}

// The server's signer against the SDK's own Verify (its own implementation, tested against
// the specification's vectors): a payment's event arrives at a receiver on loopback, signed;
// Verify accepts it and refuses a changed body, a wrong secret and a stale timestamp.
// Another merchant can neither read nor redeliver it (404).
func TestWebhooksVerifyWithTheSDK(t *testing.T) {
	node := paydtest.Start(t)
	ctx := context.Background()
	admin, err := paysdk.NewAdmin(paysdk.AdminConfig{Endpoints: []string{node.URL}, Token: paydtest.AdminToken})
	if err != nil {
		t.Fatal(err)
	}
	client := func(name string) *paysdk.Client {
		m, err := admin.CreateMerchant(ctx, paysdk.CreateMerchantParams{Name: name, HomeRegion: paydtest.Region})
		if err != nil {
			t.Fatal(err)
		}
		c, err := paysdk.New(paysdk.Config{Endpoints: []string{node.URL}, SecretKey: m.SecretKey})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := client("Acme"), client("Other")
	url, hooks := hookReceiver(t)
	ep, err := a.CreateWebhookEndpoint(ctx, paysdk.WebhookEndpointParams{URL: url, EnabledEvents: []string{"payment.succeeded"}})
	if err != nil || ep.Secret == "" || ep.Status != "enabled" {
		t.Fatalf("endpoint %+v, %v", ep, err)
	}
	_, err = a.CreateWebhookEndpoint(ctx, paysdk.WebhookEndpointParams{URL: "ftp://shop.example/", EnabledEvents: []string{"*"}})
	var apiErr *paysdk.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Param != "url" {
		t.Fatalf("an ftp URL: %v, want a 400 naming url", err)
	}
	pay, err := a.CreatePayment(ctx, cardParams())
	if err != nil {
		t.Fatal(err)
	}
	got := eventually.Value(t, eventually.Patience, "the payment's webhook", func() ([]hook, bool) {
		h := hooks()
		return h, len(h) >= 1
	})[0]
	if err := paysdk.Verify(ep.Secret, got.header, got.body); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	ev, err := paysdk.ParseEvent(ep.Secret, got.header, got.body)
	if err != nil || ev.Type != "payment.succeeded" || ev.ID != got.header.Get(paysdk.HeaderWebhookID) {
		t.Fatalf("event %+v, %v", ev, err)
	}
	if p, err := ev.Payment(); err != nil || p.ID != pay.ID || p.Status != paysdk.StatusSucceeded {
		t.Fatalf("event's payment %+v, %v", p, err)
	}
	changed := append([]byte(nil), got.body...)
	changed[len(changed)-2] = ' '
	if err := paysdk.Verify(ep.Secret, got.header, changed); !errors.Is(err, paysdk.ErrWebhookSignature) {
		t.Errorf("a changed body: %v", err)
	}
	other, err := b.CreateWebhookEndpoint(ctx, paysdk.WebhookEndpointParams{URL: url, EnabledEvents: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := paysdk.Verify(other.Secret, got.header, got.body); !errors.Is(err, paysdk.ErrWebhookSignature) {
		t.Errorf("a wrong secret: %v", err)
	}
	if err := paysdk.VerifyAt(ep.Secret, got.header, got.body, time.Now().Add(6*time.Minute), paysdk.WebhookTolerance); !errors.Is(err, paysdk.ErrWebhookTimestamp) {
		t.Errorf("a stale timestamp: %v", err)
	}

	// The event and its attempts, as the API shows them; a redelivery comes with the same ID.
	if e, err := a.GetEvent(ctx, ev.ID); err != nil || e.Type != ev.Type {
		t.Fatalf("get event %+v, %v", e, err)
	}
	eventually.True(t, eventually.Patience, "the attempt to be listed", func() bool {
		l, err := a.EventDeliveries(ctx, ev.ID)
		return err == nil && len(l.Data) == 1 && l.Data[0].Status == "succeeded" && *l.Data[0].HTTPStatus == 200
	})
	if _, err := a.RedeliverEvent(ctx, ev.ID, ep.ID); err != nil {
		t.Fatal(err)
	}
	again := eventually.Value(t, eventually.Patience, "the redelivery", func() ([]hook, bool) {
		h := hooks()
		return h, len(h) >= 2
	})[1]
	if again.header.Get(paysdk.HeaderWebhookID) != ev.ID || paysdk.Verify(ep.Secret, again.header, again.body) != nil {
		t.Fatalf("redelivery %v", again.header)
	}

	// The other merchant: 404 for the event, its attempts, and a redelivery to its endpoint.
	for name, err := range map[string]error{
		"get":        second(b.GetEvent(ctx, ev.ID)),
		"deliveries": second(b.EventDeliveries(ctx, ev.ID)),
		"redeliver":  second(b.RedeliverEvent(ctx, ev.ID, other.ID)),
		"steal":      second(a.RedeliverEvent(ctx, ev.ID, other.ID)),
	} {
		if !errors.As(err, &apiErr) || apiErr.Status != 404 {
			t.Errorf("%s: %v, want 404", name, err)
		}
	}
	if err := b.DeleteWebhookEndpoint(ctx, ep.ID); !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Errorf("delete another merchant's endpoint: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }
