package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/core/postgres/pgtest"
	"github.com/paycenter/paycenter/core/webhook"
	"github.com/paycenter/paycenter/internal/eventually"
)

// Webhook delivery against a real PostgreSQL and real HTTP receivers on loopback. Time-based
// behaviour (retries minutes and hours apart, three days of failures, rotation overlaps) runs
// on the services' injected clock: a round delivers what is due at the clock's time, and the
// test moves the clock.

// receiver is a webhook endpoint on loopback that records what it gets and answers as told.
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int, r *http.Request) (int, http.Header) // n counts from 1
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, answer func(n int, r *http.Request) (int, http.Header)) *receiver {
	t.Helper()
	rc := &receiver{t: t, answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body})
		n := len(rc.got)
		rc.mu.Unlock()
		status := http.StatusOK
		if rc.answer != nil {
			var h http.Header
			status, h = rc.answer(n, r)
			for k, v := range h {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// whEnv is a database with one or more services (nodes) on it, sharing one clock.
type whEnv struct {
	t        *testing.T
	url      string
	clock    *testClock
	ch       *fakeChannel
	svc      *postgres.Service
	merchant *core.Merchant
	n        int
}

func newWebhookEnv(t *testing.T) *whEnv {
	t.Helper()
	e := &whEnv{t: t, url: pgtest.NewDatabase(t), ch: newFakeChannel(),
		clock: &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	e.svc = e.node()
	ctx := context.Background()
	if err := e.svc.RegisterRegion(ctx); err != nil {
		t.Fatal(err)
	}
	var err error
	if e.merchant, err = e.svc.CreateMerchant(ctx, "Acme", "us-east"); err != nil {
		t.Fatal(err)
	}
	return e
}

// node is another service on the database, with a pool of its own, as another node has.
func (e *whEnv) node() *postgres.Service {
	e.t.Helper()
	db, err := postgres.Open(context.Background(), e.url, 10)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(db.Close)
	svc, err := postgres.NewService(db, e.ch, postgres.Config{Region: "us-east", SecretKey: bytes.Repeat([]byte("k"), 32),
		Lease: testLease, ChannelTimeout: 5 * time.Second, Now: e.clock.Now, Logger: slog.New(slog.NewTextHandler(testLogOut, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

func (e *whEnv) deliverer(svc *postgres.Service, allowPrivate bool) *postgres.WebhookDeliverer {
	e.t.Helper()
	d, err := postgres.NewWebhookDeliverer(svc, postgres.WebhookConfig{Sender: webhook.NewSender(webhook.SenderConfig{AllowPrivate: allowPrivate})})
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// round runs one delivery round and waits for its attempts.
func (e *whEnv) round(d *postgres.WebhookDeliverer) postgres.WebhookRound {
	e.t.Helper()
	r, err := d.Round(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	d.Wait()
	return r
}

func (e *whEnv) endpoint(merchantID, url string, events ...string) *core.WebhookEndpoint {
	e.t.Helper()
	if len(events) == 0 {
		events = []string{"*"}
	}
	ep, err := e.svc.CreateWebhookEndpoint(context.Background(), merchantID, core.CreateWebhookEndpointParams{URL: url, EnabledEvents: events})
	if err != nil {
		e.t.Fatal(err)
	}
	return ep
}

// pay makes a payment that succeeds (one payment.succeeded event) and returns its ID.
func (e *whEnv) pay(merchant *core.Merchant) string {
	e.t.Helper()
	e.n++
	req := core.IdempotentRequest{MerchantID: merchant.ID, Region: merchant.HomeRegion, Key: fmt.Sprintf("k-%d", e.n),
		Method: "POST", Path: "/v1/payments", Render: render}
	rep, err := e.svc.CreatePayment(context.Background(), req, core.CreatePaymentParams{
		Amount: 1000, Currency: "USD", Channel: core.ChannelCard, CaptureMethod: core.CaptureAutomatic, MerchantReference: fmt.Sprintf("ref-%d", e.n),
		PaymentMethod: &core.PaymentMethodData{Type: "card", Card: &core.CardData{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2040, CVC: "123"}}})
	var obj struct{ ID, Status string }
	if err != nil || rep.Status != 200 || json.Unmarshal(rep.Body, &obj) != nil || obj.Status != "succeeded" {
		e.t.Fatalf("payment: %d %s %v", rep.Status, rep.Body, err)
	}
	return obj.ID
}

// verifies reports whether one of the header's signatures is the secret's.
func verifies(secret string, r received) bool {
	key, err := webhook.DecodeSecret(secret)
	if err != nil {
		return false
	}
	ts, err := strconv.ParseInt(r.header.Get(webhook.HeaderTimestamp), 10, 64)
	if err != nil {
		return false
	}
	want := webhook.Signature(key, r.header.Get(webhook.HeaderID), time.Unix(ts, 0), r.body)
	for _, s := range strings.Fields(r.header.Get(webhook.HeaderSignature)) {
		if s == want {
			return true
		}
	}
	return false
}

func decodeEvent(t *testing.T, b []byte) core.Event {
	t.Helper()
	var ev core.Event
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("body %s: %v", b, err)
	}
	return ev
}

// A payment's event arrives signed; a receiver that fails twice gets it on the third
// attempt, 5 s and 5 min later, with the same webhook-id; every attempt is listed.
func TestWebhookFailsTwiceThenArrivesSigned(t *testing.T) {
	e := newWebhookEnv(t)
	ctx := context.Background()
	rc := newReceiver(t, func(n int, _ *http.Request) (int, http.Header) {
		if n <= 2 {
			return http.StatusInternalServerError, nil
		}
		return http.StatusNoContent, nil
	})
	ep := e.endpoint(e.merchant.ID, rc.srv.URL, core.EventPaymentSucceeded)
	if !strings.HasPrefix(ep.Secret, "whsec_") || ep.Status != core.WebhookEnabled {
		t.Fatalf("endpoint %+v", ep)
	}
	payID := e.pay(e.merchant)
	d := e.deliverer(e.svc, true)

	if r := e.round(d); r.FannedOut != 1 || r.Started != 1 {
		t.Fatalf("first round %+v", r)
	}
	failing, err := e.svc.ListEvents(ctx, e.merchant.ID, core.EventFilter{DeliveryFailing: true})
	if err != nil || len(failing.Data) != 1 {
		t.Fatalf("delivery_success=false: %+v %v", failing, err)
	}
	e.round(d)
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("%d requests before the first retry is due, want 1", n)
	}
	e.clock.Advance(6 * time.Second) // 5 s, jittered by at most 10%
	e.round(d)
	if n := len(rc.requests()); n != 2 {
		t.Fatalf("%d requests after 6 s, want 2", n)
	}
	e.clock.Advance(4 * time.Minute)
	e.round(d)
	if n := len(rc.requests()); n != 2 {
		t.Fatalf("%d requests 4 min after the second, want still 2", n)
	}
	e.clock.Advance(2 * time.Minute)
	e.round(d)
	got := rc.requests()
	if len(got) != 3 {
		t.Fatalf("%d requests, want 3", len(got))
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.header.Get(webhook.HeaderID))
		if !verifies(ep.Secret, r) {
			t.Errorf("attempt not signed with the endpoint's secret: %v", r.header)
		}
		if r.header.Get("Content-Type") != "application/json" {
			t.Errorf("content type %q", r.header.Get("Content-Type"))
		}
	}
	ev := decodeEvent(t, got[2].body)
	if ids[0] != ev.ID || ids[1] != ev.ID || ids[2] != ev.ID || !strings.HasPrefix(ev.ID, "evt_") {
		t.Fatalf("webhook-ids %v, event %s: want the event ID on every attempt", ids, ev.ID)
	}
	if ev.Type != core.EventPaymentSucceeded || ev.Object != "event" {
		t.Fatalf("event %+v", ev)
	}
	var p core.Payment
	if err := json.Unmarshal(ev.Data.Object, &p); err != nil || p.ID != payID || p.Status != core.StatusSucceeded || p.UpdatedAt.IsZero() {
		t.Fatalf("event object %s: %v", ev.Data.Object, err)
	}
	// The body is the event as the API renders it.
	api, err := e.svc.Event(ctx, e.merchant.ID, ev.ID)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(api); !bytes.Equal(b, got[2].body) {
		t.Fatalf("GET /v1/events/{id}\n%s\nthe webhook's body\n%s", b, got[2].body)
	}
	attempts, err := e.svc.EventDeliveries(ctx, e.merchant.ID, ev.ID)
	if err != nil || len(attempts.Data) != 3 {
		t.Fatalf("deliveries %+v %v", attempts, err)
	}
	for i, a := range attempts.Data {
		wantStatus, wantHTTP := "failed", 500
		if i == 2 {
			wantStatus, wantHTTP = "succeeded", 204
		}
		if a.Attempt != i+1 || a.Status != wantStatus || a.HTTPStatus == nil || *a.HTTPStatus != wantHTTP || a.Endpoint != ep.ID {
			t.Errorf("attempt %d: %+v", i+1, a)
		}
	}
	failing, err = e.svc.ListEvents(ctx, e.merchant.ID, core.EventFilter{DeliveryFailing: true})
	if err != nil || len(failing.Data) != 0 {
		t.Fatalf("delivery_success=false after success: %+v %v", failing, err)
	}
	// Redelivery sends it once more, with the same webhook-id.
	if _, err := e.svc.Redeliver(ctx, e.merchant.ID, ev.ID, ep.ID); err != nil {
		t.Fatal(err)
	}
	e.round(d)
	if got = rc.requests(); len(got) != 4 || got[3].header.Get(webhook.HeaderID) != ev.ID || !verifies(ep.Secret, got[3]) {
		t.Fatalf("redelivery: %d requests", len(got))
	}
}

// Only subscribed endpoints get an event; an endpoint takes its merchant's events only.
func TestWebhookSubscriptionsAndTenants(t *testing.T) {
	e := newWebhookEnv(t)
	ctx := context.Background()
	other, err := e.svc.CreateMerchant(ctx, "Other", "us-east")
	if err != nil {
		t.Fatal(err)
	}
	all, refunds, theirs := newReceiver(t, nil), newReceiver(t, nil), newReceiver(t, nil)
	e.endpoint(e.merchant.ID, all.srv.URL)
	e.endpoint(e.merchant.ID, refunds.srv.URL, core.EventRefundSucceeded)
	theirEP := e.endpoint(other.ID, theirs.srv.URL)
	e.pay(e.merchant)
	d := e.deliverer(e.svc, true)
	e.round(d)
	if len(all.requests()) != 1 || len(refunds.requests()) != 0 || len(theirs.requests()) != 0 {
		t.Fatalf("requests: all %d, refunds-only %d, the other merchant's %d; want 1, 0, 0",
			len(all.requests()), len(refunds.requests()), len(theirs.requests()))
	}
	evID := all.requests()[0].header.Get(webhook.HeaderID)
	// The other merchant sees none of it, and cannot send it to its endpoint.
	for name, err := range map[string]error{
		"event":      second(e.svc.Event(ctx, other.ID, evID)),
		"deliveries": second(e.svc.EventDeliveries(ctx, other.ID, evID)),
		"redeliver":  second(e.svc.Redeliver(ctx, other.ID, evID, theirEP.ID)),
	} {
		if core.ErrorCode(err) != core.CodeNotFound {
			t.Errorf("%s of another merchant's event: %v, want resource_missing", name, err)
		}
	}
	list, err := e.svc.ListEvents(ctx, other.ID, core.EventFilter{})
	if err != nil || len(list.Data) != 0 {
		t.Errorf("the other merchant lists %d events (%v)", len(list.Data), err)
	}
	// Nor can the merchant send its event to the other's endpoint, or read it.
	if _, err := e.svc.Redeliver(ctx, e.merchant.ID, evID, theirEP.ID); core.ErrorCode(err) != core.CodeNotFound {
		t.Errorf("redeliver to another merchant's endpoint: %v", err)
	}
	if _, err := e.svc.WebhookEndpoint(ctx, e.merchant.ID, theirEP.ID); core.ErrorCode(err) != core.CodeNotFound {
		t.Errorf("read another merchant's endpoint: %v", err)
	}
	e.round(d)
	if len(theirs.requests()) != 0 {
		t.Fatal("the other merchant's endpoint got an event")
	}
}

func second[T any](_ T, err error) error { return err }

// 410 Gone disables the endpoint at once; an endpoint whose every attempt fails for three
// days is disabled too, and says why; 429/502/503 set the next attempt by Retry-After.
func TestWebhookEndpointsDisabledAndRetryAfter(t *testing.T) {
	e := newWebhookEnv(t)
	ctx := context.Background()
	gone := newReceiver(t, func(int, *http.Request) (int, http.Header) { return http.StatusGone, nil })
	broken := newReceiver(t, func(int, *http.Request) (int, http.Header) { return http.StatusInternalServerError, nil })
	busy := newReceiver(t, func(n int, _ *http.Request) (int, http.Header) {
		if n == 1 {
			return http.StatusServiceUnavailable, http.Header{"Retry-After": {"3600"}}
		}
		return http.StatusOK, nil
	})
	goneEP := e.endpoint(e.merchant.ID, gone.srv.URL)
	brokenEP := e.endpoint(e.merchant.ID, broken.srv.URL)
	e.endpoint(e.merchant.ID, busy.srv.URL)
	e.pay(e.merchant)
	d := e.deliverer(e.svc, true)
	e.round(d)
	got, err := e.svc.WebhookEndpoint(ctx, e.merchant.ID, goneEP.ID)
	if err != nil || got.Status != core.WebhookDisabled || got.DisabledReason == nil || !strings.Contains(*got.DisabledReason, "410") {
		t.Fatalf("after 410: %+v %v", got, err)
	}
	// The next retries (5 s, 5 min) pass; the busy receiver is left alone for its hour.
	e.clock.Advance(10 * time.Minute)
	e.round(d)
	if len(busy.requests()) != 1 || len(gone.requests()) != 1 || len(broken.requests()) != 2 {
		t.Fatalf("after 10 min: busy %d, gone %d, broken %d requests; want 1, 1, 2",
			len(busy.requests()), len(gone.requests()), len(broken.requests()))
	}
	e.clock.Advance(time.Hour)
	e.round(d)
	if len(busy.requests()) != 2 {
		t.Fatalf("busy receiver: %d requests after its Retry-After, want 2", len(busy.requests()))
	}
	// Three days of failures, and another payment in between, disable the broken endpoint.
	start := e.clock.Now()
	for i := 0; i < 12; i++ {
		e.clock.Advance(25 * time.Hour)
		if i == 1 {
			e.pay(e.merchant)
		}
		e.round(d)
		if got, _ = e.svc.WebhookEndpoint(ctx, e.merchant.ID, brokenEP.ID); got.Status == core.WebhookDisabled {
			break
		}
	}
	if got.Status != core.WebhookDisabled || got.DisabledReason == nil || !strings.Contains(*got.DisabledReason, "HTTP 500") {
		t.Fatalf("after %s of failures: %+v", e.clock.Now().Sub(start), got)
	}
	n := len(broken.requests())
	e.clock.Advance(25 * time.Hour)
	e.round(d)
	if len(broken.requests()) != n {
		t.Fatal("a disabled endpoint was delivered to")
	}
	// Enabled again, it takes new events.
	f := false
	if _, err := e.svc.UpdateWebhookEndpoint(ctx, e.merchant.ID, brokenEP.ID, core.UpdateWebhookEndpointParams{Disabled: &f}); err != nil {
		t.Fatal(err)
	}
	e.pay(e.merchant)
	e.round(d)
	if len(broken.requests()) != n+1 {
		t.Fatalf("re-enabled endpoint: %d requests, want %d", len(broken.requests()), n+1)
	}
	// Every change is in the audit trail, with who made it.
	for id, want := range map[string]string{
		goneEP.ID:   "created by merchant, disabled by platform",
		brokenEP.ID: "created by merchant, disabled by platform, enabled by merchant",
	} {
		rows, err := e.svc.DB().Pool.Query(ctx, `SELECT action || ' by ' || split_part(actor, ':', 1) FROM webhook_endpoint_events
			WHERE endpoint_id = $1 ORDER BY created_at, action`, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || strings.Join(got, ", ") != want {
			t.Errorf("audit trail of %s: %q (%v), want %q", id, strings.Join(got, ", "), err, want)
		}
	}
}

// Two nodes delivering at once never send one delivery attempt twice.
func TestWebhookTwoNodesNeverSendAnAttemptTwice(t *testing.T) {
	e := newWebhookEnv(t)
	rc := newReceiver(t, nil)
	rc2 := newReceiver(t, nil)
	e.endpoint(e.merchant.ID, rc.srv.URL)
	e.endpoint(e.merchant.ID, rc2.srv.URL)
	const payments = 30
	for i := 0; i < payments; i++ {
		e.pay(e.merchant)
	}
	nodes := []*postgres.WebhookDeliverer{e.deliverer(e.svc, true), e.deliverer(e.node(), true)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for _, d := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if _, err := d.Round(ctx); err != nil && ctx.Err() == nil {
					t.Error(err)
					return
				}
			}
			d.Wait()
		}()
	}
	// Stopped only once every attempt is recorded: an attempt cut short by its node stopping
	// is, rightly, sent again.
	eventually.True(t, eventually.Patience, "every event at both endpoints, recorded", func() bool {
		var n int
		err := e.svc.DB().Pool.QueryRow(context.Background(), `SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'`).Scan(&n)
		return err == nil && n == 2*payments && len(rc.requests()) >= payments && len(rc2.requests()) >= payments
	})
	cancel()
	wg.Wait()
	for _, r := range []*receiver{rc, rc2} {
		seen := map[string]int{}
		for _, q := range r.requests() {
			seen[q.header.Get(webhook.HeaderID)]++
		}
		for id, n := range seen {
			if n != 1 {
				t.Errorf("%s sent %d times", id, n)
			}
		}
		if len(seen) != payments {
			t.Errorf("%d distinct events, want %d", len(seen), payments)
		}
	}
	var attempts, delivered int
	if err := e.svc.DB().Pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM webhook_delivery_attempts),
		(SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded' AND attempts = 1)`).Scan(&attempts, &delivered); err != nil {
		t.Fatal(err)
	}
	if attempts != 2*payments || delivered != 2*payments {
		t.Fatalf("%d attempts recorded, %d deliveries succeeded at the first; want %d each", attempts, delivered, 2*payments)
	}
}

// A node killed mid-delivery does not lose it: once its claim's lease ends, another node
// delivers it, with the same webhook-id.
func TestWebhookNodeKilledMidDeliveryIsNotLost(t *testing.T) {
	e := newWebhookEnv(t)
	release := make(chan struct{})
	rc := newReceiver(t, func(n int, r *http.Request) (int, http.Header) {
		if n == 1 {
			select { // the first attempt hangs until its node dies
			case <-r.Context().Done():
			case <-release:
			}
		}
		return http.StatusOK, nil
	})
	defer close(release)
	e.endpoint(e.merchant.ID, rc.srv.URL)
	e.pay(e.merchant)
	dying := e.deliverer(e.node(), true)
	ctx, kill := context.WithCancel(context.Background())
	if _, err := dying.Round(ctx); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, eventually.Patience, "the first attempt to reach the receiver", func() bool { return len(rc.requests()) == 1 })
	kill() // the node dies with its attempt in flight: nothing is recorded
	dying.Wait()

	survivor := e.deliverer(e.svc, true)
	e.round(survivor)
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("%d requests while the dead node's claim holds, want 1", n)
	}
	e.clock.Advance(61 * time.Second) // the claim's lease (60 s) ends
	e.round(survivor)
	got := rc.requests()
	if len(got) != 2 || got[0].header.Get(webhook.HeaderID) != got[1].header.Get(webhook.HeaderID) {
		t.Fatalf("%d requests, want the event again with its webhook-id", len(got))
	}
	var status string
	var attempts int
	if err := e.svc.DB().Pool.QueryRow(context.Background(), `SELECT status, attempts FROM webhook_deliveries`).Scan(&status, &attempts); err != nil {
		t.Fatal(err)
	}
	if status != "succeeded" || attempts != 2 {
		t.Fatalf("delivery %s after %d attempts", status, attempts)
	}
}

// An endpoint on a private address is refused when private addresses are not allowed: the
// check is on the address connected to, so "localhost" is refused as 127.0.0.1 is.
func TestWebhookPrivateAddressRefused(t *testing.T) {
	e := newWebhookEnv(t)
	ctx := context.Background()
	rc := newReceiver(t, nil)
	port := rc.srv.URL[strings.LastIndex(rc.srv.URL, ":")+1:]
	e.endpoint(e.merchant.ID, rc.srv.URL)
	e.endpoint(e.merchant.ID, "http://localhost:"+port+"/hooks")
	e.pay(e.merchant)
	d := e.deliverer(e.svc, false)
	e.round(d)
	if n := len(rc.requests()); n != 0 {
		t.Fatalf("%d requests reached a loopback receiver", n)
	}
	list, err := e.svc.ListEvents(ctx, e.merchant.ID, core.EventFilter{})
	if err != nil || len(list.Data) != 1 {
		t.Fatalf("events %+v %v", list, err)
	}
	attempts, err := e.svc.EventDeliveries(ctx, e.merchant.ID, list.Data[0].ID)
	if err != nil || len(attempts.Data) != 2 {
		t.Fatalf("attempts %+v %v", attempts, err)
	}
	for _, a := range attempts.Data {
		if a.Status != "failed" || a.HTTPStatus != nil || a.Error == nil || !strings.Contains(*a.Error, "not allowed") {
			t.Errorf("attempt %+v", a)
		}
	}
}

// During a rotation's overlap both secrets' signatures are sent and verify; after it only
// the new one's.
func TestWebhookSecretRotation(t *testing.T) {
	e := newWebhookEnv(t)
	ctx := context.Background()
	rc := newReceiver(t, nil)
	ep := e.endpoint(e.merchant.ID, rc.srv.URL)
	rotated, err := e.svc.RotateWebhookSecret(ctx, e.merchant.ID, ep.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Secret == "" || rotated.Secret == ep.Secret || rotated.PreviousSecretExpiresAt == nil {
		t.Fatalf("rotated %+v", rotated)
	}
	if got, _ := e.svc.WebhookEndpoint(ctx, e.merchant.ID, ep.ID); got.Secret != "" {
		t.Fatal("GET shows the secret")
	}
	d := e.deliverer(e.svc, true)
	e.pay(e.merchant)
	e.round(d)
	e.clock.Advance(time.Hour + time.Second)
	e.pay(e.merchant)
	e.round(d)
	got := rc.requests()
	if len(got) != 2 {
		t.Fatalf("%d requests", len(got))
	}
	if n := len(strings.Fields(got[0].header.Get(webhook.HeaderSignature))); n != 2 || !verifies(ep.Secret, got[0]) || !verifies(rotated.Secret, got[0]) {
		t.Fatalf("during the overlap: %d signatures, old verifies %v, new %v", n, verifies(ep.Secret, got[0]), verifies(rotated.Secret, got[0]))
	}
	if n := len(strings.Fields(got[1].header.Get(webhook.HeaderSignature))); n != 1 || verifies(ep.Secret, got[1]) || !verifies(rotated.Secret, got[1]) {
		t.Fatalf("after the overlap: %d signatures, old verifies %v, new %v", n, verifies(ep.Secret, got[1]), verifies(rotated.Secret, got[1]))
	}
	if got, _ := e.svc.WebhookEndpoint(ctx, e.merchant.ID, ep.ID); got.PreviousSecretExpiresAt != nil {
		t.Fatal("the expired secret is still shown as signing")
	}
	// Without overlap the old secret stops at once.
	again, err := e.svc.RotateWebhookSecret(ctx, e.merchant.ID, ep.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	e.pay(e.merchant)
	e.round(d)
	if got = rc.requests(); len(got) != 3 || verifies(rotated.Secret, got[2]) || !verifies(again.Secret, got[2]) {
		t.Fatal("a rotation without overlap still signs with the old secret")
	}
}

// Endpoints' parameters are checked, naming the one at fault, and at most 16 per merchant.
func TestWebhookEndpointValidation(t *testing.T) {
	e := newWebhookEnv(t)
	ctx := context.Background()
	for _, c := range []struct {
		p     core.CreateWebhookEndpointParams
		param string
	}{
		{core.CreateWebhookEndpointParams{URL: "ftp://example.com/x", EnabledEvents: []string{"*"}}, "url"},
		{core.CreateWebhookEndpointParams{URL: "https:///path", EnabledEvents: []string{"*"}}, "url"},
		{core.CreateWebhookEndpointParams{URL: "https://example.com/" + strings.Repeat("a", 2048), EnabledEvents: []string{"*"}}, "url"},
		{core.CreateWebhookEndpointParams{URL: "https://user:pw@example.com/", EnabledEvents: []string{"*"}}, "url"},
		{core.CreateWebhookEndpointParams{URL: "", EnabledEvents: []string{"*"}}, "url"},
		{core.CreateWebhookEndpointParams{URL: "https://example.com/", EnabledEvents: []string{"payment.exploded"}}, "enabled_events"},
		{core.CreateWebhookEndpointParams{URL: "https://example.com/", EnabledEvents: nil}, "enabled_events"},
	} {
		_, err := e.svc.CreateWebhookEndpoint(ctx, e.merchant.ID, c.p)
		var ce *core.Error
		if !errors.As(err, &ce) || ce.Param != c.param || (ce.Code != core.CodeParameterInvalid && ce.Code != core.CodeParameterMissing) {
			t.Errorf("%+v: %v, want a 400 naming %s", c.p, err, c.param)
		}
	}
	for i := 0; i < core.MaxWebhookEndpoints; i++ {
		e.endpoint(e.merchant.ID, fmt.Sprintf("https://example.com/%d", i))
	}
	_, err := e.svc.CreateWebhookEndpoint(ctx, e.merchant.ID, core.CreateWebhookEndpointParams{URL: "https://example.com/17", EnabledEvents: []string{"*"}})
	if core.ErrorCode(err) != core.CodeParameterInvalid {
		t.Fatalf("a 17th endpoint: %v", err)
	}
	list, err := e.svc.WebhookEndpoints(ctx, e.merchant.ID, core.WebhookEndpointFilter{Limit: 10})
	if err != nil || len(list.Data) != 10 || !list.HasMore {
		t.Fatalf("first page: %d, more %v, %v", len(list.Data), list.HasMore, err)
	}
	next, err := e.svc.WebhookEndpoints(ctx, e.merchant.ID, core.WebhookEndpointFilter{Limit: 10, StartingAfter: list.Data[9].ID})
	if err != nil || len(next.Data) != 6 || next.HasMore {
		t.Fatalf("second page: %d, more %v, %v", len(next.Data), next.HasMore, err)
	}
	if err := e.svc.DeleteWebhookEndpoint(ctx, e.merchant.ID, next.Data[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.WebhookEndpoint(ctx, e.merchant.ID, next.Data[0].ID); core.ErrorCode(err) != core.CodeNotFound {
		t.Fatalf("deleted endpoint: %v", err)
	}
}

var testLogOut io.Writer = os.Stderr

// A slow endpoint holds at most PerEndpoint attempts of one node and cannot stall another
// endpoint's deliveries.
func TestWebhookSlowEndpointDoesNotStallOthers(t *testing.T) {
	e := newWebhookEnv(t)
	release := make(chan struct{})
	var mu sync.Mutex
	inFlight, most := 0, 0
	slow := newReceiver(t, func(_ int, r *http.Request) (int, http.Header) {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
		mu.Lock()
		inFlight--
		mu.Unlock()
		return http.StatusOK, nil
	})
	fast := newReceiver(t, nil)
	e.endpoint(e.merchant.ID, slow.srv.URL)
	e.endpoint(e.merchant.ID, fast.srv.URL)
	const payments = 10
	for i := 0; i < payments; i++ {
		e.pay(e.merchant)
	}
	d := e.deliverer(e.svc, true)
	if _, err := d.Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, eventually.Patience, "every event at the fast endpoint while the slow one hangs", func() bool {
		return len(fast.requests()) == payments
	})
	eventually.True(t, eventually.Patience, "the slow endpoint's slots to fill", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return inFlight == 4
	})
	if _, err := d.Round(context.Background()); err != nil { // its slots are full: nothing more is claimed for it
		t.Fatal(err)
	}
	close(release)
	d.Wait()
	if n := len(slow.requests()); n != payments {
		t.Fatalf("slow endpoint got %d events, want %d", n, payments)
	}
	mu.Lock()
	defer mu.Unlock()
	if most != 4 {
		t.Fatalf("at most %d attempts at once to the slow endpoint, want the bound, 4", most)
	}
}
