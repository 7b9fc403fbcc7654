package loadtest

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// opStats are the results of one operation type, or of one shard's share of them.
type opStats struct {
	count    int64 // completed
	ok       int64
	declined int64
	errors   int64
	// unfinished: cancelled by the generator at the end (HistoryRecord.Unfinished)
	unfinished int64
	dropped    int64
	codes      map[string]int64
	latency    *hdrhistogram.Histogram // from the intended start (corrected)
	service    *hdrhistogram.Histogram // from the actual start
}

func newOpStats() *opStats {
	return &opStats{codes: map[string]int64{}, latency: NewHistogram(), service: NewHistogram()}
}

// merge adds o's counts and histograms to s.
func (s *opStats) merge(o *opStats) {
	s.count += o.count
	s.ok += o.ok
	s.declined += o.declined
	s.errors += o.errors
	s.unfinished += o.unfinished
	s.dropped += o.dropped
	for k, v := range o.codes {
		s.codes[k] += v
	}
	s.latency.Merge(o.latency)
	s.service.Merge(o.service)
}

// shard is one lock's worth of results; operations are spread over shards by their number.
type shard struct {
	mu   sync.Mutex
	ops  map[OpType]*opStats
	subs map[OpType]int64 // substitutions by the mix's choice
}

// results collects the measured (non-warmup) results of a run.
type results struct {
	shards []*shard
}

func newResults(n int) *results {
	r := &results{shards: make([]*shard, n)}
	for i := range r.shards {
		r.shards[i] = &shard{ops: map[OpType]*opStats{}, subs: map[OpType]int64{}}
	}
	return r
}

func (r *results) shard(seq int64) *shard { return r.shards[int(seq%int64(len(r.shards)))] }

func (sh *shard) stats(op OpType) *opStats {
	s := sh.ops[op]
	if s == nil {
		s = newOpStats()
		sh.ops[op] = s
	}
	return s
}

// complete records a finished operation.
func (r *results) complete(rec *HistoryRecord, corrected, service time.Duration) {
	sh := r.shard(rec.Seq)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	s := sh.stats(rec.Op)
	s.count++
	switch {
	case rec.Outcome == OutcomeOK:
		s.ok++
	case rec.Outcome == OutcomeDeclined:
		s.declined++
	case rec.Unfinished():
		s.unfinished++
	default:
		s.errors++
		code := rec.ErrorCode
		if code == "" {
			code = string(rec.Outcome)
		}
		s.codes[code]++
	}
	if rec.SubstitutedFor != "" {
		sh.subs[rec.SubstitutedFor]++
	}
	RecordLatency(s.latency, corrected)
	RecordLatency(s.service, service)
}

// drop records an operation that was not sent because too many were in flight.
func (r *results) drop(seq int64, op OpType) {
	sh := r.shard(seq)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.stats(op).dropped++
}

// merged combines every shard: per operation type, and the substitutions.
func (r *results) merged() (map[OpType]*opStats, map[OpType]int64) {
	ops := map[OpType]*opStats{}
	subs := map[OpType]int64{}
	for _, sh := range r.shards {
		sh.mu.Lock()
		for op, s := range sh.ops {
			if ops[op] == nil {
				ops[op] = newOpStats()
			}
			ops[op].merge(s)
		}
		for op, n := range sh.subs {
			subs[op] += n
		}
		sh.mu.Unlock()
	}
	return ops, subs
}

// SeriesPoint is one second of a run: the operations that completed in it (latencies and
// outcomes) and those scheduled in it (started, dropped).
type SeriesPoint struct {
	// T is the second's start, in seconds since the run started; Width its length (less
	// than 1 for the last).
	T     float64 `json:"t_s"`
	Width float64 `json:"width_s"`
	// Warmup is true for seconds that start within the warmup.
	Warmup bool `json:"warmup,omitempty"`
	// Started counts operations scheduled in this second (open loop: by intended start,
	// dropped ones included) or started (closed loop).
	Started int64 `json:"started"`
	// Dropped counts operations scheduled in this second that were not sent.
	Dropped int64 `json:"dropped"`
	// Completed, OK, Declined, Errors and Unfinished count operations that completed in
	// this second.
	Completed  int64 `json:"completed"`
	OK         int64 `json:"ok"`
	Declined   int64 `json:"declined"`
	Errors     int64 `json:"errors"`
	Unfinished int64 `json:"unfinished,omitempty"`
	// ThroughputPerS is Completed / Width.
	ThroughputPerS float64 `json:"throughput_per_s"`
	// Latency percentiles (ms) of the operations completed in this second, from their
	// intended starts; ServiceP50 and ServiceP99 from their actual starts.
	P50        float64 `json:"p50_ms"`
	P90        float64 `json:"p90_ms"`
	P99        float64 `json:"p99_ms"`
	Max        float64 `json:"max_ms"`
	ServiceP50 float64 `json:"service_p50_ms"`
	ServiceP99 float64 `json:"service_p99_ms"`
}

