package risk

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
)

// AML case kinds, one per detector.
const (
	CaseStructuring   = "structuring"
	CaseRapidMovement = "rapid_movement"
	CaseHighVolume    = "high_volume"
	CaseSanctions     = "sanctions"
)

// AML case statuses.
const (
	CaseOpen      = "open"
	CaseEscalated = "escalated"
	CaseClosed    = "closed"
)

// Case is an AML case a detector opened, for an analyst to work.
type Case struct {
	ID        string         `json:"id"`
	Object    string         `json:"object"`
	Kind      string         `json:"kind"`
	Subject   string         `json:"subject"`
	Merchant  *string        `json:"merchant"`
	Status    string         `json:"status"`
	Detail    map[string]any `json:"detail"`
	OpenedAt  time.Time      `json:"opened_at"`
	UpdatedAt time.Time      `json:"updated_at"`
	// DedupKey makes a detector's finding open one case however often it runs.
	DedupKey string `json:"-"`
}

// CaseParams change a case's status, with the analyst's note.
type CaseParams struct {
	Status string `json:"status"`
	Note   string `json:"note"`
}

// Validate checks p.
func (p *CaseParams) Validate() error {
	switch p.Status {
	case CaseOpen, CaseEscalated, CaseClosed:
	case "":
		return core.ParamError(core.CodeParameterMissing, "status", "status is required: open, escalated or closed.")
	default:
		return core.ParamError(core.CodeParameterInvalid, "status", "status must be open, escalated or closed.")
	}
	return core.ValidateText("note", p.Note, 2000, core.Multiline)
}

// AMLConfig sets the detectors' thresholds. Amounts are in minor units of each currency
// (payments of different currencies are never added up).
type AMLConfig struct {
	// ReportingThreshold is the amount from which a payment is reported (10,000.00: 1000000).
	ReportingThreshold int64
	// StructuringBand: a payment at least ReportingThreshold×(1−band) and below the threshold
	// is "just below" it. Default 0.1.
	StructuringBand float64
	// StructuringCount payments just below the threshold from one payer within
	// StructuringWindow open a case. Defaults 3 and 24h.
	StructuringCount  int
	StructuringWindow time.Duration
	// RapidWindow: a payment refunded (at least RapidFraction of it) within this time of its
	// capture is rapid movement. Defaults 1h and 0.5.
	RapidWindow   time.Duration
	RapidFraction float64
	// HighVolume: a payer's captured payments adding up to this within VolumeWindow open a
	// case. Defaults 5000000 (50,000.00) and 30 days.
	HighVolume   int64
	VolumeWindow time.Duration
}

// WithDefaults fills in the defaults.
func (c AMLConfig) WithDefaults() AMLConfig {
	if c.ReportingThreshold == 0 {
		c.ReportingThreshold = 1_000_000
	}
	if c.StructuringBand == 0 {
		c.StructuringBand = 0.1
	}
	if c.StructuringCount == 0 {
		c.StructuringCount = 3
	}
	if c.StructuringWindow == 0 {
		c.StructuringWindow = 24 * time.Hour
	}
	if c.RapidWindow == 0 {
		c.RapidWindow = time.Hour
	}
	if c.RapidFraction == 0 {
		c.RapidFraction = 0.5
	}
	if c.HighVolume == 0 {
		c.HighVolume = 5_000_000
	}
	if c.VolumeWindow == 0 {
		c.VolumeWindow = 30 * 24 * time.Hour
	}
	return c
}

// Settled is a settled (captured) payment as the detectors see it, with what was refunded
// of it.
type Settled struct {
	PaymentID  string
	MerchantID string
	// Payer is who paid: "card:<fingerprint>", "email:<address>" or "customer:<id>".
	Payer      string
	PayerName  string
	Amount     int64
	Currency   string
	CapturedAt time.Time
	Refunded   int64
	// FirstRefundAt is when the first successful refund was made, if any.
	FirstRefundAt *time.Time
}

// PayerOf is the payer key of a payment: its customer's email or ID, else its card.
func PayerOf(p *core.Payment) string {
	if c := p.Customer; c != nil {
		if c.Email != "" {
			return "email:" + strings.ToLower(c.Email)
		}
		if c.ID != "" {
			return "customer:" + c.ID
		}
	}
	if pm := p.PaymentMethod; pm != nil && pm.Fingerprint != "" {
		return "card:" + pm.Fingerprint
	}
	return ""
}

func merchantRef(id string) *string { return &id }

