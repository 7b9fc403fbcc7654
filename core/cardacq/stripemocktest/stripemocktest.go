// Package stripemocktest runs Stripe's official mock server, stripe-mock
// (github.com/stripe/stripe-mock, built by deploy/tools/stripemock/build.sh), for tests.
//
// stripe-mock validates every request against Stripe's OpenAPI specification and answers
// with fixture objects. It is stateless: it does not decline test cards, does not remember
// idempotency keys and answers every call on an object with the same fixture.
//
// The binary is looked up as $PAY_STRIPE_MOCK_BIN, then <repository root>/.local/bin/stripe-mock
// (the root is the nearest directory above the working directory with a go.mod that is not a
// tool module), then stripe-mock on PATH. When it is missing, Start skips the test with a
// message naming build.sh, or fails it when PAY_REQUIRE_STRIPE_MOCK=1 (as `make test` sets).
package stripemocktest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Environment variables Start reads.
const (
	EnvBin     = "PAY_STRIPE_MOCK_BIN"     // path of the stripe-mock binary
	EnvRequire = "PAY_REQUIRE_STRIPE_MOCK" // "1": a missing binary fails the test instead of skipping it
)

// BuildScript is the script that builds the binary into <root>/.local/bin, relative to the
// repository root.
const BuildScript = "deploy/tools/stripemock/build.sh"

// APIKey is a key stripe-mock accepts (it wants any test-mode secret key).
const APIKey = "sk_test_123"

// Server is a running stripe-mock.
type Server struct {
	// URL is its HTTP endpoint, e.g. http://127.0.0.1:41234.
	URL string
	// Bin is the binary that runs.
	Bin string

	cmd  *exec.Cmd
	done chan struct{}
	log  *syncBuffer
}

// Start starts stripe-mock on free loopback ports, waits until it answers and stops it
// (waiting for it to exit) when the test ends. It skips or fails the test when the binary
// is missing (see the package documentation).
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Find()
	if err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("stripe-mock is required (%s=1): %v", EnvRequire, err)
		}
		t.Skipf("stripe-mock not available (%v); build it with %s or set %s", err, BuildScript, EnvBin)
	}
	s, err := start(bin)
	if err != nil {
		t.Fatalf("stripe-mock: %v", err)
	}
	t.Cleanup(s.stop)
	return s
}

// Find returns the stripe-mock binary to run, or an error saying where it looked.
func Find() (string, error) {
	if p := os.Getenv(EnvBin); p != "" {
		if isExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("%s=%s is not an executable file", EnvBin, p)
	}
	var looked []string
	if root, err := RepoRoot(); err == nil {
		p := filepath.Join(root, ".local", "bin", "stripe-mock")
		if isExecutable(p) {
			return p, nil
		}
		looked = append(looked, p)
	}
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p, nil
	}
	looked = append(looked, "stripe-mock on PATH")
	return "", fmt.Errorf("no stripe-mock binary: looked at %s", strings.Join(looked, ", "))
}

// RepoRoot walks up from the working directory to the main module's root: the nearest
// directory with a go.mod whose module is not one of the tool modules under deploy/tools.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && !strings.Contains(firstModuleLine(b), "/deploy/tools/") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

func firstModuleLine(gomod []byte) string {
	for _, l := range strings.Split(string(gomod), "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "module ") {
			return l
		}
	}
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

var listening = regexp.MustCompile(`Listening for HTTP at address: (\S+)`)

// start runs bin on loopback with ports the system chooses (-http-addr 127.0.0.1:,
// -https-addr 127.0.0.1:; without the latter stripe-mock also opens :12112 on every
// interface) and reads the HTTP address it reports.
func start(bin string) (*Server, error) {
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:", "-https-addr", "127.0.0.1:")
	addr := make(chan string, 1)
	log := &syncBuffer{onWrite: func(all string) {
		if m := listening.FindStringSubmatch(all); m != nil {
			select {
			case addr <- m[1]:
			default:
			}
		}
	}}
	cmd.Stdout, cmd.Stderr = log, log
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{Bin: bin, cmd: cmd, done: make(chan struct{}), log: log}
	go func() {
		_ = cmd.Wait()
		close(s.done)
	}()
	select {
	case a := <-addr:
		s.URL = "http://" + a
	case <-s.done:
		return nil, fmt.Errorf("%s exited before listening: %s", bin, log.String())
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("%s did not report its address within 30s: %s", bin, log.String())
	}
	if err := s.waitReady(10 * time.Second); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

// waitReady polls an endpoint until stripe-mock answers it.
func (s *Server) waitReady(limit time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/v1/balance", nil)
		req.Header.Set("Authorization", "Bearer "+APIKey)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stripe-mock at %s did not answer within %v: %v; log: %s", s.URL, limit, err, s.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop kills the process and waits for it to exit.
func (s *Server) stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Log is what stripe-mock printed so far.
func (s *Server) Log() string { return s.log.String() }

// syncBuffer collects the process's output; onWrite, if set, sees everything written so far
// after each write (until the address was found: the output is a few lines).
type syncBuffer struct {
	mu      sync.Mutex
	b       strings.Builder
	onWrite func(all string)
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.b.Write(p)
	if b.onWrite != nil && b.b.Len() < 1<<16 {
		b.onWrite(b.b.String())
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
