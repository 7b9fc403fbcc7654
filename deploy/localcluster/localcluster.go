// Package localcluster brings the platform up on this machine, in the background, and takes
// it down again: the database (one PostgreSQL server, or with Options.Patroni a Patroni
// cluster of a member per region), the schema, and payd nodes per region, all on loopback.
// It records what it started in .local/cluster.json, which operator tools, the demo and
// tests read to find the endpoints.
package localcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/deploy/localpg"
	"github.com/paycenter/paycenter/deploy/patroni"
)

// Cluster is the content of cluster.json.
type Cluster struct {
	AdminToken  string `json:"admin_token"`
	DatabaseURL string `json:"database_url"`
	ConsulAddr  string `json:"consul_addr,omitempty"`
	WANAPI      string `json:"wan_api,omitempty"`    // Toxiproxy's REST API of the WAN emulator
	ChannelSim  string `json:"channelsim,omitempty"` // the shared channel simulator (its /sim control API)
	// Prometheus and Alertmanager are their base URLs, when monitoring runs (monitoring.go).
	Prometheus   string `json:"prometheus,omitempty"`
	Alertmanager string `json:"alertmanager,omitempty"`
	// Mailpit is its web UI and API, MailpitSMTP its SMTP server (mailpit.go).
	Mailpit     string   `json:"mailpit,omitempty"`
	MailpitSMTP string   `json:"mailpit_smtp,omitempty"`
	Regions     []Region `json:"regions"`
	// Postgres is the single server, or with Patroni the first region's member (whose
	// PostgreSQL may be a primary or a standby).
	Postgres Process `json:"postgres"`
	// Patroni is the highly available database, when the cluster runs one (Options.Patroni).
	Patroni *patroni.Cluster `json:"patroni,omitempty"`
	// Services are the cluster's other processes: consul, paywan, the regional endpoints.
	Services []Service `json:"services,omitempty"`
	// NodeArgs are the extra payd flags the nodes were started with (Options.NodeArgs);
	// a region started again gets them too.
	NodeArgs  []string `json:"node_args,omitempty"`
	StartedAt string   `json:"started_at"`
}

// Region is one region's endpoint and nodes.
type Region struct {
	Name     string `json:"name"`
	Endpoint string `json:"endpoint"`
	Nodes    []Node `json:"nodes"`
	// DBLink is the WAN link between the region's nodes and the database. With Patroni it
	// is the link to the region's own member, and DBLinks has one per member.
	DBLink  string   `json:"db_link,omitempty"`
	DBLinks []string `json:"db_links,omitempty"`
	// DatabaseURL is the database as the region's nodes reach it (through DBLink).
	DatabaseURL string `json:"database_url,omitempty"`
}

// Node is one running payd.
type Node struct {
	ID   string `json:"id"`
	Addr string `json:"addr"`
	PID  int    `json:"pid"`
	Log  string `json:"log"`
}

// Process is a running server process.
type Process struct {
	PID     int    `json:"pid"`
	DataDir string `json:"data_dir"`
}

// Service is another process of the cluster.
type Service struct {
	Name string `json:"name"`
	Addr string `json:"addr"`
	PID  int    `json:"pid"`
	Log  string `json:"log"`
}

// Options says what to start.
type Options struct {
	Dir string // state directory, e.g. ".local"
	// Bin is the directory holding payd, payedge, paywan and channelsim. Default "bin".
	Bin string
	// Payd is the payd binary. Default Bin/payd.
	Payd string
	// Consul is the consul binary. Empty: a single region without Consul, whose endpoint is
	// its first node (the simplest platform, for tests of the node alone).
	Consul string
	// Regions are the region names. Default: the topology's three with Consul, else ["us-east"].
	Regions []string
	// NodesPerRegion is the number of payd per region. Default 2 with Consul, else 1.
	NodesPerRegion int
	// NodeArgs are extra payd serve flags for every node (e.g. quotas, -metrics-addr).
	NodeArgs []string
	// Patroni runs the database as a Patroni cluster, a PostgreSQL member per region with
	// strict synchronous replication through the WAN emulator, instead of one server in the
	// first region. Only with Consul (the multi-region platform). Default false.
	Patroni bool
	// PatroniTiming is the Patroni cluster's failover timing. Default patroni.DefaultTiming.
	PatroniTiming patroni.Timing
	// Monitoring starts Prometheus and Alertmanager with the service-discovery bridge
	// (Bin/paylocal prom-sd) on the multi-region platform, when they are installed
	// (monitoring.go). Default false; make up turns it on.
	Monitoring bool
	// PostgresSettings are more settings of the single PostgreSQL server (localpg's
	// Options.Settings); not used with Patroni. Default none.
	PostgresSettings []string
	// PostgresExec is the single server's executable (localpg's Options.Postgres). Default
	// PostgreSQL's own.
	PostgresExec string
	Out          io.Writer
}

