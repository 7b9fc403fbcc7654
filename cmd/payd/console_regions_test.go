package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/console"
	waitfor "github.com/paycenter/paycenter/internal/eventually"
	"github.com/paycenter/paycenter/regions"
	"github.com/paycenter/paycenter/regions/consultest"
)

// The regions page shows each region's nodes with their health from a real Consul agent,
// and drains a region only after its confirmation step, audited; other roles are refused.
func TestConsoleRegionsPage(t *testing.T) {
	agent := consultest.Start(t)
	node := paydtest.Start(t)
	rs, err := newConsulRegions(agent.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	bo, err := console.New(node.Service, console.Config{Regions: rs})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(bo)
	t.Cleanup(srv.Close)
	// Two nodes in us-east: one ready, one whose readiness fails.
	for id, status := range map[string]int{"us-east-ready": 200, "us-east-sick": 503} {
		ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(status) }))
		t.Cleanup(ready.Close)
		reg, err := regions.NewRegistrar(agent.Client, regions.RegistrarConfig{NodeID: id, Region: "us-east",
			Addr: strings.TrimPrefix(ready.URL, "http://")})
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Register(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	c := &consoleNode{t: t, node: node}
	c.user(paydtest.AdminToken, "/v1/admin/console_users", "ops@regions.test", core.RoleOperator, "")
	c.user(paydtest.AdminToken, "/v1/admin/console_users", "support@regions.test", core.RoleSupport, "")
	login := func(email string) *browser {
		b := c.browser()
		b.base = srv.URL
		if st := b.login(email, consolePassword); st != http.StatusSeeOther {
			t.Fatalf("login %s: %d", email, st)
		}
		return b
	}
	ops := login("ops@regions.test")
	page := waitfor.Value(t, eventuallyWithin, "both nodes' health in the page", func() (string, bool) {
		st, page := ops.get("/dashboard/ops/regions")
		return page, st == 200 && strings.Contains(page, "us-east-ready") && strings.Contains(page, "us-east-sick") &&
			strings.Contains(page, `"status passing">passing`) && strings.Contains(page, `"status critical">critical`)
	})
	drained := func() bool {
		t.Helper()
		d, err := rs.sw.Drained(context.Background(), "us-east")
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	sup := login("support@regions.test")
	_, spage := sup.get("/dashboard/ops/regions")
	if strings.Contains(spage, "/us-east/drain") {
		t.Fatal("the support role is shown the drain button")
	}
	if st, _ := sup.post("/dashboard/ops/regions/us-east/drain", url.Values{"csrf": {sup.csrf(spage)}, "confirm": {"us-east"}}); st != http.StatusForbidden || drained() {
		t.Fatalf("support drains: %d, drained %v; want 403, not drained", st, drained())
	}
	if st, _ := ops.post("/dashboard/ops/regions/us-east/drain", url.Values{"confirm": {"us-east"}}); st != http.StatusForbidden || drained() {
		t.Fatalf("drain without CSRF: %d, drained %v", st, drained())
	}
	// The first step only asks.
	st, confirm := ops.post("/dashboard/ops/regions/us-east/drain", url.Values{"csrf": {ops.csrf(page)}})
	if st != 200 || !strings.Contains(confirm, `id="confirm-button"`) || drained() {
		t.Fatalf("drain's first step: %d, drained %v; want the confirmation page", st, drained())
	}
	if st, _ := ops.post("/dashboard/ops/regions/us-east/drain", url.Values{"csrf": {ops.csrf(confirm)}, "confirm": {"us-east"}}); st != http.StatusSeeOther || !drained() {
		t.Fatalf("confirmed drain: %d, drained %v", st, drained())
	}
	// Audited before it was tried, and its outcome after.
	for _, action := range []string{"region.drain_requested", "region.drained"} {
		if n, who := c.audited(action, "us-east"); n != 1 || who != "ops@regions.test" {
			t.Fatalf("%s audited %d times by %q", action, n, who)
		}
	}
	if _, page := ops.get("/dashboard/ops/regions"); !strings.Contains(page, "drained") || !strings.Contains(page, "/us-east/undrain") {
		t.Fatal("the page does not show us-east drained with its undrain button")
	}
	if st, _ := ops.post("/dashboard/ops/regions/us-east/undrain", url.Values{"csrf": {ops.csrf(page)}, "confirm": {"us-east"}}); st != http.StatusSeeOther || drained() {
		t.Fatalf("confirmed undrain: %d, drained %v", st, drained())
	}
	if st, _ := ops.post("/dashboard/ops/regions/mars-north/drain", url.Values{"csrf": {ops.csrf(page)}, "confirm": {"mars-north"}}); st != 404 {
		t.Fatalf("an unknown region: %d, want 404", st)
	}
}
