package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core/postgres/pgtest"
	waitfor "github.com/paycenter/paycenter/internal/eventually"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// A node delivers webhooks to a private address (here loopback) only with
// -webhooks-allow-private: without it the attempt is refused at connect time and recorded
// as failed, and the receiver sees nothing.
func TestNodeWebhooksToPrivateAddressesNeedTheFlag(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(map[bool]string{false: "flag off", true: "flag on"}[allow], func(t *testing.T) {
			ctx := context.Background()
			var hits atomic.Int32
			rc := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
			defer rc.Close()
			m := NewMain(Config{Addr: "127.0.0.1:0", Region: testRegion, NodeID: "us-east-wh", DatabaseURL: pgtest.NewDatabase(t),
				AdminToken: testAdminToken, SecretKey: string(bytes.Repeat([]byte("s"), 32)), Channels: ChannelsSim, MaxConns: 8,
				Lease: 30 * time.Second, ChannelTimeout: 10 * time.Second, HeartbeatInterval: 100 * time.Millisecond, LivenessTimeout: time.Second,
				DBStatementTimeout: time.Second, DBConnectTimeout: time.Second, DBTCPTimeout: time.Second,
				AuthCache: 2 * time.Second, RecoveryInterval: time.Second, ChannelRate: 100, MerchantRate: 100, MerchantBurst: 100,
				WebhooksInterval: 20 * time.Millisecond, WebhooksAllowPrivate: allow}, quietLog())
			if err := m.Run(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = m.Close() })
			base := "http://" + m.Addr
			admin, err := paysdk.NewAdmin(paysdk.AdminConfig{Endpoints: []string{base}, Token: testAdminToken})
			if err != nil {
				t.Fatal(err)
			}
			mer, err := admin.CreateMerchant(ctx, paysdk.CreateMerchantParams{Name: "Acme", HomeRegion: testRegion})
			if err != nil {
				t.Fatal(err)
			}
			c, err := paysdk.New(paysdk.Config{Endpoints: []string{base}, SecretKey: mer.SecretKey})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.CreateWebhookEndpoint(ctx, paysdk.WebhookEndpointParams{URL: rc.URL, EnabledEvents: []string{"*"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.CreatePayment(ctx, paysdk.CreatePaymentParams{Amount: 1000, Currency: "usd", Channel: paysdk.ChannelCard,
				MerchantReference: "wh-1", PaymentMethod: &paysdk.PaymentMethodData{Type: "card", Card: &paysdk.CardData{
					Number: "4242424242424242", ExpMonth: 12, ExpYear: 2099, CVC: "123"}}}); err != nil {
				t.Fatal(err)
			}
			attempt := waitfor.Value(t, waitfor.Patience, "the first attempt recorded", func() (*paysdk.WebhookDelivery, bool) {
				list, err := c.ListEvents(ctx, paysdk.EventFilter{Limit: 1})
				if err != nil || len(list.Data) == 0 {
					return nil, false
				}
				d, err := c.EventDeliveries(ctx, list.Data[0].ID)
				if err != nil || len(d.Data) == 0 {
					return nil, false
				}
				return d.Data[0], true
			})
			if allow {
				if attempt.Status != "succeeded" || hits.Load() != 1 {
					t.Fatalf("with the flag: %+v, %d requests", attempt, hits.Load())
				}
				return
			}
			if attempt.Status != "failed" || attempt.Error == nil || !strings.Contains(*attempt.Error, "not allowed") || hits.Load() != 0 {
				t.Fatalf("without the flag: %+v, %d requests reached the receiver", attempt, hits.Load())
			}
		})
	}
}
