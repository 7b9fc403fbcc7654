package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Report is the result of a run. WriteJSON writes it as is; WriteText and WriteHTML render
// it; FinalLine is its one-line summary.
type Report struct {
	Tool      string    `json:"tool"`
	RunID     string    `json:"run_id"`
	StartedAt time.Time `json:"started_at"`
	Config    RunConfig `json:"config"`
	// Target lists the regions and endpoints, Merchants the merchants acted as (without
	// their keys).
	Target    []Region         `json:"target,omitempty"`
	Merchants []ReportMerchant `json:"merchants,omitempty"`
	// ElapsedS is the whole run, warmup and the final wait for in-flight operations
	// included; MeasuredS the measured part, from the end of the warmup to the last
	// measured completion (or the end of scheduling, if later). Throughputs divide by it.
	ElapsedS  float64 `json:"elapsed_s"`
	MeasuredS float64 `json:"measured_s"`
	// Interrupted is true when the run was stopped before its end (an interrupt).
	Interrupted bool `json:"interrupted"`
	// WarmupOps counts operations scheduled during the warmup (excluded from the rest).
	WarmupOps int64 `json:"warmup_ops"`
	// Overall sums every operation type; Ops has one entry per type in the mix or seen.
	Overall OpSummary   `json:"overall"`
	Ops     []OpSummary `json:"ops"`
	// Errors counts failed operations by error code, over every type.
	Errors map[string]int64 `json:"errors"`
	// Substitutions counts operations the mix chose that could not be performed and were
	// replaced, by the mix's choice ("refund": replaced by a card create_auto; "get": by a
	// list).
	Substitutions map[string]int64 `json:"substitutions,omitempty"`
	// Series is the per-second time series.
	Series []SeriesPoint `json:"series"`
	// LateSamples counts completions recorded after their second's percentiles were
	// computed (they are in the counts, not in that second's percentiles).
	LateSamples int64 `json:"late_samples,omitempty"`
}

// ReportMerchant is a merchant of the run, without its key.
type ReportMerchant struct {
	ID         string `json:"id"`
	HomeRegion string `json:"home_region"`
}

// RunConfig is the configuration of a run, as reported.
type RunConfig struct {
	Mode                string   `json:"mode"` // "open" or "closed"
	RatePerS            float64  `json:"rate_per_s,omitempty"`
	MaxInFlight         int      `json:"max_inflight,omitempty"`
	Concurrency         int      `json:"concurrency,omitempty"`
	DurationS           float64  `json:"duration_s"`
	WarmupS             float64  `json:"warmup_s"`
	OpsLimit            int64    `json:"ops_limit,omitempty"`
	OpTimeoutS          float64  `json:"op_timeout_s"`
	GraceS              float64  `json:"grace_s"`
	Mix                 string   `json:"mix"`
	Seed                uint64   `json:"seed"`
	ClientRegion        string   `json:"client_region,omitempty"`
	Currencies          []string `json:"currencies"`
	Channels            string   `json:"channels"`
	DeclineShare        float64  `json:"decline_share"`
	PartialCaptureShare float64  `json:"partial_capture_share"`
	MinAmount           int64    `json:"min_amount"`
	MaxAmount           int64    `json:"max_amount"`
	MaxRetries          int      `json:"max_retries,omitempty"`
	BackoffMS           float64  `json:"backoff_ms,omitempty"`
	AttemptTimeoutS     float64  `json:"attempt_timeout_s"`
	Merchants           int      `json:"merchants"`
}

// OpSummary is the result of one operation type (or of all: "overall").
type OpSummary struct {
	Op string `json:"op"`
	// Count is the number of operations that completed (ok, declined or failed); Dropped
	// ones were never sent.
	Count    int64 `json:"count"`
	OK       int64 `json:"ok"`
	Declined int64 `json:"declined"`
	Errors   int64 `json:"errors"`
	// Unfinished counts operations the generator cancelled itself when the grace period
	// ran out (or on a second interrupt): not errors, their outcome is unknown.
	Unfinished int64 `json:"unfinished"`
	Dropped    int64 `json:"dropped"`
	// ErrorsByCode counts the errors by code.
	ErrorsByCode map[string]int64 `json:"errors_by_code,omitempty"`
	// ThroughputPerS is Count over the measured time.
	ThroughputPerS float64 `json:"throughput_per_s"`
	// Latency is measured from each operation's intended start (corrected for coordinated
	// omission in open loop); Service from its actual start.
	Latency Latency `json:"latency"`
	Service Latency `json:"service_latency"`
	// LatencyHDR is Latency's whole histogram (microseconds) in the HdrHistogram V2
	// compressed, base64 encoding: hdrhistogram.Decode reads it, and MergeHistograms merges
	// it with those of other runs or generators.
	LatencyHDR string `json:"latency_hdr,omitempty"`
}

