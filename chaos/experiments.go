package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/deploy/localcluster"
)

// Env is what an experiment's fault acts on.
type Env struct {
	Target *Target
	Driver *Driver
	// Region is the region node, region and database-link faults hit.
	Region string
	// InjectCmd and HealCmd are shell commands the "external" experiment runs (for example
	// kubectl applying and deleting a Chaos Mesh manifest).
	InjectCmd, HealCmd string
	// Note records an observation in the experiment's result.
	Note func(format string, args ...any)
	// Killed marks the moment an experiment killed the database's primary: the runner
	// reports the RTO from it.
	Killed func()
	// Observe runs fn in the background; the runner waits for it (and cancels its context at
	// the settle bound) before it checks.
	Observe func(fn func(ctx context.Context))
}

// Requirement is something an experiment needs from the target.
type Requirement string

// Requirements.
const (
	NeedLocal      Requirement = "local platform (process control)"
	NeedWAN        Requirement = "WAN emulator (Toxiproxy API)"
	NeedChannelSim Requirement = "channel simulator"
	NeedConsul     Requirement = "Consul"
	NeedCommands   Requirement = "-inject-cmd"
	NeedPatroni    Requirement = "Patroni database (make up)"
)

// Experiment is one fault, injected under load and healed.
type Experiment struct {
	Name        string
	Description string
	Needs       []Requirement
	// Load adjusts the load for this experiment (optional).
	Load func(*DriverConfig)
	// MinFault is the shortest time the fault stays on, whatever the duration (optional).
	MinFault time.Duration
	// Inject starts the fault; Heal ends it (Heal runs even when Inject failed).
	Inject func(ctx context.Context, e *Env) error
	Heal   func(ctx context.Context, e *Env) error
}

// Missing lists the requirements t does not meet (cmds: whether inject/heal commands were
// given).
func (x Experiment) Missing(t *Target, cmds bool) []Requirement {
	var out []Requirement
	for _, n := range x.Needs {
		ok := true
		switch n {
		case NeedLocal:
			ok = t.Local()
		case NeedWAN:
			ok = t.WANAPI != ""
		case NeedChannelSim:
			ok = t.ChannelSim != ""
		case NeedConsul:
			ok = t.ConsulAddr != ""
		case NeedCommands:
			ok = cmds
		case NeedPatroni:
			ok = t.Local() && hasPatroni(t)
		}
		if !ok {
			out = append(out, n)
		}
	}
	return out
}

func channelControl(t *Target) netsim.Control {
	return netsim.Control{BaseURL: t.ChannelSim, HTTPClient: &http.Client{Timeout: 10 * time.Second}}
}

// setFaults sets the same faults on several channels.
func setFaults(ctx context.Context, t *Target, f netsim.Faults, chs ...core.Channel) error {
	for _, ch := range chs {
		if err := channelControl(t).SetFaults(ctx, ch, f); err != nil {
			return err
		}
	}
	return nil
}

func clearFaults(ctx context.Context, e *Env) error { return channelControl(e.Target).ClearFaults(ctx) }

func moreWallets(c *DriverConfig) { c.WalletShare = 0.4 }

// waitInFlight waits (up to 5 s) until requests are in flight, so a kill lands mid-request.
func waitInFlight(ctx context.Context, d *Driver) int64 {
	deadline := time.Now().Add(5 * time.Second)
	for d.InFlight() < 2 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	return d.InFlight()
}

