package patroni_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/deploy/patroni"
	"github.com/paycenter/paycenter/internal/eventually"
)

// TestLeaderKill runs a real three-member Patroni cluster, writes through the multi-host
// connection string while the primary is killed with SIGKILL (Patroni and PostgreSQL), and
// checks that a standby took over, that no acknowledged write is missing, and that the
// killed member comes back as a replica.
func TestLeaderKill(t *testing.T) {
	for _, prog := range []string{"patroni", "etcd"} {
		if _, err := exec.LookPath(prog); err != nil {
			if os.Getenv("PAY_REQUIRE_PATRONI") != "" {
				t.Fatalf("%s is missing (make ensure-patroni installs it)", prog)
			}
			t.Skipf("%s is missing: install patroni, python3-etcd and etcd-server (make ensure-patroni)", prog)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	c, err := patroni.New(patroni.Options{Dir: t.TempDir(), Members: []string{"us-east", "eu-west", "ap-south"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(testWriter{t}); err != nil {
			t.Error(err)
		}
	})
	start := time.Now()
	if err := c.Start(ctx, testWriter{t}); err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster healthy after %s", time.Since(start).Round(time.Millisecond))
	url := c.URL("postgres")
	exec1(ctx, t, url, `CREATE TABLE acked (id INT8 PRIMARY KEY)`)

	// One writer: each insert that returns without error was acknowledged.
	var mu sync.Mutex
	var acked []int64
	var firstAfterKill time.Time
	var killedAt time.Time
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var conn *pgx.Conn
		for id := int64(1); ; id++ {
			select {
			case <-stop:
				if conn != nil {
					conn.Close(context.Background())
				}
				return
			default:
			}
			if conn == nil || conn.IsClosed() {
				cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
				var err error
				conn, err = pgx.Connect(cctx, url)
				ccancel()
				if err != nil {
					conn = nil
					select { // a pause before dialling again, cut short by the end
					case <-stop:
					case <-time.After(100 * time.Millisecond):
					}
					continue
				}
			}
			wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := conn.Exec(wctx, `INSERT INTO acked (id) VALUES ($1)`, id)
			wcancel()
			if err != nil {
				conn.Close(context.Background())
				conn = nil
				continue // unknown outcome: not counted as acknowledged
			}
			mu.Lock()
			acked = append(acked, id)
			if !killedAt.IsZero() && firstAfterKill.IsZero() {
				firstAfterKill = time.Now()
			}
			mu.Unlock()
		}
	}()
	eventually.True(t, 30*time.Second, "writes before the kill", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 20
	})
	old, err := c.Primary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pids, err := c.KillMember(old) // returns once every process of the member is gone
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	killedAt = time.Now()
	firstAfterKill = time.Time{}
	mu.Unlock()
	t.Logf("killed primary %s (pids %v)", old, pids)

	// The invariant: a standby takes over within a generous bound. The time is printed.
	eventually.True(t, 90*time.Second, "a write acknowledged by the new primary", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return !firstAfterKill.IsZero()
	})
	mu.Lock()
	rto := firstAfterKill.Sub(killedAt)
	mu.Unlock()
	primary, err := c.WaitPrimary(ctx, 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if primary == old {
		t.Fatalf("primary is still %s", old)
	}
	t.Logf("RTO: first write acknowledged %d ms after the kill; new primary %s", rto.Milliseconds(), primary)
	close(stop)
	<-done

	// No acknowledged write lost.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	have := map[int64]bool{}
	rows, err := conn.Query(ctx, `SELECT id FROM acked`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		have[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for _, id := range acked {
		if !have[id] {
			missing++
		}
	}
	t.Logf("%d writes acknowledged, %d missing after failover", len(acked), missing)
	if missing > 0 {
		t.Errorf("%d acknowledged writes are missing after failover", missing)
	}

	// The old primary comes back as a replica of the new one.
	if err := c.StartMember(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx, 120*time.Second); err != nil {
		t.Fatal(err)
	}
	if p, err := c.Primary(ctx); err != nil || p != primary {
		t.Fatalf("primary after rejoin = %q, %v; want %s", p, err, primary)
	}
}

func exec1(ctx context.Context, t *testing.T, url, sql string) {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatal(err)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(fmt.Sprintf("%s", b))
	return len(b), nil
}
