package main

import (
	"testing"

	"github.com/paycenter/paycenter/loadtest"
)

func TestAnsweredPerSLeavesRefusalsOut(t *testing.T) {
	rep := &loadtest.Report{
		Overall: loadtest.OpSummary{Count: 1000, OK: 600, Declined: 100, Errors: 300, ThroughputPerS: 500},
		Errors:  map[string]int64{"kyc_required": 290, "timeout": 10},
	}
	if got := answeredPerS(rep); got != 350 {
		t.Errorf("answeredPerS = %v, want 350 (700 of 1000 operations at 500/s)", got)
	}
	if got, want := errorCodes(rep), "; 290 kyc_required; 10 timeout"; got != want {
		t.Errorf("errorCodes = %q, want %q", got, want)
	}
	if got := answeredPerS(&loadtest.Report{}); got != 0 {
		t.Errorf("answeredPerS of an empty run = %v, want 0", got)
	}
}
