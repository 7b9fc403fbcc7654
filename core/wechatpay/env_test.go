package wechatpay

import (
	"context"
	"testing"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/channelauth/channeltest"
)

const merchantID = "1900000109"

// channel describes WeChat Pay to the shared test kit.
var channel = channeltest.Options{Channel: core.ChannelWeChatPay, ClientID: merchantID, Currency: "CNY",
	NextAction: func(a *core.NextAction) bool { return a.QRCode != "" }}

type env = channeltest.Env[*Gateway]

// newEnv starts a simulator on loopback and an adapter (and receiver) pointed at it.
func newEnv(t *testing.T, tweak ...func(*Config)) *env {
	t.Helper()
	return channeltest.New(t, channel, func(base channelauth.BaseConfig) (*Gateway, error) {
		cfg := Config{BaseConfig: base, MerchantID: merchantID, AppID: "wxsimapp"}
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
