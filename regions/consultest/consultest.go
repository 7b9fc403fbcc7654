// Package consultest starts real Consul agents for tests: `consul agent -dev` on free
// loopback ports, in a temporary data directory, stopped when the test ends.
//
// The binary is $PAY_CONSUL_BIN, else <repo root>/.local/bin/consul (built by
// deploy/tools/consul/build.sh), else consul on the PATH. Without one the test is skipped,
// or fails when PAY_REQUIRE_CONSUL=1 (as `make test` sets it), so that CI cannot pass by
// skipping.
package consultest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/paycenter/paycenter/deploy/localpg"
)

// Environment variables this package reads.
const (
	// EnvBinary names the consul binary to run.
	EnvBinary = "PAY_CONSUL_BIN"
	// EnvRequire, when "1", turns a missing binary into a test failure instead of a skip.
	EnvRequire = "PAY_REQUIRE_CONSUL"
)

// How long an agent gets to elect itself leader, and to exit when stopped.
const (
	startTimeout = 30 * time.Second
	stopTimeout  = 10 * time.Second
)

// Agent is a running `consul agent -dev`. Its ports stay the same across Restart, so
// clients made before a restart reach it again afterwards.
type Agent struct {
	// HTTPAddr is the agent's HTTP API, "127.0.0.1:port".
	HTTPAddr string
	// Client is an API client for HTTPAddr.
	Client *api.Client
	// DataDir is the agent's data directory.
	DataDir string

	t       testing.TB
	bin     string
	node    string
	ports   ports
	logPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{} // closed when cmd has exited
}

type ports struct{ http, serfLAN, server int }

// Start starts an agent for t and stops it, waiting for its process to exit, in t.Cleanup.
// It returns once the agent has elected itself leader and registered its own node.
func Start(t testing.TB) *Agent {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		msg := fmt.Sprintf("consultest: %v; build it with deploy/tools/consul/build.sh (or set %s)", err, EnvBinary)
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	a := &Agent{
		t:       t,
		bin:     bin,
		DataDir: filepath.Join(dir, "data"),
		logPath: filepath.Join(dir, "consul.log"),
	}
	if err := os.Mkdir(a.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	a.ports = ports{http: freePort(t, false), serfLAN: freePort(t, true), server: freePort(t, false)}
	a.node = "consultest-" + strconv.Itoa(a.ports.http)
	a.HTTPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(a.ports.http))
	cfg := api.DefaultConfig()
	cfg.Address = a.HTTPAddr
	cfg.Scheme = "http"
	cfg.Token = "" // ignore CONSUL_HTTP_TOKEN and friends from the environment
	a.Client, err = api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.Stop()
		if t.Failed() {
			a.logTail()
		}
	})
	a.start()
	return a
}

// Binary returns the consul binary tests run: $PAY_CONSUL_BIN, else
// <repo root>/.local/bin/consul, else consul on the PATH.
func Binary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if err := executable(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBinary, p, err)
		}
		return p, nil
	}
	if root, err := repoRoot(); err == nil {
		p := filepath.Join(root, ".local", "bin", "consul")
		if executable(p) == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("consul"); err == nil {
		return p, nil
	}
	return "", errors.New("no consul binary (looked at $" + EnvBinary + ", <repo>/.local/bin/consul and the PATH)")
}

func executable(p string) error {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return err
	case fi.IsDir() || fi.Mode()&0o111 == 0:
		return errors.New("not an executable file")
	}
	return nil
}

// repoRoot walks up from the working directory (a test's package directory) to the
// directory holding go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// freePort returns a loopback port that is free now for TCP (and UDP too when udp is set:
// Serf gossips over both on one port). It comes from localpg.FreePort: below the kernel's
// ephemeral range and claimed machine-wide, so neither an outgoing connection nor another
// pick (this agent's other ports included) takes it before consul binds it.
func freePort(t testing.TB, udp bool) int {
	t.Helper()
	for range 50 {
		port, err := localpg.FreePort()
		if err != nil {
			t.Fatalf("consultest: find a free port: %v", err)
		}
		if udp {
			u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				continue
			}
			u.Close()
		}
		return port
	}
	t.Fatal("consultest: no free port for TCP and UDP after 50 tries")
	return 0
}

