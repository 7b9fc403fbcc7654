package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/cardacq"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/httpapi"
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
		if c.CardAcquirerKey == "" && c.ChannelConfigFile == "" {
			return errors.New("-channels live needs at least one real adapter: -card-acquirer-key or -channel-config")
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
// acquirer whenever -card-acquirer-key is set. WeChat Pay, Alipay and the bank go, per
// merchant, to the merchant's own account (its stored credentials) or to the platform's
// (-channel-config; with channelsim, the simulator's test accounts by default). It returns
// the routes and the notification parsers of the channels that send notifications.
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
		accounts, err := c.simAccounts()
		if err != nil {
			return nil, nil, err
		}
		if c.ChannelConfigFile != "" {
			if accounts, err = loadChannelConfig(c.ChannelConfigFile); err != nil {
				return nil, nil, err
			}
		}
		// Every account, the platform's and merchants', talks to the simulator.
		for ch, a := range accounts {
			a.BaseURL = c.ChannelSimURL
			accounts[ch] = a
		}
		if err := m.walletRoutes(routes, parsers, accounts, c.ChannelSimURL); err != nil {
			return nil, nil, err
		}
		card, err := cardacq.New(cardacq.Config{APIKey: "sk_test_channelsim", BackendURL: c.ChannelSimURL, TrustSearchMisses: true})
		if err != nil {
			return nil, nil, err
		}
		routes[core.ChannelCard], routes[core.ChannelDebitCard] = card, card
		m.Log.Info("channels at the channel simulator", "url", c.ChannelSimURL, "notify", c.NotifyURL)
	case ChannelsLive:
		accounts := map[core.Channel]channelAccount{}
		if c.ChannelConfigFile != "" {
			var err error
			if accounts, err = loadChannelConfig(c.ChannelConfigFile); err != nil {
				return nil, nil, err
			}
		}
		bankURL := ""
		if a, ok := accounts[core.ChannelBankTransfer]; ok {
			bankURL = a.BaseURL
		}
		if err := m.walletRoutes(routes, parsers, accounts, bankURL); err != nil {
			return nil, nil, err
		}
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

// simAccounts are the platform's accounts at the channel simulator: the platform's key
// (-channel-key-file) signs for every channel, the simulator's (-channelsim-key-file) is
// Alipay's and the bank's public key, WeChat Pay's platform certificate is downloaded, and
// the APIv3 key is channelauth.SimulatorAPIv3Key, which channelsim -platform-key-file
// derives too. The IDs are the simulator's test IDs.
func (c *Config) simAccounts() (map[core.Channel]channelAccount, error) {
	keyPEM, err := os.ReadFile(c.ChannelKeyFile)
	if err != nil {
		return nil, fmt.Errorf("-channel-key-file: %w", err)
	}
	key, err := channelauth.ParsePrivateKeyPEM(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("-channel-key-file: %w", err)
	}
	pubPEM, err := os.ReadFile(c.ChannelSimKeyFile)
	if err != nil {
		return nil, fmt.Errorf("-channelsim-key-file: %w", err)
	}
	if _, err := channelauth.ParsePublicKey(pubPEM); err != nil {
		return nil, fmt.Errorf("-channelsim-key-file: %w", err)
	}
	priv := string(keyPEM)
	return map[core.Channel]channelAccount{
		core.ChannelWeChatPay: {Credentials: map[string]string{"mchid": "1900000109", "serial_no": channelauth.KeySerial(&key.PublicKey),
			"private_key": priv, "apiv3_key": channelauth.SimulatorAPIv3Key(&key.PublicKey)}},
		core.ChannelAlipay:       {Credentials: map[string]string{"app_id": "2021000000000001", "private_key": priv, "alipay_public_key": string(pubPEM)}},
		core.ChannelBankTransfer: {Credentials: map[string]string{"client_id": "paycenter", "private_key": priv, "bank_public_key": string(pubPEM)}},
	}, nil
}

// walletRoutes routes WeChat Pay, Alipay and the bank through merchantChannel: the
// platform's account from accounts (none: merchants' own accounts only), merchants'
// accounts at bankURL for the bank (wallets: their production gateways, or the simulator's
// URL when accounts are the simulator's).
func (m *Main) walletRoutes(routes byChannel, parsers map[core.Channel]httpapi.NotificationParser, accounts map[core.Channel]channelAccount, simOrBankURL string) error {
	c := &m.Config
	store := func() merchantStore { return m.Service }
	for _, ch := range walletChannels {
		notify := c.NotifyURL + "/v1/notifications/" + string(ch)
		var platform channelAdapter
		if a, ok := accounts[ch]; ok {
			gw, err := buildAdapter(ch, a, notify)
			if err != nil {
				return fmt.Errorf("the platform's %s account: %w", ch, err)
			}
			platform = gw
		}
		merchantsURL := ""
		if c.Channels == ChannelsChannelSim || ch == core.ChannelBankTransfer {
			merchantsURL = simOrBankURL
		}
		if platform == nil && ch == core.ChannelBankTransfer && merchantsURL == "" {
			continue // no bank to send anyone to
		}
		r := newMerchantChannel(ch, platform, merchantsURL, notify, store)
		if a, ok := accounts[ch]; ok {
			r.platformAccount = &a
		}
		routes[ch], parsers[ch] = r, r.ParseNotification
	}
	return nil
}
