package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paycenter/paycenter/deploy/localcluster"
	"github.com/paycenter/paycenter/regions"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// Region is one region of the target and its merchant endpoint.
type Region struct {
	Name     string `json:"name"`
	Endpoint string `json:"endpoint"`
}

// Target is the platform under load: its regions' endpoints and the operator's admin token
// (needed only to onboard merchants).
type Target struct {
	Regions    []Region `json:"regions"`
	AdminToken string   `json:"-"`
}

// ClusterTarget reads a local cluster's cluster.json (written by make up or
// localcluster.Up): its regions' endpoints and admin token.
func ClusterTarget(path string) (Target, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Target{}, fmt.Errorf("%s not found: start the local platform with 'make up', or give -endpoints and -admin-token", path)
		}
		return Target{}, err
	}
	var c localcluster.Cluster
	if err := json.Unmarshal(b, &c); err != nil {
		return Target{}, fmt.Errorf("%s: %w", path, err)
	}
	t := Target{AdminToken: c.AdminToken}
	for _, r := range c.Regions {
		t.Regions = append(t.Regions, Region{Name: r.Name, Endpoint: r.Endpoint})
	}
	return t, t.validate()
}

// EndpointsTarget makes a Target from endpoint specs: "region=URL", or a bare URL whose
// region is read from the Payd-Region header of its GET /readyz (then the endpoint must
// answer). hc may be nil.
func EndpointsTarget(ctx context.Context, specs []string, adminToken string, hc *http.Client) (Target, error) {
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Second}
	}
	t := Target{AdminToken: adminToken}
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		name, ep, named := strings.Cut(spec, "=")
		if !named {
			ep = spec
			var err error
			if name, err = probeRegion(ctx, hc, ep); err != nil {
				return Target{}, err
			}
		}
		t.Regions = append(t.Regions, Region{Name: strings.TrimSpace(name), Endpoint: strings.TrimRight(strings.TrimSpace(ep), "/")})
	}
	return t, t.validate()
}

// probeRegion asks an endpoint which region it serves.
func probeRegion(ctx context.Context, hc *http.Client, ep string) (string, error) {
	for _, path := range []string{"/readyz", "/healthz"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(ep, "/")+path, nil)
		if err != nil {
			return "", fmt.Errorf("endpoint %q: %w", ep, err)
		}
		res, err := hc.Do(req)
		if err != nil {
			return "", fmt.Errorf("endpoint %s: %w (name its region: -endpoints us-east=%s)", ep, err, ep)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
		res.Body.Close()
		if r := res.Header.Get("Payd-Region"); r != "" {
			return r, nil
		}
	}
	return "", fmt.Errorf("endpoint %s does not say its region (no Payd-Region header): name it, as in us-east=%s", ep, ep)
}

func (t Target) validate() error {
	if len(t.Regions) == 0 {
		return errors.New("the target has no regions")
	}
	seen := map[string]bool{}
	for _, r := range t.Regions {
		if r.Name == "" {
			return fmt.Errorf("endpoint %q has no region name", r.Endpoint)
		}
		if seen[r.Name] {
			return fmt.Errorf("region %q appears twice", r.Name)
		}
		seen[r.Name] = true
		u, err := url.Parse(r.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("region %s: endpoint %q is not an http(s) URL", r.Name, r.Endpoint)
		}
	}
	return nil
}

// RegionNames lists the target's region names in its order.
func (t Target) RegionNames() []string {
	out := make([]string, len(t.Regions))
	for i, r := range t.Regions {
		out[i] = r.Name
	}
	return out
}

// Endpoint is the endpoint of the named region, "" if there is none.
func (t Target) Endpoint(region string) string {
	for _, r := range t.Regions {
		if r.Name == region {
			return r.Endpoint
		}
	}
	return ""
}

