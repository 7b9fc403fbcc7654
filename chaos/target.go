package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/deploy/localcluster"
	"github.com/paycenter/paycenter/regions"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// Region is one region the target serves: its name and its endpoint.
type Region struct {
	Name     string `json:"name"`
	Endpoint string `json:"endpoint"`
}

// Target is the platform under test: where its endpoints, database and channel simulator
// are and, for the local platform, its state directory (cluster.json) and binaries, which
// the faults that kill and restart processes need.
type Target struct {
	Regions     []Region
	DatabaseURL string
	AdminToken  string
	// ChannelSim is the channel simulator's base URL; empty: none (no charge records, no
	// channel faults, wallet payers cannot pay).
	ChannelSim string
	// ConsulAddr is a Consul agent's HTTP address, to see that every node is registered and
	// passing; empty: not checked.
	ConsulAddr string
	// WANAPI is the local WAN emulator's Toxiproxy API (database faults); empty: none.
	WANAPI string
	// Dir and Bin are the local platform's state directory and binaries; empty for a
	// deployed platform (then only faults that need no process control can run).
	Dir, Bin string

	http     *http.Client
	admin    *paysdk.Admin // every region's endpoint, in the target's order
	mu       sync.Mutex
	probeKey string // the secret key of a merchant for steady-state probes
}

// LocalTarget is the local platform described by clusterFile (.local/cluster.json), whose
// nodes are restarted from bin.
func LocalTarget(clusterFile, bin string) (*Target, error) {
	dir := filepath.Dir(clusterFile)
	c, err := localcluster.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("read %s (is the platform up? 'make up'): %w", clusterFile, err)
	}
	if bin != "" {
		if bin, err = filepath.Abs(bin); err != nil {
			return nil, err
		}
	}
	t := &Target{DatabaseURL: c.DatabaseURL, AdminToken: c.AdminToken, ChannelSim: c.ChannelSim,
		ConsulAddr: c.ConsulAddr, WANAPI: c.WANAPI, Dir: dir, Bin: bin}
	for _, r := range c.Regions {
		t.Regions = append(t.Regions, Region{Name: r.Name, Endpoint: r.Endpoint})
	}
	return t, t.init()
}

// RemoteTarget is a deployed platform: its regions' endpoints (nearest-first order is the
// order given, rotated to start at each client's home), its database and optionally its
// channel simulator and Consul.
func RemoteTarget(rs []Region, databaseURL, adminToken, channelSim, consulAddr string) (*Target, error) {
	t := &Target{Regions: rs, DatabaseURL: databaseURL, AdminToken: adminToken, ChannelSim: channelSim, ConsulAddr: consulAddr}
	return t, t.init()
}

func (t *Target) init() error {
	if len(t.Regions) == 0 {
		return errors.New("chaos: the target has no regions")
	}
	for _, r := range t.Regions {
		if r.Name == "" || r.Endpoint == "" {
			return fmt.Errorf("chaos: region %+v needs a name and an endpoint", r)
		}
	}
	if t.DatabaseURL == "" || t.AdminToken == "" {
		return errors.New("chaos: the target needs a database URL and an admin token")
	}
	t.http = &http.Client{Timeout: 10 * time.Second}
	eps := make([]string, len(t.Regions))
	for i, r := range t.Regions {
		eps[i] = r.Endpoint
	}
	var err error
	t.admin, err = paysdk.NewAdmin(paysdk.AdminConfig{Endpoints: eps, Token: t.AdminToken, HTTPClient: t.http})
	if err != nil {
		return fmt.Errorf("chaos: %w", err)
	}
	return nil
}

// Local reports whether the target is the local platform (processes can be killed).
func (t *Target) Local() bool { return t.Dir != "" }

// Cluster reads the local platform's cluster.json afresh (process IDs change as faults
// restart them).
func (t *Target) Cluster() (*localcluster.Cluster, error) {
	if !t.Local() {
		return nil, errors.New("chaos: not a local platform")
	}
	return localcluster.Load(t.Dir)
}

// RegionNames lists the target's regions.
func (t *Target) RegionNames() []string {
	out := make([]string, len(t.Regions))
	for i, r := range t.Regions {
		out[i] = r.Name
	}
	return out
}

