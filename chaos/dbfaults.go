package chaos

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/paycenter/paycenter/deploy/localcluster"
	"github.com/paycenter/paycenter/deploy/patroni"
)

// Faults of the local platform's highly available database (a Patroni cluster, a member per
// region: deploy/patroni) and the experiments that inject them.

// hasPatroni reports whether the local platform runs its database as a Patroni cluster.
func hasPatroni(t *Target) bool {
	c, err := t.Cluster()
	return err == nil && c.Patroni != nil
}

// patroniOf is the local platform's Patroni cluster.
func patroniOf(t *Target) (*localcluster.Cluster, *patroni.Cluster, error) {
	c, err := t.Cluster()
	if err != nil {
		return nil, nil, err
	}
	if c.Patroni == nil {
		return nil, nil, fmt.Errorf("the platform in %s runs no Patroni database", t.Dir)
	}
	return c, c.Patroni, nil
}

// regionDBLinks are the WAN links between a region's nodes and the database: one ("db-REGION")
// with a single server, one per member with Patroni.
func regionDBLinks(t *Target, region string) []string {
	if c, err := t.Cluster(); err == nil {
		for _, r := range c.Regions {
			if r.Name == region && len(r.DBLinks) > 0 {
				return r.DBLinks
			}
		}
	}
	return []string{"db-" + region}
}

// restartPrimary restarts the primary's PostgreSQL through Patroni's REST API (as
// RestartPostgres does with pg_ctl for a single server; behind Patroni's back, Patroni would
// fight it) and waits until the cluster is healthy again.
func restartPrimary(ctx context.Context, dir string, pc *patroni.Cluster) error {
	primary, err := pc.Primary(ctx)
	if err != nil {
		return err
	}
	m, err := pc.Member(primary)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.API()+"/restart", strings.NewReader("{}"))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Timeout: 90 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("patroni restart %s: %w", primary, err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("patroni restart %s: %d %s", primary, res.StatusCode, strings.TrimSpace(string(b)))
	}
	if err := pc.WaitHealthy(ctx, 120*time.Second); err != nil {
		return err
	}
	return updateCluster(dir, func(c *localcluster.Cluster) {
		c.Postgres.PID = patroni.PostmasterPID(c.Postgres.DataDir)
	})
}

// restoreDatabase starts again every database member that is not running (through
// localcluster.StartRegion, which also starts the region's dead nodes) and waits until the
// cluster is healthy: a primary, a synchronous standby, every member replicating.
func restoreDatabase(ctx context.Context, dir, bin string, out io.Writer) error {
	c, err := localcluster.Load(dir)
	if err != nil {
		return err
	}
	for _, m := range c.Patroni.Members {
		if !alive(m.PID) {
			if err := localcluster.StartRegion(ctx, dir, bin, m.Name, out); err != nil {
				return err
			}
		}
	}
	if c, err = localcluster.Load(dir); err != nil {
		return err
	}
	return c.Patroni.WaitHealthy(ctx, 180*time.Second)
}

// healDatabase waits for the Patroni cluster to be healthy again after a fault, starting
// dead members, and notes who is primary.
func healDatabase(ctx context.Context, e *Env, since time.Time) error {
	if err := restoreDatabase(ctx, e.Target.Dir, e.Target.Bin, io.Discard); err != nil {
		return err
	}
	_, pc, err := patroniOf(e.Target)
	if err != nil {
		return err
	}
	primary, _ := pc.Primary(ctx)
	sync, _ := pc.SyncStandby(ctx)
	e.Note("database healthy when healed (%d ms after the fault): primary %s, synchronous standby %s",
		time.Since(since).Milliseconds(), primary, sync)
	return nil
}

// watchPrimary notes when a member other than old became the primary and took a write.
func watchPrimary(ctx context.Context, e *Env, pc *patroni.Cluster, old string, since time.Time) {
	for ctx.Err() == nil && time.Since(since) < 120*time.Second {
		if p, err := pc.Primary(ctx); err == nil {
			if m, _ := pc.Member(p); m != nil && patroni.PrimaryTakesWrites(ctx, m.Addr()) == nil {
				if p == old {
					e.Note("Patroni restarted PostgreSQL on %s (no failover): it took writes again %d ms after the kill", p, time.Since(since).Milliseconds())
				} else {
					e.Note("failover: %s promoted; it took writes %d ms after the kill", p, time.Since(since).Milliseconds())
				}
				return
			}
		}
		sleep(ctx, 100*time.Millisecond)
	}
	e.Note("no primary took writes within %s of the kill", time.Since(since).Round(time.Second))
}

