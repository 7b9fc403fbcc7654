package loadtest

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram bounds: latencies are recorded in microseconds, from 1 µs to HistogramMax, with
// HistogramSigFigs significant figures. A longer latency is recorded as HistogramMax.
const (
	HistogramMax     = 10 * time.Minute
	HistogramSigFigs = 3
)

// NewHistogram makes an empty latency histogram (microseconds) with the package's bounds.
// Every histogram of a run has these bounds, so merging them is exact.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(HistogramMax/time.Microsecond), HistogramSigFigs)
}

// RecordLatency records d in h in microseconds, clamped to h's range.
func RecordLatency(h *hdrhistogram.Histogram, d time.Duration) {
	us := d.Microseconds()
	if us < h.LowestTrackableValue() {
		us = h.LowestTrackableValue()
	}
	if us > h.HighestTrackableValue() {
		us = h.HighestTrackableValue()
	}
	_ = h.RecordValue(us) // in range: cannot fail
}

// MergeHistograms returns a new histogram holding every value of hs (nil entries are
// skipped): merging per-worker histograms gives the same counts and percentiles as recording
// every value into one. The inputs are not changed.
func MergeHistograms(hs ...*hdrhistogram.Histogram) *hdrhistogram.Histogram {
	out := NewHistogram()
	for _, h := range hs {
		if h != nil {
			out.Merge(h)
		}
	}
	return out
}

// Latency summarises a latency distribution in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

// Summarize reads the percentiles of h (microseconds) in milliseconds; all zero when h is
// empty.
func Summarize(h *hdrhistogram.Histogram) Latency {
	if h == nil || h.TotalCount() == 0 {
		return Latency{}
	}
	return Latency{
		Count: h.TotalCount(),
		Mean:  round3(h.Mean() / 1000),
		P50:   usToMS(h.ValueAtQuantile(50)),
		P90:   usToMS(h.ValueAtQuantile(90)),
		P99:   usToMS(h.ValueAtQuantile(99)),
		P999:  usToMS(h.ValueAtQuantile(99.9)),
		Max:   usToMS(h.Max()),
	}
}

func usToMS(us int64) float64 { return round3(float64(us) / 1000) }

// round3 rounds to three decimals (microseconds, in milliseconds).
func round3(v float64) float64 {
	if v < 0 {
		return -round3(-v)
	}
	return float64(int64(v*1000+0.5)) / 1000
}
