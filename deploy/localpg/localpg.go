// Package localpg starts and stops a throwaway PostgreSQL server for tests, benchmarks and the
// local cluster: initdb into a directory, a free loopback port, and pg_ctl to start and stop it.
//
// PostgreSQL refuses to run as root, so when the caller is root every server command runs as
// the "postgres" OS user through runuser, and the data directory is handed to that user.
package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Options says how to start a server. The zero value is usable.
type Options struct {
	// Port to listen on at 127.0.0.1. Default: a free port chosen at start.
	Port int
	// Durable keeps fsync and synchronous commit on. Default false: tests and the local
	// cluster trade crash durability of the whole machine for speed (a killed PostgreSQL
	// process still loses nothing; only an OS crash could).
	Durable bool
	// MaxConnections is PostgreSQL's max_connections. Default 200.
	MaxConnections int
	// Settings are more server settings, name=value each (passed as -c), e.g.
	// "shared_preload_libraries=pg_stat_statements" for a benchmark's statement figures.
	// Default none.
	Settings []string
	// Postgres is the server executable pg_ctl starts (its -p), e.g. a script that runs
	// BinDir's postgres under valgrind. Default: BinDir's postgres.
	Postgres string
}

// Server is a running PostgreSQL server started by Start.
type Server struct {
	Dir  string // data directory
	Port int
	bin  string
}

// URL is the connection string of the server's "postgres" database.
func (s *Server) URL() string { return s.DatabaseURL("postgres") }

// DatabaseURL is the connection string of database name on the server.
func (s *Server) DatabaseURL(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", s.Port, name)
}

// BinDir finds the directory holding PostgreSQL's server binaries: the newest
// /usr/lib/postgresql/*/bin (Debian's layout), else the directory of pg_ctl on PATH.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL server binaries not found: install the Debian package 'postgresql' (make test does so when run as root)")
}

func versionOf(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

// Start initialises dir (when it holds no cluster yet) and starts a server on it. The caller
// must Stop it.
func Start(ctx context.Context, dir string, opt Options) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	if opt.MaxConnections == 0 {
		opt.MaxConnections = 200
	}
	if opt.Port == 0 {
		if opt.Port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if err := handToServerUser(dir); err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, Port: opt.Port, bin: bin}
	if _, err := os.Stat(filepath.Join(dir, "PG_VERSION")); err != nil {
		if out, err := s.run(ctx, "initdb", "-D", dir, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"); err != nil {
			return nil, fmt.Errorf("initdb: %w\n%s", err, out)
		}
	}
	settings := []string{
		"-p", strconv.Itoa(opt.Port),
		"-k", dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=" + strconv.Itoa(opt.MaxConnections),
		"-c", "shared_buffers=256MB",
	}
	if !opt.Durable {
		settings = append(settings, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	for _, kv := range opt.Settings {
		settings = append(settings, "-c", kv)
	}
	logFile := filepath.Join(dir, "server.log")
	ctlArgs := []string{"-D", dir, "-l", logFile, "-w", "-t", "60", "-o", strings.Join(settings, " ")}
	if opt.Postgres != "" {
		ctlArgs = append(ctlArgs, "-p", opt.Postgres)
	}
	if out, err := s.run(ctx, "pg_ctl", append(ctlArgs, "start")...); err != nil {
		tail, _ := os.ReadFile(logFile)
		return nil, fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, lastLines(tail, 20))
	}
	return s, nil
}

// Stop stops the server (fast shutdown: open sessions are disconnected).
func (s *Server) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := s.run(ctx, "pg_ctl", "-D", s.Dir, "-m", "fast", "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// StopDir stops a server started earlier on dir, if one is running there.
func StopDir(dir string) error {
	bin, err := BinDir()
	if err != nil {
		return err
	}
	if dir, err = filepath.Abs(dir); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "postmaster.pid")); err != nil {
		return nil // not running
	}
	s := &Server{Dir: dir, bin: bin}
	return s.Stop()
}

// PID is the postmaster's process ID, read from its pid file.
func (s *Server) PID() int {
	b, err := os.ReadFile(filepath.Join(s.Dir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// run runs one of PostgreSQL's programs, as the postgres user when we are root.
func (s *Server) run(ctx context.Context, prog string, args ...string) ([]byte, error) {
	path := filepath.Join(s.bin, prog)
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.CommandContext(ctx, path, args...)
	}
	cmd.Dir = os.TempDir() // the postgres user may not be able to read the caller's cwd
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.Bytes(), err
}

// handToServerUser gives dir to the postgres user when running as root, and makes sure that
// user can reach it through its parent directories.
func handToServerUser(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs the 'postgres' OS user (created by the Debian postgresql package): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("chown data dir: %w", err)
	}
	for p := filepath.Dir(dir); p != "/" && p != "."; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(p, fi.Mode().Perm()|0o011); err != nil {
				return fmt.Errorf("let postgres traverse %s: %w", p, err)
			}
		}
	}
	return nil
}

// FreePort picks a free TCP port on 127.0.0.1 for a server that is started a little later.
//
// A port the kernel hands out for ":0" comes from the ephemeral range, where the kernel also
// picks the local ports of outgoing connections: between this check and the server's own
// bind, any connection on the machine (a test's client, a replication stream) may take it,
// and on a busy machine that happened (a Patroni member failing with "Couldn't start a
// service"). So the port comes from below the ephemeral range, which outgoing connections
// never use, and is claimed in a machine-wide directory so that two processes planning
// servers at once never pick the same one. Claims are forgotten after ten minutes.
func FreePort() (int, error) {
	lo, hi := portRange()
	dir := filepath.Join(os.TempDir(), "paycenter-ports")
	if err := os.MkdirAll(dir, 0o777); err == nil {
		for try := 0; try < 200; try++ {
			port := lo + rand.IntN(hi-lo)
			if !claim(dir, port) {
				continue
			}
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			if err != nil {
				continue // in use by a server: keep the claim, it expires
			}
			_ = l.Close()
			return port, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// portRange is where FreePort looks: from 20000 to just below the kernel's ephemeral range.
func portRange() (lo, hi int) {
	lo, hi = 20000, 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if first, err := strconv.Atoi(f[0]); err == nil && first > lo+1000 {
				hi = first
			}
		}
	}
	return lo, hi
}

// claim records port as taken by this process, unless a claim younger than ten minutes
// exists. The claim file is created exclusively, so only one process wins it.
func claim(dir string, port int) bool {
	p := filepath.Join(dir, strconv.Itoa(port))
	if fi, err := os.Stat(p); err == nil {
		if time.Since(fi.ModTime()) < 10*time.Minute {
			return false
		}
		_ = os.Remove(p)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
	if err != nil {
		return false
	}
	_ = f.Close()
	return true
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
