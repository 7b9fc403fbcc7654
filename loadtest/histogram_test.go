package loadtest

import (
	"math/rand/v2"
	"testing"
	"time"
)

// Two histograms merged hold the same distribution as one histogram of all their values.
func TestMergeHistograms(t *testing.T) {
	all, a, b := NewHistogram(), NewHistogram(), NewHistogram()
	r := rand.New(rand.NewPCG(1, 1))
	for i := range 50_000 {
		d := time.Duration(r.ExpFloat64()*20_000) * time.Microsecond // ~20 ms mean, long tail
		RecordLatency(all, d)
		if i%3 == 0 {
			RecordLatency(a, d)
		} else {
			RecordLatency(b, d)
		}
	}
	m := MergeHistograms(a, nil, b)
	if !m.Equals(all) {
		t.Fatal("merged histogram differs from the histogram of all values")
	}
	if Summarize(m) != Summarize(all) {
		t.Errorf("summaries differ: %+v vs %+v", Summarize(m), Summarize(all))
	}
	if a.TotalCount()+b.TotalCount() != m.TotalCount() || a.TotalCount() == 0 {
		t.Errorf("counts %d + %d != %d", a.TotalCount(), b.TotalCount(), m.TotalCount())
	}
	// The inputs are unchanged.
	if a.TotalCount() != 50_000/3+1 {
		t.Errorf("input changed: %d", a.TotalCount())
	}
}

// Percentiles of a known distribution, in milliseconds, within the histogram's precision.
func TestSummarizePercentiles(t *testing.T) {
	h := NewHistogram()
	for ms := 1; ms <= 1000; ms++ { // 1 ms to 1 s, once each
		RecordLatency(h, time.Duration(ms)*time.Millisecond)
	}
	s := Summarize(h)
	near := func(name string, got, want float64) {
		t.Helper()
		if got < want*0.999 || got > want*1.001+0.001 {
			t.Errorf("%s = %v ms, want %v", name, got, want)
		}
	}
	near("p50", s.P50, 500)
	near("p90", s.P90, 900)
	near("p99", s.P99, 990)
	near("p99.9", s.P999, 999)
	near("max", s.Max, 1000)
	near("mean", s.Mean, 500.5)
	if s.Count != 1000 {
		t.Errorf("count %d", s.Count)
	}
	if (Summarize(NewHistogram()) != Latency{}) || (Summarize(nil) != Latency{}) {
		t.Error("an empty histogram has non-zero percentiles")
	}
	// Out of range values are clamped, not lost.
	c := NewHistogram()
	RecordLatency(c, 0)
	RecordLatency(c, time.Hour)
	if c.TotalCount() != 2 || c.Max() < int64(HistogramMax/time.Microsecond)-1000 {
		t.Errorf("clamping: count %d max %d", c.TotalCount(), c.Max())
	}
}
