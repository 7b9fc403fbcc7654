package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/paycenter/paycenter/deploy/localcluster"
	"github.com/paycenter/paycenter/deploy/localpg"
)

// The faults this package injects into the local platform, and their undoing. Everything
// injected carries a "chaos" name or is recorded under the state directory, so Restore can
// undo what an interrupted run left behind.

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(b, ')'); i > 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}

// kill9 kills pid with SIGKILL and waits (up to 10 s) until it is gone.
func kill9(pid int) error {
	if !alive(pid) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill %d: %w", pid, err)
	}
	for i := 0; i < 200 && alive(pid); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if alive(pid) {
		return fmt.Errorf("process %d survived SIGKILL", pid)
	}
	return nil
}

// KillNode kills one payd of the local platform with SIGKILL.
func KillNode(dir, nodeID string) (localcluster.Node, error) {
	c, err := localcluster.Load(dir)
	if err != nil {
		return localcluster.Node{}, err
	}
	for _, r := range c.Regions {
		for _, n := range r.Nodes {
			if n.ID == nodeID {
				return n, kill9(n.PID)
			}
		}
	}
	return localcluster.Node{}, fmt.Errorf("no payd %q in %s", nodeID, localcluster.File(dir))
}

// RestartDeadNodes starts again every payd of the local platform that is not running.
func RestartDeadNodes(ctx context.Context, dir, bin string, out io.Writer) error {
	c, err := localcluster.Load(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range c.Regions {
		for _, n := range r.Nodes {
			if !alive(n.PID) {
				errs = append(errs, localcluster.StartRegion(ctx, dir, bin, r.Name, out))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// updateCluster rewrites cluster.json after a fault restarted one of its processes.
func updateCluster(dir string, change func(c *localcluster.Cluster)) error {
	c, err := localcluster.Load(dir)
	if err != nil {
		return err
	}
	change(c)
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(localcluster.File(dir), append(b, '\n'), 0o600)
}

// Toxiproxy is a client of the WAN emulator's Toxiproxy REST API.
type Toxiproxy struct {
	API string // host:port
}

// Toxic is one Toxiproxy toxic.
type Toxic struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float64        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

// chaosPrefix names every toxic this package adds.
const chaosPrefix = "chaos_"

type proxyInfo struct {
	Name    string  `json:"name"`
	Enabled bool    `json:"enabled"`
	Toxics  []Toxic `json:"toxics"`
}

func (x Toxiproxy) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+x.API+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("toxiproxy %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("toxiproxy %s %s: %d %s", method, path, res.StatusCode, strings.TrimSpace(string(b)))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (x Toxiproxy) proxies(ctx context.Context) (map[string]proxyInfo, error) {
	var ps map[string]proxyInfo
	return ps, x.do(ctx, http.MethodGet, "/proxies", nil, &ps)
}

// AddToxic adds t to a link; its name gets the chaos prefix.
func (x Toxiproxy) AddToxic(ctx context.Context, link string, t Toxic) error {
	if !strings.HasPrefix(t.Name, chaosPrefix) {
		t.Name = chaosPrefix + t.Name
	}
	if t.Toxicity == 0 {
		t.Toxicity = 1
	}
	return x.do(ctx, http.MethodPost, "/proxies/"+link+"/toxics", t, nil)
}

// DBLinks lists the links between regions' nodes and the database ("db-<region>").
func (x Toxiproxy) DBLinks(ctx context.Context) ([]string, error) {
	ps, err := x.proxies(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range sortedKeys(ps) {
		if strings.HasPrefix(name, "db-") {
			out = append(out, name)
		}
	}
	return out, nil
}

// Leftovers lists chaos toxics and disabled links.
func (x Toxiproxy) Leftovers(ctx context.Context) ([]string, error) {
	ps, err := x.proxies(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, name := range sortedKeys(ps) {
		p := ps[name]
		if !p.Enabled {
			out = append(out, name+" disabled")
		}
		for _, t := range p.Toxics {
			if strings.HasPrefix(t.Name, chaosPrefix) {
				out = append(out, name+"/"+t.Name)
			}
		}
	}
	return out, nil
}

// Clean removes every chaos toxic and enables every link.
func (x Toxiproxy) Clean(ctx context.Context) error {
	ps, err := x.proxies(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range sortedKeys(ps) {
		p := ps[name]
		for _, t := range p.Toxics {
			if strings.HasPrefix(t.Name, chaosPrefix) {
				errs = append(errs, x.do(ctx, http.MethodDelete, "/proxies/"+name+"/toxics/"+t.Name, nil, nil))
			}
		}
		if !p.Enabled {
			errs = append(errs, x.do(ctx, http.MethodPost, "/proxies/"+name, map[string]bool{"enabled": true}, nil))
		}
	}
	return errors.Join(errs...)
}

// RestartPostgres restarts the local platform's PostgreSQL with pg_ctl (fast shutdown: open
// sessions are cut), as its server user when we are root, the way deploy/localpg runs it;
// the server keeps the options it was started with (postmaster.opts). It records the new
// process ID in cluster.json. If the server is not running, pg_ctl starts it. With a
// Patroni database it restarts the primary through Patroni.
func RestartPostgres(ctx context.Context, dir string) error {
	c, err := localcluster.Load(dir)
	if err != nil {
		return err
	}
	if c.Patroni != nil {
		return restartPrimary(ctx, dir, c.Patroni)
	}
	data := c.Postgres.DataDir
	bin, err := localpg.BinDir()
	if err != nil {
		return err
	}
	args := []string{filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(data, "server.log"), "-m", "fast", "-w", "-t", "60", "restart"}
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--"}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, args[0], args[1:]...)
	}
	cmd.Dir = os.TempDir() // the postgres user may not be able to read our working directory
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl restart: %w\n%s", err, out)
	}
	pid := postmasterPID(data)
	return updateCluster(dir, func(c *localcluster.Cluster) { c.Postgres.PID = pid })
}

// consulArgvFile keeps a stopped Consul agent's command line until it is started again.
func consulArgvFile(dir string) string { return filepath.Join(dir, "chaos-consul.json") }

type savedProcess struct {
	Exe  string   `json:"exe"`
	Args []string `json:"args"`
	Cwd  string   `json:"cwd"`
	Log  string   `json:"log"`
}

// StopConsul kills the local platform's Consul agent (SIGKILL, as a crash would), first
// saving its command line for StartConsul.
func StopConsul(dir string) error {
	c, err := localcluster.Load(dir)
	if err != nil {
		return err
	}
	for _, s := range c.Services {
		if s.Name != "consul" {
			continue
		}
		if !alive(s.PID) {
			return fmt.Errorf("consul (pid %d) is not running", s.PID)
		}
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", s.PID))
		if err != nil {
			return err
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", s.PID))
		if err != nil {
			return err
		}
		cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", s.PID))
		argv := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		b, _ := json.Marshal(savedProcess{Exe: exe, Args: argv[1:], Cwd: cwd, Log: s.Log})
		if err := os.WriteFile(consulArgvFile(dir), b, 0o600); err != nil {
			return err
		}
		return kill9(s.PID)
	}
	return errors.New("no consul in cluster.json")
}

// StartConsul starts the Consul agent StopConsul stopped, with the same command line (a dev
// agent starts empty: the nodes register again by themselves), waits for it to have a
// leader and records its process ID in cluster.json. It does nothing if none was stopped.
func StartConsul(ctx context.Context, dir string) error {
	b, err := os.ReadFile(consulArgvFile(dir))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var p savedProcess
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	logf, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(p.Exe, p.Args...)
	cmd.Dir = p.Cwd
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // it outlives this process, as paylocal's do
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start consul: %w", err)
	}
	go cmd.Wait() // reap it if it dies while we run
	pid := cmd.Process.Pid
	if err := updateCluster(dir, func(c *localcluster.Cluster) {
		for i := range c.Services {
			if c.Services[i].Name == "consul" {
				c.Services[i].PID = pid
			}
		}
	}); err != nil {
		return err
	}
	if err := os.Remove(consulArgvFile(dir)); err != nil {
		return err
	}
	c, err := localcluster.Load(dir)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.ConsulAddr+"/v1/status/leader", nil)
		if res, err := (&http.Client{Timeout: 2 * time.Second}).Do(req); err == nil {
			var leader string
			ok := res.StatusCode == 200 && json.NewDecoder(res.Body).Decode(&leader) == nil && leader != ""
			res.Body.Close()
			if ok {
				return nil
			}
		}
		if time.Now().After(deadline) || !alive(pid) {
			return fmt.Errorf("consul (pid %d) did not elect a leader", pid)
		}
		sleep(ctx, 100*time.Millisecond)
	}
}

// Restore undoes whatever faults are left on the local platform: channel faults, WAN
// toxics, a stopped database (or dead database members), a stopped Consul, dead nodes. It
// is safe to call at any time.
func (t *Target) Restore(ctx context.Context, out io.Writer) error {
	var errs []error
	if t.ChannelSim != "" {
		errs = append(errs, channelControl(t).ClearFaults(ctx))
	}
	if !t.Local() {
		return errors.Join(errs...)
	}
	if t.WANAPI != "" {
		errs = append(errs, Toxiproxy{API: t.WANAPI}.Clean(ctx))
	}
	c, err := t.Cluster()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if c.Patroni != nil {
		errs = append(errs, restoreDatabase(ctx, t.Dir, t.Bin, out))
	} else if !alive(postmasterPID(c.Postgres.DataDir)) {
		errs = append(errs, RestartPostgres(ctx, t.Dir))
	}
	errs = append(errs, StartConsul(ctx, t.Dir))
	errs = append(errs, RestartDeadNodes(ctx, t.Dir, t.Bin, out))
	return errors.Join(errs...)
}
