// Package paydtest starts one node of the platform for a test: the real PostgreSQL service
// and HTTP API on a fresh test database, with the in-process channel simulator, served
// over HTTP by net/http/httptest. Clients of the API (the SDK's contract tests, payctl's)
// use it to talk to the real server without building or running payd.
//
// A test package that uses it must run its tests through pgtest:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
package paydtest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/core/console"
	"github.com/paycenter/paycenter/core/httpapi"
	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/core/postgres/pgtest"
	"github.com/paycenter/paycenter/core/webhook"
)

// Node defaults.
const (
	// AdminToken is the node's operator token.
	AdminToken = "adm_testnode_0123456789abcdef"
	// Region is the node's region.
	Region = "us-east"
)

// Node is one running node.
type Node struct {
	// URL is the node's base URL, e.g. "http://127.0.0.1:41234".
	URL string
	// DB is the node's database, for setting state up (or breaking it) directly.
	DB *postgres.DB
	// Service is the node's payment service.
	Service *postgres.Service
	// Channels is the simulator behind every channel.
	Channels *inprocsim.Channel
	// Webhooks delivers the node's webhooks (private addresses allowed, so receivers on
	// loopback get them), every 20ms.
	Webhooks *postgres.WebhookDeliverer
}

// Start starts a node on a database of its own; it stops when the test ends.
func Start(t testing.TB) *Node {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.NewDatabase(t), 10)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sim := inprocsim.New()
	svc, err := postgres.NewService(db, sim, postgres.Config{Region: Region, SecretKey: bytes.Repeat([]byte("k"), 32),
		Lease: 30 * time.Second, ChannelTimeout: 5 * time.Second, Logger: log, UnverifiedVolumeLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.RegisterRegion(ctx); err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.NewServer(svc, svc, svc, httpapi.Config{AdminToken: AdminToken, Region: Region, NodeID: Region + "-1",
		Logger: log, Gateway: svc, Webhooks: svc})
	if err != nil {
		t.Fatal(err)
	}
	bo, err := console.New(svc, console.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(console.Mount(api, bo))
	t.Cleanup(srv.Close)
	wh, err := postgres.NewWebhookDeliverer(svc, postgres.WebhookConfig{Interval: 20 * time.Millisecond,
		Sender: webhook.NewSender(webhook.SenderConfig{AllowPrivate: true})})
	if err != nil {
		t.Fatal(err)
	}
	worker := wh.Worker()
	worker.Start(ctx)
	t.Cleanup(worker.Stop)
	return &Node{URL: srv.URL, DB: db, Service: svc, Channels: sim, Webhooks: wh}
}
