// Command payedge is a region's endpoint: the address merchants call in that region. It
// forwards each request to a healthy payd node of its own region and, when the region has
// none, to the nearest healthy region, following node health in Consul.
//
//	payedge -region us-east -consul-addr 127.0.0.1:8500 [-addr 127.0.0.1:8080] [-wan-map A=B,...]
//
// -wan-map sends cross-region traffic for node address A through B (a paywan link that adds
// the regions' latency).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/peterbourgon/ff/v3"

	"github.com/paycenter/paycenter/core/httpapi"
	"github.com/paycenter/paycenter/regions"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "payedge:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("payedge", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8080", "address to serve on")
	region := fs.String("region", "", "this endpoint's region (required)")
	consulAddr := fs.String("consul-addr", "127.0.0.1:8500", "the local Consul agent")
	wanMap := fs.String("wan-map", "", "comma-separated NODE=LINK address pairs for cross-region traffic")
	metricsAddr := fs.String("metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics; empty: none")
	id := fs.String("id", "", "this endpoint's ID in Consul (default payedge-REGION)")
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("PAYEDGE")); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	client, err := api.NewClient(&api.Config{Address: *consulAddr})
	if err != nil {
		return err
	}
	router, err := regions.NewRouter(client, regions.RouterConfig{Logger: log})
	if err != nil {
		return err
	}
	if err := router.Start(ctx); err != nil {
		return err
	}
	defer router.Stop()
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err = router.WaitSynced(wctx)
	cancel()
	if err != nil {
		return fmt.Errorf("consul at %s: %w", *consulAddr, err)
	}
	edge, err := NewEdge(router, Config{Region: *region, WAN: parseMap(*wanMap), Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *id == "" {
		*id = "payedge-" + *region
	}
	var handler http.Handler = edge
	var meta map[string]string
	if *metricsAddr != "" {
		m, maddr, msrv, err := serveMetrics(*metricsAddr, *region, log)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		defer msrv.Close()
		handler, meta = m.wrap(edge), map[string]string{"metrics_addr": maddr}
	}
	reg, err := regions.NewRegistrar(client, regions.RegistrarConfig{Service: regions.ServicePayedge, NodeID: *id, Region: *region,
		Addr: ln.Addr().String(), CheckURL: "http://" + ln.Addr().String() + "/healthz", Logger: log, Meta: meta})
	if err != nil {
		return err
	}
	// Headers within 10s, the body at a minimum rate (httpapi.BodyTimeouts' defaults, as on
	// the nodes): a client trickling a request cannot hold a connection.
	srv := &http.Server{Handler: httpapi.LimitBodyTime(handler, httpapi.BodyTimeouts{}), ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout: 2 * time.Minute}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("serve", "err", err)
		}
	}()
	if err := reg.Start(ctx); err != nil {
		return err
	}
	log.Info("payedge serving", "addr", ln.Addr().String(), "region", *region)
	<-ctx.Done()
	sctx, scancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer scancel()
	reg.Stop()
	_ = reg.Deregister(sctx)
	return srv.Shutdown(sctx)
}

func parseMap(s string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		if a, b, ok := strings.Cut(strings.TrimSpace(kv), "="); ok {
			m[a] = b
		}
	}
	return m
}