// second is one second of the series while the run goes on.
type second struct {
	p        SeriesPoint
	latency  *hdrhistogram.Histogram // nil once sealed
	service  *hdrhistogram.Histogram
	sealed   bool
	lateRecs int64
}

// series is the run's per-second time series, by completion time (operations) and intended
// time (scheduling). Seconds are sealed (percentiles computed, histograms freed) once they
// are two seconds old, so memory does not grow with the run's length.
type series struct {
	mu     sync.Mutex
	warmup time.Duration
	secs   []*second
	late   int64 // completions recorded into a sealed second (percentiles miss them)
}

func (s *series) at(off time.Duration) *second {
	i := 0
	if off > 0 {
		i = int(off / time.Second)
	}
	for len(s.secs) <= i {
		t := time.Duration(len(s.secs)) * time.Second
		s.secs = append(s.secs, &second{p: SeriesPoint{T: float64(len(s.secs)), Width: 1, Warmup: t < s.warmup}})
	}
	return s.secs[i]
}

func (s *series) started(off time.Duration) {
	s.mu.Lock()
	s.at(off).p.Started++
	s.mu.Unlock()
}

func (s *series) dropped(off time.Duration) {
	s.mu.Lock()
	s.at(off).p.Dropped++
	s.mu.Unlock()
}

func (s *series) completed(off time.Duration, rec *HistoryRecord, corrected, service time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec := s.at(off)
	sec.p.Completed++
	switch {
	case rec.Outcome == OutcomeOK:
		sec.p.OK++
	case rec.Outcome == OutcomeDeclined:
		sec.p.Declined++
	case rec.Unfinished():
		sec.p.Unfinished++
	default:
		sec.p.Errors++
	}
	if sec.sealed {
		s.late++
		return
	}
	if sec.latency == nil {
		sec.latency, sec.service = NewHistogram(), NewHistogram()
	}
	RecordLatency(sec.latency, corrected)
	RecordLatency(sec.service, service)
}

// seal computes the percentiles of the seconds before index n and frees their histograms.
func (s *series) seal(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < n && i < len(s.secs); i++ {
		sec := s.secs[i]
		if sec.sealed {
			continue
		}
		if sec.latency != nil {
			l, sv := Summarize(sec.latency), Summarize(sec.service)
			sec.p.P50, sec.p.P90, sec.p.P99, sec.p.Max = l.P50, l.P90, l.P99, l.Max
			sec.p.ServiceP50, sec.p.ServiceP99 = sv.P50, sv.P99
		}
		sec.latency, sec.service, sec.sealed = nil, nil, true
	}
}

// live describes second i as it stands: completions, errors and corrected p50/p99.
func (s *series) live(i int) (completed, errors int64, p50, p99 float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < 0 || i >= len(s.secs) {
		return 0, 0, 0, 0
	}
	sec := s.secs[i]
	if sec.latency != nil {
		l := Summarize(sec.latency)
		p50, p99 = l.P50, l.P99
	} else {
		p50, p99 = sec.p.P50, sec.p.P99
	}
	return sec.p.Completed, sec.p.Errors, p50, p99
}

// points seals every second and returns the series, the last second cut at end.
func (s *series) points(end time.Duration) []SeriesPoint {
	s.seal(int(^uint(0) >> 1))
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]SeriesPoint, len(s.secs))
	for i, sec := range s.secs {
		p := sec.p
		if w := end.Seconds() - p.T; w < 1 && w > 0 {
			p.Width = round3(w)
		}
		if p.Width > 0 {
			p.ThroughputPerS = round3(float64(p.Completed) / p.Width)
		}
		out[i] = p
	}
	return out
}
