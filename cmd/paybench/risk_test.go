package main

import (
	"testing"

	"github.com/paycenter/paycenter/core/risk"
)

// Every rule -risk-rules saves compiles, and two of 20 are velocity counters.
func TestBenchRulesCompile(t *testing.T) {
	velocity := 0
	for _, r := range benchRules(20) {
		p, err := risk.Compile(r["expression"].(string))
		if err != nil {
			t.Fatalf("%s: %v", r["name"], err)
		}
		if len(p.Velocities) > 0 {
			velocity++
		}
	}
	if velocity != 2 {
		t.Fatalf("%d velocity rules, want 2", velocity)
	}
}
