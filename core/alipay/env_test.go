package alipay

import (
	"context"
	"testing"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/channelauth/channeltest"
)

const appID = "2021000000000001"

// channel describes Alipay to the shared test kit.
var channel = channeltest.Options{Channel: core.ChannelAlipay, ClientID: appID, Currency: "CNY",
	NextAction: func(a *core.NextAction) bool { return a.RedirectURL != "" }}

type env = channeltest.Env[*Gateway]

// newEnv starts a simulator on loopback and an adapter (and receiver) pointed at it.
func newEnv(t *testing.T, tweak ...func(*Config)) *env {
	t.Helper()
	return channeltest.New(t, channel, func(base channelauth.BaseConfig) (*Gateway, error) {
		cfg := Config{BaseConfig: base, AppID: appID}
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
