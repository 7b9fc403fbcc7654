package localprom_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/paycenter/paycenter/deploy/localprom"
)

// The generated configurations are what promtool and amtool accept.
func TestConfigsCheck(t *testing.T) {
	promtool, amtool := tool(t, localprom.PromtoolBin), tool(t, localprom.AmtoolBin)
	prom, am, err := localprom.Configs(t.TempDir(), "127.0.0.1:9093", localprom.Options{SDURL: "http://127.0.0.1:8500/sd",
		WebhookURLs: []string{"http://127.0.0.1:8080/v1/admin/alertmanager", "http://127.0.0.1:8081/v1/admin/alertmanager"},
		BearerToken: "adm_0123456789abcdef", EmailSMTP: "127.0.0.1:1025"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range [][]string{{promtool, "check", "config", prom}, {amtool, "check-config", am}} {
		out, err := exec.Command(c[0], c[1:]...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	if out, _ := exec.Command(amtool, "config", "routes", "--config.file", am).CombinedOutput(); !strings.Contains(string(out), "payd") {
		t.Errorf("amtool config routes: %s", out)
	}
	if b, err := os.ReadFile(am); err != nil || !strings.Contains(string(b), "smarthost: \"127.0.0.1:1025\"") {
		t.Errorf("the operators' e-mail is not in the Alertmanager configuration: %v\n%s", err, b)
	}
	if _, _, err := localprom.Configs(t.TempDir(), "127.0.0.1:9093", localprom.Options{SDURL: "http://127.0.0.1:8500/sd"}); err == nil {
		t.Errorf("a configuration without a webhook was written")
	}
}
