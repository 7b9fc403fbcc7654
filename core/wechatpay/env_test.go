package wechatpay

import (
	"context"
	"testing"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/channelauth/channeltest"
)

const (
	merchantID = "1900000109"
	// merchantSerial is the serial of the (notional) merchant API certificate of the kit's
	// MerchantKey; the simulator does not check it.
	merchantSerial = "3775B6A45ACD588826D15E583A95F5DD2C0AF9EC"
)

// channel describes WeChat Pay to the shared test kit.
var channel = channeltest.Options{Channel: core.ChannelWeChatPay, ClientID: merchantID, Currency: "CNY",
	NextAction: func(a *core.NextAction) bool { return a.QRCode != "" }}

type env = channeltest.Env[*Gateway]

// newEnv starts a simulator on loopback and an adapter (and receiver) pointed at it.
func newEnv(t *testing.T, tweak ...func(*Config)) *env {
	t.Helper()
	return channeltest.New(t, channel, func(base channelauth.BaseConfig) (*Gateway, error) {
		// Certificate mode: the adapter downloads the simulator's platform certificate.
		base.ChannelPublicKey = nil
		cfg := Config{BaseConfig: base, MerchantID: merchantID, MerchantSerialNo: merchantSerial,
			APIv3Key: channeltest.APIv3Key, AppID: "wxsimapp"}
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
