package banktransfer

import (
	"testing"

	"github.com/paycenter/paycenter/core/channelauth/channeltest"
	"github.com/paycenter/paycenter/core/gatewaytest"
)

// TestConformance runs the shared channel-adapter suite against the adapter and a
// simulator of its own per subtest. The payer pays through the simulator's control API.
func TestConformance(t *testing.T) {
	gatewaytest.Run(t, channeltest.Harness(channel, func(t *testing.T) *env { return newEnv(t) }))
}