// encodeHDR encodes h for OpSummary.LatencyHDR ("" if it cannot be encoded).
func encodeHDR(h *hdrhistogram.Histogram) string {
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return ""
	}
	return string(b)
}

// report builds the Report at the end of Run.
func (g *Generator) report(startedAt, warmupEnd, schedEnd time.Time, interrupted bool) *Report {
	cfg := g.cfg
	end := g.cfg.Clock.Now()
	measuredEnd := schedEnd
	if last := g.start.Add(time.Duration(g.lastComplete.Load())); last.After(measuredEnd) {
		measuredEnd = last
	}
	measured := measuredEnd.Sub(warmupEnd)
	if measured <= 0 {
		measured = 0
	}
	rep := &Report{
		Tool:        "loadtest",
		RunID:       cfg.RunID,
		StartedAt:   startedAt.UTC(),
		Config:      runConfig(cfg, len(g.merchants)),
		Target:      g.target.Regions,
		ElapsedS:    round3(end.Sub(g.start).Seconds()),
		MeasuredS:   round3(measured.Seconds()),
		Interrupted: interrupted,
		WarmupOps:   g.warmupOps.Load(),
		Errors:      map[string]int64{},
	}
	for _, m := range g.merchants {
		rep.Merchants = append(rep.Merchants, ReportMerchant{ID: m.ID, HomeRegion: m.HomeRegion})
	}
	ops, subs := g.results.merged()
	var lat, svc []*hdrhistogram.Histogram
	overall := OpSummary{Op: "overall", ErrorsByCode: map[string]int64{}}
	for _, op := range OpTypes {
		s := ops[op]
		if s == nil {
			if cfg.Mix.Share(op) == 0 {
				continue
			}
			s = newOpStats()
		}
		sum := summarize(string(op), s, measured)
		rep.Ops = append(rep.Ops, sum)
		overall.Count += s.count
		overall.OK += s.ok
		overall.Declined += s.declined
		overall.Errors += s.errors
		overall.Unfinished += s.unfinished
		overall.Dropped += s.dropped
		for k, v := range s.codes {
			overall.ErrorsByCode[k] += v
			rep.Errors[k] += v
		}
		lat, svc = append(lat, s.latency), append(svc, s.service)
	}
	all := MergeHistograms(lat...)
	overall.Latency, overall.Service, overall.LatencyHDR = Summarize(all), Summarize(MergeHistograms(svc...)), encodeHDR(all)
	if measured > 0 {
		overall.ThroughputPerS = round3(float64(overall.Count) / measured.Seconds())
	}
	if len(overall.ErrorsByCode) == 0 {
		overall.ErrorsByCode = nil
	}
	rep.Overall = overall
	if len(subs) > 0 {
		rep.Substitutions = map[string]int64{}
		for k, v := range subs {
			rep.Substitutions[string(k)] = v
		}
	}
	rep.Series = g.series.points(end.Sub(g.start))
	g.series.mu.Lock()
	rep.LateSamples = g.series.late
	g.series.mu.Unlock()
	return rep
}

func summarize(op string, s *opStats, measured time.Duration) OpSummary {
	sum := OpSummary{Op: op, Count: s.count, OK: s.ok, Declined: s.declined, Errors: s.errors, Unfinished: s.unfinished, Dropped: s.dropped,
		Latency: Summarize(s.latency), Service: Summarize(s.service), LatencyHDR: encodeHDR(s.latency)}
	if len(s.codes) > 0 {
		sum.ErrorsByCode = maps.Clone(s.codes)
	}
	if measured > 0 {
		sum.ThroughputPerS = round3(float64(s.count) / measured.Seconds())
	}
	return sum
}

func runConfig(c Config, merchants int) RunConfig {
	rc := RunConfig{
		Mode: "closed", Concurrency: c.Concurrency,
		DurationS: c.Duration.Seconds(), WarmupS: c.Warmup.Seconds(), OpsLimit: c.Ops,
		OpTimeoutS: c.OpTimeout.Seconds(), GraceS: c.Grace.Seconds(),
		Mix: c.Mix.String(), Seed: c.Seed, ClientRegion: c.ClientRegion, Currencies: c.Currencies,
		Channels: c.Channels.String(), DeclineShare: c.DeclineShare, PartialCaptureShare: c.PartialCaptureShare,
		MinAmount: c.MinAmount, MaxAmount: c.MaxAmount, MaxRetries: c.MaxRetries,
		BackoffMS: float64(c.Backoff) / float64(time.Millisecond), AttemptTimeoutS: c.AttemptTimeout.Seconds(),
		Merchants: merchants,
	}
	if c.OpenLoop() {
		rc.Mode, rc.RatePerS, rc.MaxInFlight, rc.Concurrency = "open", c.Rate, c.MaxInFlight, 0
	}
	return rc
}

