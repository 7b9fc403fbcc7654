package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/core/postgres/pgtest"
	"github.com/paycenter/paycenter/core/webhook"
	"github.com/paycenter/paycenter/internal/eventually"
)

// BenchmarkWebhookLatency measures delivery latency from the event's commit (its created_at,
// taken inside the committing transaction) to its receipt at a receiver on loopback, with
// payments made open loop at 90 a second (make load's example rate), b.N payments, and the
// delivery worker at payd's default interval (250 ms) in two nodes. It reports p50 and p99
// in milliseconds:
//
//	go test ./core/postgres -run '^$' -bench WebhookLatency -benchtime 900x
func BenchmarkWebhookLatency(b *testing.B) {
	url := pgtest.NewDatabase(b)
	ctx := context.Background()
	ch := newFakeChannel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var svcs []*postgres.Service
	for i := 0; i < 2; i++ {
		db, err := postgres.Open(ctx, url, 20)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(db.Close)
		svc, err := postgres.NewService(db, ch, postgres.Config{Region: "us-east", SecretKey: bytes.Repeat([]byte("k"), 32),
			Lease: testLease, ChannelTimeout: 5 * time.Second, Logger: log})
		if err != nil {
			b.Fatal(err)
		}
		svcs = append(svcs, svc)
	}
	if err := svcs[0].RegisterRegion(ctx); err != nil {
		b.Fatal(err)
	}
	m, err := svcs[0].CreateMerchant(ctx, "Bench", "us-east")
	if err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var lat []time.Duration
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := time.Now()
		var ev core.Event
		if json.NewDecoder(r.Body).Decode(&ev) == nil {
			mu.Lock()
			lat = append(lat, got.Sub(ev.CreatedAt))
			mu.Unlock()
		}
	}))
	defer rc.Close()
	if _, err := svcs[0].CreateWebhookEndpoint(ctx, m.ID, core.CreateWebhookEndpointParams{URL: rc.URL, EnabledEvents: []string{"*"}}); err != nil {
		b.Fatal(err)
	}
	for _, svc := range svcs {
		d, err := postgres.NewWebhookDeliverer(svc, postgres.WebhookConfig{Sender: webhook.NewSender(webhook.SenderConfig{AllowPrivate: true})})
		if err != nil {
			b.Fatal(err)
		}
		w := d.Worker()
		w.Start(ctx)
		defer w.Stop()
	}
	b.ResetTimer()
	tick := time.NewTicker(time.Second / 90)
	defer tick.Stop()
	var wg sync.WaitGroup
	for i := 0; i < b.N; i++ {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := core.IdempotentRequest{MerchantID: m.ID, Region: m.HomeRegion, Key: fmt.Sprintf("b-%d", i), Method: "POST", Path: "/v1/payments", Render: render}
			_, _ = svcs[i%2].CreatePayment(ctx, req, core.CreatePaymentParams{Amount: 1000, Currency: "USD", Channel: core.ChannelCard,
				CaptureMethod: core.CaptureAutomatic, MerchantReference: fmt.Sprintf("b-%d", i),
				PaymentMethod: &core.PaymentMethodData{Type: "card", Card: &core.CardData{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2040, CVC: "123"}}})
		}()
	}
	wg.Wait()
	eventually.True(b, eventually.Patience, fmt.Sprintf("all %d events delivered", b.N), func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(lat) >= b.N
	})
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}
