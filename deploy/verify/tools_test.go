package verify

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// repoRoot is the platform repository's root: deploy/verify's grandparent.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test's source file")
	}
	root, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "deploy", "helm", "paycenter", "Chart.yaml")); err != nil {
		t.Fatalf("repository root %s has no deploy/helm/paycenter: %v", root, err)
	}
	return root
}

// tool returns <repo>/.local/bin/<name>, the pinned build (never a binary on PATH: the
// tests want the pinned versions). When it is missing the test is skipped, or fails with
// PAY_REQUIRE_DEPLOY_TOOLS=1, naming the script that builds it.
func tool(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(repoRoot(t), ".local", "bin", name)
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return p
	}
	msg := name + " is not built at " + p + ": run deploy/verify/tools/build-" + name + ".sh (once, a few minutes)"
	if os.Getenv("PAY_REQUIRE_DEPLOY_TOOLS") == "1" {
		t.Fatal(msg + " (PAY_REQUIRE_DEPLOY_TOOLS=1)")
	}
	t.Skip(msg)
	return ""
}

// run runs a tool and returns its stdout; stderr is returned too for error messages.
func run(t testing.TB, dir string, env []string, name string, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	// HOME and caches in a temporary directory: the tools must not read or write the
	// operator's configuration (helm repositories, terraform CLI config).
	home := t.TempDir()
	cmd.Env = append(os.Environ(),
		"HOME="+home,
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"TF_CLI_CONFIG_FILE=",
		"CHECKPOINT_DISABLE=1",
	)
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.Bytes(), errb.Bytes(), err
}
