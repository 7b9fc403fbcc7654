package rules_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/paycenter/paycenter/deploy/helm/paycenter/rules"
)

func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("PAY_REQUIRE_PROMETHEUS") != "" {
			t.Fatal("promtool is missing (make ensure-prometheus installs it)")
		}
		t.Skip("promtool is missing: install the Debian package prometheus (make ensure-prometheus)")
	}
	return p
}

// promtool check rules and promtool test rules (paycenter.rules.test.yaml: input series,
// expected alerts at times before and after each alert's for: duration) pass.
func TestPromtool(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{{"check", "rules", rules.FileName}, {"test", "rules", "paycenter.rules.test.yaml"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

type ruleFile struct {
	Groups []struct {
		Rules []struct {
			Alert       string            `yaml:"alert"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type testFile struct {
	Tests []struct {
		Checks []struct {
			Alertname string `yaml:"alertname"`
			Expected  []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// Every alert has a unit test in which it fires and one check in which it does not yet
// (its for: duration), a runbook section in docs/runbooks/alerts.md that its runbook_url
// names, a severity and a summary; and the embedded file is the file on disk.
func TestEveryAlertIsTestedAndHasARunbook(t *testing.T) {
	onDisk, err := os.ReadFile(rules.FileName)
	if err != nil || string(onDisk) != string(rules.File) {
		t.Fatalf("embedded rules differ from %s (%v)", rules.FileName, err)
	}
	var rf ruleFile
	if err := yaml.Unmarshal(rules.File, &rf); err != nil {
		t.Fatal(err)
	}
	tb, err := os.ReadFile("paycenter.rules.test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tf testFile
	if err := yaml.Unmarshal(tb, &tf); err != nil {
		t.Fatal(err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range tf.Tests {
		for _, c := range tc.Checks {
			if len(c.Expected) > 0 {
				fires[c.Alertname] = true
			} else {
				quiet[c.Alertname] = true
			}
		}
	}
	book, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "docs", "runbooks", "alerts.md"))
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## (\w+)$`).FindAllStringSubmatch(string(book), -1) {
		sections[m[1]] = true
	}
	n := 0
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			n++
			if !fires[r.Alert] || !quiet[r.Alert] {
				t.Errorf("%s: promtool tests where it fires: %v, where it does not (yet): %v", r.Alert, fires[r.Alert], quiet[r.Alert])
			}
			if !sections[r.Alert] {
				t.Errorf("%s: no section in docs/runbooks/alerts.md", r.Alert)
			}
			if want := "alerts.md#" + strings.ToLower(r.Alert); !strings.HasSuffix(r.Annotations["runbook_url"], want) {
				t.Errorf("%s: runbook_url %q, want …%s", r.Alert, r.Annotations["runbook_url"], want)
			}
			if s := r.Labels["severity"]; (s != "critical" && s != "warning") || r.Annotations["summary"] == "" || r.For == "" {
				t.Errorf("%s: severity %q, summary %q, for %q", r.Alert, s, r.Annotations["summary"], r.For)
			}
			if !strings.Contains(string(rules.File), `region=~".+"`) {
				t.Errorf("the rules select no region=~\".+\" (the chart pins it to its region)")
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d alerts", n)
	}
	for a := range fires {
		if !strings.Contains(string(rules.File), "alert: "+a+"\n") {
			t.Errorf("tests name alert %s, which the rules do not have", a)
		}
	}
}