// Catalogue is every experiment, in the order "all" runs them. "external" is not part of
// "all": it injects nothing itself.
func Catalogue() []Experiment {
	return []Experiment{
		{
			Name:        "node-kill",
			Description: "kill -9 one payd node mid-request, then start it again",
			Needs:       []Requirement{NeedLocal},
			Inject: func(ctx context.Context, e *Env) error {
				n := waitInFlight(ctx, e.Driver)
				node, err := KillNode(e.Target.Dir, e.Region+"-1")
				if err == nil {
					e.Note("killed payd %s (pid %d) with %d requests in flight", node.ID, node.PID, n)
				}
				return err
			},
			Heal: func(ctx context.Context, e *Env) error {
				return localcluster.StartRegion(ctx, e.Target.Dir, e.Target.Bin, e.Region, io.Discard)
			},
		},
		{
			Name:        "region-kill",
			Description: "kill -9 every payd of a region, then start them again",
			Needs:       []Requirement{NeedLocal},
			Inject: func(ctx context.Context, e *Env) error {
				n := waitInFlight(ctx, e.Driver)
				nodes, err := localcluster.KillRegion(e.Target.Dir, e.Region)
				e.Note("killed %d payd of %s with %d requests in flight", len(nodes), e.Region, n)
				return err
			},
			Heal: func(ctx context.Context, e *Env) error {
				return localcluster.StartRegion(ctx, e.Target.Dir, e.Target.Bin, e.Region, io.Discard)
			},
		},
		{
			Name:        "db-partition",
			Description: "a region's database link hangs (Toxiproxy timeout toxic: data dropped, connections held), then heals",
			Needs:       []Requirement{NeedWAN},
			Inject: func(ctx context.Context, e *Env) error {
				x := Toxiproxy{API: e.Target.WANAPI}
				links := regionDBLinks(e.Target, e.Region)
				for _, link := range links {
					for _, stream := range []string{"upstream", "downstream"} {
						if err := x.AddToxic(ctx, link, Toxic{Name: "partition_" + stream, Type: "timeout", Stream: stream,
							Attributes: map[string]any{"timeout": 0}}); err != nil {
							return err
						}
					}
				}
				e.Note("link %s hangs", strings.Join(links, ", "))
				return nil
			},
			Heal: func(ctx context.Context, e *Env) error { return Toxiproxy{API: e.Target.WANAPI}.Clean(ctx) },
		},
		{
			Name:        "db-latency",
			Description: "every database link gets 250 ms ±100 ms more latency (Toxiproxy latency toxic), then heals",
			Needs:       []Requirement{NeedWAN},
			Inject: func(ctx context.Context, e *Env) error {
				x := Toxiproxy{API: e.Target.WANAPI}
				links, err := x.DBLinks(ctx)
				if err != nil {
					return err
				}
				for _, l := range links {
					if err := x.AddToxic(ctx, l, Toxic{Name: "latency", Type: "latency", Stream: "downstream",
						Attributes: map[string]any{"latency": 250, "jitter": 100}}); err != nil {
						return err
					}
				}
				e.Note("added 250±100 ms to %s", strings.Join(links, ", "))
				return nil
			},
			Heal: func(ctx context.Context, e *Env) error { return Toxiproxy{API: e.Target.WANAPI}.Clean(ctx) },
		},
		{
			Name:        "pg-restart",
			Description: "PostgreSQL restarts (pg_ctl -m fast restart: every session cut)",
			Needs:       []Requirement{NeedLocal},
			Inject: func(ctx context.Context, e *Env) error {
				start := time.Now()
				err := RestartPostgres(ctx, e.Target.Dir)
				e.Note("pg_ctl restart took %d ms", time.Since(start).Milliseconds())
				return err
			},
			Heal: func(ctx context.Context, e *Env) error {
				c, err := e.Target.Cluster()
				if err != nil {
					return err
				}
				if !alive(postmasterPID(c.Postgres.DataDir)) {
					return RestartPostgres(ctx, e.Target.Dir)
				}
				return nil
			},
		},
		{
			Name:        "consul-restart",
			Description: "the Consul agent is killed, stays down, and is started again with the same arguments (empty: nodes re-register)",
			Needs:       []Requirement{NeedLocal, NeedConsul},
			Inject:      func(ctx context.Context, e *Env) error { return StopConsul(e.Target.Dir) },
			Heal: func(ctx context.Context, e *Env) error {
				start := time.Now()
				if err := StartConsul(ctx, e.Target.Dir); err != nil {
					return err
				}
				want := 0
				if c, err := e.Target.Cluster(); err == nil {
					for _, r := range c.Regions {
						want += len(r.Nodes)
					}
				}
				for time.Since(start) < 30*time.Second {
					if n, err := passingNodes(ctx, e.Target.ConsulAddr); err == nil && n >= want {
						e.Note("consul back with a leader; all %d payd registered and passing %d ms after the start", n, time.Since(start).Milliseconds())
						return nil
					}
					sleep(ctx, 100*time.Millisecond)
				}
				e.Note("payd not all registered again within 30 s of consul's start")
				return nil
			},
		},
		{
			Name:        "channel-timeouts",
			Description: "30% of card and Alipay calls hang until the node's channel timeout (unknown outcome, 202)",
			Needs:       []Requirement{NeedChannelSim},
			Load:        moreWallets,
			Inject: func(ctx context.Context, e *Env) error {
				return setFaults(ctx, e.Target, netsim.Faults{TimeoutRate: 0.3}, core.ChannelCard, core.ChannelAlipay)
			},
			Heal: clearFaults,
		},
		{
			Name:        "channel-lost-responses",
			Description: "40% of card and Alipay calls that change something execute, then their answer is lost (a 502)",
			Needs:       []Requirement{NeedChannelSim},
			Load:        moreWallets,
			Inject: func(ctx context.Context, e *Env) error {
				return setFaults(ctx, e.Target, netsim.Faults{LostResponseRate: 0.4, LostResponseMode: netsim.LoseWith502},
					core.ChannelCard, core.ChannelAlipay)
			},
			Heal: clearFaults,
		},
		{
			Name:        "channel-outage",
			Description: "card and Alipay refuse every call (503) for at least 35 s, long enough to open the breakers (20 calls, half failing, in 30 s), then come back",
			Needs:       []Requirement{NeedChannelSim},
			// The breakers count per node: twice the clients, so every node sees its 20 calls.
			Load: func(c *DriverConfig) {
				c.WalletShare, c.Clients = 0.4, 2*c.Clients
			},
			MinFault: 35 * time.Second,
			Inject: func(ctx context.Context, e *Env) error {
				return setFaults(ctx, e.Target, netsim.Faults{Outage: true}, core.ChannelCard, core.ChannelAlipay)
			},
			Heal: func(ctx context.Context, e *Env) error {
				if err := clearFaults(ctx, e); err != nil {
					return err
				}
				e.Observe(func(ctx context.Context) { watchBreakers(ctx, e) })
				return nil
			},
		},
		{
			Name:        "channel-duplicate-notifications",
			Description: "every Alipay and WeChat Pay notification is delivered 3 more times, followed by a stale \"closed\" one",
			Needs:       []Requirement{NeedChannelSim},
			Load:        func(c *DriverConfig) { c.WalletShare = 0.6 },
			Inject: func(ctx context.Context, e *Env) error {
				return setFaults(ctx, e.Target, netsim.Faults{DuplicateNotifications: 3, StaleNotification: netsim.KindClosed},
					core.ChannelAlipay, core.ChannelWeChatPay)
			},
			Heal: clearFaults,
		},
		dbPrimaryKill(),
		regionKillWithDatabase(),
		dbReplicaPartition(),
		{
			Name:        "external",
			Description: "a fault injected by -inject-cmd and healed by -heal-cmd (e.g. kubectl apply/delete of a Chaos Mesh manifest)",
			Needs:       []Requirement{NeedCommands},
			Inject:      func(ctx context.Context, e *Env) error { return shell(ctx, e, e.InjectCmd) },
			Heal:        func(ctx context.Context, e *Env) error { return shell(ctx, e, e.HealCmd) },
		},
	}
}

