package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/hashicorp/consul/api"

	"github.com/paycenter/paycenter/core/console"
	"github.com/paycenter/paycenter/core/notify"
	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/regions"
)

// withConsole serves the back office under /dashboard/ beside the API.
func withConsole(api http.Handler, svc *postgres.Service, cfg console.Config) (http.Handler, error) {
	c, err := console.New(svc, cfg)
	if err != nil {
		return nil, err
	}
	return console.Mount(api, c), nil
}

// consulRegions gives the back office's regions page Consul's view: payd's instances per
// region with their health, and the regions' drain switches.
type consulRegions struct {
	client *api.Client
	sw     *regions.Switches
}

// newConsulRegions makes the regions page's view of the Consul agent at addr.
func newConsulRegions(addr string) (*consulRegions, error) {
	client, err := api.NewClient(&api.Config{Address: addr})
	if err != nil {
		return nil, fmt.Errorf("consul: %w", err)
	}
	sw, err := regions.NewSwitches(client, regions.SwitchesConfig{})
	if err != nil {
		return nil, err
	}
	return &consulRegions{client: client, sw: sw}, nil
}

func (c *consulRegions) RegionHealth(ctx context.Context) ([]console.RegionView, error) {
	rs, err := regions.Health(ctx, c.client, c.sw, regions.ServicePayd)
	if err != nil {
		return nil, err
	}
	out := make([]console.RegionView, 0, len(rs))
	for _, r := range rs {
		v := console.RegionView{Region: r.Region, Drained: r.Drained}
		for _, n := range r.Nodes {
			v.Nodes = append(v.Nodes, console.NodeView{ID: n.ID, Address: n.Address, Port: n.Port, Health: n.Health, Output: n.Output})
		}
		out = append(out, v)
	}
	return out, nil
}

func (c *consulRegions) Drain(ctx context.Context, region string) error {
	return c.sw.Drain(ctx, region)
}

func (c *consulRegions) Undrain(ctx context.Context, region string) error {
	return c.sw.Undrain(ctx, region)
}

// smtpMailer sends the back office's invitation e-mails through the SMTP sender payer
// notices use.
type smtpMailer struct{ smtp *notify.SMTP }

func newSMTPMailer(c *Config) smtpMailer {
	return smtpMailer{&notify.SMTP{Addr: c.SMTPAddr, From: c.SMTPFrom, TLS: c.SMTPTLS}}
}

func (m smtpMailer) SendMail(ctx context.Context, id, to, subject, body string) error {
	return m.smtp.Send(ctx, notify.Message{NoticeID: id, Channel: notify.ChannelEmail, To: to, Subject: subject, Body: body})
}
