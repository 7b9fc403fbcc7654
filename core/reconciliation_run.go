package core

import "time"

// PrefixReconciliationRun prefixes the IDs of stored reconciliation runs.
const PrefixReconciliationRun = "rec"

// Reconciliation run statuses: running until the statement is fetched and compared, then
// balanced, differences (some lines disagree) or failed (the statement could not be had).
const (
	RunRunning     = "running"
	RunBalanced    = "balanced"
	RunDifferences = "differences"
	RunFailed      = "failed"
)

// ReconciliationRun is one stored run of a channel's day's reconciliation: who started it,
// when, and what it found (its differences are ReconciliationDifference rows).
type ReconciliationRun struct {
	ID      string  `json:"id"`
	Channel Channel `json:"channel"`
	Date    string  `json:"date"` // YYYY-MM-DD, UTC
	// Actor started the run: a back-office user's Actor(), or "operator" for the admin API.
	Actor         string     `json:"actor"`
	Status        string     `json:"status"`
	ChannelLines  int        `json:"channel_lines"`
	PlatformLines int        `json:"platform_lines"`
	Matched       int        `json:"matched"`
	Differences   int        `json:"differences"`
	Error         string     `json:"error,omitempty"`
	StartedAt     time.Time  `json:"started_at"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`
}

// Kinds of reconciliation differences.
const (
	DiffMissingOnPlatform = "missing_on_platform"
	DiffMissingOnChannel  = "missing_on_channel"
	DiffAmountMismatch    = "amount_mismatch"
)

// ReconciliationDifference is one line of a run on which the channel and the platform
// disagree. PlatformAmount or ChannelAmount is nil on the side that lacks the line.
type ReconciliationDifference struct {
	Kind           string `json:"kind"`
	LineKind       string `json:"line_kind"` // charge or refund
	PaymentID      string `json:"payment_id"`
	RefundID       string `json:"refund_id,omitempty"`
	Currency       string `json:"currency"`
	PlatformAmount *int64 `json:"platform_amount"`
	ChannelAmount  *int64 `json:"channel_amount"`
}

// Differences lists a report's disagreeing lines as stored differences.
func (r *ReconciliationReport) Differences() []ReconciliationDifference {
	var out []ReconciliationDifference
	amt := func(v int64) *int64 { return &v }
	for _, l := range r.MissingOnPlatform {
		out = append(out, ReconciliationDifference{Kind: DiffMissingOnPlatform, LineKind: l.Kind, PaymentID: l.PaymentID,
			RefundID: l.RefundID, Currency: l.Currency, ChannelAmount: amt(l.Amount)})
	}
	for _, l := range r.MissingOnChannel {
		out = append(out, ReconciliationDifference{Kind: DiffMissingOnChannel, LineKind: l.Kind, PaymentID: l.PaymentID,
			RefundID: l.RefundID, Currency: l.Currency, PlatformAmount: amt(l.Amount)})
	}
	for _, m := range r.AmountMismatches {
		out = append(out, ReconciliationDifference{Kind: DiffAmountMismatch, LineKind: m.Kind, PaymentID: m.PaymentID,
			RefundID: m.RefundID, Currency: m.Currency, PlatformAmount: amt(m.PlatformAmount), ChannelAmount: amt(m.ChannelAmount)})
	}
	return out
}
