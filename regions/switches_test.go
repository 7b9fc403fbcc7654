package regions_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/paycenter/paycenter/regions"
	"github.com/paycenter/paycenter/regions/consultest"
)

func newSwitches(t testing.TB, client *api.Client) *regions.Switches {
	t.Helper()
	sw, err := regions.NewSwitches(client, regions.SwitchesConfig{
		Logger: testLogger(t),
		Now:    func() time.Time { return time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return sw
}

// recorder collects the states a watcher reports.
type recorder[T any] struct {
	mu  sync.Mutex
	got []T
}

func (r *recorder[T]) add(v T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, v)
}

func (r *recorder[T]) all() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.got...)
}

func TestDrain(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	sw := newSwitches(t, agent.Client)
	ctx := t.Context()

	// A node of us-east watches its region's switch.
	var states recorder[bool]
	watchCtx, stopWatch := context.WithCancel(ctx)
	watchDone := make(chan error, 1)
	go func() { watchDone <- sw.WatchDrain(watchCtx, "us-east", states.add) }()
	statesAre := func(want ...bool) func() (bool, string) {
		return func() (bool, string) {
			got := states.all()
			return slices.Equal(got, want), fmt.Sprint("watcher reported ", got)
		}
	}
	eventually(t, propagateWithin, "watcher reports the initial state", statesAre(false))

	drained := func(region string) bool {
		t.Helper()
		d, err := sw.Drained(ctx, region)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	if drained("us-east") {
		t.Fatal("us-east drained before anyone drained it")
	}

	start := time.Now()
	if err := sw.Drain(ctx, "us-east"); err != nil {
		t.Fatal(err)
	}
	eventually(t, propagateWithin, "watcher sees the drain", statesAre(false, true))
	t.Logf("drain reached the watcher after %v", time.Since(start).Round(time.Millisecond))
	if !drained("us-east") || drained("eu-west") {
		t.Errorf("Drained: us-east %v, eu-west %v; want true, false", drained("us-east"), drained("eu-west"))
	}
	pair, _, err := agent.Client.KV().Get("paycenter/regions/us-east/drain", nil)
	if err != nil || pair == nil || string(pair.Value) != `{"drained":true,"since":"2025-03-04T05:06:07Z"}` {
		t.Errorf("drain key = %+v, %v", pair, err)
	}

	// Draining again changes nothing (the watcher sees no new state); a change elsewhere
	// does not wake it with a state either.
	if err := sw.Drain(ctx, "us-east"); err != nil {
		t.Fatal(err)
	}
	if err := sw.Drain(ctx, "eu-west"); err != nil {
		t.Fatal(err)
	}
	if err := sw.Undrain(ctx, "us-east"); err != nil {
		t.Fatal(err)
	}
	eventually(t, propagateWithin, "watcher sees the undrain", statesAre(false, true, false))
	if drained("us-east") || !drained("eu-west") {
		t.Errorf("Drained: us-east %v, eu-west %v; want false, true", drained("us-east"), drained("eu-west"))
	}
	if err := sw.Undrain(ctx, "us-east"); err != nil {
		t.Errorf("undraining an undrained region = %v, want nil", err)
	}

	// A value that is not JSON is refused by Drained and ignored by the watcher.
	if _, err := agent.Client.KV().Put(&api.KVPair{Key: "paycenter/regions/us-east/drain", Value: []byte("yes")}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Drained(ctx, "us-east"); err == nil || !strings.Contains(err.Error(), "bad value") {
		t.Errorf("Drained with a bad value = %v, want an error", err)
	}
	if err := sw.Drain(ctx, "us-east"); err != nil {
		t.Fatal(err)
	}
	eventually(t, propagateWithin, "watcher sees the drain after the bad value", statesAre(false, true, false, true))

	stopWatch()
	select {
	case err := <-watchDone:
		if err != nil {
			t.Errorf("WatchDrain returned %v after its context ended, want nil", err)
		}
	case <-time.After(propagateWithin):
		t.Fatal("WatchDrain did not return after its context ended")
	}

	for _, region := range []string{"us-west", "US-EAST", ""} {
		if err := sw.Drain(ctx, region); !errors.Is(err, regions.ErrUnknownRegion) {
			t.Errorf("Drain(%q) = %v, want ErrUnknownRegion", region, err)
		}
		if _, err := sw.Drained(ctx, region); !errors.Is(err, regions.ErrUnknownRegion) {
			t.Errorf("Drained(%q) = %v, want ErrUnknownRegion", region, err)
		}
		if err := sw.WatchDrain(ctx, region, func(bool) {}); !errors.Is(err, regions.ErrUnknownRegion) {
			t.Errorf("WatchDrain(%q) = %v, want ErrUnknownRegion", region, err)
		}
	}
}

func TestMerchantLimits(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	sw := newSwitches(t, agent.Client)
	ctx := t.Context()
	const m1, m2 = "mer_us-east_5z8kq1", "mer_eu-west_0abc9"

	cache := regions.NewMerchantLimits(sw)
	if err := cache.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cache.Stop)
	syncCtx, cancel := context.WithTimeout(ctx, propagateWithin)
	defer cancel()
	if err := cache.WaitSynced(syncCtx); err != nil {
		t.Fatal(err)
	}
	cached := func(id string, want regions.RateLimit, wantOK bool) func() (bool, string) {
		return func() (bool, string) {
			got, ok := cache.Lookup(id)
			return got == want && ok == wantOK, fmtLimit(got, ok)
		}
	}

	if _, ok, err := sw.MerchantLimit(ctx, m1); err != nil || ok {
		t.Fatalf("MerchantLimit before any is set = %v, %v; want none", ok, err)
	}
	if err := sw.SetMerchantLimit(ctx, m1, 12.5, 25); err != nil {
		t.Fatal(err)
	}
	if err := sw.SetMerchantLimit(ctx, m2, 100, 1); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := sw.MerchantLimit(ctx, m1); err != nil || !ok || got != (regions.RateLimit{PerSecond: 12.5, Burst: 25}) {
		t.Errorf("MerchantLimit(%s) = %+v, %v, %v", m1, got, ok, err)
	}
	pair, _, err := agent.Client.KV().Get("paycenter/merchants/"+m1+"/rate_limit", nil)
	if err != nil || pair == nil || string(pair.Value) != `{"per_second":12.5,"burst":25}` {
		t.Errorf("limit key = %+v, %v", pair, err)
	}
	took := eventually(t, propagateWithin, "cache has m1", cached(m1, regions.RateLimit{PerSecond: 12.5, Burst: 25}, true))
	t.Logf("a new limit reached the cache after %v", took.Round(time.Millisecond))
	eventually(t, propagateWithin, "cache has m2", cached(m2, regions.RateLimit{PerSecond: 100, Burst: 1}, true))

	// Change, delete; bad values and other keys under merchants/ are left out.
	if err := sw.SetMerchantLimit(ctx, m1, 1, 2); err != nil {
		t.Fatal(err)
	}
	eventually(t, propagateWithin, "cache sees the change", cached(m1, regions.RateLimit{PerSecond: 1, Burst: 2}, true))
	if err := sw.DeleteMerchantLimit(ctx, m2); err != nil {
		t.Fatal(err)
	}
	eventually(t, propagateWithin, "cache sees the delete", cached(m2, regions.RateLimit{}, false))
	if _, ok, err := sw.MerchantLimit(ctx, m2); err != nil || ok {
		t.Errorf("MerchantLimit after delete = %v, %v; want none", ok, err)
	}
	kv := agent.Client.KV()
	for key, value := range map[string]string{
		"paycenter/merchants/mer_bad/rate_limit":      `{"per_second": "fast"}`,
		"paycenter/merchants/mer_zero/rate_limit":     `{"per_second": 0, "burst": 5}`,
		"paycenter/merchants/" + m1 + "/other_switch": `{}`,
	} {
		if _, err := kv.Put(&api.KVPair{Key: key, Value: []byte(value)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := sw.SetMerchantLimit(ctx, m2, 7, 7); err != nil { // something to wait for
		t.Fatal(err)
	}
	eventually(t, propagateWithin, "cache sees m2 again", cached(m2, regions.RateLimit{PerSecond: 7, Burst: 7}, true))
	for _, id := range []string{"mer_bad", "mer_zero"} {
		if got, ok := cache.Lookup(id); ok {
			t.Errorf("cache has %s = %+v from a bad value", id, got)
		}
	}
	if got, ok := cache.Lookup(m1); !ok || got != (regions.RateLimit{PerSecond: 1, Burst: 2}) {
		t.Errorf("cache has %s = %+v, %v after another key under it changed", m1, got, ok)
	}
	if _, _, err := sw.MerchantLimit(ctx, "mer_bad"); err == nil {
		t.Error("MerchantLimit of a bad value succeeded")
	}

	tests := []struct {
		name      string
		id        string
		perSecond float64
		burst     int
		want      string
	}{
		{"empty id", "", 1, 1, "invalid merchant id"},
		{"id with a slash", "mer/../x", 1, 1, "invalid merchant id"},
		{"zero rate", m1, 0, 1, "per_second must be a positive number"},
		{"negative rate", m1, -3, 1, "per_second must be a positive number"},
		{"NaN", m1, math.NaN(), 1, "per_second must be a positive number"},
		{"infinite", m1, math.Inf(1), 1, "per_second must be a positive number"},
		{"zero burst", m1, 1, 0, "burst must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := sw.SetMerchantLimit(ctx, tt.id, tt.perSecond, tt.burst)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("SetMerchantLimit = %v, want an error saying %q", err, tt.want)
			}
		})
	}
	if got, _, _ := sw.MerchantLimit(ctx, m1); got != (regions.RateLimit{PerSecond: 1, Burst: 2}) {
		t.Errorf("a refused SetMerchantLimit changed the limit to %+v", got)
	}
}

func TestSwitchesSurviveAgentRestart(t *testing.T) {
	t.Parallel()
	agent := consultest.Start(t)
	sw, err := regions.NewSwitches(agent.Client, regions.SwitchesConfig{Logger: testLogger(t), RetryMax: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var states recorder[bool]
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); sw.WatchDrain(ctx, "eu-west", states.add) }()
	defer func() { cancel(); <-done }()
	if err := sw.Drain(t.Context(), "eu-west"); err != nil {
		t.Fatal(err)
	}
	eventually(t, propagateWithin, "drain seen", func() (bool, string) {
		got := states.all()
		return slices.Equal(got, []bool{false, true}) || slices.Equal(got, []bool{true}), fmt.Sprint(got)
	})

	// The dev agent forgets its KV store: once it is back the watcher reports the region
	// serving again; nothing is reported while it is down.
	agent.Restart()
	eventually(t, restartWithin, "undrained by the empty KV store", func() (bool, string) {
		got := states.all()
		return len(got) > 0 && !got[len(got)-1], fmt.Sprint(got)
	})
	if err := sw.Drain(t.Context(), "eu-west"); err != nil {
		t.Fatal(err)
	}
	eventually(t, propagateWithin, "drain seen after the restart", func() (bool, string) {
		got := states.all()
		return got[len(got)-1], fmt.Sprint(got)
	})
}

func fmtLimit(l regions.RateLimit, ok bool) string {
	if !ok {
		return "no limit"
	}
	return fmt.Sprintf("%+v", l)
}
