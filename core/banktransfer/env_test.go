package banktransfer

import (
	"context"
	"testing"

	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/channelauth/channeltest"
)

const clientID = "paycenter-eu"

// channel describes the bank to the shared test kit.
var channel = channeltest.Options{Channel: core.ChannelBankTransfer, ClientID: clientID, Currency: "EUR",
	NextAction: func(a *core.NextAction) bool { return a.BankAccount != "" && a.Reference != "" && a.ExpiresAt != nil }}

type env = channeltest.Env[*Gateway]

// newEnv starts a simulator on loopback and an adapter (and receiver) pointed at it.
func newEnv(t *testing.T, tweak ...func(*Config)) *env {
	t.Helper()
	return newEnvWith(t, nil, tweak...)
}

// newEnvWith is newEnv with simulator settings.
func newEnvWith(t *testing.T, simTweak func(*netsim.Config), tweak ...func(*Config)) *env {
	t.Helper()
	opts := channel
	opts.Sim = simTweak
	return channeltest.New(t, opts, func(base channelauth.BaseConfig) (*Gateway, error) {
		cfg := Config{BaseConfig: base, ClientID: clientID}
		for _, f := range tweak {
			f(&cfg)
		}
		return New(cfg)
	})
}

var ctx = context.Background()

func authReq(id string, amount int64) core.AuthorizeRequest { return channel.AuthReq(id, amount) }

func refundReq(payID, refundID string, amount int64) core.RefundRequest {
	return channel.RefundReq(payID, refundID, amount)
}

func query(id string) core.PaymentQuery { return channel.Query(id) }

func newNonce() string { return channelauth.NewNonce() }
