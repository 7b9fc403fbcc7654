package verify

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestChartReadmeDocumentsEveryValue: every key of values.yaml has a row in the chart
// README's values table (a map documented as a whole, such as resources, counts for its keys).
func TestChartReadmeDocumentsEveryValue(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir(t), "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(b, &values); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(chartDir(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented := func(path string) bool { return strings.Contains(string(readme), "| `"+path+"` |") }
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if prefix != "" && documented(prefix) {
			return
		}
		m, ok := v.(map[string]any)
		if !ok || len(m) == 0 {
			t.Errorf("chart README: no row for value `%s`", prefix)
			return
		}
		for k, sub := range m {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			walk(p, sub)
		}
	}
	walk("", values)
	// And no row for a value that does not exist.
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-zA-Z0-9.]+)` \\| `").FindAllStringSubmatch(string(readme), -1) {
		var cur any = values
		for _, p := range strings.Split(m[1], ".") {
			mm, ok := cur.(map[string]any)
			if !ok {
				cur = nil
				break
			}
			cur, ok = mm[p]
			if !ok {
				cur = nil
				break
			}
		}
		if cur == nil && !strings.HasSuffix(m[1], "Override") {
			t.Errorf("chart README documents `%s`, which values.yaml does not have", m[1])
		}
	}
}

var mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)

// TestDocLinks: relative links in the runbooks and the deployment READMEs point at files that
// exist, and anchors at headings that exist.
func TestDocLinks(t *testing.T) {
	root := repoRoot(t)
	var docs []string
	for _, dir := range []string{"docs/runbooks", "deploy/helm", "deploy/terraform"} {
		_ = filepath.WalkDir(filepath.Join(root, dir), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
				docs = append(docs, p)
			}
			return nil
		})
	}
	if len(docs) < 10 {
		t.Fatalf("found only %d Markdown files", len(docs))
	}
	for _, doc := range docs {
		b, _ := os.ReadFile(doc)
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			link := m[1]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(link, "#")
			target := doc
			if file != "" {
				target = filepath.Join(filepath.Dir(doc), file)
			}
			st, err := os.Stat(target)
			if err != nil {
				t.Errorf("%s: link %s: %v", rel(root, doc), link, err)
				continue
			}
			if anchor != "" && !st.IsDir() {
				tb, _ := os.ReadFile(target)
				if !markdownAnchors(tb)[anchor] {
					t.Errorf("%s: link %s: no heading #%s in %s", rel(root, doc), link, anchor, rel(root, target))
				}
			}
		}
	}
	// Every runbook the README index lists exists, and the alert runbook has every alert.
	if _, err := os.Stat(filepath.Join(root, "docs", "runbooks", "alerts.md")); err != nil {
		t.Error(err)
	}
}

func rel(root, p string) string {
	r, err := filepath.Rel(root, p)
	if err != nil {
		return p
	}
	return r
}
