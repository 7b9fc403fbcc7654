package regions_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paycenter/paycenter/regions"
	"github.com/paycenter/paycenter/regions/consultest"
)

func healthyIDs(r *regions.Router, region string) []string {
	var ids []string
	for _, i := range r.Healthy(region) {
		ids = append(ids, i.ID)
	}
	return ids
}

// healthyAre is a condition for eventually: region's healthy instances are exactly ids.
func healthyAre(r *regions.Router, region string, ids ...string) func() (bool, string) {
	return func() (bool, string) {
		got := healthyIDs(r, region)
		return slices.Equal(got, ids), fmt.Sprintf("healthy in %s: %v", region, got)
	}
}

// pickIs is a condition for eventually: Pick(from) answers an instance of region.
func pickIs(r *regions.Router, from, region string) func() (bool, string) {
	return func() (bool, string) {
		inst, err := r.Pick(from)
		return err == nil && inst.Region == region, fmt.Sprintf("Pick(%s) = %+v, %v", from, inst, err)
	}
}

func TestRouterFailover(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	nodes := map[string]*fakeNode{}
	for _, region := range []string{"us-east", "eu-west", "ap-south"} {
		for i := 1; i <= 2; i++ {
			id := fmt.Sprintf("%s-%d", region, i)
			nodes[id] = newFakeNode(t, agent.Client, regions.ServicePayd, id, region)
			nodes[id].register(t)
		}
	}
	r := startRouter(t, agent.Client, regions.RouterConfig{})

	for _, region := range []string{"us-east", "eu-west", "ap-south"} {
		took := eventually(t, detectWithin, "all nodes healthy", healthyAre(r, region, region+"-1", region+"-2"))
		t.Logf("%s: both nodes healthy after %v", region, took.Round(time.Millisecond))
	}

	t.Run("round robin within the nearest region", func(t *testing.T) {
		seen := map[string]int{}
		for range 10 {
			inst, err := r.Pick("us-east")
			if err != nil {
				t.Fatal(err)
			}
			if inst.Region != "us-east" {
				t.Fatalf("Pick(us-east) = %+v, want an us-east instance", inst)
			}
			if n := nodes[inst.ID]; n == nil || inst.Addr() != n.addr() || inst.Meta["node_id"] != inst.ID {
				t.Fatalf("Pick(us-east) = %+v, not one of the registered nodes", inst)
			}
			seen[inst.ID]++
		}
		if seen["us-east-1"] != 5 || seen["us-east-2"] != 5 {
			t.Errorf("10 picks went %v, want 5 and 5", seen)
		}
	})

	nodes["us-east-1"].ready.Store(false)
	took := eventually(t, detectWithin, "us-east-1 leaves the healthy set", healthyAre(r, "us-east", "us-east-2"))
	t.Logf("a node failing readiness left the healthy set after %v", took.Round(time.Millisecond))
	for range 4 {
		if inst, err := r.Pick("us-east"); err != nil || inst.ID != "us-east-2" {
			t.Fatalf("Pick(us-east) = %+v, %v; want us-east-2 only", inst, err)
		}
	}

	nodes["us-east-2"].ready.Store(false)
	took = eventually(t, detectWithin, "us-east fails over to eu-west", pickIs(r, "us-east", "eu-west"))
	t.Logf("failover us-east → eu-west detected after %v", took.Round(time.Millisecond))
	if got := healthyIDs(r, "us-east"); len(got) != 0 {
		t.Errorf("healthy in us-east after failover: %v, want none", got)
	}
	if inst, _ := r.Pick("ap-south"); inst.Region != "ap-south" {
		t.Errorf("Pick(ap-south) = %+v, want ap-south unaffected", inst)
	}

	// Then the next region in Topology order, then nothing.
	nodes["eu-west-1"].ready.Store(false)
	nodes["eu-west-2"].ready.Store(false)
	eventually(t, detectWithin, "us-east fails over to ap-south", pickIs(r, "us-east", "ap-south"))
	nodes["ap-south-1"].ready.Store(false)
	nodes["ap-south-2"].ready.Store(false)
	eventually(t, detectWithin, "no region healthy", func() (bool, string) {
		inst, err := r.Pick("eu-west")
		return err != nil, fmt.Sprintf("Pick(eu-west) = %+v, %v", inst, err)
	})
	_, err := r.Pick("eu-west")
	var nh *regions.NoHealthyInstanceError
	if !errors.Is(err, regions.ErrNoHealthyInstance) || !errors.As(err, &nh) {
		t.Fatalf("Pick with nothing healthy = %v, want a NoHealthyInstanceError", err)
	}
	if nh.Service != "payd" || nh.From != "eu-west" || !slices.Equal(nh.Tried, []string{"eu-west", "us-east", "ap-south"}) {
		t.Errorf("error = %+v", nh)
	}
	t.Logf("with nothing healthy: %v", err)

	// A region coming back takes its traffic back.
	nodes["ap-south-2"].ready.Store(true)
	eventually(t, detectWithin, "ap-south-2 serves every region", pickIs(r, "us-east", "ap-south"))
	nodes["us-east-1"].ready.Store(true)
	took = eventually(t, detectWithin, "us-east comes back", pickIs(r, "us-east", "us-east"))
	t.Logf("failback to us-east detected after %v", took.Round(time.Millisecond))
	if inst, _ := r.Pick("us-east"); inst.ID != "us-east-1" {
		t.Errorf("Pick(us-east) = %+v, want us-east-1", inst)
	}

	if _, err := r.Pick("us-west"); !errors.Is(err, regions.ErrUnknownRegion) {
		t.Errorf("Pick(us-west) = %v, want ErrUnknownRegion", err)
	}
}

