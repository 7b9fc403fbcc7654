// Package pgtest gives tests a real PostgreSQL: each test gets its own freshly migrated
// database, cloned from a template, and dropped when the test ends.
//
// The server is PAY_TEST_DATABASE_URL's (make test starts one for the whole run), or, when
// that is unset, one that Main starts for the test binary and stops after it.
package pgtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/deploy/localpg"
)

// EnvURL names the environment variable holding a server URL to use instead of starting one.
const EnvURL = "PAY_TEST_DATABASE_URL"

var (
	serverURL string
	tmplOnce  sync.Once
	tmplName  string
	tmplErr   error
)

// Main runs the package's tests against a PostgreSQL server; call it from TestMain.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if u := os.Getenv(EnvURL); u != "" {
		serverURL = u
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "paytest-pg-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	srv, err := localpg.Start(ctx, dir, localpg.Options{})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest: start PostgreSQL:", err)
		return 1
	}
	defer srv.Stop()
	serverURL = srv.URL()
	code := m.Run()
	if tmplName != "" {
		dropDatabase(tmplName)
	}
	return code
}

// NewDatabase creates an empty, migrated database for t and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	if serverURL == "" {
		t.Fatal("pgtest: no server: call pgtest.Main from TestMain")
	}
	tmplOnce.Do(func() { tmplName, tmplErr = makeTemplate() })
	if tmplErr != nil {
		t.Fatalf("pgtest: template database: %v", tmplErr)
	}
	name := "t_" + core.RandomToken(10)
	if err := exec(fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmplName)); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() { dropDatabase(name) })
	return withDatabase(serverURL, name)
}

func makeTemplate() (string, error) {
	name := "tmpl_" + core.RandomToken(10)
	if err := exec("CREATE DATABASE " + name); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := postgres.Open(ctx, withDatabase(serverURL, name), 2)
	if err != nil {
		return "", err
	}
	defer db.Close()
	return name, db.Migrate(ctx, nil)
}

func dropDatabase(name string) {
	_ = exec(fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
}

func exec(sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}

// withDatabase replaces the database name in a postgres:// URL.
func withDatabase(url, name string) string {
	q := ""
	if i := strings.IndexByte(url, '?'); i >= 0 {
		url, q = url[:i], url[i:]
	}
	i := strings.LastIndexByte(url, '/')
	if i < len("postgres://") {
		return url + "/" + name + q
	}
	return url[:i+1] + name + q
}
