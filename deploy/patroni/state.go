package patroni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The cluster's state, as Patroni's REST API reports it, and waits on it.

// MemberState is one member as Patroni's REST API reports it (GET /cluster).
type MemberState struct {
	Name     string `json:"name"`
	Role     string `json:"role"`  // leader, sync_standby, replica
	State    string `json:"state"` // running, streaming, starting, stopped, ...
	Timeline int    `json:"timeline"`
	Lag      any    `json:"lag"`
}

// State asks any member that answers for the cluster's state.
func (c *Cluster) State(ctx context.Context) ([]MemberState, error) {
	var last error = errors.New("no member answers")
	for _, m := range c.Members {
		if !m.running() {
			continue
		}
		res, err := httpGet(ctx, m.API()+"/cluster")
		if err != nil || res.code != 200 {
			last = fmt.Errorf("%s: %d %v", m.Name, res.code, err)
			continue
		}
		var v struct {
			Members []MemberState `json:"members"`
		}
		if err := json.Unmarshal([]byte(res.body), &v); err != nil {
			return nil, err
		}
		return v.Members, nil
	}
	return nil, last
}

// Primary is the member that leads and runs (Patroni's leader role), if any.
func (c *Cluster) Primary(ctx context.Context) (string, error) {
	ms, err := c.State(ctx)
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		if m.Role == "leader" && m.State == "running" {
			if mm, err := c.Member(m.Name); err == nil && mm.running() {
				return m.Name, nil
			}
		}
	}
	return "", errors.New("no primary")
}

// SyncStandby is the member Patroni made the synchronous standby, if any.
func (c *Cluster) SyncStandby(ctx context.Context) (string, error) {
	ms, err := c.State(ctx)
	if err != nil {
		return "", err
	}
	for _, m := range ms {
		if m.Role == "sync_standby" && replicating(m.State) {
			return m.Name, nil
		}
	}
	return "", errors.New("no synchronous standby")
}

// WaitPrimary waits until a member is the primary and takes a write.
func (c *Cluster) WaitPrimary(ctx context.Context, timeout time.Duration) (string, error) {
	var name string
	err := waitFor(ctx, timeout, func() (bool, error) {
		var err error
		name, err = c.Primary(ctx)
		if err != nil {
			return false, nil
		}
		m, _ := c.Member(name)
		return PrimaryTakesWrites(ctx, m.Addr()) == nil, nil
	})
	if err != nil {
		return "", fmt.Errorf("no primary took writes: %w; %s", err, c.describe(ctx))
	}
	return name, nil
}

// WaitHealthy waits until every member runs: a primary, a streaming synchronous standby and
// every other member streaming.
func (c *Cluster) WaitHealthy(ctx context.Context, timeout time.Duration) error {
	err := waitFor(ctx, timeout, func() (bool, error) {
		for _, m := range c.Members {
			if !m.running() {
				return false, fmt.Errorf("patroni %s is not running", m.Name)
			}
		}
		ms, err := c.State(ctx)
		if err != nil || len(ms) != len(c.Members) {
			return false, nil
		}
		leaders, syncs := 0, 0
		for _, m := range ms {
			switch {
			case m.Role == "leader" && m.State == "running":
				leaders++
			case m.Role == "sync_standby" && replicating(m.State):
				syncs++
			case m.Role != "leader" && replicating(m.State):
			default:
				return false, nil
			}
		}
		return leaders == 1 && syncs >= 1, nil
	})
	if err != nil {
		return fmt.Errorf("database cluster not healthy: %w; %s", err, c.describe(ctx))
	}
	return nil
}

// replicating says a standby's state is a running one: Patroni 3.0 reports "running",
// later versions "streaming".
func replicating(state string) bool { return state == "running" || state == "streaming" }

func (c *Cluster) describe(ctx context.Context) string {
	ms, err := c.State(ctx)
	if err != nil {
		return "state: " + err.Error()
	}
	var parts []string
	for _, m := range ms {
		parts = append(parts, fmt.Sprintf("%s %s %s tl %d", m.Name, m.Role, m.State, m.Timeline))
	}
	return "members: " + strings.Join(parts, ", ")
}

// PrimaryTakesWrites checks that the server at addr is not in recovery and commits a
// transaction with a transaction ID, whose commit, in strict synchronous mode, waits for the
// synchronous standby.
func PrimaryTakesWrites(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, "postgres://postgres@"+addr+"/postgres?sslmode=disable&connect_timeout=3")
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var recovery bool
	if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&recovery); err != nil {
		return err
	}
	if recovery {
		return fmt.Errorf("%s is in recovery", addr)
	}
	_, err = conn.Exec(ctx, "SELECT txid_current()")
	return err
}
