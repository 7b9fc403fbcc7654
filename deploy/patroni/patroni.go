// Package patroni runs the local platform's highly available database: a Patroni cluster of
// PostgreSQL members, one per emulated region, with synchronous replication and etcd as
// Patroni's distributed store, all on loopback. It is the local stand-in for CockroachDB's
// SURVIVE REGION FAILURE: killing a region kills its member, and if that member was the
// primary Patroni promotes the synchronous standby of another region, losing no acknowledged
// commit (synchronous_mode_strict).
//
// Every process is started detached (it outlives the caller, like the rest of the local
// platform) and recorded in a Cluster, which the caller persists; Stop takes them all down.
// PostgreSQL refuses to run as root, so as root Patroni runs as the "postgres" OS user.
package patroni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/paycenter/paycenter/deploy/localpg"
)

// Timing is Patroni's failover timing (its dynamic configuration, in seconds).
type Timing struct {
	// TTL is the leader lock's lifetime: a primary that stops renewing it is replaced after
	// at most TTL. Default 6.
	TTL int `json:"ttl"`
	// LoopWait is the pause between two runs of Patroni's HA loop. Default 1.
	LoopWait int `json:"loop_wait"`
	// RetryTimeout bounds a store or PostgreSQL operation before the primary demotes itself.
	// Patroni needs TTL ≥ LoopWait + 2 × RetryTimeout. Default 2.
	RetryTimeout int `json:"retry_timeout"`
}

// DefaultTiming is the timing the local platform runs with.
//
// Why these numbers: etcd (unlike Consul, whose sessions refuse TTLs under 10 s) takes a
// short lease, and the leader lock's TTL is most of a failover's time: the lock of a killed
// primary expires TTL − LoopWait to TTL after the kill, then a standby promotes itself
// within a second. With TTL 10 a killed primary's successor took writes after 15.8 s; with
// TTL 8, after 8.4 s. TTL 6 with RetryTimeout 2 (the least Patroni accepts with LoopWait 1:
// TTL ≥ LoopWait + 2 × RetryTimeout) gets under the 10 s target for payments. The cost of a
// short TTL is a primary whose Patroni stalls for TTL seconds (a loaded machine) loses its
// lock: an unneeded failover, which synchronous mode makes safe; failsafe_mode keeps a
// primary that merely cannot reach etcd from demoting itself.
var DefaultTiming = Timing{TTL: 6, LoopWait: 1, RetryTimeout: 2}

func (t Timing) withDefaults() Timing {
	if t.TTL == 0 {
		t.TTL = DefaultTiming.TTL
	}
	if t.LoopWait == 0 {
		t.LoopWait = DefaultTiming.LoopWait
	}
	if t.RetryTimeout == 0 {
		t.RetryTimeout = DefaultTiming.RetryTimeout
	}
	return t
}

func (t Timing) validate() error {
	if t.TTL < t.LoopWait+2*t.RetryTimeout {
		return fmt.Errorf("patroni timing: ttl %d < loop_wait %d + 2 × retry_timeout %d", t.TTL, t.LoopWait, t.RetryTimeout)
	}
	return nil
}

// Options says what to start.
type Options struct {
	// Dir holds the cluster's state: Dir/patroni/MEMBER (config and data), Dir/etcd, and the
	// logs in Dir/logs.
	Dir string
	// Members are the members' names, one per region, e.g. us-east, eu-west, ap-south. At
	// least three: with two, strict synchronous mode blocks writes once one is lost.
	Members []string
	// ReplicationHost, if set, is the loopback address a member's standby dials to reach
	// another member's PostgreSQL port (the WAN emulator listens there, on the other
	// member's port, and adds the link's latency). It needs root: each member's Patroni runs
	// in its own mount namespace, where the other members' names resolve to this address.
	// Default (and when not root): 127.0.0.1, no emulated WAN between members.
	ReplicationHost func(member string) string
	Timing          Timing
}

// Member is one Patroni member: a Patroni process and the PostgreSQL it manages.
type Member struct {
	Name    string `json:"name"`
	PGPort  int    `json:"pg_port"`
	APIPort int    `json:"api_port"`
	// ReplHost is the host this member's standby dials for the primary (see
	// Options.ReplicationHost).
	ReplHost string `json:"repl_host"`
	Dir      string `json:"dir"`
	// PID is the Patroni process's.
	PID int    `json:"pid"`
	Log string `json:"log"`
}

