package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
)

// setupMetrics installs the OpenTelemetry meter provider, read by a Prometheus exporter
// served at http://-metrics-addr/metrics (for a ServiceMonitor to scrape), with Go's
// profiles at /debug/pprof/ on the same internal address. Instruments: the
// channel calls, latencies and breaker states of the resilience layer, HTTP server requests
// (otelhttp), and the platform's own gauges below.
func (m *Main) setupMetrics() error {
	if m.Config.MetricsAddr == "" {
		return nil
	}
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(resource.NewSchemaless(
		semconv.ServiceName("payd"), semconv.ServiceInstanceID(m.Config.NodeID), semconv.CloudRegion(m.Config.Region))))
	otel.SetMeterProvider(mp)
	ln, err := net.Listen("tcp", m.Config.MetricsAddr)
	if err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	// Profiles for operators, on the same internal address as the metrics.
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Log.Error("metrics server", "err", err)
		}
	}()
	m.shutdown = append(m.shutdown, srv.Shutdown, mp.Shutdown)
	m.MetricsListen = ln.Addr().String()
	m.Log.Info("metrics", "addr", ln.Addr().String())
	return nil
}

// platformGauges reports what an operator alerts on: payments in doubt, readiness, and the
// database's serialization retries per transaction.
func (m *Main) platformGauges() error {
	meter := otel.Meter("github.com/paycenter/paycenter/cmd/payd")
	inDoubt, err := meter.Int64ObservableGauge("paycenter.payments.in_doubt",
		metric.WithDescription("Payments processing, or reserved by a capture or cancel, for longer than a minute"))
	if err != nil {
		return err
	}
	ready, err := meter.Int64ObservableGauge("paycenter.node.ready", metric.WithDescription("1 when this node takes traffic"))
	if err != nil {
		return err
	}
	retries, err := meter.Int64ObservableCounter("paycenter.db.serialization_retries",
		metric.WithDescription("Transaction attempts retried after a serialization failure (SQLSTATE 40001), per transaction"))
	if err != nil {
		return err
	}
	_, err = meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		var n int64
		if err := m.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE (status = 'processing' OR pending_op IS NOT NULL)
			AND updated_at < now() - interval '1 minute'`).Scan(&n); err == nil {
			o.ObserveInt64(inDoubt, n)
		}
		r := int64(0)
		if m.ready() == nil && m.DB.Ping(ctx) == nil {
			r = 1
		}
		o.ObserveInt64(ready, r)
		for tx, n := range m.DB.SerializationRetriesByTx() {
			o.ObserveInt64(retries, n, metric.WithAttributes(attribute.String("tx", tx)))
		}
		return nil
	}, inDoubt, ready, retries)
	return err
}
