package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/internal/eventually"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// payctl webhooks listen against a real node: it registers an endpoint, verifies and
// forwards each event, and deletes the endpoint when stopped; payctl events resend sends
// an event again.
func TestWebhooksListenAndResend(t *testing.T) {
	node := paydtest.Start(t)
	ctx := context.Background()
	admin, err := paysdk.NewAdmin(paysdk.AdminConfig{Endpoints: []string{node.URL}, Token: paydtest.AdminToken})
	if err != nil {
		t.Fatal(err)
	}
	m, err := admin.CreateMerchant(ctx, paysdk.CreateMerchantParams{Name: "Acme", HomeRegion: paydtest.Region})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var forwarded []http.Header
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		forwarded = append(forwarded, r.Header.Clone())
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	defer target.Close()
	got := func() []http.Header {
		mu.Lock()
		defer mu.Unlock()
		return append([]http.Header(nil), forwarded...)
	}
	common := []string{"-endpoint", node.URL, "-secret-key", m.SecretKey, "-cluster", t.TempDir() + "/none.json"}
	lctx, stop := context.WithCancel(ctx)
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(lctx, append([]string{"webhooks", "listen", "-forward", target.URL, "-events", "payment.succeeded"}, common...), &out, &errOut)
	}()
	eventually.True(t, eventually.Patience, "listen to be ready", func() bool { return strings.Contains(out.String(), "Ready: endpoint we_") })

	c, err := paysdk.New(paysdk.Config{Endpoints: []string{node.URL}, SecretKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	p := paysdk.CreatePaymentParams{Amount: 1000, Currency: "usd", Channel: paysdk.ChannelCard, MerchantReference: "listen-1",
		PaymentMethod: &paysdk.PaymentMethodData{Type: "card", Card: &paysdk.CardData{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2099, CVC: "123"}}}
	if _, err := c.CreatePayment(ctx, p); err != nil {
		t.Fatal(err)
	}
	first := eventually.Value(t, eventually.Patience, "the event forwarded", func() ([]http.Header, bool) {
		h := got()
		return h, len(h) == 1
	})[0]
	evID := first.Get(paysdk.HeaderWebhookID)
	if !strings.HasPrefix(evID, "evt_") || first.Get(paysdk.HeaderWebhookSignature) == "" {
		t.Fatalf("forwarded headers %v", first)
	}
	eventually.True(t, eventually.Patience, "listen to print the event", func() bool {
		return strings.Contains(out.String(), "payment.succeeded") && strings.Contains(out.String(), evID+"  signature verified, forwarded: 202")
	})
	eventually.True(t, eventually.Patience, "the attempt to be recorded", func() bool {
		d, err := c.EventDeliveries(ctx, evID)
		return err == nil && len(d.Data) == 1
	})

	code, resendOut, stderr := payctl(t, append([]string{"events", "resend", evID}, common...)...)
	if code != exitOK || !strings.Contains(resendOut, evID+" queued for we_") {
		t.Fatalf("events resend: %d %q %s", code, resendOut, stderr)
	}
	eventually.True(t, eventually.Patience, "the resent event forwarded", func() bool {
		h := got()
		return len(h) == 2 && h[1].Get(paysdk.HeaderWebhookID) == evID
	})
	if code, _, _ := payctl(t, append([]string{"events", "resend", "pay_x"}, common...)...); code != exitUsage {
		t.Errorf("resend of a non-event: exit %d, want %d", code, exitUsage)
	}

	stop()
	if code := <-done; code != exitOK {
		t.Fatalf("listen exited %d: %s", code, errOut.String())
	}
	var n int
	if err := node.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM webhook_endpoints`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d endpoints left after listen stopped (%v)", n, err)
	}
}
