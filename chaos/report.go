package chaos

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// Summary totals a run.
type Summary struct {
	Experiments int   `json:"experiments"` // run (skipped ones are not counted)
	Passed      int   `json:"passed"`
	Skipped     int   `json:"skipped"`
	Duplicates  int   `json:"duplicates"`
	Lost        int   `json:"lost"`
	Stuck       int   `json:"stuck"`
	MaxGapMS    int64 `json:"max_gap_ms"`
	// Webhooks is whether deliveries were checked; Undelivered and BadSignatures total
	// what the delivery invariant found (both must be 0).
	Webhooks      bool `json:"webhooks"`
	Undelivered   int  `json:"undelivered"`
	BadSignatures int  `json:"bad_signatures"`
}

// Summarize totals results.
func Summarize(rs []Result) Summary {
	var s Summary
	for _, r := range rs {
		if r.Skipped != "" {
			s.Skipped++
			continue
		}
		s.Experiments++
		if r.Passed {
			s.Passed++
		}
		s.Duplicates += r.Duplicates
		s.Lost += r.Lost
		s.Stuck += r.Stuck
		s.MaxGapMS = max(s.MaxGapMS, r.MaxGapMS)
		if w := r.Verdict.Webhooks; w.Checked {
			s.Webhooks = true
			s.Undelivered += w.Undelivered
			s.BadSignatures += w.BadSignatures
		}
	}
	return s
}

// OK reports whether every experiment that ran passed and at least one ran.
func (s Summary) OK() bool { return s.Experiments > 0 && s.Passed == s.Experiments }

// Line is the final summary line.
func (s Summary) Line() string {
	line := fmt.Sprintf("chaos: experiments=%d passed=%d duplicates=%d lost=%d stuck=%d max_gap_ms=%d",
		s.Experiments, s.Passed, s.Duplicates, s.Lost, s.Stuck, s.MaxGapMS)
	if s.Webhooks {
		line += fmt.Sprintf(" undelivered=%d bad_signatures=%d", s.Undelivered, s.BadSignatures)
	}
	return line
}

// WriteTable prints the results as a table, then what broke in failed experiments.
func WriteTable(w io.Writer, rs []Result) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "experiment\tresult\toperations\tacked\tduplicates\tlost\tstuck\tmax gap ms\tp50 fault ms\tp99 fault ms\tsettle ms\t")
	for _, r := range rs {
		result := "pass"
		switch {
		case r.Skipped != "":
			fmt.Fprintf(tw, "%s\tskipped\t\t\t\t\t\t\t\t\t\t\n", r.Name)
			continue
		case !r.Passed:
			result = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", r.Name, result, r.Operations, r.Acknowledged,
			r.Duplicates, r.Lost, r.Stuck, r.MaxGapMS, r.P50FaultMS, r.P99FaultMS, r.SettleMS)
	}
	tw.Flush()
	for _, r := range rs {
		if r.Skipped != "" {
			fmt.Fprintf(w, "\n%s skipped: %s\n", r.Name, r.Skipped)
			continue
		}
		if len(r.Notes) > 0 {
			fmt.Fprintf(w, "\n%s: %s\n", r.Name, strings.Join(r.Notes, "; "))
		}
		if len(r.Alerts) > 0 {
			fmt.Fprintf(w, "  alerts: %s\n", alertLine(r.Alerts))
		}
		v := r.Verdict
		fmt.Fprintf(w, "  checked: %d payments acknowledged, %d channel charges, %d journals, %d outbox events (%d expected, %d missing, %d duplicated), %d payment histories linearizable\n",
			v.AckedPayments, v.ChannelCharges, v.Journals, v.OutboxEvents, v.OutboxExpected, v.OutboxMissing, v.OutboxDuplicates,
			v.Linearizability.Checked-len(v.Linearizability.Illegal)-len(v.Linearizability.Unknown))
		if wh := v.Webhooks; wh.Checked {
			fmt.Fprintf(w, "  webhooks: %d events, %d delivered (%d more than once), %d undelivered, %d badly signed; %d attempts, %d out of version order (each carries updated_at); the last delivered %d ms after settling (-1: not within the bound)\n",
				wh.Events, wh.Delivered, wh.Redelivered, wh.Undelivered, wh.BadSignatures, wh.Attempts, wh.OutOfOrder, r.DeliveredMS)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", r.Error)
		}
		for i, x := range v.Violations {
			if i == 20 {
				fmt.Fprintf(w, "  ... and %d more violations\n", len(v.Violations)-i)
				break
			}
			fmt.Fprintf(w, "  VIOLATION %s: %s\n", x.Invariant, x.Detail)
		}
	}
}

// Report is the JSON file a run writes.
type Report struct {
	StartedAt   time.Time `json:"started_at"`
	Target      []Region  `json:"target"`
	Duration    string    `json:"duration_per_experiment"`
	SettleBound string    `json:"settle_bound"`
	Clients     int       `json:"clients"`
	Experiments []Result  `json:"experiments"`
	Summary     Summary   `json:"summary"`
	// Limits states what the checks do not cover.
	Limits []string `json:"limits"`
}

// Limits are what this suite does not check, stated in every report.
var Limits = []string{
	"webhook delivery is checked only when the suite's receiver runs (the local platform): at least once, signed, versioned; the receiver is on loopback, so the nodes' SSRF guard is off there (-webhooks-allow-private)",
	"the ledger check is the platform's own (journals sum to zero, payments agree with their postings) plus this tool's per-journal sums",
}

// WriteJSON writes the report to path.
func WriteJSON(path string, r Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
