package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	paysdk "github.com/paycenter/paycenter/sdk"
)

// Receiver is the merchants' webhook endpoint in the chaos suite: one HTTP server on
// loopback, a path per merchant (/hooks/<merchant ID>). It verifies every delivery with the
// SDK's Verify and the merchant's secret, records it, and answers 503 with Retry-After: 1
// to a share of them (FailShare) and to all of them while it is down (SetDown: part of every
// fault), so that the platform's retries are exercised without waiting for the schedule's
// later, minutes-long steps. The nodes must be allowed to reach loopback
// (payd -webhooks-allow-private, which the local platform sets).
type Receiver struct {
	// FailShare is the share of deliveries answered 503 while up. Default 0.2.
	FailShare float64
	srv       *http.Server
	url       string
	down      atomic.Bool
	mu        sync.Mutex
	secrets   map[string]string // merchant ID → signing secret
	got       []Delivery
	failed    int
}

// Delivery is one webhook the receiver got.
type Delivery struct {
	Merchant  string    `json:"merchant"`
	EventID   string    `json:"event_id"`
	Type      string    `json:"type"`
	ObjectID  string    `json:"object_id"`
	UpdatedAt time.Time `json:"updated_at"` // the object's version, to reorder by
	Valid     bool      `json:"valid"`      // the signature verified
	Accepted  bool      `json:"accepted"`   // answered 2xx
	At        time.Time `json:"at"`
}

// StartReceiver listens on a free loopback port.
func StartReceiver() (*Receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &Receiver{FailShare: 0.2, secrets: map[string]string{}, url: "http://" + ln.Addr().String()}
	r.srv = &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// URL is where merchant's deliveries go.
func (r *Receiver) URL(merchant string) string { return r.url + "/hooks/" + merchant }

// Register makes an endpoint for the merchant (every event type) and keeps its secret.
func (r *Receiver) Register(ctx context.Context, c *paysdk.Client, merchant string) error {
	ep, err := c.CreateWebhookEndpoint(ctx, paysdk.WebhookEndpointParams{URL: r.URL(merchant), EnabledEvents: []string{"*"}, Description: "chaos receiver"})
	if err != nil {
		return fmt.Errorf("register webhook endpoint: %w", err)
	}
	r.mu.Lock()
	r.secrets[merchant] = ep.Secret
	r.mu.Unlock()
	return nil
}

// SetDown makes the receiver refuse every delivery (503) until SetDown(false).
func (r *Receiver) SetDown(down bool) { r.down.Store(down) }

// Close stops the receiver.
func (r *Receiver) Close() error { return r.srv.Close() }

// Deliveries are the deliveries received so far, and how many were answered 503.
func (r *Receiver) Deliveries() ([]Delivery, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.got...), r.failed
}

// ServeHTTP receives one delivery.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	merchant := strings.TrimPrefix(req.URL.Path, "/hooks/")
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	secret := r.secrets[merchant]
	r.mu.Unlock()
	d := Delivery{Merchant: merchant, EventID: req.Header.Get(paysdk.HeaderWebhookID), At: time.Now()}
	d.Valid = secret != "" && paysdk.Verify(secret, req.Header, body) == nil
	var ev paysdk.Event
	if json.Unmarshal(body, &ev) == nil {
		var obj struct {
			ID        string    `json:"id"`
			UpdatedAt time.Time `json:"updated_at"`
		}
		_ = json.Unmarshal(ev.Data.Object, &obj)
		d.Type, d.ObjectID, d.UpdatedAt = ev.Type, obj.ID, obj.UpdatedAt
	}
	fail := r.down.Load() || rand.Float64() < r.FailShare
	d.Accepted = !fail && d.Valid
	r.mu.Lock()
	r.got = append(r.got, d)
	if fail {
		r.failed++
	}
	r.mu.Unlock()
	switch {
	case fail:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	case !d.Valid:
		w.WriteHeader(http.StatusBadRequest)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

// For are the deliveries to the merchants' endpoints.
func (r *Receiver) For(merchants []string) []Delivery {
	mine := map[string]bool{}
	for _, m := range merchants {
		mine[m] = true
	}
	all, _ := r.Deliveries()
	out := []Delivery{}
	for _, d := range all {
		if mine[d.Merchant] {
			out = append(out, d)
		}
	}
	return out
}

// awaitDeliveries waits until every outbox event of the merchants has been accepted by the
// receiver, up to bound, and says how long that took in milliseconds (-1: not all were).
func awaitDeliveries(ctx context.Context, t *Target, r *Receiver, merchants []string, bound time.Duration) int64 {
	start := time.Now()
	deadline := start.Add(bound)
	conn, err := connect(ctx, t.DatabaseURL)
	if err != nil {
		return -1
	}
	defer conn.Close(context.Background())
	for {
		rows, err := conn.Query(ctx, `SELECT id FROM outbox_events WHERE merchant_id = ANY($1)`, merchants)
		var ids []string
		if err == nil {
			ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err == nil {
			accepted := map[string]bool{}
			for _, d := range r.For(merchants) {
				if d.Accepted {
					accepted[d.EventID] = true
				}
			}
			missing := 0
			for _, id := range ids {
				if !accepted[id] {
					missing++
				}
			}
			if missing == 0 {
				return time.Since(start).Milliseconds()
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return -1
		}
		sleep(ctx, 250*time.Millisecond)
	}
}