// Endpoint is a region's endpoint.
func (t *Target) Endpoint(region string) string {
	for _, r := range t.Regions {
		if r.Name == region {
			return r.Endpoint
		}
	}
	return ""
}

// EndpointsFrom lists every endpoint nearest first from home: the local topology's order
// when it knows every region, else home first and then the others as given.
func (t *Target) EndpointsFrom(home string) []string {
	topo := regions.DefaultTopology()
	order := topo.Nearest(home)
	if len(order) != len(t.Regions) {
		order = []string{home}
		for _, r := range t.Regions {
			if r.Name != home {
				order = append(order, r.Name)
			}
		}
	}
	var out []string
	for _, name := range order {
		if ep := t.Endpoint(name); ep != "" {
			out = append(out, ep)
		}
	}
	return out
}

// CreateMerchant onboards a merchant homed in home.
func (t *Target) CreateMerchant(ctx context.Context, name, home string) (Merchant, error) {
	m, err := t.admin.CreateMerchant(ctx, paysdk.CreateMerchantParams{Name: name, HomeRegion: home})
	if err != nil {
		return Merchant{}, fmt.Errorf("create merchant: %w", err)
	}
	if m.SecretKey == "" {
		return Merchant{}, errors.New("create merchant: no secret key in the answer")
	}
	return Merchant{ID: m.ID, SecretKey: m.SecretKey, Home: home}, nil
}

// LedgerCheck runs the operator's whole-ledger check.
func (t *Target) LedgerCheck(ctx context.Context) (*paysdk.LedgerReport, error) {
	return t.admin.CheckLedger(ctx)
}

// Steady lists what is wrong with the platform now; none means it is in its steady state:
// every endpoint ready and served by its own region, every local process alive and ready,
// every node passing in Consul, no fault left in the WAN emulator or the channel simulator,
// the database answering, and a card payment through every region's endpoint succeeding in
// that region.
func (t *Target) Steady(ctx context.Context) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, r := range t.Regions {
		code, region, err := t.get(ctx, r.Endpoint+"/readyz")
		if err != nil || code != 200 || region != r.Name {
			bad("endpoint of %s: readyz %d from %q %v", r.Name, code, region, errOrNil(err))
		}
	}
	if t.ChannelSim != "" {
		if code, _, err := t.get(ctx, strings.TrimRight(t.ChannelSim, "/")+"/healthz"); err != nil || code != 200 {
			bad("channel simulator: %d %v", code, errOrNil(err))
		} else if f, err := (netsim.Control{BaseURL: t.ChannelSim, HTTPClient: t.http}).Faults(ctx); err != nil || len(f) > 0 {
			bad("channel simulator faults left: %v %v", f, errOrNil(err))
		}
	}
	if err := pingDatabase(ctx, t.DatabaseURL); err != nil {
		bad("database: %v", err)
	}
	nodes := 0
	if t.Local() {
		c, err := t.Cluster()
		if err != nil {
			return append(problems, err.Error())
		}
		for _, r := range c.Regions {
			for _, n := range r.Nodes {
				nodes++
				if !alive(n.PID) {
					bad("payd %s (pid %d) is not running", n.ID, n.PID)
				} else if code, _, err := t.get(ctx, "http://"+n.Addr+"/readyz"); code != 200 {
					bad("payd %s: readyz %d %v", n.ID, code, errOrNil(err))
				}
			}
		}
		for _, s := range c.Services {
			if !alive(s.PID) {
				bad("%s (pid %d) is not running", s.Name, s.PID)
			}
		}
		if pid := postmasterPID(c.Postgres.DataDir); !alive(pid) {
			bad("PostgreSQL (%s) is not running", c.Postgres.DataDir)
		}
	}
	if t.ConsulAddr != "" {
		if n, err := passingNodes(ctx, t.ConsulAddr); err != nil {
			bad("consul: %v", err)
		} else if (nodes > 0 && n < nodes) || n < len(t.Regions) {
			bad("consul: %d payd passing, want %d", n, max(nodes, len(t.Regions)))
		}
	}
	if t.WANAPI != "" {
		if left, err := (Toxiproxy{API: t.WANAPI}).Leftovers(ctx); err != nil || len(left) > 0 {
			bad("WAN emulator: faults left %v %v", left, errOrNil(err))
		}
	}
	if len(problems) > 0 {
		return problems
	}
	// Every region takes a payment itself.
	errs := make([]error, len(t.Regions))
	var wg sync.WaitGroup
	for i, r := range t.Regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = t.probePayment(ctx, r)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			bad("probe payment through %s: %v", t.Regions[i].Name, err)
		}
	}
	return problems
}