// DetectStructuring finds payers who made StructuringCount or more payments just below the
// reporting threshold within StructuringWindow: one case per run of such payments, keyed by
// its first payment.
func DetectStructuring(cfg AMLConfig, txns []Settled) []Case {
	cfg = cfg.WithDefaults()
	low := int64(float64(cfg.ReportingThreshold) * (1 - cfg.StructuringBand))
	groups := map[string][]Settled{}
	for _, t := range txns {
		if t.Payer != "" && t.Amount >= low && t.Amount < cfg.ReportingThreshold {
			k := t.MerchantID + "\x00" + t.Payer + "\x00" + t.Currency
			groups[k] = append(groups[k], t)
		}
	}
	var out []Case
	for _, g := range sortedGroups(groups) {
		sort.Slice(g, func(i, j int) bool { return g[i].CapturedAt.Before(g[j].CapturedAt) })
		for start := 0; start < len(g); {
			end := start
			for end+1 < len(g) && g[end+1].CapturedAt.Sub(g[start].CapturedAt) <= cfg.StructuringWindow {
				end++
			}
			if n := end - start + 1; n >= cfg.StructuringCount {
				ids, total := make([]string, 0, n), int64(0)
				for _, t := range g[start : end+1] {
					ids = append(ids, t.PaymentID)
					total += t.Amount
				}
				out = append(out, Case{Kind: CaseStructuring, Subject: g[start].Payer, Merchant: merchantRef(g[start].MerchantID),
					DedupKey: CaseStructuring + ":" + g[start].PaymentID,
					Detail: map[string]any{"payments": ids, "count": n, "total": total, "currency": g[start].Currency,
						"threshold": cfg.ReportingThreshold, "window": cfg.StructuringWindow.String()}})
				start = end + 1
				continue
			}
			start++
		}
	}
	return out
}

// DetectRapidMovement finds payments refunded (RapidFraction or more of them) within
// RapidWindow of their capture: money in and straight back out.
func DetectRapidMovement(cfg AMLConfig, txns []Settled) []Case {
	cfg = cfg.WithDefaults()
	var out []Case
	for _, t := range txns {
		if t.FirstRefundAt == nil || float64(t.Refunded) < cfg.RapidFraction*float64(t.Amount) ||
			t.FirstRefundAt.Sub(t.CapturedAt) > cfg.RapidWindow {
			continue
		}
		out = append(out, Case{Kind: CaseRapidMovement, Subject: t.Payer, Merchant: merchantRef(t.MerchantID),
			DedupKey: CaseRapidMovement + ":" + t.PaymentID,
			Detail: map[string]any{"payment": t.PaymentID, "amount": t.Amount, "refunded": t.Refunded, "currency": t.Currency,
				"seconds_to_refund": int64(t.FirstRefundAt.Sub(t.CapturedAt).Seconds())}})
	}
	return out
}

// DetectHighVolume finds payers whose captured payments (less refunds) at one merchant in one
// currency add up to HighVolume or more within the VolumeWindow before now: one case per
// payer and window period.
func DetectHighVolume(cfg AMLConfig, txns []Settled, now time.Time) []Case {
	cfg = cfg.WithDefaults()
	since := now.Add(-cfg.VolumeWindow)
	type agg struct {
		first Settled
		total int64
		n     int
	}
	sums := map[string]*agg{}
	var keys []string
	for _, t := range txns {
		if t.Payer == "" || t.CapturedAt.Before(since) {
			continue
		}
		k := t.MerchantID + "\x00" + t.Payer + "\x00" + t.Currency
		a := sums[k]
		if a == nil {
			a = &agg{first: t}
			sums[k] = a
			keys = append(keys, k)
		}
		a.total += t.Amount - t.Refunded
		a.n++
	}
	sort.Strings(keys)
	period := now.Truncate(cfg.VolumeWindow).Format("2006-01-02")
	var out []Case
	for _, k := range keys {
		a := sums[k]
		if a.total < cfg.HighVolume {
			continue
		}
		out = append(out, Case{Kind: CaseHighVolume, Subject: a.first.Payer, Merchant: merchantRef(a.first.MerchantID),
			DedupKey: fmt.Sprintf("%s:%s:%s:%s:%s", CaseHighVolume, a.first.MerchantID, a.first.Payer, a.first.Currency, period),
			Detail: map[string]any{"total": a.total, "payments": a.n, "currency": a.first.Currency,
				"threshold": cfg.HighVolume, "window": cfg.VolumeWindow.String()}})
	}
	return out
}

// ScreenedName is a name to screen against the sanctions list: a merchant's (its name, its
// KYC legal name, its representative's), or a payer's as the merchant gave it.
type ScreenedName struct {
	Kind       string // merchant, legal_name, representative or payer
	Name       string
	MerchantID string
	Subject    string // the merchant ID, or the payer key
}

// DetectSanctions screens names against the list: one case per (subject, listed party).
func DetectSanctions(l *SanctionsList, names []ScreenedName) []Case {
	if l == nil {
		return nil
	}
	var out []Case
	for _, n := range names {
		for _, m := range l.Screen(n.Name) {
			out = append(out, Case{Kind: CaseSanctions, Subject: n.Subject, Merchant: merchantRef(n.MerchantID),
				DedupKey: CaseSanctions + ":" + n.Subject + ":" + m.Party.EntNum,
				Detail: map[string]any{"screened": n.Kind, "name": n.Name, "listed_name": m.Party.Name, "ent_num": m.Party.EntNum,
					"program": m.Party.Program, "score": float64(int(m.Score*1000)) / 1000, "threshold": SanctionsThreshold}})
		}
	}
	return out
}

func sortedGroups(m map[string][]Settled) [][]Settled {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]Settled, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}
