package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/paycenter/paycenter/deploy/localprom"
)

// serveSD serves Prometheus's HTTP service discovery (GET /sd) of payd and payedge from the
// Consul agent at consulAddr, until ctx ends.
func serveSD(ctx context.Context, consulAddr, listen string) error {
	if consulAddr == "" {
		return errors.New("prom-sd: -consul-addr is required")
	}
	client, err := api.NewClient(&api.Config{Address: consulAddr})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /sd", localprom.SDHandler(client, []string{"payd", "payedge"}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
