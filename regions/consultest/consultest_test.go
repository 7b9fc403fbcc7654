package consultest_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/paycenter/paycenter/regions/consultest"
)

func TestAgentStartRestartStop(t *testing.T) {
	a := consultest.Start(t)
	b := consultest.Start(t) // side by side: no port in common
	if a.HTTPAddr == b.HTTPAddr {
		t.Fatalf("two agents on %s", a.HTTPAddr)
	}
	kv := a.Client.KV()
	if _, err := kv.Put(&api.KVPair{Key: "k", Value: []byte("v")}, nil); err != nil {
		t.Fatal(err)
	}
	if p, _, err := b.Client.KV().Get("k", nil); err != nil || p != nil {
		t.Fatalf("the second agent has the first one's key: %+v, %v", p, err)
	}
	if err := a.Client.Agent().ServiceRegister(&api.AgentServiceRegistration{ID: "s1", Name: "s", Port: 1}); err != nil {
		t.Fatal(err)
	}

	a.Restart()
	// Same address; the registration is back from the data directory, the KV store is not.
	if p, _, err := kv.Get("k", nil); err != nil || p != nil {
		t.Errorf("after Restart, Get(k) = %+v, %v; want no key", p, err)
	}
	if svcs, err := a.Client.Agent().Services(); err != nil || svcs["s1"] == nil {
		t.Errorf("after Restart, services = %v, %v; want s1", svcs, err)
	}
	a.RestartEmpty()
	if svcs, err := a.Client.Agent().Services(); err != nil || len(svcs) != 0 {
		t.Errorf("after RestartEmpty, services = %v, %v; want none", svcs, err)
	}

	a.Stop()
	if resp, err := http.Get("http://" + a.HTTPAddr + "/v1/status/leader"); err == nil {
		resp.Body.Close()
		t.Error("the agent still answers after Stop")
	}
	a.Stop() // a second Stop does nothing
}

// fakeTB records how Start gives up: Skip or Fatal end the goroutine, as in a real test.
type fakeTB struct {
	testing.TB
	mu      sync.Mutex
	skipped string
	fatal   string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skip(args ...any) {
	f.mu.Lock()
	f.skipped = fmt.Sprint(args...)
	f.mu.Unlock()
	runtime.Goexit()
}
func (f *fakeTB) Fatal(args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprint(args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func startWith(t *testing.T) *fakeTB {
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		consultest.Start(f)
		t.Error("Start returned without a binary")
	}()
	<-done
	return f
}

func TestMissingBinary(t *testing.T) {
	t.Setenv(consultest.EnvBinary, "/nonexistent/consul")

	t.Setenv(consultest.EnvRequire, "")
	f := startWith(t)
	if f.fatal != "" || !strings.Contains(f.skipped, "deploy/tools/consul/build.sh") {
		t.Errorf("without %s: skipped %q, fatal %q; want a skip naming build.sh", consultest.EnvRequire, f.skipped, f.fatal)
	}

	t.Setenv(consultest.EnvRequire, "1")
	f = startWith(t)
	if f.skipped != "" || !strings.Contains(f.fatal, "deploy/tools/consul/build.sh") {
		t.Errorf("with %s=1: skipped %q, fatal %q; want a failure naming build.sh", consultest.EnvRequire, f.skipped, f.fatal)
	}

	if _, err := consultest.Binary(); err == nil || !strings.Contains(err.Error(), "/nonexistent/consul") {
		t.Errorf("Binary() = %v, want an error naming the missing file", err)
	}
}