// watchBreakers probes every region with card payments once the channel is back, and notes
// whether the region's breaker was open (its nodes refuse with 503 channel_unavailable though
// the channel answers) and when card payments went through it again.
func watchBreakers(ctx context.Context, e *Env) {
	start := time.Now()
	var wg sync.WaitGroup
	for _, r := range e.Target.Regions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			refused := 0
			for time.Since(start) < 90*time.Second && ctx.Err() == nil {
				status, code, region, err := e.Target.ProbeCard(ctx, r)
				switch {
				case err == nil && status == http.StatusOK && region == r.Name:
					if refused == 0 {
						e.Note("%s: card payments went through at once after healing (breaker closed)", r.Name)
					} else {
						e.Note("%s: breaker was open: %d probes refused with 503 %s after healing; card payments through it again %d ms after healing",
							r.Name, refused, core.CodeChannelUnavailable, time.Since(start).Milliseconds())
					}
					return
				case err == nil && status == http.StatusServiceUnavailable && code == core.CodeChannelUnavailable:
					refused++
				}
				sleep(ctx, 500*time.Millisecond)
			}
			e.Note("%s: card payments did not go through within %s of healing (%d probes refused)", r.Name, time.Since(start).Round(time.Second), refused)
		}()
	}
	wg.Wait()
}

func shell(ctx context.Context, e *Env, command string) error {
	if command == "" {
		return nil
	}
	out, err := exec.CommandContext(ctx, "sh", "-c", command).CombinedOutput()
	e.Note("$ %s: %s", command, strings.TrimSpace(string(out)))
	if err != nil {
		return fmt.Errorf("%s: %w", command, err)
	}
	return nil
}

// Select picks experiments by name: "all" (every one but "external") or a comma-separated
// list.
func Select(names string) ([]Experiment, error) {
	all := Catalogue()
	if names == "" || names == "all" {
		return all[:len(all)-1], nil
	}
	var out []Experiment
	var unknown []string
	for _, n := range strings.Split(names, ",") {
		n = strings.TrimSpace(n)
		found := false
		for _, x := range all {
			if x.Name == n {
				out = append(out, x)
				found = true
			}
		}
		if !found {
			unknown = append(unknown, n)
		}
	}
	if len(unknown) > 0 {
		var known []string
		for _, x := range all {
			known = append(known, x.Name)
		}
		return nil, fmt.Errorf("unknown experiment %s (known: all, %s)", strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	if len(out) == 0 {
		return nil, errors.New("no experiment selected")
	}
	return out, nil
}
