package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/paycenter/paycenter/regions"
)

// joinConsul registers the node in its Consul agent, follows its region's drain switch and
// the merchants' rate limits in Consul KV, and arranges deregistration on Close.
func (m *Main) joinConsul(ctx context.Context) error {
	c := &m.Config
	client, err := api.NewClient(&api.Config{Address: c.ConsulAddr})
	if err != nil {
		return fmt.Errorf("consul: %w", err)
	}
	reg, err := regions.NewRegistrar(client, regions.RegistrarConfig{NodeID: c.NodeID, Region: c.Region, Addr: m.Addr, Logger: m.Log,
		Meta: metricsMeta(m.MetricsListen)})
	if err != nil {
		return err
	}
	if err := reg.Register(ctx); err != nil {
		return fmt.Errorf("register in consul at %s: %w", c.ConsulAddr, err)
	}
	if err := reg.Start(ctx); err != nil {
		return err
	}
	sw, err := regions.NewSwitches(client, regions.SwitchesConfig{Logger: m.Log})
	if err != nil {
		return err
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	go func() {
		err := sw.WatchDrain(watchCtx, c.Region, func(drained bool) {
			m.drained.Store(drained)
			m.Log.Info("region drain switch", "region", c.Region, "drained", drained)
		})
		if err != nil && watchCtx.Err() == nil {
			m.Log.Error("drain watch ended", "err", err)
		}
	}()
	go func() {
		known := map[string]bool{}
		err := sw.WatchMerchantLimits(watchCtx, func(limits map[string]regions.RateLimit) {
			for id, l := range limits {
				if err := m.Limiter.SetLimit(id, l.PerSecond, l.Burst); err != nil {
					m.Log.Warn("bad merchant rate limit in consul", "merchant", id, "err", err)
				}
				known[id] = true
			}
			for id := range known {
				if _, ok := limits[id]; !ok {
					m.Limiter.ClearLimit(id)
					delete(known, id)
				}
			}
		})
		if err != nil && watchCtx.Err() == nil {
			m.Log.Error("merchant limit watch ended", "err", err)
		}
	}()
	// On Close: stop watching, then leave the catalog (after in-flight requests finished).
	m.leave = func(ctx context.Context) error {
		stopWatch()
		reg.Stop()
		return reg.Deregister(ctx)
	}
	m.Log.Info("registered in consul", "consul", c.ConsulAddr, "service", regions.ServicePayd, "id", c.NodeID)
	return nil
}

// ready is the node's readiness beyond the database ping.
func (m *Main) ready() error {
	switch {
	case m.stopping.Load():
		return errors.New("shutting down")
	case m.drained.Load():
		return fmt.Errorf("region %s is drained", m.Config.Region)
	}
	if m.Service != nil {
		// A node whose heartbeat cannot commit is about to be treated as dead by the others.
		return m.Service.Live()
	}
	return nil
}

// drainBeforeStop fails readiness and waits for the routers (Consul's, or a Kubernetes
// Service's readiness probe) to notice before the server stops accepting requests, so no
// client is sent to a closing node.
func (m *Main) drainBeforeStop() {
	m.stopping.Store(true)
	if m.srv != nil && m.Config.ShutdownDelay > 0 {
		m.Log.Info("failing readiness before shutdown", "delay", m.Config.ShutdownDelay)
		time.Sleep(m.Config.ShutdownDelay)
	}
}