// DataDir is the member's PostgreSQL data directory.
func (m Member) DataDir() string { return filepath.Join(m.Dir, "data") }

// API is the base URL of the member's Patroni REST API.
func (m Member) API() string { return fmt.Sprintf("http://127.0.0.1:%d", m.APIPort) }

// Addr is the member's PostgreSQL address.
func (m Member) Addr() string { return fmt.Sprintf("127.0.0.1:%d", m.PGPort) }

// Cluster is a running Patroni cluster (as recorded in the local platform's cluster.json).
type Cluster struct {
	Scope        string   `json:"scope"`
	EtcdAddr     string   `json:"etcd_addr"` // client URL host:port
	EtcdPeerPort int      `json:"etcd_peer_port"`
	EtcdPID      int      `json:"etcd_pid"`
	EtcdLog      string   `json:"etcd_log"`
	Timing       Timing   `json:"timing"`
	Members      []Member `json:"members"`
	Dir          string   `json:"dir"`
}

// Member finds a member by name.
func (c *Cluster) Member(name string) (*Member, error) {
	for i := range c.Members {
		if c.Members[i].Name == name {
			return &c.Members[i], nil
		}
	}
	return nil, fmt.Errorf("no database member %q", name)
}

// URL is a connection string of database db that reaches whichever member is the primary:
// every member, in order, with target_session_attrs=read-write.
func (c *Cluster) URL(db string) string {
	var hosts []string
	for _, m := range c.Members {
		hosts = append(hosts, m.Addr())
	}
	return MultiHostURL(hosts, db)
}

// MultiHostURL is a libpq/pgx connection string over hosts that connects to the one that
// takes writes. A dead host costs at most connect_timeout before the next is tried.
func MultiHostURL(hosts []string, db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable&target_session_attrs=read-write&connect_timeout=3",
		strings.Join(hosts, ","), db)
}

const scope = "paycenter"

