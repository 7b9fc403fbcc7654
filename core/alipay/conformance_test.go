package alipay

import (
	"sync"
	"testing"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/gatewaytest"
)

// TestConformance runs the shared channel-adapter suite against the adapter and a
// simulator of its own per subtest. The payer pays through the simulator's control API.
func TestConformance(t *testing.T) {
	var envs sync.Map // *Gateway → *env
	gatewaytest.Run(t, gatewaytest.Harness{
		New: func(t *testing.T) core.Gateway {
			e := newEnv(t)
			envs.Store(e.gw, e)
			return e.gw
		},
		Channels: []core.Channel{core.ChannelAlipay},
		Stateful: true,
		PayAsync: true,
		Queries:  true,
		Currency: "CNY",
		Pay: func(t *testing.T, gw core.Gateway, req core.AuthorizeRequest, res core.AuthorizeResult) {
			v, _ := envs.Load(gw)
			if _, err := v.(*env).ctl.Pay(ctx, core.ChannelAlipay, req.PaymentID); err != nil {
				t.Fatalf("pay %s: %v", req.PaymentID, err)
			}
		},
	})
}
