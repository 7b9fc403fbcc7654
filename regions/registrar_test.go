package regions_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/paycenter/paycenter/regions"
	"github.com/paycenter/paycenter/regions/consultest"
)

// offlineClient is a client for an address where nothing listens, for tests that must not
// reach Consul.
func offlineClient(t testing.TB) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRegistrarConfigValidation(t *testing.T) {
	client := offlineClient(t)
	good := regions.RegistrarConfig{NodeID: "us-east-1", Region: "us-east", Addr: "127.0.0.1:8080"}
	tests := []struct {
		name   string
		change func(*regions.RegistrarConfig)
		want   string
	}{
		{"no node id", func(c *regions.RegistrarConfig) { c.NodeID = "" }, "NodeID is required"},
		{"bad region", func(c *regions.RegistrarConfig) { c.Region = "US East" }, "invalid region name"},
		{"no port", func(c *regions.RegistrarConfig) { c.Addr = "127.0.0.1" }, "want host:port"},
		{"wildcard host", func(c *regions.RegistrarConfig) { c.Addr = "0.0.0.0:8080" }, "not a wildcard"},
		{"empty host", func(c *regions.RegistrarConfig) { c.Addr = ":8080" }, "not a wildcard"},
		{"bad port", func(c *regions.RegistrarConfig) { c.Addr = "127.0.0.1:http" }, "bad port"},
		{"negative interval", func(c *regions.RegistrarConfig) { c.CheckInterval = -time.Second }, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.change(&cfg)
			_, err := regions.NewRegistrar(client, cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("NewRegistrar = %v, want an error saying %q", err, tt.want)
			}
		})
	}
	if _, err := regions.NewRegistrar(client, good); err != nil {
		t.Errorf("NewRegistrar(good) = %v", err)
	}
	if _, err := regions.NewRegistrar(nil, good); err == nil {
		t.Error("NewRegistrar(nil client) succeeded")
	}
}

func TestRegistrarRegistersWhatRoutingNeeds(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	n := newFakeNode(t, agent.Client, "", "eu-west-7", "eu-west") // "" → the default, payd
	n.register(t)

	// The agent syncs its registrations to the catalog in the background.
	var svcs []*api.CatalogService
	eventually(t, propagateWithin, "the registration reaches the catalog", func() (bool, string) {
		var err error
		svcs, _, err = agent.Client.Catalog().Service("payd", "", nil)
		return err == nil && len(svcs) == 1, fmt.Sprintf("%d payd services in the catalog%s", len(svcs), errString(err))
	})
	s := svcs[0]
	host, port, _ := net.SplitHostPort(n.addr())
	if s.ServiceID != "eu-west-7" || s.ServiceAddress != host || strconv.Itoa(s.ServicePort) != port {
		t.Errorf("registered %s at %s:%d, want eu-west-7 at %s", s.ServiceID, s.ServiceAddress, s.ServicePort, n.addr())
	}
	if len(s.ServiceTags) != 1 || s.ServiceTags[0] != "eu-west" {
		t.Errorf("tags = %v, want [eu-west]", s.ServiceTags)
	}
	if want := map[string]string{"region": "eu-west", "node_id": "eu-west-7"}; !maps.Equal(s.ServiceMeta, want) {
		t.Errorf("meta = %v, want %v", s.ServiceMeta, want)
	}

	var checks api.HealthChecks
	eventually(t, propagateWithin, "the check reaches the catalog", func() (bool, string) {
		var err error
		checks, _, err = agent.Client.Health().Checks("payd", nil)
		return err == nil && len(checks) == 1, fmt.Sprintf("payd has %d checks%s", len(checks), errString(err))
	})
	if c := checks[0]; c.Type != "http" || c.ServiceID != "eu-west-7" || c.Name != "payd readiness" {
		t.Errorf("check = %q of type %s for %s; want \"payd readiness\", http, eu-west-7", c.Name, c.Type, c.ServiceID)
	}
	// The API does not show a check's URL or its deregistration timeout; the agent's
	// persisted copy of the check (Consul 1.14's format) does.
	def := persistedCheck(t, agent.DataDir)
	want := checkDefinition{HTTP: "http://" + n.addr() + "/readyz", Method: "GET", Interval: time.Second, Timeout: time.Second, DeregisterCriticalServiceAfter: time.Minute}
	if def != want {
		t.Errorf("check definition = %+v, want %+v", def, want)
	}
	eventually(t, detectWithin, "consul polls /readyz", func() (bool, string) {
		return n.readyzHits.Load() > 0, "no request to /readyz yet"
	})

	// Registering again replaces the registration; it does not add a second one.
	n.register(t)
	if svcs, _, _ := agent.Client.Catalog().Service("payd", "", nil); len(svcs) != 1 {
		t.Errorf("after registering twice the catalog has %d instances", len(svcs))
	}
}

func TestRegistrarKeepsRegistration(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	n := newFakeNode(t, agent.Client, regions.ServicePayedge, "edge-us-east", "us-east")
	n.keepRegistered(t)
	registered := func() (bool, string) {
		svcs, err := agent.Client.Agent().Services()
		_, ok := svcs["edge-us-east"]
		return ok, "agent services: " + strings.Join(slicesKeys(svcs), ",") + errString(err)
	}
	eventually(t, propagateWithin, "registered by Start", registered)

	// Someone (or a restarted agent) drops the registration: it comes back.
	if err := agent.Client.Agent().ServiceDeregister("edge-us-east"); err != nil {
		t.Fatal(err)
	}
	took := eventually(t, propagateWithin, "registered again", registered)
	t.Logf("registration restored after %v", took.Round(time.Millisecond))

	// Stopped and deregistered, it stays gone.
	n.reg.Stop()
	if err := n.reg.Deregister(t.Context()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond) // longer than two resync intervals
	if ok, state := registered(); ok {
		t.Errorf("still registered after Stop and Deregister: %s", state)
	}
}

func slicesKeys[V any](m map[string]V) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return " (" + err.Error() + ")"
}

// checkDefinition is the part of Consul 1.14's persisted check file ("ChkType") the test
// looks at; durations are nanoseconds.
type checkDefinition struct {
	HTTP                           string
	Method                         string
	Interval                       time.Duration
	Timeout                        time.Duration
	DeregisterCriticalServiceAfter time.Duration
}

func persistedCheck(t *testing.T, dataDir string) checkDefinition {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dataDir, "checks", "*"))
	if err != nil || len(files) != 1 {
		t.Fatalf("persisted checks in %s: %v, %v; want one file", dataDir, files, err)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	var persisted struct{ ChkType checkDefinition }
	if err := json.Unmarshal(b, &persisted); err != nil {
		t.Fatalf("persisted check %s: %v", b, err)
	}
	return persisted.ChkType
}
