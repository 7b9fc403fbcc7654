package localcluster_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paycenter/paycenter/deploy/localcluster"
)

// make up / make down: everything starts, cluster.json describes it, and down leaves no
// process running.
func TestUpDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL and payd processes")
	}
	dir := t.TempDir()
	payd := filepath.Join(dir, "payd")
	if out, err := exec.Command("go", "build", "-o", payd, "github.com/paycenter/paycenter/cmd/payd").CombinedOutput(); err != nil {
		t.Fatalf("build payd: %v\n%s", err, out)
	}
	state := filepath.Join(dir, "state")
	var log strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := localcluster.Up(ctx, localcluster.Options{Dir: state, Payd: payd, Regions: []string{"us-east", "eu-west"}, Out: &log})
	_ = c
	if err != nil {
		t.Fatalf("up: %v\n%s", err, log.String())
	}
	downed := false
	t.Cleanup(func() {
		if !downed {
			_ = localcluster.Down(state, nil, io.Discard)
		}
	})
	loaded, err := localcluster.Load(state)
	if err != nil || loaded.AdminToken == "" || loaded.DatabaseURL == "" || len(loaded.Regions) != 2 {
		t.Fatalf("cluster.json: %+v %v", loaded, err)
	}
	pids := []int{c.Postgres.PID}
	for _, r := range loaded.Regions {
		if len(r.Nodes) != 1 || r.Endpoint == "" {
			t.Fatalf("region %+v", r)
		}
		res, err := http.Get(r.Endpoint + "/readyz")
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s not ready: %v", r.Name, err)
		}
		res.Body.Close()
		if res.Header.Get("Payd-Region") != r.Name {
			t.Fatalf("endpoint of %s answered as %q", r.Name, res.Header.Get("Payd-Region"))
		}
		pids = append(pids, r.Nodes[0].PID)
	}
	// A second up finds the running cluster rather than starting another.
	again, err := localcluster.Up(ctx, localcluster.Options{Dir: state, Payd: payd, Out: io.Discard})
	if err != nil || again.Regions[0].Nodes[0].PID != loaded.Regions[0].Nodes[0].PID {
		t.Fatalf("second up: %v", err)
	}
	if err := localcluster.Down(state, nil, io.Discard); err != nil {
		t.Fatalf("down: %v", err)
	}
	downed = true
	for _, pid := range pids {
		if running(pid) {
			t.Errorf("process %d still running after down", pid)
		}
	}
	if _, err := os.Stat(localcluster.File(state)); !os.IsNotExist(err) {
		t.Error("cluster.json left behind")
	}
}

// running reports whether pid is a live (not zombie) process.
func running(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !strings.Contains(string(b), ") Z ")
}
