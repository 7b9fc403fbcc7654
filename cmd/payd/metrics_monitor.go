package main

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/httpapi"
	"github.com/paycenter/paycenter/core/monitor"
)

const meterName = "github.com/paycenter/paycenter/cmd/payd"

// apiPayments names the embedded service (httpapi.Payments has a method called Payments).
type apiPayments = httpapi.Payments

// meteredPayments counts the outcome of every payment this node creates, by channel, status
// and decline code (paycenter.payments.created; replays are not counted again), for the
// success-rate and decline panels and alerts. The detectors read the same outcomes from the
// database, platform-wide; this counter is the per-node, per-second view.
type meteredPayments struct {
	apiPayments
	created metric.Int64Counter
	region  string
}

func newMeteredPayments(p httpapi.Payments, region string) (*meteredPayments, error) {
	c, err := otel.Meter(meterName).Int64Counter("paycenter.payments.created",
		metric.WithDescription("Payments created by this node, by channel, status (succeeded, requires_capture, requires_action, processing, failed, error) and decline code"))
	if err != nil {
		return nil, err
	}
	return &meteredPayments{apiPayments: p, created: c, region: region}, nil
}

// CreatePayment creates the payment and counts its outcome.
func (m *meteredPayments) CreatePayment(ctx context.Context, req core.IdempotentRequest, p core.CreatePaymentParams) (core.Reply, error) {
	rep, err := m.apiPayments.CreatePayment(ctx, req, p)
	if rep.Replayed {
		return rep, err
	}
	status, code := paymentOutcome(rep, err)
	m.created.Add(ctx, 1, metric.WithAttributes(attribute.String("channel", string(p.Channel)), attribute.String("region", m.region),
		attribute.String("status", status), attribute.String("decline_code", code)))
	return rep, err
}

// paymentOutcome reads a create-payment reply: the payment's status, or for an error the
// status "failed" (a decline: 402) or "error", and the code.
func paymentOutcome(rep core.Reply, err error) (status, code string) {
	switch {
	case err != nil:
		return "error", string(core.AsError(err).Code)
	case rep.Interim != nil:
		return string(core.StatusProcessing), ""
	}
	var body struct {
		Status      string  `json:"status"`
		FailureCode *string `json:"failure_code"`
		Error       *struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(rep.Body, &body)
	switch {
	case body.Error != nil && rep.Status == http.StatusPaymentRequired:
		return string(core.StatusFailed), body.Error.Code
	case body.Error != nil:
		return "error", body.Error.Code
	case body.FailureCode != nil:
		return body.Status, *body.FailureCode
	}
	return body.Status, ""
}

// countingLimiter counts the merchant API calls the limiter refused
// (paycenter.merchant_limiter.rejections).
type countingLimiter struct {
	httpapi.MerchantLimiter
	rejected metric.Int64Counter
}

func newCountingLimiter(l httpapi.MerchantLimiter) (*countingLimiter, error) {
	c, err := otel.Meter(meterName).Int64Counter("paycenter.merchant_limiter.rejections",
		metric.WithDescription("Merchant API calls refused with 429 by this node's per-merchant limiter"))
	if err != nil {
		return nil, err
	}
	return &countingLimiter{MerchantLimiter: l, rejected: c}, nil
}

// Allow asks the limiter and counts a refusal.
func (l *countingLimiter) Allow(merchantID string) (bool, time.Duration) {
	ok, wait := l.MerchantLimiter.Allow(merchantID)
	if !ok {
		l.rejected.Add(context.Background(), 1)
	}
	return ok, wait
}

// monitoringGauges reports, from the database (the same on every node: alert with max), the
// firing alerts by source, detector and severity, the recovery backlog, and the outbox's
// backlog and the age of its oldest undelivered event.
func (m *Main) monitoringGauges() error {
	meter := otel.Meter(meterName)
	firing, err := meter.Int64ObservableGauge("paycenter.alerts.firing",
		metric.WithDescription("Firing alert records, by source (detector, alertmanager), detector and severity"))
	if err != nil {
		return err
	}
	backlog, err := meter.Int64ObservableGauge("paycenter.recovery.backlog",
		metric.WithDescription("Payments processing or reserved by a capture or cancel whose recovery is due"))
	if err != nil {
		return err
	}
	outbox, err := meter.Int64ObservableGauge("paycenter.outbox.backlog", metric.WithDescription("Outbox events not delivered yet"))
	if err != nil {
		return err
	}
	outboxAge, err := meter.Float64ObservableGauge("paycenter.outbox.oldest_age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest undelivered outbox event"))
	if err != nil {
		return err
	}
	_, err = meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		region := attribute.String("region", m.Config.Region)
		if counts, err := m.Service.FiringAlertCounts(ctx); err == nil {
			// Every known detector reports, 0 when quiet, so a rule can tell quiet from absent.
			for _, d := range monitor.Detectors {
				k := [3]string{"detector", d, "critical"}
				if _, ok := counts[k]; !ok {
					counts[k] = 0
				}
			}
			for k, n := range counts {
				o.ObserveInt64(firing, n, metric.WithAttributes(region, attribute.String("source", k[0]),
					attribute.String("detector", k[1]), attribute.String("severity", k[2])))
			}
		}
		var n int64
		if err := m.DB.Pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE (status = 'processing' OR pending_op IS NOT NULL)
			AND (next_recovery_at IS NULL OR next_recovery_at <= now())`).Scan(&n); err == nil {
			o.ObserveInt64(backlog, n, metric.WithAttributes(region))
		}
		var age float64
		if err := m.DB.Pool.QueryRow(ctx, `SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at))::FLOAT8, 0)
			FROM outbox_events WHERE delivered_at IS NULL`).Scan(&n, &age); err == nil {
			o.ObserveInt64(outbox, n, metric.WithAttributes(region))
			o.ObserveFloat64(outboxAge, age, metric.WithAttributes(region))
		}
		return nil
	}, firing, backlog, outbox, outboxAge)
	return err
}

// meteredAPI wraps the payment service and the merchant limiter with their counters and
// registers the monitoring gauges.
func (m *Main) meteredAPI() (httpapi.Payments, httpapi.MerchantLimiter, error) {
	p, err := newMeteredPayments(m.Service, m.Config.Region)
	if err != nil {
		return nil, nil, err
	}
	l, err := newCountingLimiter(m.Limiter)
	if err != nil {
		return nil, nil, err
	}
	return p, l, m.monitoringGauges()
}

// MetaMetricsAddr is the Consul service metadata key naming a node's (or endpoint's)
// /metrics address; Prometheus's Consul service discovery scrapes it.
const MetaMetricsAddr = "metrics_addr"

// metricsMeta is the Consul metadata that advertises addr (none when empty).
func metricsMeta(addr string) map[string]string {
	if addr == "" {
		return nil
	}
	return map[string]string{MetaMetricsAddr: addr}
}
