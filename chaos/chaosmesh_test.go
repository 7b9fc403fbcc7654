package chaos

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"
)

// The Chaos Mesh manifests in deploy/chaosmesh have never met a cluster here; this checks
// what can be checked without one: the API, kinds and actions, that payd faults select payd
// pods (and one region where the fault is regional), that lasting faults end by themselves,
// and that the README lists every manifest and the experiment catalogue has a counterpart.
func TestChaosMeshManifests(t *testing.T) {
	dir := filepath.Join("..", "deploy", "chaosmesh")
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s: %v", dir, err)
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string][]string{
		"PodChaos":     {"pod-kill", "pod-failure", "container-kill"},
		"NetworkChaos": {"partition", "delay", "loss", "duplicate", "corrupt", "bandwidth"},
		"HTTPChaos":    nil, // no action field: abort, delay, replace or patch
	}
	regional := map[string]bool{"node-kill": true, "region-kill": true, "db-partition": true}
	covered := map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		covered[name] = true
		t.Run(name, func(t *testing.T) {
			if !bytes.Contains(readme, []byte("`"+filepath.Base(f)+"`")) {
				t.Errorf("README.md does not list %s", filepath.Base(f))
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			dec := yaml.NewDecoder(bytes.NewReader(b))
			docs := 0
			for {
				var m struct {
					APIVersion string `yaml:"apiVersion"`
					Kind       string `yaml:"kind"`
					Metadata   struct {
						Name      string `yaml:"name"`
						Namespace string `yaml:"namespace"`
					} `yaml:"metadata"`
					Spec map[string]any `yaml:"spec"`
				}
				if err := dec.Decode(&m); errors.Is(err, io.EOF) {
					break
				} else if err != nil {
					t.Fatal(err)
				}
				docs++
				if m.APIVersion != "chaos-mesh.org/v1alpha1" || m.Metadata.Name == "" || m.Metadata.Namespace == "" {
					t.Errorf("%+v", m)
				}
				allowed, ok := actions[m.Kind]
				if !ok {
					t.Fatalf("kind %q", m.Kind)
				}
				if allowed != nil && !contains(allowed, str(m.Spec["action"])) {
					t.Errorf("%s action %q", m.Kind, m.Spec["action"])
				}
				if m.Kind == "HTTPChaos" {
					if m.Spec["target"] != "Request" && m.Spec["target"] != "Response" || m.Spec["port"] == nil {
						t.Errorf("HTTPChaos target %v port %v", m.Spec["target"], m.Spec["port"])
					}
					if m.Spec["abort"] == nil && m.Spec["delay"] == nil {
						t.Error("HTTPChaos without abort or delay")
					}
				}
				if mode := str(m.Spec["mode"]); !contains([]string{"one", "all", "fixed", "fixed-percent", "random-max-percent"}, mode) {
					t.Errorf("mode %q", mode)
				}
				labels := labelSelectors(m.Spec["selector"])
				if len(labels) == 0 {
					t.Fatal("no label selectors")
				}
				if labels["app.kubernetes.io/name"] == "payd" || regional[name] {
					if labels["app.kubernetes.io/name"] != "payd" {
						t.Errorf("selects %v, want payd pods", labels)
					}
					if regional[name] && labels["paycenter.io/region"] == "" {
						t.Errorf("a regional fault selects no region: %v", labels)
					}
				}
				lasting := m.Kind != "PodChaos" || m.Spec["action"] != "pod-kill"
				if lasting && m.Spec["duration"] == nil {
					t.Error("a lasting fault without a duration: it would never heal by itself")
				}
				if m.Kind == "NetworkChaos" && labelSelectors(mapOf(m.Spec["target"])["selector"]) == nil && m.Spec["externalTargets"] == nil {
					t.Error("NetworkChaos without a target")
				}
			}
			if docs == 0 {
				t.Error("empty manifest")
			}
		})
	}
	// Every local experiment has a manifest, except those Chaos Mesh cannot express.
	counterpart := map[string]string{"pg-restart": "db-restart", "channel-duplicate-notifications": ""}
	for _, x := range Catalogue() {
		if x.Name == "external" {
			continue
		}
		want, ok := counterpart[x.Name]
		if !ok {
			want = x.Name
		}
		if want != "" && !covered[want] {
			t.Errorf("experiment %s has no manifest %s.yaml", x.Name, want)
		}
		if !bytes.Contains(readme, []byte("`"+x.Name+"`")) {
			t.Errorf("README.md does not mention experiment %s", x.Name)
		}
	}
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func mapOf(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func labelSelectors(selector any) map[string]string {
	out := map[string]string{}
	for k, v := range mapOf(mapOf(selector)["labelSelectors"]) {
		out[k] = str(v)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