func TestRouterDeregisteredAndOtherServices(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	node := newFakeNode(t, agent.Client, regions.ServicePayd, "us-east-1", "us-east")
	edge := newFakeNode(t, agent.Client, regions.ServicePayedge, "edge-eu-west", "eu-west")
	node.register(t)
	edge.register(t)

	payd := startRouter(t, agent.Client, regions.RouterConfig{})
	payedge := startRouter(t, agent.Client, regions.RouterConfig{Service: regions.ServicePayedge})
	eventually(t, detectWithin, "payd node healthy", healthyAre(payd, "us-east", "us-east-1"))
	eventually(t, detectWithin, "payedge healthy", healthyAre(payedge, "eu-west", "edge-eu-west"))
	// Each router sees its own service only.
	if got := healthyIDs(payd, "eu-west"); len(got) != 0 {
		t.Errorf("payd router sees %v in eu-west", got)
	}
	if inst, err := payedge.Pick("us-east"); err != nil || inst.ID != "edge-eu-west" {
		t.Errorf("payedge Pick(us-east) = %+v, %v; want edge-eu-west", inst, err)
	}

	// A node that deregisters (a graceful shutdown) is gone at once, with no check to wait for.
	start := time.Now()
	if err := node.reg.Deregister(t.Context()); err != nil {
		t.Fatal(err)
	}
	eventually(t, propagateWithin, "deregistered node gone", healthyAre(payd, "us-east"))
	t.Logf("a deregistered node left the router after %v", time.Since(start).Round(time.Millisecond))
	if err := node.reg.Deregister(t.Context()); err != nil {
		t.Errorf("second Deregister = %v, want nil", err)
	}
	if _, err := payd.Pick("us-east"); !errors.Is(err, regions.ErrNoHealthyInstance) {
		t.Errorf("Pick after deregistering = %v, want ErrNoHealthyInstance", err)
	}
}

