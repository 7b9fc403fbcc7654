package localcluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/deploy/localcluster"
	"github.com/paycenter/paycenter/regions"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// consulBinary finds consul the way regions/consultest does.
func consulBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("PAY_CONSUL_BIN"); p != "" {
		return p
	}
	if p, err := filepath.Abs("../../.local/bin/consul"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("consul"); err == nil {
		return p
	}
	msg := "no consul binary: run deploy/tools/consul/build.sh (make test does)"
	if os.Getenv("PAY_REQUIRE_CONSUL") == "1" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// platform is the whole local platform, up for one test.
type platform struct {
	t      *testing.T
	c      *localcluster.Cluster
	state  string
	consul *api.Client
	admin  string
}

func startPlatform(t *testing.T) *platform {
	t.Helper()
	if testing.Short() {
		t.Skip("starts the whole multi-region platform")
	}
	consul := consulBinary(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	for _, cmd := range []string{"payd", "payedge", "paywan", "channelsim"} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(bin, cmd), "github.com/paycenter/paycenter/cmd/"+cmd).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", cmd, err, out)
		}
	}
	state := filepath.Join(dir, "state")
	var log strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := localcluster.Up(ctx, localcluster.Options{Dir: state, Bin: bin, Consul: consul, Out: &log})
	if err != nil {
		t.Fatalf("up: %v\n%s", err, log.String())
	}
	t.Cleanup(func() { _ = localcluster.Down(state, nil, io.Discard) })
	client, err := api.NewClient(&api.Config{Address: c.ConsulAddr})
	if err != nil {
		t.Fatal(err)
	}
	return &platform{t: t, c: c, state: state, consul: client, admin: c.AdminToken}
}

func (p *platform) region(name string) localcluster.Region {
	for _, r := range p.c.Regions {
		if r.Name == name {
			return r
		}
	}
	p.t.Fatalf("no region %s", name)
	return localcluster.Region{}
}

