package main

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/core/risk"
)

// riskWorkers are the review worker (expiry of open reviews, re-drive of decided ones) and
// the AML detectors (one node at a time), with the review queue's gauges when metrics are
// served.
func (m *Main) riskWorkers() ([]*postgres.Worker, error) {
	c := &m.Config
	var sanctions *risk.SanctionsList
	if c.SanctionsFile != "" {
		var err error
		if sanctions, err = postgres.LoadSanctions(c.SanctionsFile); err != nil {
			return nil, err
		}
		m.Log.Info("sanctions list loaded", "file", c.SanctionsFile, "parties", len(sanctions.Parties))
	}
	if c.MetricsAddr != "" {
		if err := m.reviewGauges(); err != nil {
			return nil, err
		}
	}
	return []*postgres.Worker{
		postgres.NewReviewWorker(m.Service, postgres.ReviewWorkerConfig{MaxAge: c.ReviewMaxAge}),
		postgres.NewAMLWorker(m.Service, postgres.AMLWorkerConfig{SanctionsFile: c.SanctionsFile, Interval: c.AMLInterval}, sanctions),
	}, nil
}

// reviewGauges report the review queue: open reviews and the age of the oldest.
func (m *Main) reviewGauges() error {
	meter := otel.Meter("github.com/paycenter/paycenter/cmd/payd")
	depth, err := meter.Int64ObservableGauge("paycenter.risk.reviews_open", metric.WithDescription("Payments waiting in the review queue"))
	if err != nil {
		return err
	}
	age, err := meter.Float64ObservableGauge("paycenter.risk.review_oldest_age", metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest open review, in seconds"))
	if err != nil {
		return err
	}
	_, err = meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if m.Service == nil {
			return nil
		}
		n, oldest, err := m.Service.ReviewQueue(ctx)
		if err == nil {
			o.ObserveInt64(depth, n)
			o.ObserveFloat64(age, oldest.Seconds())
		}
		return nil
	}, depth, age)
	return err
}