func TestRouterSurvivesAgentRestart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		restart func(*consultest.Agent)
	}{
		// The agent comes back with the registrations it persisted in its data directory.
		{"restart", (*consultest.Agent).Restart},
		// The agent comes back empty; the nodes' registrars register them again.
		{"restart empty", (*consultest.Agent).RestartEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			testRouterSurvivesAgentRestart(t, tt.restart)
		})
	}
}

func testRouterSurvivesAgentRestart(t *testing.T, restart func(*consultest.Agent)) {
	agent := consultest.Start(t)
	nodes := map[string]*fakeNode{}
	for _, id := range []string{"us-east-1", "us-east-2", "eu-west-1"} {
		nodes[id] = newFakeNode(t, agent.Client, regions.ServicePayd, id, id[:7])
		nodes[id].keepRegistered(t)
	}
	logger, failedQueries := countingLogger(t, "consul query failed; keeping the last known state")
	r := startRouter(t, agent.Client, regions.RouterConfig{RetryMax: 500 * time.Millisecond, Logger: logger})
	eventually(t, detectWithin, "us-east healthy", healthyAre(r, "us-east", "us-east-1", "us-east-2"))
	eventually(t, detectWithin, "eu-west healthy", healthyAre(r, "eu-west", "eu-west-1"))

	// Pick keeps answering all along: from the last view while the agent is down and while
	// the restarted agent has not yet seen a check pass, then from the new view.
	var picks, failures atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			picks.Add(1)
			if inst, err := r.Pick("us-east"); err != nil {
				failures.Add(1)
				firstFailure.CompareAndSwap(nil, fmt.Sprintf("%+v, %v", inst, err))
			}
		}
	})
	stopPicking := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopPicking()

	agent.Stop()
	// While Consul is down, us-east-2 dies: the resynced view must not have it.
	nodes["us-east-2"].ready.Store(false)
	// A few queries fail while it is down (not a fixed time: a busy machine may take longer).
	failedBefore := failedQueries.Load()
	eventually(t, propagateWithin, "the router's queries fail while consul is down", func() (bool, string) {
		n := failedQueries.Load() - failedBefore
		return n >= 3, fmt.Sprintf("%d failed queries", n)
	})
	if got := healthyIDs(r, "us-east"); !slices.Equal(got, []string{"us-east-1", "us-east-2"}) {
		t.Errorf("while consul is down, healthy in us-east = %v, want the last view", got)
	}
	restart(agent)
	back := time.Now()
	took := eventually(t, restartWithin, "view resynced after the restart", healthyAre(r, "us-east", "us-east-1"))
	eventually(t, detectWithin, "eu-west back", healthyAre(r, "eu-west", "eu-west-1"))
	t.Logf("router resynced %v after the agent was back", took.Round(time.Millisecond))

	stopPicking()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d picks failed across the restart; first: %v", n, picks.Load(), firstFailure.Load())
	}
	t.Logf("%d picks across the restart and resync, none failed", picks.Load())
	if time.Since(back) > 10*time.Second {
		t.Logf("note: resync took longer than the router's ReconnectGrace")
	}

	// And it still follows changes.
	nodes["us-east-1"].ready.Store(false)
	eventually(t, detectWithin, "failover after the restart", pickIs(r, "us-east", "eu-west"))
}

func TestRouterConfig(t *testing.T) {
	if _, err := regions.NewRouter(nil, regions.RouterConfig{}); err == nil {
		t.Error("NewRouter(nil client) succeeded")
	}
	client := offlineClient(t)
	if _, err := regions.NewRouter(client, regions.RouterConfig{RetryMin: time.Second, RetryMax: time.Millisecond}); err == nil {
		t.Error("NewRouter with RetryMin > RetryMax succeeded")
	}
	r, err := regions.NewRouter(client, regions.RouterConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// Before any answer from Consul nothing is healthy.
	if _, err := r.Pick("us-east"); !errors.Is(err, regions.ErrNoHealthyInstance) {
		t.Errorf("Pick before Start = %v, want ErrNoHealthyInstance", err)
	}
}