// New plans a cluster: it picks the members' ports and writes their configuration, starting
// nothing, so the caller can set up the WAN links (ReplicationListen) before Start.
func New(opt Options) (*Cluster, error) {
	if len(opt.Members) < 3 {
		return nil, fmt.Errorf("patroni: %d members; at least 3 (strict synchronous mode blocks writes with 2 once one is lost)", len(opt.Members))
	}
	t := opt.Timing.withDefaults()
	if err := t.validate(); err != nil {
		return nil, err
	}
	for _, prog := range []string{"patroni", "etcd"} {
		if _, err := exec.LookPath(prog); err != nil {
			return nil, fmt.Errorf("%s not found: install the Debian packages patroni, python3-etcd and etcd-server ('make up' does so as root)", prog)
		}
	}
	dir, err := filepath.Abs(opt.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	// The data of a cluster stopped earlier in dir is kept (as deploy/localpg keeps a single
	// server's) when its ports are still free: etcd's data and the members' name them.
	if c, ok := reusable(dir, opt.Members); ok {
		c.Timing = t
		for i := range c.Members {
			if err := c.writeConfig(&c.Members[i]); err != nil {
				return nil, err
			}
		}
		return c, nil
	}
	c := &Cluster{Scope: scope, Timing: t, Dir: dir}
	_ = os.RemoveAll(filepath.Join(dir, "patroni"))
	_ = os.RemoveAll(filepath.Join(dir, "etcd"))
	client, err := localpg.FreePort()
	if err != nil {
		return nil, err
	}
	c.EtcdAddr = fmt.Sprintf("127.0.0.1:%d", client)
	if c.EtcdPeerPort, err = localpg.FreePort(); err != nil {
		return nil, err
	}
	for _, name := range opt.Members {
		pg, err := localpg.FreePort()
		if err != nil {
			return nil, err
		}
		api, err := localpg.FreePort()
		if err != nil {
			return nil, err
		}
		host := "127.0.0.1"
		if opt.ReplicationHost != nil && os.Geteuid() == 0 {
			host = opt.ReplicationHost(name)
		}
		c.Members = append(c.Members, Member{Name: name, PGPort: pg, APIPort: api, ReplHost: host,
			Dir: filepath.Join(dir, "patroni", name), Log: filepath.Join(dir, "logs", "patroni-"+name+".log")})
	}
	for i := range c.Members {
		if err := c.writeConfig(&c.Members[i]); err != nil {
			return nil, err
		}
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	if err := os.WriteFile(planFile(dir), b, 0o600); err != nil {
		return nil, err
	}
	return c, nil
}

func planFile(dir string) string { return filepath.Join(dir, "patroni", "cluster.json") }

// reusable loads the plan of a cluster created earlier in dir, if it has the same members,
// holds data, and its ports are free.
func reusable(dir string, members []string) (*Cluster, bool) {
	b, err := os.ReadFile(planFile(dir))
	if err != nil {
		return nil, false
	}
	var c Cluster
	if json.Unmarshal(b, &c) != nil || len(c.Members) != len(members) || c.EtcdPeerPort == 0 {
		return nil, false
	}
	_, client, _ := net.SplitHostPort(c.EtcdAddr)
	cp, _ := strconv.Atoi(client)
	ports := []int{cp, c.EtcdPeerPort}
	for i, m := range c.Members {
		if m.Name != members[i] {
			return nil, false
		}
		if _, err := os.Stat(filepath.Join(m.DataDir(), "PG_VERSION")); err != nil {
			return nil, false
		}
		ports = append(ports, m.PGPort, m.APIPort)
	}
	for _, p := range ports {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			return nil, false
		}
		l.Close()
	}
	c.EtcdPID = 0
	for i := range c.Members {
		c.Members[i].PID = 0
	}
	return &c, true
}

// hasData says every member has a data directory from an earlier run.
func (c *Cluster) hasData() bool {
	for _, m := range c.Members {
		if _, err := os.Stat(filepath.Join(m.DataDir(), "PG_VERSION")); err != nil {
			return false
		}
	}
	return true
}

// Start starts etcd and every member, and waits until a primary takes writes with a
// synchronous standby. On failure it stops what it started.
func (c *Cluster) Start(ctx context.Context, out io.Writer) error {
	if out == nil {
		out = io.Discard
	}
	fail := func(err error) error {
		_ = c.Stop(io.Discard)
		return err
	}
	if c.hasData() {
		// A cluster stopped earlier: every member at once, since which one may lead is the
		// store's to say (in synchronous mode only the last primary or its synchronous
		// standby). If it does not come back, it starts afresh on the same ports.
		err := c.startEtcd(ctx)
		for _, m := range c.Members {
			if err == nil {
				err = c.StartMember(ctx, m.Name)
			}
		}
		if err == nil {
			err = c.WaitHealthy(ctx, 120*time.Second)
		}
		if err == nil {
			fmt.Fprintf(out, "etcd (Patroni's store) on %s (pid %d); the members' data kept from the last run\n", c.EtcdAddr, c.EtcdPID)
			return nil
		}
		fmt.Fprintf(out, "the database cluster of the last run did not come back (%v); starting a new one\n", err)
		_ = c.Stop(io.Discard)
		if err := c.wipe(); err != nil {
			return err
		}
	}
	if err := c.startEtcd(ctx); err != nil {
		return fail(err)
	}
	fmt.Fprintf(out, "etcd (Patroni's store) on %s (pid %d)\n", c.EtcdAddr, c.EtcdPID)
	// The first member bootstraps the cluster; the others clone it once it leads.
	if err := c.StartMember(ctx, c.Members[0].Name); err != nil {
		return fail(err)
	}
	if _, err := c.WaitPrimary(ctx, 120*time.Second); err != nil {
		return fail(err)
	}
	for _, m := range c.Members[1:] {
		if err := c.StartMember(ctx, m.Name); err != nil {
			return fail(err)
		}
	}
	if err := c.WaitHealthy(ctx, 180*time.Second); err != nil {
		return fail(err)
	}
	return nil
}

// wipe deletes the store's and the members' data, keeping their configuration.
func (c *Cluster) wipe() error {
	if err := os.RemoveAll(filepath.Join(c.Dir, "etcd")); err != nil {
		return err
	}
	for _, m := range c.Members {
		if err := os.RemoveAll(m.DataDir()); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) startEtcd(ctx context.Context) error {
	peer := c.EtcdPeerPort
	c.EtcdLog = filepath.Join(c.Dir, "logs", "etcd.log")
	cu, pu := "http://"+c.EtcdAddr, fmt.Sprintf("http://127.0.0.1:%d", peer)
	pid, err := startDetached(c.EtcdLog, nil, nil, "etcd", "--name", "paycenter-local", "--data-dir", filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls", cu, "--advertise-client-urls", cu, "--listen-peer-urls", pu,
		"--initial-advertise-peer-urls", pu, "--initial-cluster", "paycenter-local="+pu,
		"--log-level", "warn", "--logger", "zap")
	c.EtcdPID = pid
	if err != nil {
		return err
	}
	return waitFor(ctx, 60*time.Second, func() (bool, error) {
		if !alive(pid) {
			return false, fmt.Errorf("etcd exited; its log:\n%s", tail(c.EtcdLog))
		}
		res, err := httpGet(ctx, cu+"/health")
		return err == nil && res.code == 200 && strings.Contains(res.body, `"true"`), nil
	})
}

// writeConfig writes the member's patroni.yml (JSON, which YAML reads).
func (c *Cluster) writeConfig(m *Member) error {
	bin, err := localpg.BinDir()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		return err
	}
	auth := map[string]any{"username": "postgres"}
	connect := m.Addr()
	if m.wan() {
		// Standbys dial the primary's connect address, the same for all of them. So it is
		// a name, which each member's own hosts file (bind-mounted on /etc/hosts in its
		// mount namespace) resolves to that member's replication host: each pair of
		// members has its own WAN link.
		connect = fmt.Sprintf("%s:%d", hostName(m.Name), m.PGPort)
		hosts, _ := os.ReadFile("/etc/hosts")
		var b strings.Builder
		b.Write(hosts)
		fmt.Fprintf(&b, "\n# the other database members, through this member's WAN links\n")
		for _, o := range c.Members {
			ip := m.ReplHost
			if o.Name == m.Name {
				ip = "127.0.0.1"
			}
			fmt.Fprintf(&b, "%s %s\n", ip, hostName(o.Name))
		}
		if err := os.WriteFile(m.hostsFile(), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	t := c.Timing
	cfg := map[string]any{
		"scope": c.Scope,
		"name":  m.Name,
		"log":   map[string]any{"level": "INFO", "format": "%(asctime)s %(levelname)s: %(message)s"},
		"restapi": map[string]any{
			"listen":          fmt.Sprintf("127.0.0.1:%d", m.APIPort),
			"connect_address": fmt.Sprintf("127.0.0.1:%d", m.APIPort),
		},
		"etcd3": map[string]any{"hosts": []string{c.EtcdAddr}, "protocol": "http"},
		"bootstrap": map[string]any{
			"dcs": map[string]any{
				"ttl": t.TTL, "loop_wait": t.LoopWait, "retry_timeout": t.RetryTimeout,
				"synchronous_mode": true, "synchronous_mode_strict": true,
				// If the store is lost, a primary that still reaches every member keeps
				// its role instead of demoting itself.
				"failsafe_mode": true,
				"postgresql": map[string]any{
					"use_pg_rewind": true,
					"use_slots":     true,
					"parameters": map[string]any{
						"max_connections": 200, "max_wal_senders": 10, "max_replication_slots": 10,
						"wal_level": "replica", "hot_standby": "on", "wal_keep_size": "256MB",
						// A hung standby is dropped from pg_stat_replication after this, so
						// Patroni can make the other standby synchronous.
						"wal_sender_timeout": "4s", "wal_receiver_timeout": "4s",
						"wal_receiver_status_interval": "1s",
						// After a failover a standby's first attempt to stream from the new
						// primary can come before Patroni created its slot there; PostgreSQL's
						// default 5 s before the next attempt was most of the time until the
						// new primary had a synchronous standby (and took commits).
						"wal_retrieve_retry_interval": "500ms",
						"synchronous_commit":          "on",
						// As deploy/localpg: a killed process loses nothing, only an OS crash
						// could. full_page_writes stays on for pg_rewind.
						"fsync": "off",
					},
				},
			},
			"initdb": []any{map[string]string{"encoding": "UTF8"}, map[string]string{"locale": "C"}},
		},
		"postgresql": map[string]any{
			"listen":          m.Addr(),
			"connect_address": connect,
			"data_dir":        m.DataDir(),
			"bin_dir":         bin,
			"pgpass":          filepath.Join(m.Dir, "pgpass"),
			"authentication":  map[string]any{"superuser": auth, "replication": auth, "rewind": auth},
			"parameters": map[string]any{
				"unix_socket_directories": m.Dir,
				"shared_buffers":          "128MB",
			},
			"pg_hba": []string{
				"local all all trust",
				"host all all 127.0.0.1/32 trust",
				"host replication all 127.0.0.1/32 trust",
			},
			"use_unix_socket": true,
			// A member that comes back after a failover rejoins as a replica of the new
			// primary; if its history cannot be rewound it is cloned again.
			"remove_data_directory_on_rewind_failure":     true,
			"remove_data_directory_on_diverged_timelines": true,
		},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(m.Dir, "patroni.yml"), b, 0o600); err != nil {
		return err
	}
	return handToServerUser(m.Dir)
}

// StartMember starts a member's Patroni (which starts its PostgreSQL, as a replica of the
// primary if there is one, rewinding or cloning it as needed). It does nothing if the
// member's Patroni is running.
func (c *Cluster) StartMember(ctx context.Context, name string) error {
	m, err := c.Member(name)
	if err != nil {
		return err
	}
	if m.running() {
		return nil
	}
	// A postmaster left by a killed Patroni would keep the data directory busy.
	if pid := PostmasterPID(m.DataDir()); alive(pid) {
		killTree(pid)
	}
	env := []string{"HOME=" + m.Dir, "PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8", "PYTHONUNBUFFERED=1"}
	hosts := ""
	if m.wan() {
		hosts = m.hostsFile()
	}
	m.PID, err = startPatroni(m.Log, env, hosts, filepath.Join(m.Dir, "patroni.yml"))
	if err != nil {
		return err
	}
	return waitFor(ctx, 30*time.Second, func() (bool, error) {
		if !alive(m.PID) { // the process we just started (its command line changes as it execs)
			return false, fmt.Errorf("patroni %s exited; its log:\n%s", name, tail(m.Log))
		}
		res, err := httpGet(ctx, m.API()+"/liveness")
		return err == nil && res.code == 200, nil
	})
}

// KillMember kills a member's Patroni and PostgreSQL with SIGKILL, as losing its region
// would. It returns the PIDs it killed.
func (c *Cluster) KillMember(name string) ([]int, error) {
	m, err := c.Member(name)
	if err != nil {
		return nil, err
	}
	var killed []int
	// Patroni first, or it would start PostgreSQL again.
	if m.running() {
		killed = append(killed, killTree(m.PID)...)
	}
	if pid := PostmasterPID(m.DataDir()); alive(pid) {
		killed = append(killed, killTree(pid)...)
	}
	return killed, nil
}

// KillPostmaster kills a member's postmaster with SIGKILL and leaves Patroni running. It
// returns the postmaster's PID.
func (c *Cluster) KillPostmaster(name string) (int, error) {
	m, err := c.Member(name)
	if err != nil {
		return 0, err
	}
	pid := PostmasterPID(m.DataDir())
	if !alive(pid) {
		return 0, fmt.Errorf("PostgreSQL of %s is not running", name)
	}
	return pid, syscall.Kill(pid, syscall.SIGKILL)
}

// Stop stops every member (Patroni stops its PostgreSQL) and etcd.
func (c *Cluster) Stop(out io.Writer) error {
	var errs []error
	for _, m := range c.Members {
		if m.running() {
			_ = syscall.Kill(m.PID, syscall.SIGTERM)
		}
	}
	for _, m := range c.Members {
		if !waitGone(m.PID, 60*time.Second) {
			killTree(m.PID)
		}
		if pid := PostmasterPID(m.DataDir()); alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGINT) // fast shutdown
			if !waitGone(pid, 30*time.Second) {
				killTree(pid)
			}
		}
		if m.PID > 0 {
			fmt.Fprintf(out, "stopped database member %s (patroni pid %d)\n", m.Name, m.PID)
		}
	}
	if ours(c.EtcdPID, c.Dir) {
		_ = syscall.Kill(c.EtcdPID, syscall.SIGTERM)
		if !waitGone(c.EtcdPID, 15*time.Second) {
			killTree(c.EtcdPID)
		}
		fmt.Fprintf(out, "stopped etcd (pid %d)\n", c.EtcdPID)
	}
	return errors.Join(errs...)
}

// ReplicationListen is where the WAN link from member from's standby to member to's
// PostgreSQL listens: from's replication host, on to's port.
func ReplicationListen(from, to Member) string {
	return net.JoinHostPort(from.ReplHost, strconv.Itoa(to.PGPort))
}