// EndpointsFrom lists every endpoint of the target, nearest first from region: region's
// own first, then the others by the default topology's latencies when it knows every region,
// else in the target's order. An unknown region gives the target's order.
func (t Target) EndpointsFrom(region string) []string {
	names := t.RegionNames()
	topo := regions.DefaultTopology()
	known := topo.Has(region)
	for _, n := range names {
		known = known && topo.Has(n)
	}
	var order []string
	if known {
		for _, n := range topo.Nearest(region) {
			if slices.Contains(names, n) {
				order = append(order, n)
			}
		}
	} else {
		if slices.Contains(names, region) {
			order = append(order, region)
		}
		for _, n := range names {
			if n != region {
				order = append(order, n)
			}
		}
	}
	eps := make([]string, len(order))
	for i, n := range order {
		eps[i] = t.Endpoint(n)
	}
	return eps
}

// Merchant is a merchant the generator acts as.
type Merchant struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	HomeRegion string `json:"home_region"`
	// SecretKey is the merchant's API key; it is never written to reports.
	SecretKey string `json:"secret_key"`
}

// OnboardOptions configures Onboard.
type OnboardOptions struct {
	// NamePrefix starts the merchants' names; they end with their number. Default
	// "loadtest-".
	NamePrefix string
	// HTTPClient sends the admin requests. Default: a client with a 30 s timeout.
	HTTPClient *http.Client
	// Parallel is how many merchants are onboarded at once. Default 8.
	Parallel int
}

// Onboard creates n merchants through the admin API (POST /v1/admin/merchants), homed
// round-robin across the target's regions, each through its home region's endpoint (the
// others are tried, nearest first, if that one fails).
func Onboard(ctx context.Context, t Target, n int, opt OnboardOptions) ([]Merchant, error) {
	if err := t.validate(); err != nil {
		return nil, err
	}
	if t.AdminToken == "" {
		return nil, errors.New("onboarding merchants needs the admin token (-admin-token, or the cluster's)")
	}
	if opt.NamePrefix == "" {
		opt.NamePrefix = "loadtest-"
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opt.Parallel <= 0 {
		opt.Parallel = 8
	}
	admins := map[string]*paysdk.Admin{} // by home region
	for _, r := range t.Regions {
		a, err := paysdk.NewAdmin(paysdk.AdminConfig{Endpoints: t.EndpointsFrom(r.Name), Token: t.AdminToken,
			HTTPClient: opt.HTTPClient, MaxRetries: 5, Backoff: 300 * time.Millisecond})
		if err != nil {
			return nil, err
		}
		admins[r.Name] = a
	}
	out := make([]Merchant, n)
	errs := make([]error, n)
	sem := make(chan struct{}, opt.Parallel)
	var wg sync.WaitGroup
	for i := range n {
		home := t.Regions[i%len(t.Regions)].Name
		name := fmt.Sprintf("%s%d", opt.NamePrefix, i+1)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			m, err := admins[home].CreateMerchant(ctx, paysdk.CreateMerchantParams{Name: name, HomeRegion: home})
			switch {
			case err != nil:
				errs[i] = fmt.Errorf("onboarding merchant %s in %s: %w", name, home, err)
			case m.ID == "" || m.SecretKey == "":
				errs[i] = fmt.Errorf("onboarding merchant %s in %s: the answer has no ID or secret key", name, home)
			default:
				out[i] = Merchant{ID: m.ID, Name: name, HomeRegion: home, SecretKey: m.SecretKey}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// merchantsFile is the format of SaveMerchants.
type merchantsFile struct {
	Merchants []Merchant `json:"merchants"`
}

// SaveMerchants writes merchants, secret keys included, to path (mode 0600), for a checker
// that reads the payments back or a later run that reuses them.
func SaveMerchants(path string, ms []Merchant) error {
	b, err := json.MarshalIndent(merchantsFile{Merchants: ms}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// LoadMerchants reads a file written by SaveMerchants.
func LoadMerchants(path string) ([]Merchant, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f merchantsFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, m := range f.Merchants {
		if m.ID == "" || m.SecretKey == "" || m.HomeRegion == "" {
			return nil, fmt.Errorf("%s: merchant %+v lacks an id, secret key or home region", path, m.ID)
		}
	}
	return f.Merchants, nil
}
