package patroni

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Processes: starting the members' detached, running them as the postgres user, finding and
// killing them.

// PostmasterPID reads the PostgreSQL server's process ID from its data directory; 0 if the
// file is gone or names a process that is not that server (a stale file after a kill).
func PostmasterPID(dataDir string) int {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if !ours(pid, dataDir) {
		return 0
	}
	return pid
}

// running says the member's Patroni runs (PID checked against its command line, so a PID
// recorded before a reboot and reused since is not taken for it).
func (m Member) running() bool { return ours(m.PID, m.Dir) }

// ours says pid is a live process whose command line mentions mark (a path of ours): the
// processes this package starts name their directory in their arguments.
func ours(pid int, mark string) bool {
	if !alive(pid) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && strings.Contains(string(b), mark)
}

// wan says the member reaches the others through its own WAN links.
func (m Member) wan() bool { return m.ReplHost != "" && m.ReplHost != "127.0.0.1" }

func (m Member) hostsFile() string { return filepath.Join(m.Dir, "hosts") }

// hostName is a member's name in the members' hosts files.
func hostName(member string) string { return "pg-" + member + ".paycenter.internal" }

// startPatroni starts a member's Patroni detached. As root it runs as the postgres user; with
// hosts, in a mount namespace of its own where hosts is /etc/hosts.
func startPatroni(logPath string, env []string, hosts, config string) (int, error) {
	if os.Geteuid() != 0 {
		return startDetached(logPath, env, nil, "patroni", config)
	}
	if _, _, err := serverUser(); err != nil {
		return 0, err
	}
	if hosts == "" {
		return startDetached(logPath, env, nil, "setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", "patroni", config)
	}
	// The shell and setpriv exec in turn: the PID is Patroni's. Go makes the new mount
	// namespace's mounts private, so the bind mount stays in it.
	return startDetached(logPath, env, &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}, "sh", "-c",
		`mount --bind "$1" /etc/hosts && exec setpriv --reuid=postgres --regid=postgres --init-groups -- patroni "$2"`, "sh", hosts, config)
}

// startDetached starts a process in its own session (it outlives the caller), logging to
// logPath; env, if set, replaces the environment; attr adds to the process attributes.
func startDetached(logPath string, env []string, attr *syscall.SysProcAttr, prog string, args ...string) (int, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(prog, args...)
	cmd.Env = env
	cmd.Dir = os.TempDir()
	cmd.Stdout, cmd.Stderr = logf, logf
	if attr == nil {
		attr = &syscall.SysProcAttr{}
	}
	attr.Setsid = true
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", prog, err)
	}
	go func() {
		err := cmd.Wait() // reap it if it dies while we still run
		if f, ferr := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0o644); ferr == nil {
			fmt.Fprintf(f, "%s exited: %v\n", prog, err)
			f.Close()
		}
	}()
	return cmd.Process.Pid, nil
}

func serverUser() (uid, gid int, err error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return 0, 0, fmt.Errorf("running as root needs the 'postgres' OS user (created by the Debian postgresql package): %w", err)
	}
	uid, _ = strconv.Atoi(u.Uid)
	gid, _ = strconv.Atoi(u.Gid)
	return uid, gid, nil
}

// handToServerUser gives dir (recursively) to the postgres user when running as root, and
// lets that user traverse its parents.
func handToServerUser(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	uid, gid, err := serverUser()
	if err != nil {
		return err
	}
	if err := filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	}); err != nil {
		return err
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

func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i > 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func waitGone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

// killTree kills pid and its descendants with SIGKILL (parents first, so none restarts a
// child) and waits until they are gone. It returns the PIDs killed.
func killTree(pid int) []int {
	all := append([]int{pid}, descendants(pid)...)
	for _, p := range all {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	for _, p := range all {
		waitGone(p, 10*time.Second)
	}
	return all
}

func descendants(pid int) []int {
	children := map[int][]int{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 2 {
			pp, _ := strconv.Atoi(f[1])
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, ch := range children[p] {
			out = append(out, ch)
			queue = append(queue, ch)
		}
	}
	sort.Ints(out)
	return out
}

type httpResult struct {
	code int
	body string
}

func httpGet(ctx context.Context, url string) (httpResult, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return httpResult{}, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return httpResult{}, err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	return httpResult{code: res.StatusCode, body: string(b)}, nil
}

// waitFor polls cond every 200 ms until it holds, fails, or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
