package paysdk

import (
	"os/exec"
	"strings"
	"testing"
)

// TestModuleStaysSmall keeps a merchant's go get of the SDK free of the platform's
// dependencies: the module graph must not name the database driver, Consul, OpenTelemetry,
// CockroachDB or any other module of the platform.
func TestModuleStaysSmall(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	const self = "github.com/paycenter/paycenter/sdk"
	forbidden := []string{"github.com/jackc/pgx", "github.com/hashicorp/consul", "go.opentelemetry.io",
		"github.com/cockroachdb", "github.com/paycenter/paycenter"}
	for _, args := range [][]string{
		{"list", "-m", "all"},
		{"mod", "graph"},
		{"list", "-deps", "-test", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "./..."},
	} {
		cmd := exec.Command(goTool, args...)
		cmd.Env = append(cmd.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		for _, field := range strings.Fields(string(out)) {
			name, _, _ := strings.Cut(strings.Trim(field, "[]"), "@")
			name = strings.TrimSuffix(name, ".test")
			if name == self || strings.HasPrefix(name, self+"/") {
				continue
			}
			for _, f := range forbidden {
				if strings.HasPrefix(name, f) {
					t.Errorf("go %s names %s: the SDK module must not depend on %s", strings.Join(args, " "), field, f)
				}
			}
		}
	}
}