// WriteJSON writes r as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadReport reads a report written by WriteJSON.
func ReadReport(rd io.Reader) (*Report, error) {
	var r Report
	if err := json.NewDecoder(rd).Decode(&r); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return &r, nil
}

// Describe is a one-line description of the run's shape.
func (r *Report) Describe() string {
	c := r.Config
	var b strings.Builder
	if c.Mode == "open" {
		fmt.Fprintf(&b, "open loop at %g/s (max in flight %d)", c.RatePerS, c.MaxInFlight)
	} else {
		fmt.Fprintf(&b, "closed loop, concurrency %d", c.Concurrency)
	}
	fmt.Fprintf(&b, ", %gs", c.DurationS)
	if c.WarmupS > 0 {
		fmt.Fprintf(&b, " after %gs warmup", c.WarmupS)
	}
	if c.OpsLimit > 0 {
		fmt.Fprintf(&b, " or %d ops", c.OpsLimit)
	}
	names := make([]string, len(r.Target))
	for i, t := range r.Target {
		names[i] = t.Name
	}
	fmt.Fprintf(&b, ", %d merchants", c.Merchants)
	if len(names) > 0 {
		fmt.Fprintf(&b, " homed in %s", strings.Join(names, ", "))
	}
	if c.ClientRegion != "" {
		fmt.Fprintf(&b, ", clients in %s", c.ClientRegion)
	}
	fmt.Fprintf(&b, ", seed %d", c.Seed)
	return b.String()
}

// WriteText writes the human summary: a table per operation type and overall, then the
// errors by code.
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "loadtest run %s: %s\n", r.RunID, r.Describe())
	fmt.Fprintf(&b, "measured %.1fs (elapsed %.1fs, %d warmup ops excluded)", r.MeasuredS, r.ElapsedS, r.WarmupOps)
	if r.Interrupted {
		b.WriteString(", INTERRUPTED")
	}
	b.WriteString("\nlatency from the intended start")
	if r.Config.Mode == "open" {
		b.WriteString(" (corrected for coordinated omission); service = from the actual send")
	}
	b.WriteString(", in ms\n\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\tcount\tok\tdeclined\terrors\tunfinished\tdropped\tops/s\tp50\tp90\tp99\tp99.9\tmax\tservice p50\tservice p99\t")
	row := func(s OpSummary) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t\n", s.Op, s.Count, s.OK, s.Declined,
			s.Errors, s.Unfinished, s.Dropped, s.ThroughputPerS, s.Latency.P50, s.Latency.P90, s.Latency.P99, s.Latency.P999, s.Latency.Max,
			s.Service.P50, s.Service.P99)
	}
	for _, s := range r.Ops {
		row(s)
	}
	row(r.Overall)
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Errors) > 0 {
		b.WriteString("\nerrors by code:\n")
		for _, s := range r.Ops {
			for _, code := range slices.Sorted(maps.Keys(s.ErrorsByCode)) {
				fmt.Fprintf(&b, "  %-16s %-32s %d\n", s.Op, code, s.ErrorsByCode[code])
			}
		}
	}
	if len(r.Substitutions) > 0 {
		b.WriteString("\nsubstituted (nothing to act on yet):")
		for _, k := range slices.Sorted(maps.Keys(r.Substitutions)) {
			fmt.Fprintf(&b, " %s %d", k, r.Substitutions[k])
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// FinalLine is the run's one-line summary, printed last on stdout:
//
//	loadtest: ops=N ok=N errors=N dropped=N throughput_per_s=N p50_ms=N p99_ms=N
//
// ops counts the measured operations that completed (ok + declined + errors, plus those the
// generator cancelled at the end, reported as unfinished in the summary).
func FinalLine(r *Report) string {
	o := r.Overall
	return fmt.Sprintf("loadtest: ops=%d ok=%d errors=%d dropped=%d throughput_per_s=%.1f p50_ms=%.2f p99_ms=%.2f",
		o.Count, o.OK, o.Errors, o.Dropped, o.ThroughputPerS, o.Latency.P50, o.Latency.P99)
}