func (p *platform) merchant(home string) string {
	p.t.Helper()
	b, _ := json.Marshal(map[string]string{"name": "Acme " + home, "home_region": home})
	req, _ := http.NewRequest("POST", p.region("us-east").Endpoint+"/v1/admin/merchants", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+p.admin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	var m core.Merchant
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil || m.SecretKey == "" {
		p.t.Fatalf("create merchant: %d %v", res.StatusCode, err)
	}
	return m.SecretKey
}

// servedBy asks endpoint who the merchant is and returns the region that answered.
func servedBy(endpoint, key string) (string, int) {
	req, _ := http.NewRequest("GET", endpoint+"/v1/merchant", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return "", 0
	}
	res.Body.Close()
	return res.Header.Get("Payd-Region"), res.StatusCode
}

// Deadlines for until: the platform runs a dozen processes, and CI runs this test on a busy
// 2-core machine. until returns as soon as its condition holds; what a step took is logged.
const (
	// routedWithin bounds a change of routing: a switch or a kill, then readiness checks
	// every second, Consul and the endpoints' routers.
	routedWithin = time.Minute
)

// until polls cond every 50 ms for up to limit and returns how long it took.
func until(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

func TestMultiRegion(t *testing.T) {
	p := startPlatform(t)
	key := p.merchant("us-east")
	us := p.region("us-east")
	for _, r := range p.c.Regions {
		if got, code := servedBy(r.Endpoint, key); code != 200 || got != r.Name {
			t.Fatalf("endpoint of %s answered %d from %q", r.Name, code, got)
		}
	}

	t.Run("drain through Consul KV moves traffic away and back", func(t *testing.T) {
		sw, err := regions.NewSwitches(p.consul, regions.SwitchesConfig{})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if err := sw.Drain(ctx, "us-east"); err != nil {
			t.Fatal(err)
		}
		away := until(t, routedWithin, "traffic leaves the drained region", func() bool {
			got, code := servedBy(us.Endpoint, key)
			return code == 200 && got == "eu-west"
		})
		if err := sw.Undrain(ctx, "us-east"); err != nil {
			t.Fatal(err)
		}
		back := until(t, routedWithin, "traffic comes back", func() bool {
			got, code := servedBy(us.Endpoint, key)
			return code == 200 && got == "us-east"
		})
		t.Logf("drain: traffic moved to eu-west in %s; undrain: back in %s", away.Round(time.Millisecond), back.Round(time.Millisecond))
	})

	t.Run("readiness follows the database link", func(t *testing.T) {
		eu := p.region("eu-west")
		link := func(enabled bool) {
			b, _ := json.Marshal(map[string]bool{"enabled": enabled})
			res, err := http.Post("http://"+p.c.WANAPI+"/proxies/"+eu.DBLink, "application/json", bytes.NewReader(b))
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("toxiproxy: %v %v", res, err)
			}
			res.Body.Close()
		}
		passing := func() int {
			entries, _, err := p.consul.Health().Service(regions.ServicePayd, "eu-west", true, nil)
			if err != nil {
				return -1
			}
			return len(entries)
		}
		ready := func(n localcluster.Node) int {
			res, err := (&http.Client{Timeout: 3 * time.Second}).Get("http://" + n.Addr + "/readyz")
			if err != nil {
				return 0
			}
			res.Body.Close()
			return res.StatusCode
		}
		link(false)
		cut := until(t, routedWithin, "eu-west nodes unready and critical in Consul", func() bool {
			return ready(eu.Nodes[0]) == 503 && passing() == 0
		})
		link(true)
		restored := until(t, routedWithin, "eu-west nodes ready and passing again", func() bool {
			return ready(eu.Nodes[0]) == 200 && passing() == len(eu.Nodes)
		})
		// Passing in Consul is not yet routed: the eu-west endpoint's router learns it a moment
		// later, and the next subtest needs eu-west to serve eu-west.
		until(t, routedWithin, "the eu-west endpoint routes to eu-west again", func() bool {
			got, code := servedBy(eu.Endpoint, key)
			return code == 200 && got == "eu-west"
		})
		t.Logf("database link cut: critical in %s; restored: passing in %s", cut.Round(time.Millisecond), restored.Round(time.Millisecond))
	})

	t.Run("the SDK's failover keeps exactly-once", func(t *testing.T) {
		// The nearest endpoint is dead: the SDK moves on with the same key. A retry of the
		// same logical payment is the same payment.
		sdk, err := paysdk.New(paysdk.Config{Endpoints: []string{"http://127.0.0.1:1", p.region("eu-west").Endpoint, p.region("ap-south").Endpoint},
			SecretKey: key, Backoff: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		params := paysdk.CreatePaymentParams{Amount: 4200, Currency: "usd", Channel: paysdk.ChannelCard, MerchantReference: "sdk-failover",
			PaymentMethod: &paysdk.PaymentMethodData{Card: &paysdk.CardData{Number: "4242424242424242", ExpMonth: 12, ExpYear: time.Now().Year() + 2}}}
		idem := core.RandomToken(16)
		var info paysdk.ResponseInfo
		pay, err := sdk.CreatePayment(context.Background(), params, paysdk.WithIdempotencyKey(idem), paysdk.WithResponseInfo(&info))
		if err != nil || pay.Status != paysdk.StatusSucceeded || info.Attempts < 2 || info.Region != "eu-west" {
			t.Fatalf("payment %+v, info %+v, err %v", pay, info, err)
		}
		// The same logical payment retried later through another region.
		sdk2, _ := paysdk.New(paysdk.Config{Endpoints: []string{p.region("ap-south").Endpoint}, SecretKey: key})
		var info2 paysdk.ResponseInfo
		again, err := sdk2.CreatePayment(context.Background(), params, paysdk.WithIdempotencyKey(idem), paysdk.WithResponseInfo(&info2))
		if err != nil || again.ID != pay.ID || !info2.Replayed {
			t.Fatalf("retry through ap-south: %+v %+v %v", again, info2, err)
		}
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, p.c.DatabaseURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var payments, authorizations int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM payments WHERE merchant_reference = 'sdk-failover'`).Scan(&payments); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, `SELECT count(DISTINCT journal_id) FROM ledger_entries WHERE payment_id = $1 AND kind IN ('authorize', 'sale')`, pay.ID).Scan(&authorizations); err != nil {
			t.Fatal(err)
		}
		if payments != 1 || authorizations != 1 {
			t.Fatalf("%d payments, %d authorisations, want 1 and 1", payments, authorizations)
		}
		charges, err := netsim.Control{BaseURL: p.c.ChannelSim}.Charges(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if pc := charges.Payments[pay.ID]; pc == nil || pc.Charges != 1 || pc.AmountCharged != 4200 {
			t.Fatalf("channel charges for %s: %+v, want exactly one of 4200", pay.ID, pc)
		}
		t.Logf("served by %s after %d attempts; the retry through ap-south replayed it", info.Region, info.Attempts)
	})

	t.Run("killing every node of a region moves its traffic to the next region", func(t *testing.T) {
		for _, n := range us.Nodes {
			if err := syscall.Kill(n.PID, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
		killed := time.Now()
		var served string
		gap := until(t, routedWithin, "a success elsewhere", func() bool {
			got, code := servedBy(us.Endpoint, key)
			served = got
			return code == 200
		})
		if served != "eu-west" {
			t.Fatalf("served by %q, want eu-west (the nearest)", served)
		}
		fmt.Printf("failover: every us-east node killed; first success through the us-east endpoint, served by %s, %d ms after the kill\n",
			served, time.Since(killed).Milliseconds())
		t.Logf("time from kill to first success elsewhere: %s", gap.Round(time.Millisecond))
	})

	t.Run("down leaves no process behind", func(t *testing.T) {
		c, err := localcluster.Load(p.state)
		if err != nil {
			t.Fatal(err)
		}
		pids := []int{c.Postgres.PID}
		for _, s := range c.Services {
			pids = append(pids, s.PID)
		}
		for _, r := range c.Regions {
			for _, n := range r.Nodes {
				pids = append(pids, n.PID)
			}
		}
		if err := localcluster.Down(p.state, nil, io.Discard); err != nil {
			t.Fatal(err)
		}
		for _, pid := range pids {
			if running(pid) {
				t.Errorf("process %d still running after down", pid)
			}
		}
		t.Logf("%d processes stopped", len(pids))
	})
}