// WaitSteady waits until the platform is in its steady state, or timeout passes.
func (t *Target) WaitSteady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, 45*time.Second)
		problems := t.Steady(cctx)
		cancel()
		if len(problems) == 0 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("not steady after %s: %s", timeout, strings.Join(problems, "; "))
		}
		sleep(ctx, time.Second)
	}
}

func errOrNil(err error) any {
	if err == nil {
		return ""
	}
	return err
}

// get fetches url and returns its status and Payd-Region header.
func (t *Target) get(ctx context.Context, url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	res, err := t.http.Do(req)
	if err != nil {
		return 0, "", err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Payd-Region"), nil
}

// probePayment makes one card payment through r's endpoint alone, with no retries: it must
// succeed, served by r. (A payment from a far region makes some 30 database round trips over
// the emulated WAN, several seconds on a busy machine: the probe allows it 30 s.)
func (t *Target) probePayment(ctx context.Context, r Region) error {
	status, code, region, err := t.ProbeCard(ctx, r)
	switch {
	case err != nil:
		return err
	case status != http.StatusOK && status != http.StatusCreated:
		return fmt.Errorf("answered %d %s", status, code)
	case region != r.Name:
		return fmt.Errorf("served by %s", region)
	}
	return nil
}

// ProbeCard makes one card payment (automatic capture) for a probe merchant through r's
// endpoint alone, without retries, and reports the answer: its HTTP status (0: none), error
// code and the region that served it. A succeeded payment answers 200; anything else that
// reached a node answers with its code.
func (t *Target) ProbeCard(ctx context.Context, r Region) (status int, code, region string, err error) {
	t.mu.Lock()
	if t.probeKey == "" {
		m, err := t.CreateMerchant(ctx, "chaos steady-state probe", t.Regions[0].Name)
		if err != nil {
			t.mu.Unlock()
			return 0, "", "", err
		}
		t.probeKey = m.SecretKey
	}
	key := t.probeKey
	t.mu.Unlock()
	sdk, err := paysdk.New(paysdk.Config{Endpoints: []string{r.Endpoint}, SecretKey: key, MaxRetries: -1,
		HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	if err != nil {
		return 0, "", "", err
	}
	var info paysdk.ResponseInfo
	p, err := sdk.CreatePayment(ctx, paysdk.CreatePaymentParams{Amount: 100, Currency: "usd", Channel: paysdk.ChannelCard,
		MerchantReference: "chaos-probe-" + core.RandomToken(8),
		PaymentMethod:     &paysdk.PaymentMethodData{Card: &paysdk.CardData{Number: "4242424242424242", ExpMonth: 12, ExpYear: time.Now().Year() + 3}}},
		paysdk.WithResponseInfo(&info))
	var apiErr *paysdk.Error
	switch {
	case errors.As(err, &apiErr):
		return apiErr.Status, apiErr.Code, info.Region, nil
	case err != nil:
		return 0, "", "", err
	case p.Status != paysdk.StatusSucceeded:
		return info.Status, string(p.Status), info.Region, nil
	}
	return info.Status, "", info.Region, nil
}

func pingDatabase(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// passingNodes counts payd instances passing their checks in Consul.
func passingNodes(ctx context.Context, addr string) (int, error) {
	c, err := api.NewClient(&api.Config{Address: addr, HttpClient: &http.Client{Timeout: 5 * time.Second}})
	if err != nil {
		return 0, err
	}
	entries, _, err := c.Health().Service(regions.ServicePayd, "", true, (&api.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return 0, err
	}
	return len(entries), nil
}

// postmasterPID reads the PostgreSQL server's process ID from its data directory.
func postmasterPID(dataDir string) int {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	var pid int
	fmt.Sscanf(string(b), "%d", &pid)
	return pid
}
