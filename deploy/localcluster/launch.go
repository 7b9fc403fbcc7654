package localcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/deploy/localpg"
	"github.com/paycenter/paycenter/deploy/patroni"
	"github.com/paycenter/paycenter/regions"
)

// launcher starts the cluster's processes and records them in c as it goes, so that a
// failure halfway can take down what was started.
type launcher struct {
	opt Options
	c   *Cluster
}

// start runs a detached process (it outlives paylocal) logging to .local/logs/NAME.log.
func (l *launcher) start(name string, env []string, bin string, args ...string) (pid int, logPath string, err error) {
	logPath, _ = filepath.Abs(filepath.Join(l.opt.Dir, "logs", name+".log"))
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, logPath, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, logPath, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		// Reap it if it dies while paylocal still runs, and say how it ended.
		err := cmd.Wait()
		if f, ferr := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0o644); ferr == nil {
			fmt.Fprintf(f, "paylocal: %s exited: %v\n", name, err)
			f.Close()
		}
	}()
	return cmd.Process.Pid, logPath, nil
}

// waitHTTP polls url until ok accepts the answer, the process dies or time runs out.
func waitHTTP(ctx context.Context, url string, pid int, logPath string, ok func(*http.Response) bool) error {
	deadline := time.Now().Add(60 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		res, err := client.Get(url)
		if err == nil {
			good := ok(res)
			res.Body.Close()
			if good {
				return nil
			}
		}
		if time.Now().After(deadline) || !alive(pid) {
			tail, _ := os.ReadFile(logPath)
			return fmt.Errorf("%s did not become ready; its log:\n%s", url, lastBytes(tail, 2000))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func status200(res *http.Response) bool { return res.StatusCode == http.StatusOK }

func freeAddr() (string, error) {
	p, err := localpg.FreePort()
	return "127.0.0.1:" + strconv.Itoa(p), err
}

func (l *launcher) node(ctx context.Context, sec secrets, id, region, addr, dbURL string, extra ...string) (Node, error) {
	args := append([]string{"serve", "-addr", addr, "-region", region, "-node-id", id}, extra...)
	args = append(args, l.opt.NodeArgs...)
	pid, logPath, err := l.start(id, []string{"PAYD_DATABASE_URL=" + dbURL, "PAYD_ADMIN_TOKEN=" + sec.AdminToken,
		"PAYD_SECRET_KEY=" + sec.SecretKey}, l.opt.Payd, args...)
	n := Node{ID: id, Addr: addr, PID: pid, Log: logPath}
	if err != nil {
		return n, err
	}
	return n, waitHTTP(ctx, "http://"+addr+"/readyz", pid, logPath, status200)
}

// singleNodeFlags are the flags of a node without Consul: the in-process channel simulator.
// The local platform lifts the KYC volume limit: its load tests and chaos suite take far more
// than 1,000,000 minor units per merchant without verifying it.
var singleNodeFlags = []string{"-channels", "sim", "-webhooks-allow-private", "-kyc-unverified-limit", "-1"}

// single is one region with one node per region and no Consul: each region's endpoint is
// its first node.
func (l *launcher) single(ctx context.Context, sec secrets) error {
	for _, region := range l.opt.Regions {
		r := Region{Name: region}
		l.c.Regions = append(l.c.Regions, r)
		ri := len(l.c.Regions) - 1
		for i := 1; i <= l.opt.NodesPerRegion; i++ {
			addr, err := freeAddr()
			if err != nil {
				return err
			}
			n, err := l.node(ctx, sec, fmt.Sprintf("%s-%d", region, i), region, addr, l.c.DatabaseURL, singleNodeFlags...)
			l.c.Regions[ri].Nodes = append(l.c.Regions[ri].Nodes, n)
			if err != nil {
				return err
			}
			fmt.Fprintf(l.opt.Out, "payd %s serving region %s on http://%s (pid %d)\n", n.ID, region, n.Addr, n.PID)
		}
		l.c.Regions[ri].Endpoint = "http://" + l.c.Regions[ri].Nodes[0].Addr
	}
	return nil
}

// wanLink is one paywan link (cmd/paywan's config format).
type wanLink struct {
	Name      string `json:"name"`
	Listen    string `json:"listen"`
	Upstream  string `json:"upstream"`
	LatencyMS int    `json:"latency_ms"`
	JitterMS  int    `json:"jitter_ms"`
}

// multi is the whole platform: a Consul dev agent, the WAN emulator, nodes per region (their
// database link through the WAN) and a regional endpoint per region (cross-region traffic
// through the WAN). The database is the server on pgPort, in the first region, or with
// Options.Patroni (pgPort 0) a Patroni cluster started here, a member per region.
func (l *launcher) multi(ctx context.Context, sec secrets, pgPort int) error {
	say := func(format string, args ...any) { fmt.Fprintf(l.opt.Out, format+"\n", args...) }
	topo := regions.DefaultTopology()
	for _, r := range l.opt.Regions {
		if err := topo.Check(r); err != nil {
			return err
		}
	}
	// Consul.
	consulAddr, err := freeAddr()
	if err != nil {
		return err
	}
	ports := make([]string, 2)
	for i := range ports {
		a, err := freeAddr()
		if err != nil {
			return err
		}
		ports[i] = strings.TrimPrefix(a, "127.0.0.1:")
	}
	dataDir, _ := filepath.Abs(filepath.Join(l.opt.Dir, "consul"))
	_ = os.RemoveAll(dataDir)
	say("starting a Consul dev agent on %s ...", consulAddr)
	pid, logPath, err := l.start("consul", nil, l.opt.Consul, "agent", "-dev", "-node", "paycenter-local", "-data-dir", dataDir,
		"-bind", "127.0.0.1", "-client", "127.0.0.1", "-http-port", strings.TrimPrefix(consulAddr, "127.0.0.1:"),
		"-serf-lan-port", ports[0], "-server-port", ports[1], "-serf-wan-port", "-1", "-dns-port", "-1",
		"-grpc-port", "-1", "-grpc-tls-port", "-1", "-log-level", "warn")
	l.c.Services = append(l.c.Services, Service{Name: "consul", Addr: consulAddr, PID: pid, Log: logPath})
	if err != nil {
		return err
	}
	l.c.ConsulAddr = consulAddr
	if err := waitHTTP(ctx, "http://"+consulAddr+"/v1/status/leader", pid, logPath, func(res *http.Response) bool {
		var leader string
		return res.StatusCode == 200 && json.NewDecoder(res.Body).Decode(&leader) == nil && leader != ""
	}); err != nil {
		return err
	}

	// Addresses of every node, and the WAN links.
	dbRegion := l.opt.Regions[0]
	nodeAddr := map[string][]string{}
	var links []wanLink
	dbLink := map[string]string{}
	for _, r := range l.opt.Regions {
		for i := 0; i < l.opt.NodesPerRegion; i++ {
			a, err := freeAddr()
			if err != nil {
				return err
			}
			nodeAddr[r] = append(nodeAddr[r], a)
		}
		if l.opt.Patroni {
			continue
		}
		listen, err := freeAddr()
		if err != nil {
			return err
		}
		lat, _ := topo.Latency(r, dbRegion)
		dbLink[r] = listen
		links = append(links, wanLink{Name: "db-" + r, Listen: listen, Upstream: fmt.Sprintf("127.0.0.1:%d", pgPort), LatencyMS: int(lat.Milliseconds())})
	}
	var pat *patroni.Cluster
	dbLinks := map[string][]wanLink{} // region -> its nodes' links to every member, nearest first
	if l.opt.Patroni {
		var err error
		if pat, err = patroni.New(patroni.Options{Dir: l.opt.Dir, Members: l.opt.Regions,
			ReplicationHost: replicationHost(l.opt.Regions), Timing: l.opt.PatroniTiming}); err != nil {
			return err
		}
		l.c.Patroni = pat
		for _, r := range l.opt.Regions {
			for _, m := range byDistance(topo, r, pat.Members) {
				listen, err := freeAddr()
				if err != nil {
					return err
				}
				lat, _ := topo.Latency(r, m.Name)
				dbLinks[r] = append(dbLinks[r], wanLink{Name: fmt.Sprintf("db-%s-to-%s", r, m.Name), Listen: listen, Upstream: m.Addr(),
					LatencyMS: int(lat.Milliseconds())})
			}
			links = append(links, dbLinks[r]...)
		}
		// Replication: each standby reaches each possible primary through its own link.
		for _, s := range pat.Members {
			for _, p := range pat.Members {
				if s.Name == p.Name {
					continue
				}
				lat, _ := topo.Latency(s.Name, p.Name)
				links = append(links, wanLink{Name: fmt.Sprintf("repl-%s-to-%s", s.Name, p.Name), Listen: patroni.ReplicationListen(s, p),
					Upstream: p.Addr(), LatencyMS: int(lat.Milliseconds())})
			}
		}
	}
	wanMap := map[string][]string{} // edge region -> NODE=LINK pairs
	for _, e := range l.opt.Regions {
		for _, r := range l.opt.Regions {
			if r == e {
				continue
			}
			lat, _ := topo.Latency(e, r)
			for i, a := range nodeAddr[r] {
				listen, err := freeAddr()
				if err != nil {
					return err
				}
				links = append(links, wanLink{Name: fmt.Sprintf("%s-to-%s-%d", e, r, i+1), Listen: listen, Upstream: a, LatencyMS: int(lat.Milliseconds())})
				wanMap[e] = append(wanMap[e], a+"="+listen)
			}
		}
	}
	wanFile, _ := filepath.Abs(filepath.Join(l.opt.Dir, "wan.json"))
	b, _ := json.MarshalIndent(links, "", "  ")
	if err := os.WriteFile(wanFile, b, 0o644); err != nil {
		return err
	}
	wanAPI, err := freeAddr()
	if err != nil {
		return err
	}
	say("starting the WAN emulator (%d links; API %s) ...", len(links), wanAPI)
	pid, logPath, err = l.start("paywan", nil, filepath.Join(l.opt.Bin, "paywan"), "-api", wanAPI, "-config", wanFile)
	l.c.Services = append(l.c.Services, Service{Name: "paywan", Addr: wanAPI, PID: pid, Log: logPath})
	if err != nil {
		return err
	}
	l.c.WANAPI = wanAPI
	if err := waitHTTP(ctx, "http://"+wanAPI+"/version", pid, logPath, status200); err != nil {
		return err
	}
	if pat != nil {
		say("starting the database: Patroni members %s, strict synchronous replication through the WAN emulator ...", strings.Join(l.opt.Regions, ", "))
		start := time.Now()
		if err := pat.Start(ctx, l.opt.Out); err != nil {
			return err
		}
		first := pat.Members[0]
		l.c.Postgres = Process{PID: patroni.PostmasterPID(first.DataDir()), DataDir: first.DataDir()}
		if err := createDatabase(ctx, pat.URL("postgres"), "paycenter"); err != nil {
			return err
		}
		l.c.DatabaseURL = pat.URL("paycenter")
		primary, _ := pat.Primary(ctx)
		sync, _ := pat.SyncStandby(ctx)
		say("database ready in %.1f s: primary %s, synchronous standby %s; applying migrations ...", time.Since(start).Seconds(), primary, sync)
		if err := l.migrate(ctx); err != nil {
			return err
		}
	}

	// The channel simulator, shared by every node, with the platform's and its own keys.
	keyDir, _ := filepath.Abs(filepath.Join(l.opt.Dir, "keys"))
	if err := os.MkdirAll(keyDir, 0o700); err != nil {
		return err
	}
	platformKey, _, err := channelauth.LoadOrCreateKey(filepath.Join(keyDir, "platform.key"))
	if err != nil {
		return err
	}
	pubPEM, err := channelauth.MarshalPublicKeyPEM(&platformKey.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(keyDir, "platform.pub"), pubPEM, 0o644); err != nil {
		return err
	}
	simAddr, err := freeAddr()
	if err != nil {
		return err
	}
	pid, logPath, err = l.start("channelsim", nil, filepath.Join(l.opt.Bin, "channelsim"), "-addr", simAddr,
		"-key-file", filepath.Join(keyDir, "channelsim.key"), "-platform-key-file", filepath.Join(keyDir, "platform.pub"),
		"-public-key-out", filepath.Join(keyDir, "channelsim.pub"))
	l.c.Services = append(l.c.Services, Service{Name: "channelsim", Addr: simAddr, PID: pid, Log: logPath})
	if err != nil {
		return err
	}
	l.c.ChannelSim = "http://" + simAddr
	if err := waitHTTP(ctx, l.c.ChannelSim+"/sim/public-key", pid, logPath, status200); err != nil {
		return err
	}
	say("channel simulator on %s (WeChat Pay, Alipay, bank, card acquirer)", l.c.ChannelSim)
	if err := l.mailpit(ctx); err != nil {
		return err
	}
	edgeAddr := map[string]string{}
	for _, r := range l.opt.Regions {
		if edgeAddr[r], err = freeAddr(); err != nil {
			return err
		}
	}

	// Nodes, then endpoints.
	for _, r := range l.opt.Regions {
		lat, _ := topo.Latency(r, dbRegion)
		region := Region{Name: r, DBLink: "db-" + r}
		if pat != nil {
			var hosts []string
			for _, link := range dbLinks[r] {
				hosts = append(hosts, link.Listen)
				region.DBLinks = append(region.DBLinks, link.Name)
			}
			region.DBLink = region.DBLinks[0]
			region.DatabaseURL = patroni.MultiHostURL(hosts, "paycenter")
		} else {
			region.DatabaseURL = strings.Replace(l.c.DatabaseURL, fmt.Sprintf("127.0.0.1:%d", pgPort), dbLink[r], 1)
		}
		dbURL := region.DatabaseURL
		l.c.Regions = append(l.c.Regions, region)
		ri := len(l.c.Regions) - 1
		for i, a := range nodeAddr[r] {
			n, err := l.node(ctx, sec, fmt.Sprintf("%s-%d", r, i+1), r, a, dbURL, l.nodeFlags(r, "http://"+edgeAddr[r])...)
			l.c.Regions[ri].Nodes = append(l.c.Regions[ri].Nodes, n)
			if err != nil {
				return err
			}
			if pat != nil {
				say("payd %-10s region %-8s http://%s (pid %d; database members %s)", n.ID, r, n.Addr, n.PID, memberLatencies(dbLinks[r]))
			} else {
				say("payd %-10s region %-8s http://%s (pid %d; database +%d ms)", n.ID, r, n.Addr, n.PID, lat.Milliseconds())
			}
		}
	}
	for i, r := range l.opt.Regions {
		addr := edgeAddr[r]
		pid, logPath, err := l.start("payedge-"+r, nil, filepath.Join(l.opt.Bin, "payedge"), "-addr", addr, "-region", r,
			"-consul-addr", consulAddr, "-wan-map", strings.Join(wanMap[r], ","), "-metrics-addr", "127.0.0.1:0")
		l.c.Services = append(l.c.Services, Service{Name: "payedge-" + r, Addr: addr, PID: pid, Log: logPath})
		if err != nil {
			return err
		}
		// Ready when it can reach a node of its own region through Consul.
		if err := waitHTTP(ctx, "http://"+addr+"/readyz", pid, logPath, func(res *http.Response) bool {
			return res.StatusCode == 200 && res.Header.Get("Payd-Region") == r
		}); err != nil {
			return err
		}
		l.c.Regions[i].Endpoint = "http://" + addr
		say("payedge   region %-8s http://%s (pid %d)", r, addr, pid)
	}
	if !l.opt.Monitoring {
		return nil
	}
	return l.monitoring(ctx, sec)
}

// replicationHost gives each region's database member its own loopback address to dial
// other members from (127.0.20.1, 127.0.21.1, ...), so that each pair of members has its
// own WAN link.
func replicationHost(regionNames []string) func(string) string {
	return func(member string) string {
		for i, r := range regionNames {
			if r == member {
				return fmt.Sprintf("127.0.%d.1", 20+i)
			}
		}
		return "127.0.0.1"
	}
}

// byDistance orders members by their latency from region, nearest first.
func byDistance(topo *regions.Topology, region string, members []patroni.Member) []patroni.Member {
	out := append([]patroni.Member(nil), members...)
	sort.SliceStable(out, func(i, j int) bool {
		a, _ := topo.Latency(region, out[i].Name)
		b, _ := topo.Latency(region, out[j].Name)
		return a < b
	})
	return out
}

func memberLatencies(links []wanLink) string {
	var parts []string
	for _, l := range links {
		parts = append(parts, fmt.Sprintf("%s +%d ms", l.Name[strings.LastIndex(l.Name, "-to-")+4:], l.LatencyMS))
	}
	return strings.Join(parts, ", ")
}

// nodeFlags are a multi-region node's flags: Consul, and the shared channel simulator with
// notifications to its region's endpoint.
func (l *launcher) nodeFlags(region, edgeURL string) []string {
	keyDir, _ := filepath.Abs(filepath.Join(l.opt.Dir, "keys"))
	flags := []string{"-consul-addr", l.c.ConsulAddr, "-shutdown-delay", "1s", "-metrics-addr", "127.0.0.1:0",
		"-channels", "channelsim", "-channelsim-url", l.c.ChannelSim, "-channel-key-file", filepath.Join(keyDir, "platform.key"),
		"-channelsim-key-file", filepath.Join(keyDir, "channelsim.pub"), "-notify-url", edgeURL,
		// Webhook receivers on this machine (payctl webhooks listen, the chaos suite's) are on loopback.
		"-webhooks-allow-private",
		// Load tests and chaos take more than the KYC volume limit per unverified merchant.
		"-kyc-unverified-limit", "-1"}
	flags = append(flags, l.noticeFlags()...)
	if l.c.Patroni != nil {
		flags = append(flags, wanTimeouts(region)...)
	}
	return flags
}

// wanTimeouts are a node's database timeouts on the Patroni database, where the primary may
// be in any region and every commit also waits for a synchronous standby across the WAN:
// payd's defaults (750 ms per statement, a 1 s liveness timeout) suit a database next to the
// node, and from ap-south a connection (tried at each member, nearest first, until the
// primary answers) and a transaction each take several 220 ms round trips. The defaults grow
// by a few of the region's longest round trips; failover is that much slower there.
func wanTimeouts(region string) []string {
	topo := regions.DefaultTopology()
	var far time.Duration
	for _, r := range topo.Regions() {
		if lat, ok := topo.Latency(region, r); ok && lat > far {
			far = lat
		}
	}
	rtt := 2 * far
	// A statement may cross the longest round trip twice (to a far primary, whose commit
	// also waits for its synchronous standby); an interactive transaction's client answers
	// within that too, so the server ends a silent node's transaction, and frees the key's
	// row lock, by the time the others may take the key over (the liveness timeout).
	stmt := 600*time.Millisecond + 2*rtt
	// A heartbeat is one UPDATE committed at the primary: two intervals and two of the
	// longest round trips without one mean the link is not answering, and the node turns
	// requests away at once rather than letting each wait out the statement timeout.
	failFast := 2*250*time.Millisecond + 2*rtt
	return []string{"-db-statement-timeout", stmt.String(), "-db-idle-in-transaction-timeout", stmt.String(),
		"-liveness-timeout", (stmt + 250*time.Millisecond).String(), "-db-fail-fast-after", failFast.String(),
		"-db-connect-timeout", (time.Second + 6*rtt).String(), "-db-tcp-timeout", (time.Second + 6*rtt).String()}
}

// KillRegion kills every node of a region at once (SIGKILL: no graceful shutdown), as a
// region failure would, and with a Patroni database the region's member too (its Patroni
// and PostgreSQL; if it was the primary, a standby of another region takes over). The
// regional endpoint stays up.
func KillRegion(dir, region string) ([]Node, error) {
	c, err := Load(dir)
	if err != nil {
		return nil, err
	}
	for _, r := range c.Regions {
		if r.Name != region {
			continue
		}
		for _, n := range r.Nodes {
			if alive(n.PID) {
				if err := syscall.Kill(n.PID, syscall.SIGKILL); err != nil {
					return nil, err
				}
			}
		}
		if c.Patroni != nil {
			if _, err := c.Patroni.Member(region); err == nil {
				if _, err := c.Patroni.KillMember(region); err != nil {
					return r.Nodes, err
				}
			}
		}
		return r.Nodes, nil
	}
	return nil, fmt.Errorf("no region %q in %s", region, File(dir))
}

// StartRegion starts again the nodes of a region that are not running, on their old
// addresses, and records their new process IDs.
func StartRegion(ctx context.Context, dir, bin, region string, out io.Writer) error {
	c, err := Load(dir)
	if err != nil {
		return err
	}
	sec, err := loadSecrets(dir)
	if err != nil {
		return err
	}
	l := &launcher{opt: Options{Dir: dir, Bin: bin, Payd: filepath.Join(bin, "payd"), NodeArgs: c.NodeArgs, Out: out}, c: c}
	for ri, r := range c.Regions {
		if r.Name != region {
			continue
		}
		if err := startMember(ctx, dir, c, region, out); err != nil {
			return err
		}
		for ni, n := range r.Nodes {
			if alive(n.PID) {
				continue
			}
			extra := singleNodeFlags
			if c.ConsulAddr != "" {
				extra = l.nodeFlags(region, r.Endpoint)
			}
			dbURL := r.DatabaseURL
			if dbURL == "" {
				dbURL = c.DatabaseURL
			}
			started, err := l.node(ctx, sec, n.ID, region, n.Addr, dbURL, extra...)
			c.Regions[ri].Nodes[ni].PID = started.PID
			if err != nil {
				_ = writeCluster(dir, c)
				return err
			}
			fmt.Fprintf(out, "payd %s started again (pid %d)\n", n.ID, started.PID)
		}
		return writeCluster(dir, c)
	}
	return fmt.Errorf("no region %q in %s", region, File(dir))
}

// startMember starts the region's database member again if it is not running, records its
// Patroni's PID, and waits until it is back (a replica of the primary, rewound or cloned by
// Patroni as needed) and the cluster is healthy.
func startMember(ctx context.Context, dir string, c *Cluster, region string, out io.Writer) error {
	if c.Patroni == nil {
		return nil
	}
	m, err := c.Patroni.Member(region)
	if err != nil || alive(m.PID) {
		return nil
	}
	start := time.Now()
	err = c.Patroni.StartMember(ctx, region)
	if err == nil && c.Postgres.DataDir == m.DataDir() {
		c.Postgres.PID = 0 // recorded below, once PostgreSQL runs
	}
	if werr := writeCluster(dir, c); werr != nil && err == nil {
		err = werr
	}
	if err != nil {
		return err
	}
	if err := c.Patroni.WaitHealthy(ctx, 180*time.Second); err != nil {
		return err
	}
	if c.Postgres.DataDir == m.DataDir() {
		c.Postgres.PID = patroni.PostmasterPID(m.DataDir())
	}
	primary, _ := c.Patroni.Primary(ctx)
	fmt.Fprintf(out, "database member %s started again (patroni pid %d); back as a replica of %s after %.1f s\n",
		region, m.PID, primary, time.Since(start).Seconds())
	return writeCluster(dir, c)
}
