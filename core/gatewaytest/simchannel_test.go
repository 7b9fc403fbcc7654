package gatewaytest_test

import (
	"testing"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/gatewaytest"
)

// simHarness is the in-process simulator with every capability: it is the reference
// behaviour the suite is written against.
func simHarness() gatewaytest.Harness {
	return gatewaytest.Harness{
		New:                   func(*testing.T) core.Gateway { return inprocsim.New() },
		Channels:              core.Channels,
		Stateful:              true,
		HonoursTestCards:      true,
		SupportsManualCapture: true,
		PayAsync:              true,
		Queries:               true,
		Pay: func(t *testing.T, gw core.Gateway, req core.AuthorizeRequest, _ core.AuthorizeResult) {
			if !gw.(*inprocsim.Channel).Pay(req.PaymentID) {
				t.Fatalf("the payer could not pay %s", req.PaymentID)
			}
		},
	}
}

func TestSimchannel(t *testing.T) {
	gatewaytest.Run(t, simHarness())
}

// The simulator counts charges, so the suite checks charge counts through this interface.
var _ gatewaytest.ChargeCounter = (*inprocsim.Channel)(nil)
