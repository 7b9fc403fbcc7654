package resilience

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/paycenter/paycenter/core"
)

// Instrumentation scope and instrument names.
const (
	MeterName           = "github.com/paycenter/paycenter/resilience"
	MetricCalls         = "paycenter.channel.calls"
	MetricLatency       = "paycenter.channel.latency"
	MetricBreakerState  = "paycenter.channel.breaker.state"
	attrRegion          = "region"
	attrChannel         = "channel"
	attrGateway         = "gateway"
	attrOp              = "op"
	attrOutcome         = "outcome"
	latencyUnit         = "ms"
	breakerStateUnit    = "{state}"
	callsUnit           = "{call}"
	breakerStateComment = "circuit breaker state per region and channel: 0 closed, 1 half-open, 2 open"
)

// metrics are a Gateway's instruments:
//
//   - paycenter.channel.calls (counter): calls by region, gateway, channel, op and outcome
//     (ok, error, breaker_open, rate_limited);
//   - paycenter.channel.latency (histogram, ms): time spent in the channel, by region,
//     gateway, channel and op, for calls that reached it;
//   - paycenter.channel.breaker.state (observable gauge): 0 closed, 1 half-open, 2 open, by
//     region, gateway and channel, for every channel called so far.
type metrics struct {
	calls   metric.Int64Counter
	latHist metric.Float64Histogram
	reg     metric.Registration
}

func newMetrics(mp metric.MeterProvider, g *Gateway) (*metrics, error) {
	var meter metric.Meter
	if mp != nil {
		meter = mp.Meter(MeterName)
	} else {
		meter = otel.Meter(MeterName)
	}
	calls, err := meter.Int64Counter(MetricCalls, metric.WithUnit(callsUnit),
		metric.WithDescription("payment channel calls by region, channel, op and outcome"))
	if err != nil {
		return nil, fmt.Errorf("resilience: calls counter: %w", err)
	}
	lat, err := meter.Float64Histogram(MetricLatency, metric.WithUnit(latencyUnit),
		metric.WithDescription("payment channel call latency"),
		metric.WithExplicitBucketBoundaries(5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000))
	if err != nil {
		return nil, fmt.Errorf("resilience: latency histogram: %w", err)
	}
	gauge, err := meter.Int64ObservableGauge(MetricBreakerState, metric.WithUnit(breakerStateUnit),
		metric.WithDescription(breakerStateComment))
	if err != nil {
		return nil, fmt.Errorf("resilience: breaker state gauge: %w", err)
	}
	region, name := g.cfg.Region, g.cfg.Name
	reg, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for ch, st := range g.states() {
			o.ObserveInt64(gauge, int64(st), metric.WithAttributes(
				attribute.String(attrRegion, region), attribute.String(attrGateway, name),
				attribute.String(attrChannel, string(ch))))
		}
		return nil
	}, gauge)
	if err != nil {
		return nil, fmt.Errorf("resilience: breaker state callback: %w", err)
	}
	return &metrics{calls: calls, latHist: lat, reg: reg}, nil
}

func (m *metrics) close() error {
	if m == nil || m.reg == nil {
		return nil
	}
	return m.reg.Unregister()
}

func (m *metrics) count(ctx context.Context, g *Gateway, ch core.Channel, op, outcome string) {
	m.calls.Add(context.WithoutCancel(ctx), 1, metric.WithAttributes(
		attribute.String(attrRegion, g.cfg.Region), attribute.String(attrGateway, g.cfg.Name),
		attribute.String(attrChannel, string(ch)), attribute.String(attrOp, op),
		attribute.String(attrOutcome, outcome)))
}

func (m *metrics) latency(ctx context.Context, g *Gateway, ch core.Channel, op string, d time.Duration) {
	m.latHist.Record(context.WithoutCancel(ctx), float64(d)/float64(time.Millisecond), metric.WithAttributes(
		attribute.String(attrRegion, g.cfg.Region), attribute.String(attrGateway, g.cfg.Name),
		attribute.String(attrChannel, string(ch)), attribute.String(attrOp, op)))
}
