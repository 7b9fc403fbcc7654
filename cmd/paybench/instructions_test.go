package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestTotalsReadsACompleteCallgrindFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pg.1")
	if _, ok, err := totals(file); ok || err != nil {
		t.Fatalf("a missing file: ok %v, err %v; want not ok, no error", ok, err)
	}
	head := "# callgrind format\nversion: 1\ncmd: postgres\nevents: Ir\nsummary: 1234567\n\nfn=(1) main\n3 1234567\n"
	if err := os.WriteFile(file, []byte(head), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := totals(file); ok {
		t.Fatal("a file without its totals line (still being written) read as complete")
	}
	if err := os.WriteFile(file, []byte(head+"\ntotals: 1234567\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n, ok, err := totals(file); !ok || err != nil || n != 1234567 {
		t.Fatalf("totals = %d, %v, %v; want 1234567, true, nil", n, ok, err)
	}
}
