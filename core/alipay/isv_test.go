package alipay

import (
	"testing"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/channelauth/channeltest"
	"github.com/paycenter/paycenter/core/gatewaytest"
)

const appAuthToken = "202103BB8f2ab5e3c9a84a1eb4cb9bbd7a2b5X14"

func isv(c *Config) { c.AppAuthToken = appAuthToken }

// TestISVConformance runs the conformance suite with the adapter as an ISV's application
// acting for a merchant that authorised it (app_auth_token on every call).
func TestISVConformance(t *testing.T) {
	gatewaytest.Run(t, channeltest.Harness(channel, func(t *testing.T) *env { return newEnv(t, isv) }))
}

// An authorising merchant's trades are its own: the application's calls without the token
// do not see them, and the merchant's bill lists them.
func TestISVTradesBelongToTheMerchant(t *testing.T) {
	t.Parallel()
	e := newEnv(t, isv)
	const id = "pay_isv1"
	e.Authorize(t, id, 2500)
	e.Pay(t, id)
	own, err := New(Config{AppID: appID, BaseConfig: channelauth.BaseConfig{BaseURL: e.Sim.URL(), PrivateKey: e.Key,
		ChannelPublicKey: e.Sim.PublicKey(), NotifyURL: "http://127.0.0.1:1/n", Now: e.Clock.Now}})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := own.QueryPayment(ctx, query(id)); err != nil || st.Found {
		t.Fatalf("the application's own query found the merchant's trade: %+v %v", st, err)
	}
	if st, err := e.GW.QueryPayment(ctx, query(id)); err != nil || st.Outcome != core.OutcomeCaptured {
		t.Fatalf("the merchant's query: %+v %v", st, err)
	}
	if lines, err := e.GW.Statement(ctx, core.ChannelAlipay, e.Clock.Now()); err != nil || len(lines) != 1 {
		t.Fatalf("the merchant's bill: %+v %v", lines, err)
	}
	if lines, err := own.Statement(ctx, core.ChannelAlipay, e.Clock.Now()); err != nil || len(lines) != 0 {
		t.Fatalf("the application's own bill: %+v %v", lines, err)
	}
}
