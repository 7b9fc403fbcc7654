package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/alipay"
	"github.com/paycenter/paycenter/core/banktransfer"
	"github.com/paycenter/paycenter/core/cardacq"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/httpapi"
	"github.com/paycenter/paycenter/core/wechatpay"
	"github.com/paycenter/paycenter/resilience"
)

// The values of -channels.
const (
	ChannelsSim        = "sim"
	ChannelsChannelSim = "channelsim"
	ChannelsLive       = "live"
)

// errNoChannels is payd's refusal to start without an explicit channel configuration.
var errNoChannels = errors.New("-channels is required: 'sim' (an in-process simulator that approves test cards; one node, development only), " +
	"'channelsim' (the channel simulator at -channelsim-url) or 'live' (only the real adapters configured, e.g. -card-acquirer-key)")

// checkChannels refuses a channel configuration that is missing or that would send money
// somewhere other than -channels says. payd checks it before it connects to anything.
func (c *Config) checkChannels() error {
	switch c.Channels {
	case ChannelsSim:
		if c.ChannelSimURL != "" {
			return errors.New("-channels sim takes no -channelsim-url (use -channels channelsim)")
		}
	case ChannelsChannelSim:
		if c.ChannelSimURL == "" {
			return errors.New("-channels channelsim needs -channelsim-url")
		}
	case ChannelsLive:
		if c.ChannelSimURL != "" {
			return errors.New("-channels live takes no -channelsim-url (use -channels channelsim)")
		}
		if c.CardAcquirerKey == "" {
			return errors.New("-channels live needs at least one real adapter: -card-acquirer-key")
		}
	case "":
		return errNoChannels
	default:
		return fmt.Errorf("-channels %q: %w", c.Channels, errNoChannels)
	}
	return nil
}

// channelGateways builds the channel adapters that -channels names: the in-process
// simulator for every channel (sim), every channel over the network to the channel
// simulator (channelsim: cards through the Stripe-API acquirer adapter, WeChat Pay, Alipay and
// the bank through theirs), or none but the real ones configured (live); cards go to a real
// acquirer whenever -card-acquirer-key is set. It returns the routes and the notification
// parsers of the channels that send notifications.
func (m *Main) channelGateways() (byChannel, map[core.Channel]httpapi.NotificationParser, error) {
	c := &m.Config
	routes := byChannel{}
	parsers := map[core.Channel]httpapi.NotificationParser{}
	if err := c.checkChannels(); err != nil {
		return nil, nil, err
	}
	switch c.Channels {
	case ChannelsSim:
		m.Channel = inprocsim.New()
		for _, ch := range core.Channels {
			routes[ch] = m.Channel
		}
		m.Log.Warn("channels: the in-process simulator (-channels sim); test cards are approved and nothing reaches a real channel")
	case ChannelsChannelSim:
		keyPEM, err := os.ReadFile(c.ChannelKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("-channel-key-file: %w", err)
		}
		key, err := channelauth.ParsePrivateKeyPEM(keyPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("-channel-key-file: %w", err)
		}
		pubPEM, err := os.ReadFile(c.ChannelSimKeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("-channelsim-key-file: %w", err)
		}
		pub, err := channelauth.ParsePublicKey(pubPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("-channelsim-key-file: %w", err)
		}
		base := func(ch core.Channel) channelauth.BaseConfig {
			return channelauth.BaseConfig{BaseURL: c.ChannelSimURL, PrivateKey: key, ChannelPublicKey: pub,
				NotifyURL: c.NotifyURL + "/v1/notifications/" + string(ch)}
		}
		wx, err := wechatpay.New(wechatpay.Config{BaseConfig: base(core.ChannelWeChatPay), MerchantID: "1900000109"})
		if err != nil {
			return nil, nil, err
		}
		ali, err := alipay.New(alipay.Config{BaseConfig: base(core.ChannelAlipay), AppID: "2021000000000001"})
		if err != nil {
			return nil, nil, err
		}
		bank, err := banktransfer.New(banktransfer.Config{BaseConfig: base(core.ChannelBankTransfer), ClientID: "paycenter"})
		if err != nil {
			return nil, nil, err
		}
		card, err := cardacq.New(cardacq.Config{APIKey: "sk_test_channelsim", BackendURL: c.ChannelSimURL, TrustSearchMisses: true})
		if err != nil {
			return nil, nil, err
		}
		routes[core.ChannelWeChatPay], routes[core.ChannelAlipay], routes[core.ChannelBankTransfer] = wx, ali, bank
		routes[core.ChannelCard], routes[core.ChannelDebitCard] = card, card
		parsers[core.ChannelWeChatPay], parsers[core.ChannelAlipay], parsers[core.ChannelBankTransfer] =
			wx.ParseNotification, ali.ParseNotification, bank.ParseNotification
		m.Log.Info("channels at the channel simulator", "url", c.ChannelSimURL, "notify", c.NotifyURL)
	}
	if c.CardAcquirerKey != "" {
		acq, err := cardacq.New(cardacq.Config{APIKey: c.CardAcquirerKey, BackendURL: c.CardAcquirerURL})
		if err != nil {
			return nil, nil, err
		}
		var card core.Gateway = acq
		if c.CardAcquirer2Key != "" {
			if card, err = m.cardFailover(acq); err != nil {
				return nil, nil, err
			}
		}
		routes[core.ChannelCard], routes[core.ChannelDebitCard] = card, card
		m.Log.Info("cards go to the card acquirer", "url", c.CardAcquirerURL, "second", c.CardAcquirer2URL)
	}
	return routes, parsers, nil
}

// cardFailover puts a second card acquirer behind the first: each has its own breaker, and a
// payment moves to the second only when the first certainly did nothing (its breaker is open
// or it refused the connection). Captures and refunds go to the acquirer that authorised.
func (m *Main) cardFailover(primary core.Gateway) (core.Gateway, error) {
	c := &m.Config
	second, err := cardacq.New(cardacq.Config{APIKey: c.CardAcquirer2Key, BackendURL: c.CardAcquirer2URL})
	if err != nil {
		return nil, err
	}
	var acquirers []resilience.Acquirer
	for _, a := range []struct {
		name string
		gw   core.Gateway
	}{{"acq1", primary}, {"acq2", second}} {
		g, err := resilience.NewGateway(a.gw, resilience.Config{Region: c.Region, Name: a.name, Default: m.channelPolicy()})
		if err != nil {
			return nil, err
		}
		m.shutdown = append(m.shutdown, func(context.Context) error { return g.Close() })
		acquirers = append(acquirers, resilience.Acquirer{Name: a.name, Gateway: g})
	}
	return resilience.NewFailover(resilience.FailoverConfig{Acquirers: acquirers})
}
