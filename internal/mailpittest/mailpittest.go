// Package mailpittest starts a real Mailpit (an SMTP server with a web UI and an HTTP API)
// for tests, on free loopback ports, stopped when the test ends.
//
// The binary is $PAY_MAILPIT_BIN, else <repo root>/.local/bin/mailpit (built by
// deploy/tools/mailpit/build.sh, as `make tools` does), else mailpit on the PATH. Without one
// the test is skipped, or fails when PAY_REQUIRE_MAILPIT=1 (as `make test` sets it), so that
// CI cannot pass by skipping.
//
// Mailpit runs with --ignore-duplicate-ids: a message whose Message-ID it already holds is
// dropped. That is the provider-side idempotency the platform's notifier relies on (each
// notice has a deterministic Message-ID), as a real relay or inbox de-duplicates on it.
package mailpittest

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
	"testing"
	"time"

	"github.com/paycenter/paycenter/deploy/localpg"
)

// Environment variables this package reads.
const (
	EnvBinary  = "PAY_MAILPIT_BIN"
	EnvRequire = "PAY_REQUIRE_MAILPIT"
)

// Server is a running Mailpit.
type Server struct {
	// SMTPAddr is the SMTP listener, "127.0.0.1:port"; HTTPAddr the web UI and API.
	SMTPAddr, HTTPAddr string
}

// Start starts a Mailpit for t; it is stopped (and waited for) in t.Cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		msg := fmt.Sprintf("mailpittest: %v; build it with deploy/tools/mailpit/build.sh (or set %s)", err, EnvBinary)
		if os.Getenv(EnvRequire) == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	port := func() int {
		p, err := localpg.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	s := &Server{SMTPAddr: "127.0.0.1:" + strconv.Itoa(port()), HTTPAddr: "127.0.0.1:" + strconv.Itoa(port())}
	dir := t.TempDir()
	logf, err := os.Create(filepath.Join(dir, "mailpit.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--smtp", s.SMTPAddr, "--listen", s.HTTPAddr, "--database", filepath.Join(dir, "mailpit.db"),
		"--ignore-duplicate-ids", "--smtp-auth-accept-any", "--smtp-auth-allow-insecure", "--disable-version-check", "--quiet")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = logf.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := s.Messages(context.Background()); err == nil {
			return s
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("mailpit exited at start: %s", b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("mailpit did not answer on its API within 30s")
		}
	}
}

// Message is a message Mailpit holds, as its API lists it.
type Message struct {
	ID        string    `json:"ID"`
	MessageID string    `json:"MessageID"`
	Subject   string    `json:"Subject"`
	Snippet   string    `json:"Snippet"`
	To        []Address `json:"To"`
}

// Address is a message's recipient.
type Address struct {
	Address string `json:"Address"`
}

// Messages lists the messages Mailpit holds, newest first.
func (s *Server) Messages(ctx context.Context) ([]Message, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+s.HTTPAddr+"/api/v1/messages?limit=500", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("mailpit messages: %s", res.Status)
	}
	var out struct {
		Messages []Message `json:"messages"`
	}
	return out.Messages, json.NewDecoder(res.Body).Decode(&out)
}

// Detail is one message as Mailpit's API shows it whole: its text and HTML parts (empty
// when the message has none) and its sender and Reply-To.
type Detail struct {
	ID        string    `json:"ID"`
	MessageID string    `json:"MessageID"`
	From      Named     `json:"From"`
	ReplyTo   []Named   `json:"ReplyTo"`
	To        []Address `json:"To"`
	Subject   string    `json:"Subject"`
	Text      string    `json:"Text"`
	HTML      string    `json:"HTML"`
}

// Named is an address with its display name.
type Named struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

// Message reads the message id (a Message's ID) whole.
func (s *Server) Message(ctx context.Context, id string) (*Detail, error) {
	var d Detail
	return &d, s.get(ctx, "/api/v1/message/"+id, func(r io.Reader) error { return json.NewDecoder(r).Decode(&d) })
}

// Raw reads the message id as it was received (headers and MIME parts).
func (s *Server) Raw(ctx context.Context, id string) (string, error) {
	var out []byte
	err := s.get(ctx, "/api/v1/message/"+id+"/raw", func(r io.Reader) (err error) {
		out, err = io.ReadAll(r)
		return err
	})
	return string(out), err
}

func (s *Server) get(ctx context.Context, path string, read func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+s.HTTPAddr+path, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return fmt.Errorf("mailpit %s: %s", path, res.Status)
	}
	return read(res.Body)
}

// Binary finds the mailpit binary.
func Binary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		return p, executable(p)
	}
	if root, err := repoRoot(); err == nil {
		p := filepath.Join(root, ".local", "bin", "mailpit")
		if executable(p) == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	return "", errors.New("no mailpit binary (looked at $" + EnvBinary + ", <repo>/.local/bin/mailpit and the PATH)")
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

// Text is the plain-text body of the message with Mailpit's ID id.
func (s *Server) Text(ctx context.Context, id string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", "http://"+s.HTTPAddr+"/api/v1/message/"+id, nil)
	if err != nil {
		return "", err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return "", fmt.Errorf("mailpit message %s: %s", id, res.Status)
	}
	var out struct {
		Text string `json:"Text"`
	}
	return out.Text, json.NewDecoder(res.Body).Decode(&out)
}