// File is the path of cluster.json under dir.
func File(dir string) string { return filepath.Join(dir, "cluster.json") }

// Load reads cluster.json from dir.
func Load(dir string) (*Cluster, error) {
	b, err := os.ReadFile(File(dir))
	if err != nil {
		return nil, err
	}
	var c Cluster
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", File(dir), err)
	}
	return &c, nil
}

type secrets struct {
	AdminToken string `json:"admin_token"`
	SecretKey  string `json:"secret_key"`
}

// loadSecrets keeps the local cluster's admin token and node secret across restarts, so
// merchants' keys and card fingerprints stay valid.
func loadSecrets(dir string) (secrets, error) {
	path := filepath.Join(dir, "secrets.json")
	var s secrets
	if b, err := os.ReadFile(path); err == nil && json.Unmarshal(b, &s) == nil && s.AdminToken != "" {
		return s, nil
	}
	s = secrets{AdminToken: "adm_" + core.RandomToken(20), SecretKey: core.RandomToken(40)}
	b, _ := json.MarshalIndent(s, "", "  ")
	return s, os.WriteFile(path, b, 0o600)
}

// Up starts the cluster. If one is already running it reports it and returns it.
func Up(ctx context.Context, opt Options) (*Cluster, error) {
	if opt.Bin == "" {
		opt.Bin = "bin"
	}
	if opt.Payd == "" {
		opt.Payd = filepath.Join(opt.Bin, "payd")
	}
	if len(opt.Regions) == 0 {
		opt.Regions = []string{"us-east"}
		if opt.Consul != "" {
			opt.Regions = []string{"us-east", "eu-west", "ap-south"}
		}
	}
	if opt.NodesPerRegion == 0 {
		opt.NodesPerRegion = 1
		if opt.Consul != "" {
			opt.NodesPerRegion = 2
		}
	}
	say := func(format string, args ...any) { fmt.Fprintf(opt.Out, format+"\n", args...) }
	if c, err := Load(opt.Dir); err == nil && running(c) {
		say("cluster already up (%s); 'make down' stops it", File(opt.Dir))
		return c, nil
	}
	if err := os.MkdirAll(filepath.Join(opt.Dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	sec, err := loadSecrets(opt.Dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{AdminToken: sec.AdminToken, NodeArgs: opt.NodeArgs, StartedAt: time.Now().UTC().Format(time.RFC3339)}
	// From here on, a failure takes down whatever was started.
	fail := func(err error) (*Cluster, error) {
		writeCluster(opt.Dir, c)
		_ = Down(opt.Dir, c, opt.Out)
		return nil, err
	}
	l := &launcher{opt: opt, c: c}
	if opt.Patroni {
		if opt.Consul == "" {
			return nil, errors.New("localcluster: a Patroni database needs the multi-region platform (Options.Consul)")
		}
		// The database starts inside multi, once the WAN emulator carries its links.
		if err := l.multi(ctx, sec, 0); err != nil {
			return fail(err)
		}
	} else {
		pgDir, _ := filepath.Abs(filepath.Join(opt.Dir, "pg"))
		say("starting PostgreSQL in %s ...", pgDir)
		pg, err := localpg.Start(ctx, pgDir, localpg.Options{Settings: opt.PostgresSettings, Postgres: opt.PostgresExec})
		if err != nil {
			return nil, err
		}
		c.Postgres = Process{PID: pg.PID(), DataDir: pgDir}
		c.DatabaseURL = pg.DatabaseURL("paycenter")
		if err := createDatabase(ctx, pg.URL(), "paycenter"); err != nil {
			return fail(err)
		}
		say("PostgreSQL ready on 127.0.0.1:%d; applying migrations ...", pg.Port)
		if err := l.migrate(ctx); err != nil {
			return fail(err)
		}
		if opt.Consul == "" {
			if err := l.single(ctx, sec); err != nil {
				return fail(err)
			}
		} else if err := l.multi(ctx, sec, pg.Port); err != nil {
			return fail(err)
		}
	}
	if err := writeCluster(opt.Dir, c); err != nil {
		return fail(err)
	}
	say("cluster up: %s", File(opt.Dir))
	return c, nil
}

// migrate applies the schema to c.DatabaseURL with payd migrate.
func (l *launcher) migrate(ctx context.Context) error {
	if out, err := exec.CommandContext(ctx, l.opt.Payd, "migrate", "-database-url", l.c.DatabaseURL, "-log-format", "text").CombinedOutput(); err != nil {
		return fmt.Errorf("payd migrate: %w\n%s", err, out)
	}
	return nil
}

func writeCluster(dir string, c *Cluster) error {
	b, _ := json.MarshalIndent(c, "", "  ")
	return os.WriteFile(File(dir), append(b, '\n'), 0o600)
}

func createDatabase(ctx context.Context, url, name string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil || exists {
		return err
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+name)
	return err
}

// Down stops every process of the cluster in dir (c may be nil: then cluster.json is read)
// and removes cluster.json. The database's data directory stays for the next Up.
func Down(dir string, c *Cluster, out io.Writer) error {
	if c == nil {
		var err error
		if c, err = Load(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	var errs []error
	if c != nil {
		// Endpoints first, then nodes, then what they depend on.
		for _, s := range c.Services {
			if strings.HasPrefix(s.Name, "payedge") && stopProcess(s.PID, 15*time.Second) {
				fmt.Fprintf(out, "stopped %s (pid %d)\n", s.Name, s.PID)
			}
		}
		for _, r := range c.Regions {
			for _, n := range r.Nodes {
				if stopProcess(n.PID, 15*time.Second) {
					fmt.Fprintf(out, "stopped payd %s (pid %d)\n", n.ID, n.PID)
				}
			}
		}
		for i := len(c.Services) - 1; i >= 0; i-- {
			if s := c.Services[i]; !strings.HasPrefix(s.Name, "payedge") && stopProcess(s.PID, 15*time.Second) {
				fmt.Fprintf(out, "stopped %s (pid %d)\n", s.Name, s.PID)
			}
		}
	}
	if c != nil && c.Patroni != nil {
		errs = append(errs, c.Patroni.Stop(out))
	}
	pgDir, _ := filepath.Abs(filepath.Join(dir, "pg"))
	if _, err := os.Stat(filepath.Join(pgDir, "postmaster.pid")); err == nil {
		if err := localpg.StopDir(pgDir); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(out, "stopped PostgreSQL (%s)\n", pgDir)
		}
	}
	if err := os.Remove(File(dir)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// running reports whether every process in c is alive.
func running(c *Cluster) bool {
	if c.Patroni != nil {
		if !alive(c.Patroni.EtcdPID) {
			return false
		}
		for _, m := range c.Patroni.Members {
			if !alive(m.PID) {
				return false
			}
		}
	} else if !alive(c.Postgres.PID) {
		return false
	}
	for _, r := range c.Regions {
		for _, n := range r.Nodes {
			if !alive(n.PID) {
				return false
			}
		}
	}
	for _, s := range c.Services {
		if !alive(s.PID) {
			return false
		}
	}
	return true
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	// A zombie (exited, not yet reaped) is not alive.
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == ')' && i+2 < len(b) {
			return b[i+2] != 'Z'
		}
	}
	return true
}

// stopProcess sends SIGTERM, waits up to grace, then SIGKILL. It reports whether the process
// was running.
func stopProcess(pid int, grace time.Duration) bool {
	if !alive(pid) {
		return false
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(grace)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(pid) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for i := 0; i < 100 && alive(pid); i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return true
}

// Status describes the cluster in dir.
func Status(dir string, out io.Writer) error {
	c, err := Load(dir)
	if errors.Is(err, os.ErrNotExist) {
		fmt.Fprintln(out, "cluster is down")
		return nil
	}
	if err != nil {
		return err
	}
	state := func(pid int) string {
		if alive(pid) {
			return "running"
		}
		return "DEAD"
	}
	if p := c.Patroni; p != nil {
		roles := map[string]string{}
		if ms, err := p.State(context.Background()); err == nil {
			for _, m := range ms {
				roles[m.Name] = m.Role + " " + m.State
			}
		}
		fmt.Fprintf(out, "etcd      pid %-7d %s  %s\n", p.EtcdPID, state(p.EtcdPID), p.EtcdAddr)
		for _, m := range p.Members {
			fmt.Fprintf(out, "database  %-9s patroni pid %-7d %s  postgres %s  %s\n", m.Name, m.PID, state(m.PID), m.Addr(), roles[m.Name])
		}
		fmt.Fprintf(out, "database  %s\n", c.DatabaseURL)
	} else {
		fmt.Fprintf(out, "postgres  pid %-7d %s  %s\n", c.Postgres.PID, state(c.Postgres.PID), c.DatabaseURL)
	}
	for _, s := range c.Services {
		fmt.Fprintf(out, "%-9s pid %-7d %s  %s\n", s.Name, s.PID, state(s.PID), s.Addr)
	}
	for _, r := range c.Regions {
		fmt.Fprintf(out, "region %s  endpoint %s\n", r.Name, r.Endpoint)
		for _, n := range r.Nodes {
			fmt.Fprintf(out, "  payd %-12s pid %-7d %s  http://%s\n", n.ID, n.PID, state(n.PID), n.Addr)
		}
	}
	return nil
}

func lastBytes(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