func dbPrimaryKill() Experiment {
	var killed time.Time
	return Experiment{
		Name:        "db-primary-kill",
		Description: "kill -9 the database primary's postmaster under load (Patroni left running); Patroni restarts it or fails over",
		Needs:       []Requirement{NeedLocal, NeedPatroni},
		Inject: func(ctx context.Context, e *Env) error {
			_, pc, err := patroniOf(e.Target)
			if err != nil {
				return err
			}
			primary, err := pc.Primary(ctx)
			if err != nil {
				return err
			}
			n := waitInFlight(ctx, e.Driver)
			pid, err := pc.KillPostmaster(primary)
			if err != nil {
				return err
			}
			killed = time.Now()
			e.Killed()
			e.Note("killed the postmaster (pid %d) of the primary %s with %d requests in flight", pid, primary, n)
			e.Observe(func(ctx context.Context) { watchPrimary(ctx, e, pc, primary, killed) })
			return nil
		},
		Heal: func(ctx context.Context, e *Env) error { return healDatabase(ctx, e, killed) },
	}
}

func regionKillWithDatabase() Experiment {
	var region string
	var killed time.Time
	return Experiment{
		Name:        "region-kill-with-database",
		Description: "kill -9 the region of the database primary: its payd nodes and its member (Patroni and PostgreSQL); a standby of another region is promoted; then the region starts again",
		Needs:       []Requirement{NeedLocal, NeedPatroni},
		Inject: func(ctx context.Context, e *Env) error {
			_, pc, err := patroniOf(e.Target)
			if err != nil {
				return err
			}
			if region, err = pc.Primary(ctx); err != nil {
				return err
			}
			n := waitInFlight(ctx, e.Driver)
			nodes, err := localcluster.KillRegion(e.Target.Dir, region)
			if err != nil {
				return err
			}
			killed = time.Now()
			e.Killed()
			e.Note("killed region %s: %d payd and the database primary, with %d requests in flight", region, len(nodes), n)
			e.Observe(func(ctx context.Context) { watchPrimary(ctx, e, pc, region, killed) })
			return nil
		},
		Heal: func(ctx context.Context, e *Env) error {
			if region != "" {
				if err := localcluster.StartRegion(ctx, e.Target.Dir, e.Target.Bin, region, io.Discard); err != nil {
					return err
				}
			}
			return healDatabase(ctx, e, killed)
		},
	}
}

func dbReplicaPartition() Experiment {
	var cut time.Time
	return Experiment{
		Name:        "db-replica-partition",
		Description: "the synchronous standby's replication link hangs (Toxiproxy timeout toxic); commits must go on through the other standby",
		Needs:       []Requirement{NeedLocal, NeedPatroni, NeedWAN},
		Inject: func(ctx context.Context, e *Env) error {
			_, pc, err := patroniOf(e.Target)
			if err != nil {
				return err
			}
			primary, err := pc.Primary(ctx)
			if err != nil {
				return err
			}
			sync, err := pc.SyncStandby(ctx)
			if err != nil {
				return err
			}
			link := fmt.Sprintf("repl-%s-to-%s", sync, primary)
			x := Toxiproxy{API: e.Target.WANAPI}
			for _, stream := range []string{"upstream", "downstream"} {
				if err := x.AddToxic(ctx, link, Toxic{Name: "partition_" + stream, Type: "timeout", Stream: stream,
					Attributes: map[string]any{"timeout": 0}}); err != nil {
					return err
				}
			}
			cut = time.Now()
			e.Killed()
			e.Note("replication link %s hangs (primary %s, synchronous standby %s)", link, primary, sync)
			e.Observe(func(ctx context.Context) {
				for ctx.Err() == nil && time.Since(cut) < 120*time.Second {
					if s, err := pc.SyncStandby(ctx); err == nil && s != sync {
						e.Note("Patroni made %s the synchronous standby %d ms after the cut", s, time.Since(cut).Milliseconds())
						return
					}
					sleep(ctx, 100*time.Millisecond)
				}
				e.Note("the synchronous standby did not change within %s of the cut", time.Since(cut).Round(time.Second))
			})
			return nil
		},
		Heal: func(ctx context.Context, e *Env) error {
			if err := (Toxiproxy{API: e.Target.WANAPI}).Clean(ctx); err != nil {
				return err
			}
			return healDatabase(ctx, e, cut)
		},
	}
}
