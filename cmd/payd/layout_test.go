package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The layout the README's "Project structure" promises, checked on the import graph: the
// domain reaches no adapter, database or HTTP package, and no production package but payd
// (whose explicit -channels sim switch is the one way in) reaches a channel simulator.
func TestImportLayout(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command on the PATH")
	}
	deps := func(t *testing.T, pkg string) []string {
		t.Helper()
		out, err := exec.Command("go", "list", "-deps", "github.com/paycenter/paycenter/"+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		return strings.Fields(string(out))
	}
	const mod = "github.com/paycenter/paycenter/"
	t.Run("the domain imports no adapter", func(t *testing.T) {
		for _, d := range deps(t, "core") {
			switch {
			case strings.HasPrefix(d, mod) && d != mod+"core":
				t.Errorf("core imports %s", d)
			case d == "net/http", d == "database/sql", strings.Contains(d, "jackc/pgx"):
				t.Errorf("core imports %s: SQL and HTTP belong to the adapters", d)
			}
		}
	})
	for _, pkg := range []string{"core/postgres", "core/httpapi", "resilience", "regions", "cmd/payedge",
		"core/cardacq", "core/wechatpay", "core/alipay", "core/banktransfer", "core/channelauth", "core/console"} {
		t.Run(pkg+" reaches no simulator", func(t *testing.T) {
			for _, d := range deps(t, pkg) {
				if strings.HasPrefix(d, mod+"cmd/channelsim") {
					t.Errorf("%s depends on %s", pkg, d)
				}
			}
		})
	}
	t.Run("adapters do not import each other", func(t *testing.T) {
		adapters := []string{"core/postgres", "core/httpapi", "core/cardacq", "core/wechatpay", "core/alipay", "core/banktransfer", "core/console"}
		for _, a := range adapters {
			for _, d := range deps(t, a) {
				for _, b := range adapters {
					if b != a && d == mod+b {
						t.Errorf("%s imports %s", a, b)
					}
				}
			}
		}
	})
}
