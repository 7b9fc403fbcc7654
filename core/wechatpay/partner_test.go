package wechatpay

import (
	"testing"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/channelauth/channeltest"
	"github.com/paycenter/paycenter/core/gatewaytest"
)

const subMerchantID = "1900000201"

func partner(c *Config) { c.SubMerchantID, c.SubAppID = subMerchantID, "wxsubapp" }

// TestPartnerConformance runs the conformance suite with the adapter as a service provider
// (服务商) acting for a sub-merchant, over the partner endpoints.
func TestPartnerConformance(t *testing.T) {
	gatewaytest.Run(t, channeltest.Harness(channel, func(t *testing.T) *env { return newEnv(t, partner) }))
}

// A provider's order belongs to its sub-merchant: the provider's direct calls do not see it,
// the bill of the sub-merchant lists it, and refunds name the sub-merchant.
func TestPartnerOrdersBelongToTheSubMerchant(t *testing.T) {
	t.Parallel()
	e := newEnv(t, partner)
	const id = "pay_partner1"
	e.Authorize(t, id, 3000)
	n := e.Pay(t, id)
	if n.Amount != 3000 {
		t.Fatalf("notification: %+v", n)
	}
	if st, err := e.GW.QueryPayment(ctx, query(id)); err != nil || st.Outcome != core.OutcomeCaptured {
		t.Fatalf("partner query: %+v %v", st, err)
	}
	direct, err := New(Config{MerchantID: merchantID, MerchantSerialNo: merchantSerial, APIv3Key: channeltest.APIv3Key,
		BaseConfig: channelauth.BaseConfig{BaseURL: e.Sim.URL(), PrivateKey: e.Key, NotifyURL: "http://127.0.0.1:1/n", Now: e.Clock.Now}})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := direct.QueryPayment(ctx, query(id)); err != nil || st.Found {
		t.Fatalf("the provider's own (direct) query found the sub-merchant's order: %+v %v", st, err)
	}
	if r, err := e.GW.Refund(ctx, refundReq(id, "re_partner1", 1000)); err != nil || !r.OK {
		t.Fatalf("partner refund: %+v %v", r, err)
	}
	lines, err := e.GW.Statement(ctx, core.ChannelWeChatPay, e.Clock.Now())
	if err != nil || len(lines) != 2 {
		t.Fatalf("sub-merchant's bill: %+v %v", lines, err)
	}
	if lines, err := direct.Statement(ctx, core.ChannelWeChatPay, e.Clock.Now()); err != nil || len(lines) != 0 {
		t.Fatalf("the provider's own bill lists the sub-merchant's lines: %+v %v", lines, err)
	}
}
