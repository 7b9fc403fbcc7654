// Package localcluster brings the platform up on this machine, in the background, and takes
// it down again: a PostgreSQL server, the schema, and payd nodes per region, all on loopback.
// It records what it started in .local/cluster.json, which operator tools, the demo and
// tests read to find the endpoints.
package localcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/deploy/localpg"
)

// Cluster is the content of cluster.json.
type Cluster struct {
	AdminToken  string   `json:"admin_token"`
	DatabaseURL string   `json:"database_url"`
	Regions     []Region `json:"regions"`
	Postgres    Process  `json:"postgres"`
	StartedAt   string   `json:"started_at"`
}

// Region is one region's endpoint and nodes.
type Region struct {
	Name     string `json:"name"`
	Endpoint string `json:"endpoint"`
	Nodes    []Node `json:"nodes"`
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

// Options says what to start.
type Options struct {
	Dir            string   // state directory, e.g. ".local"
	Payd           string   // path of the payd binary
	Regions        []string // region names; default ["us-east"]
	NodesPerRegion int      // default 1
	Out            io.Writer
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
	if len(opt.Regions) == 0 {
		opt.Regions = []string{"us-east"}
	}
	if opt.NodesPerRegion == 0 {
		opt.NodesPerRegion = 1
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
	c := &Cluster{AdminToken: sec.AdminToken, StartedAt: time.Now().UTC().Format(time.RFC3339)}
	pgDir, _ := filepath.Abs(filepath.Join(opt.Dir, "pg"))
	say("starting PostgreSQL in %s ...", pgDir)
	pg, err := localpg.Start(ctx, pgDir, localpg.Options{})
	if err != nil {
		return nil, err
	}
	c.Postgres = Process{PID: pg.PID(), DataDir: pgDir}
	c.DatabaseURL = pg.DatabaseURL("paycenter")
	// From here on, a failure takes down whatever was started.
	fail := func(err error) (*Cluster, error) {
		_ = Down(opt.Dir, c, opt.Out)
		return nil, err
	}
	if err := createDatabase(ctx, pg.URL(), "paycenter"); err != nil {
		return fail(err)
	}
	say("PostgreSQL ready on 127.0.0.1:%d; applying migrations ...", pg.Port)
	if out, err := exec.CommandContext(ctx, opt.Payd, "migrate", "-database-url", c.DatabaseURL, "-log-format", "text").CombinedOutput(); err != nil {
		return fail(fmt.Errorf("payd migrate: %w\n%s", err, out))
	}
	for _, region := range opt.Regions {
		r := Region{Name: region}
		for i := 1; i <= opt.NodesPerRegion; i++ {
			n, err := startNode(ctx, opt, c, sec, region, i)
			if err != nil {
				return fail(err)
			}
			r.Nodes = append(r.Nodes, n)
			say("payd %s serving region %s on http://%s (pid %d, log %s)", n.ID, region, n.Addr, n.PID, n.Log)
		}
		// Until the regional endpoint exists, a region's endpoint is its first node.
		r.Endpoint = "http://" + r.Nodes[0].Addr
		c.Regions = append(c.Regions, r)
	}
	b, _ := json.MarshalIndent(c, "", "  ")
	if err := os.WriteFile(File(opt.Dir), append(b, '\n'), 0o600); err != nil {
		return fail(err)
	}
	say("cluster up: %s", File(opt.Dir))
	return c, nil
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

func startNode(ctx context.Context, opt Options, c *Cluster, sec secrets, region string, i int) (Node, error) {
	port, err := localpg.FreePort()
	if err != nil {
		return Node{}, err
	}
	n := Node{ID: fmt.Sprintf("%s-%d", region, i), Addr: "127.0.0.1:" + strconv.Itoa(port)}
	n.Log, _ = filepath.Abs(filepath.Join(opt.Dir, "logs", n.ID+".log"))
	logf, err := os.OpenFile(n.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return n, err
	}
	defer logf.Close()
	cmd := exec.Command(opt.Payd, "serve", "-addr", n.Addr, "-region", region, "-node-id", n.ID)
	cmd.Env = append(os.Environ(), "PAYD_DATABASE_URL="+c.DatabaseURL, "PAYD_ADMIN_TOKEN="+sec.AdminToken, "PAYD_SECRET_KEY="+sec.SecretKey)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // outlives this command
	if err := cmd.Start(); err != nil {
		return n, fmt.Errorf("start payd %s: %w", n.ID, err)
	}
	n.PID = cmd.Process.Pid
	go cmd.Wait() // reap it if it dies while we wait for readiness
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get("http://" + n.Addr + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return n, nil
			}
		}
		if time.Now().After(deadline) || !alive(n.PID) {
			_ = syscall.Kill(n.PID, syscall.SIGKILL)
			tail, _ := os.ReadFile(n.Log)
			return n, fmt.Errorf("payd %s did not become ready; its log:\n%s", n.ID, lastBytes(tail, 2000))
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
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
		for _, r := range c.Regions {
			for _, n := range r.Nodes {
				if stopProcess(n.PID, 15*time.Second) {
					fmt.Fprintf(out, "stopped payd %s (pid %d)\n", n.ID, n.PID)
				}
			}
		}
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
	if !alive(c.Postgres.PID) {
		return false
	}
	for _, r := range c.Regions {
		for _, n := range r.Nodes {
			if !alive(n.PID) {
				return false
			}
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
	fmt.Fprintf(out, "postgres  pid %-7d %s  %s\n", c.Postgres.PID, state(c.Postgres.PID), c.DatabaseURL)
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