func (a *Agent) args() []string {
	return []string{
		"agent", "-dev",
		"-node", a.node,
		"-data-dir", a.DataDir,
		"-bind", "127.0.0.1",
		"-client", "127.0.0.1",
		"-http-port", strconv.Itoa(a.ports.http),
		"-serf-lan-port", strconv.Itoa(a.ports.serfLAN),
		"-server-port", strconv.Itoa(a.ports.server),
		// Everything else off, so that agents side by side never contend for a port.
		"-serf-wan-port", "-1",
		"-dns-port", "-1",
		"-grpc-port", "-1",
		"-grpc-tls-port", "-1",
		"-log-level", "warn",
	}
}

// start runs the process and waits until the agent is usable.
func (a *Agent) start() {
	a.t.Helper()
	logFile, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		a.t.Fatal(err)
	}
	cmd := exec.Command(a.bin, a.args()...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = cleanEnv()
	orphanProof(cmd)
	if err := cmd.Start(); err != nil {
		logFile.Close()
		a.t.Fatalf("consultest: start %s: %v", a.bin, err)
	}
	exit := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(exit)
	}()
	a.mu.Lock()
	a.cmd, a.exit = cmd, exit
	a.mu.Unlock()

	if err := a.waitReady(exit); err != nil {
		a.t.Fatalf("consultest: consul agent on %s: %v\n%s", a.HTTPAddr, err, a.tail())
	}
}

// waitReady waits for a leader and for the agent's own node in the catalog (so that the
// agent's anti-entropy has run and service registrations reach the catalog).
func (a *Agent) waitReady(exit <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	var last error
	for {
		select {
		case <-exit:
			return errors.New("the agent exited while starting")
		case <-ctx.Done():
			return fmt.Errorf("not ready after %v: %v", startTimeout, last)
		case <-time.After(25 * time.Millisecond):
		}
		q := (&api.QueryOptions{}).WithContext(ctx)
		leader, err := a.Client.Status().LeaderWithQueryOptions(q)
		if err != nil || leader == "" {
			last = fmt.Errorf("no leader yet (%v)", err)
			continue
		}
		node, _, err := a.Client.Catalog().Node(a.node, q)
		if err != nil || node == nil || node.Node == nil {
			last = fmt.Errorf("own node not in the catalog yet (%v)", err)
			continue
		}
		return nil
	}
}

// cleanEnv is the environment without CONSUL_* variables, so that a developer's settings
// cannot point the test agent elsewhere.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CONSUL_") {
			env = append(env, kv)
		}
	}
	return env
}

// Stop stops the agent (SIGTERM, then SIGKILL after 10s) and waits for its process to exit.
// Stopping a stopped agent does nothing; Restart starts it again.
func (a *Agent) Stop() {
	a.mu.Lock()
	cmd, exit := a.cmd, a.exit
	a.cmd, a.exit = nil, nil
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exit:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-exit
	}
}

// Restart stops the agent and starts it again on the same ports and data directory, and
// returns once it is ready, as after a real agent restart: the services and checks
// registered through it come back (the agent persists them in DataDir), but the KV store
// and the rest of the catalog do not (a dev server keeps them in memory).
func (a *Agent) Restart() {
	a.t.Helper()
	a.Stop()
	a.start()
}

// RestartEmpty is Restart with an emptied data directory: the agent comes back knowing
// nothing, so every service must register again.
func (a *Agent) RestartEmpty() {
	a.t.Helper()
	a.Stop()
	if err := os.RemoveAll(a.DataDir); err != nil {
		a.t.Fatal(err)
	}
	if err := os.Mkdir(a.DataDir, 0o700); err != nil {
		a.t.Fatal(err)
	}
	a.start()
}

// logTail logs the end of the agent's log, for a failed test.
func (a *Agent) logTail() {
	a.t.Logf("consultest: consul agent %s log (end):\n%s", a.HTTPAddr, a.tail())
}

func (a *Agent) tail() string {
	b, err := os.ReadFile(a.logPath)
	if err != nil {
		return err.Error()
	}
	const max = 4000
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}
