package regions_test

import (
	"context"
	"log"
	"net/http"
	"sync/atomic"

	"github.com/hashicorp/consul/api"

	"github.com/paycenter/paycenter/regions"
)

// A node registers itself, fails readiness while its region is drained, and a regional
// endpoint routes to the nearest healthy node.
func Example() {
	ctx := context.Background()
	client, err := api.NewClient(api.DefaultConfig()) // the local agent
	if err != nil {
		log.Fatal(err)
	}

	// In payd: register, and keep the registration while the node runs.
	reg, err := regions.NewRegistrar(client, regions.RegistrarConfig{
		NodeID: "us-east-1", Region: "us-east", Addr: "10.0.0.7:8080",
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := reg.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer reg.Stop()

	// In payd: /readyz fails while the region is drained.
	sw, err := regions.NewSwitches(client, regions.SwitchesConfig{})
	if err != nil {
		log.Fatal(err)
	}
	var draining atomic.Bool
	go sw.WatchDrain(ctx, "us-east", draining.Store)
	http.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n")) // (and the database answers)
	})

	// In the regional endpoint: route each request to the nearest healthy node.
	router, err := regions.NewRouter(client, regions.RouterConfig{})
	if err != nil {
		log.Fatal(err)
	}
	if err := router.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer router.Stop()
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		inst, err := router.Pick("us-east")
		if err != nil {
			http.Error(w, "no healthy region", http.StatusServiceUnavailable)
			return
		}
		_ = inst.URL() // proxy the request there
	})
}
