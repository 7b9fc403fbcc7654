package localprom_test

import (
	"os"
	"os/exec"
	"testing"
)

// EnvRequire, when set (make test sets it), turns a missing Prometheus tool into a failure
// instead of a skip, so that CI cannot pass by skipping.
const EnvRequire = "PAY_REQUIRE_PROMETHEUS"

// tool finds a Prometheus program, skipping the test when it is missing and not required.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv(EnvRequire) != "" {
			t.Fatalf("%s is missing (make ensure-prometheus installs it)", name)
		}
		t.Skipf("%s is missing: install the Debian packages prometheus and prometheus-alertmanager (make ensure-prometheus)", name)
	}
	return p
}
