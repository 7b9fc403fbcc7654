package main

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// edgeMetrics counts the endpoint's answers by status code and times them, for the
// dashboard and for the answers payd never sees (the endpoint's own 503s when no node is
// healthy): paycenter_edge_requests_total{region, code} and
// paycenter_edge_request_duration_seconds{region}.
type edgeMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	region   string
}

// serveMetrics serves the endpoint's metrics at http://addr/metrics and returns the
// instruments and the address listened on.
func serveMetrics(addr, region string, log *slog.Logger) (*edgeMetrics, string, *http.Server, error) {
	reg := prometheus.NewRegistry()
	m := &edgeMetrics{region: region,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "paycenter_edge_requests_total",
			Help: "Requests answered by the regional endpoint, by status code"}, []string{"region", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "paycenter_edge_request_duration_seconds",
			Help:    "Time from a request's arrival at the endpoint to its answer",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"region"}),
	}
	reg.MustRegister(m.requests, m.duration, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	return m, ln.Addr().String(), srv, nil
}

// wrap counts and times every answer of h.
func (m *edgeMetrics) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		m.requests.WithLabelValues(m.region, strconv.Itoa(rec.status)).Inc()
		m.duration.WithLabelValues(m.region).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}
