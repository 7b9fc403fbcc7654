// Package monitor holds the abnormal-transaction detectors' decisions: given counts drawn
// from the recent history (by core/postgres), each detector compares them with its baseline
// and says what is abnormal, as Findings. It has no SQL and no clock of its own, so every
// threshold is tested on plain numbers.
//
// Each detector's baseline is documented on its function and in docs/monitoring.md.
package monitor

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Severity of a finding: what an operator must do about it.
type Severity string

// Severities.
const (
	// Warning: look at it within the hour.
	Warning Severity = "warning"
	// Critical: money or merchants are affected now.
	Critical Severity = "critical"
)

// Detector names, as stored with alerts and used in metric labels.
const (
	DetectorSuccessRate  = "success_rate_drop"
	DetectorDeclineBurst = "decline_burst"
	DetectorRefundRate   = "refund_rate_spike"
	DetectorVolume       = "volume_anomaly"
	DetectorStuck        = "stuck_payments"
	DetectorNotifyLag    = "notification_lag"
	DetectorLedger       = "ledger_check"
	DetectorWebhooks     = "webhook_failures"
)

// Detectors lists every detector, in the order they are documented.
var Detectors = []string{DetectorSuccessRate, DetectorDeclineBurst, DetectorRefundRate, DetectorVolume,
	DetectorStuck, DetectorNotifyLag, DetectorWebhooks, DetectorLedger}

// Finding is one abnormal condition a detector found.
type Finding struct {
	Detector string
	Severity Severity
	// Labels say where: merchant, channel, decline_code, status, ... (never card data).
	Labels map[string]string
	// Summary is one line for an operator, with the figures and their units.
	Summary string
	// Value is the detector's measure (a rate, a count, seconds), for sorting and metrics.
	Value float64
}

// Fingerprint names the condition: the detector and its labels. While the condition holds,
// runs on any node produce the same fingerprint, so it is one alert.
func (f Finding) Fingerprint() string {
	return Fingerprint(f.Detector, f.Labels)
}

// Fingerprint hashes a name and its labels, in label order.
func Fingerprint(name string, labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	h.Write([]byte(name))
	for _, k := range keys {
		fmt.Fprintf(h, "\x00%s=%s", k, labels[k])
	}
	return hex.EncodeToString(h.Sum(nil))[:24]
}

// Window is a count of attempts and of successes over a span of time.
type Window struct {
	Attempts  int64
	Successes int64
}

// Rate is successes per attempt (0 without attempts).
func (w Window) Rate() float64 {
	if w.Attempts == 0 {
		return 0
	}
	return float64(w.Successes) / float64(w.Attempts)
}

// SuccessRateConfig tunes DetectSuccessRate.
type SuccessRateConfig struct {
	// Recent is the window looked at. Default 5 minutes.
	Recent time.Duration
	// Baseline is the trailing window before Recent it is compared with. Default 1 hour.
	Baseline time.Duration
	// MinVolume is the fewest attempts each window must hold to be judged. Default 20.
	MinVolume int64
	// MaxDrop is the largest fall in success rate (absolute, 0.2 = 20 points) tolerated.
	// Default 0.2.
	MaxDrop float64
	// CriticalDrop makes the finding critical. Default 0.5.
	CriticalDrop float64
}

// WithDefaults fills in the documented defaults.
func (c SuccessRateConfig) WithDefaults() SuccessRateConfig {
	c.Recent = orDuration(c.Recent, 5*time.Minute)
	c.Baseline = orDuration(c.Baseline, time.Hour)
	if c.MinVolume == 0 {
		c.MinVolume = 20
	}
	c.MaxDrop = orFloat(c.MaxDrop, 0.2)
	c.CriticalDrop = orFloat(c.CriticalDrop, 0.5)
	return c
}

// SuccessSample is one key's (a channel, or a merchant) recent and baseline windows.
type SuccessSample struct {
	Labels   map[string]string
	Recent   Window
	Baseline Window
}

// DetectSuccessRate finds keys whose success rate in the recent window fell by more than
// MaxDrop below the same key's own rate in the trailing baseline window. Baseline: the
// key's own success rate over the hour before the recent window, so a merchant whose
// customers are always declined 30 % of the time is compared with 70 %, not with the
// platform. Both windows need MinVolume attempts: a handful of declines proves nothing.
func DetectSuccessRate(cfg SuccessRateConfig, samples []SuccessSample) []Finding {
	cfg = cfg.WithDefaults()
	var out []Finding
	for _, s := range samples {
		if s.Recent.Attempts < cfg.MinVolume || s.Baseline.Attempts < cfg.MinVolume {
			continue
		}
		drop := s.Baseline.Rate() - s.Recent.Rate()
		if drop <= cfg.MaxDrop {
			continue
		}
		sev := Warning
		if drop >= cfg.CriticalDrop {
			sev = Critical
		}
		out = append(out, Finding{Detector: DetectorSuccessRate, Severity: sev, Labels: s.Labels, Value: s.Recent.Rate(),
			Summary: fmt.Sprintf("success rate %s %.1f %% over the last %s (%d attempts), baseline %.1f %% (%d attempts over the %s before)",
				describe(s.Labels), 100*s.Recent.Rate(), cfg.Recent, s.Recent.Attempts, 100*s.Baseline.Rate(), s.Baseline.Attempts, cfg.Baseline)})
	}
	return out
}

// BurstConfig tunes DetectDeclineBurst.
type BurstConfig struct {
	// Recent is the window looked at. Default 5 minutes.
	Recent time.Duration
	// Baseline is the trailing window before Recent. Default 24 hours.
	Baseline time.Duration
	// MinCount is the fewest declines with one code in the recent window to be a burst.
	// Default 10.
	MinCount int64
	// Factor is how many times the expected count (the baseline's rate over a recent
	// window's length, at least 1) the recent count must reach. Default 5.
	Factor float64
	// Critical lists decline codes that are critical when they burst: card testing shows up
	// as bursts of incorrect_cvc, incorrect_number and insufficient_funds (stolen numbers
	// tried with small amounts). Default those three and expired_card.
	Critical []string
}

// WithDefaults fills in the documented defaults.
func (c BurstConfig) WithDefaults() BurstConfig {
	c.Recent = orDuration(c.Recent, 5*time.Minute)
	c.Baseline = orDuration(c.Baseline, 24*time.Hour)
	if c.MinCount == 0 {
		c.MinCount = 10
	}
	c.Factor = orFloat(c.Factor, 5)
	if c.Critical == nil {
		c.Critical = []string{"incorrect_cvc", "incorrect_number", "insufficient_funds", "expired_card"}
	}
	return c
}

// CountSample is one key's count in the recent window and in the baseline window.
type CountSample struct {
	Labels   map[string]string
	Recent   int64
	Baseline int64
}

// Expected scales a baseline count over baseline to the length of recent, at least 1.
func Expected(baseline int64, baselineLen, recentLen time.Duration) float64 {
	if baselineLen <= 0 {
		return 1
	}
	return math.Max(1, float64(baseline)*float64(recentLen)/float64(baselineLen))
}

// DetectDeclineBurst finds decline codes (per merchant and code) whose count in the recent
// window is at least MinCount and Factor times what the trailing 24 hours predict for a
// window that long. Baseline: the same merchant and code's declines over the previous day,
// scaled to the window (at least 1), so a merchant with many routine declines needs a
// proportionally larger burst.
func DetectDeclineBurst(cfg BurstConfig, samples []CountSample) []Finding {
	cfg = cfg.WithDefaults()
	var out []Finding
	for _, s := range samples {
		want := Expected(s.Baseline, cfg.Baseline, cfg.Recent)
		if s.Recent < cfg.MinCount || float64(s.Recent) < cfg.Factor*want {
			continue
		}
		sev := Warning
		for _, c := range cfg.Critical {
			if s.Labels["decline_code"] == c {
				sev = Critical
			}
		}
		out = append(out, Finding{Detector: DetectorDeclineBurst, Severity: sev, Labels: s.Labels, Value: float64(s.Recent),
			Summary: fmt.Sprintf("%d declines %s in the last %s, %.1f expected from the previous %s",
				s.Recent, describe(s.Labels), cfg.Recent, want, cfg.Baseline)})
	}
	return out
}

// RefundConfig tunes DetectRefundRate.
type RefundConfig struct {
	// Recent is the window looked at. Default 1 hour.
	Recent time.Duration
	// Baseline is the trailing window before Recent. Default 7 days.
	Baseline time.Duration
	// MinRefunds is the fewest refunds in the recent window to judge. Default 5.
	MinRefunds int64
	// Factor is how many times the baseline ratio the recent ratio must reach. Default 3.
	Factor float64
	// MinRatio is the smallest recent ratio (refunds per payment) that can fire. Default 0.1.
	MinRatio float64
}

// WithDefaults fills in the documented defaults.
func (c RefundConfig) WithDefaults() RefundConfig {
	c.Recent = orDuration(c.Recent, time.Hour)
	c.Baseline = orDuration(c.Baseline, 7*24*time.Hour)
	if c.MinRefunds == 0 {
		c.MinRefunds = 5
	}
	c.Factor = orFloat(c.Factor, 3)
	c.MinRatio = orFloat(c.MinRatio, 0.1)
	return c
}

// RefundSample is a merchant's payments and refunds created in each window.
type RefundSample struct {
	Labels                            map[string]string
	RecentPayments, RecentRefunds     int64
	BaselinePayments, BaselineRefunds int64
}

// DetectRefundRate finds merchants whose refunds per payment over the last hour reached
// Factor times their own ratio over the previous 7 days (and at least MinRatio, with at
// least MinRefunds refunds). Baseline: the merchant's refunds per payment over the week
// before; a merchant with no history is compared with MinRatio / Factor.
func DetectRefundRate(cfg RefundConfig, samples []RefundSample) []Finding {
	cfg = cfg.WithDefaults()
	var out []Finding
	for _, s := range samples {
		if s.RecentRefunds < cfg.MinRefunds {
			continue
		}
		ratio := float64(s.RecentRefunds) / math.Max(1, float64(s.RecentPayments))
		base := cfg.MinRatio / cfg.Factor
		if s.BaselinePayments > 0 {
			base = math.Max(base, float64(s.BaselineRefunds)/float64(s.BaselinePayments))
		}
		if ratio < cfg.MinRatio || ratio < cfg.Factor*base {
			continue
		}
		out = append(out, Finding{Detector: DetectorRefundRate, Severity: Warning, Labels: s.Labels, Value: ratio,
			Summary: fmt.Sprintf("%d refunds per 100 payments %s over the last %s (%d refunds, %d payments), baseline %.1f over the previous %s",
				int64(math.Round(100*ratio)), describe(s.Labels), cfg.Recent, s.RecentRefunds, s.RecentPayments, 100*base, cfg.Baseline)})
	}
	return out
}

// VolumeConfig tunes DetectVolume.
type VolumeConfig struct {
	// Recent is the window looked at, compared with the same window of each previous day.
	// Default 1 hour.
	Recent time.Duration
	// Days is how many previous days form the baseline. Default 7.
	Days int
	// MinDays is the fewest previous days with payments the baseline needs. Default 3.
	MinDays int
	// MinBaseline is the smallest baseline (median payments) that can be judged. Default 30.
	MinBaseline float64
	// Spike and Drop: recent / baseline above Spike or below Drop fire. Defaults 3 and 0.3.
	Spike, Drop float64
}

// WithDefaults fills in the documented defaults.
func (c VolumeConfig) WithDefaults() VolumeConfig {
	c.Recent = orDuration(c.Recent, time.Hour)
	if c.Days == 0 {
		c.Days = 7
	}
	if c.MinDays == 0 {
		c.MinDays = 3
	}
	c.MinBaseline = orFloat(c.MinBaseline, 30)
	c.Spike = orFloat(c.Spike, 3)
	c.Drop = orFloat(c.Drop, 0.3)
	return c
}

// VolumeSample is a key's (a channel's) payments in the recent window and in the same
// window of each previous day (PreviousDays[0] is yesterday; days without payments are 0).
type VolumeSample struct {
	Labels       map[string]string
	Recent       int64
	PreviousDays []int64
}

// DetectVolume finds channels whose payments in the last hour are far above (Spike) or below
// (Drop) the median of the same hour on the previous days. Baseline: the median of the same
// clock hour over the last 7 days, needing MinDays days with payments and a median of at
// least MinBaseline, so a new channel or a quiet night is not judged. A drop is critical
// (payments are not reaching us); a spike is a warning (a campaign, or an attack).
func DetectVolume(cfg VolumeConfig, samples []VolumeSample) []Finding {
	cfg = cfg.WithDefaults()
	var out []Finding
	for _, s := range samples {
		var days []int64
		for _, d := range s.PreviousDays {
			if d > 0 {
				days = append(days, d)
			}
		}
		if len(days) < cfg.MinDays {
			continue
		}
		base := median(s.PreviousDays)
		if base < cfg.MinBaseline {
			continue
		}
		ratio := float64(s.Recent) / base
		var sev Severity
		var kind string
		switch {
		case ratio >= cfg.Spike:
			sev, kind = Warning, "spike"
		case ratio <= cfg.Drop:
			sev, kind = Critical, "drop"
		default:
			continue
		}
		labels := with(s.Labels, "direction", kind)
		out = append(out, Finding{Detector: DetectorVolume, Severity: sev, Labels: labels, Value: ratio,
			Summary: fmt.Sprintf("volume %s %s: %d payments in the last %s, median %.0f in the same window of the previous %d days",
				kind, describe(s.Labels), s.Recent, cfg.Recent, base, len(s.PreviousDays))})
	}
	return out
}

// StuckConfig tunes DetectStuck.
type StuckConfig struct {
	// Processing is how long a payment may stay processing (a channel call whose answer is
	// unknown; the recovery worker asks the channel). Default 10 minutes.
	Processing time.Duration
	// RequiresAction is how long a payment may wait for its customer (a wallet's QR code, a
	// bank transfer's instructions). Default 24 hours.
	RequiresAction time.Duration
}

// WithDefaults fills in the documented defaults.
func (c StuckConfig) WithDefaults() StuckConfig {
	c.Processing = orDuration(c.Processing, 10*time.Minute)
	c.RequiresAction = orDuration(c.RequiresAction, 24*time.Hour)
	return c
}

// StuckSample is how many payments of a status and channel are past the status's bound, and
// the oldest one's age.
type StuckSample struct {
	Labels map[string]string // status, channel
	Count  int64
	Oldest time.Duration
}

// DetectStuck reports payments past their status's bound: processing beyond 10 minutes is
// critical (the recovery worker sweeps every few seconds and should have settled it);
// requires_action beyond 24 hours is a warning (customers abandon, but a wallet that never
// notifies looks the same). Baseline: none, a fixed bound per status; the queries count only
// payments past it.
func DetectStuck(cfg StuckConfig, samples []StuckSample) []Finding {
	cfg = cfg.WithDefaults()
	var out []Finding
	for _, s := range samples {
		if s.Count == 0 {
			continue
		}
		sev, bound := Warning, cfg.RequiresAction
		if s.Labels["status"] == "processing" {
			sev, bound = Critical, cfg.Processing
		}
		out = append(out, Finding{Detector: DetectorStuck, Severity: sev, Labels: s.Labels, Value: float64(s.Count),
			Summary: fmt.Sprintf("%d payments %s past %s, the oldest %s old",
				s.Count, describe(s.Labels), bound, s.Oldest.Round(time.Second))})
	}
	return out
}

// LagConfig tunes DetectNotificationLag.
type LagConfig struct {
	// Recent is the window of notifications looked at. Default 15 minutes.
	Recent time.Duration
	// MinCount is the fewest notifications to judge. Default 5.
	MinCount int64
	// P90 is the largest tolerated 90th percentile of the time from a payment's creation to
	// its channel's notification. Default 2 minutes.
	P90 time.Duration
}

// WithDefaults fills in the documented defaults.
func (c LagConfig) WithDefaults() LagConfig {
	c.Recent = orDuration(c.Recent, 15*time.Minute)
	if c.MinCount == 0 {
		c.MinCount = 5
	}
	c.P90 = orDuration(c.P90, 2*time.Minute)
	return c
}

// LagSample is a channel's notifications in the recent window: how many, and their
// delays from the payment's creation.
type LagSample struct {
	Labels map[string]string
	Lags   []time.Duration
}

// DetectNotificationLag finds channels whose notifications (WeChat Pay, Alipay, the bank)
// arrive late: the 90th percentile of the time from a payment's creation to its
// notification, over the last 15 minutes, above 2 minutes. Baseline: a fixed bound (the
// channels' documented delivery, seconds; customers take a minute to scan and confirm).
func DetectNotificationLag(cfg LagConfig, samples []LagSample) []Finding {
	cfg = cfg.WithDefaults()
	var out []Finding
	for _, s := range samples {
		if int64(len(s.Lags)) < cfg.MinCount {
			continue
		}
		p90 := Percentile(s.Lags, 0.9)
		if p90 <= cfg.P90 {
			continue
		}
		out = append(out, Finding{Detector: DetectorNotifyLag, Severity: Warning, Labels: s.Labels, Value: p90.Seconds(),
			Summary: fmt.Sprintf("notifications %s: p90 %s from payment to notification over the last %s (%d notifications), bound %s",
				describe(s.Labels), p90.Round(time.Second), cfg.Recent, len(s.Lags), cfg.P90)})
	}
	return out
}

// WebhookConfig tunes DetectWebhookFailures.
type WebhookConfig struct {
	// Recent is the window of delivery attempts looked at. Default 15 minutes.
	Recent time.Duration
	// MinAttempts is the fewest attempts to an endpoint in the window to judge. Default 10.
	MinAttempts int64
	// MaxFailureRate is the largest tolerated share of failed attempts. Default 0.5.
	MaxFailureRate float64
}

// WithDefaults fills in the documented defaults.
func (c WebhookConfig) WithDefaults() WebhookConfig {
	c.Recent = orDuration(c.Recent, 15*time.Minute)
	if c.MinAttempts == 0 {
		c.MinAttempts = 10
	}
	c.MaxFailureRate = orFloat(c.MaxFailureRate, 0.5)
	return c
}

// WebhookSample is one endpoint's delivery attempts in the recent window.
type WebhookSample struct {
	Labels   map[string]string
	Attempts int64
	Failures int64
}

// DetectWebhookFailures finds webhook endpoints whose deliveries fail: more than half of
// the attempts to one endpoint over the last 15 minutes failed (no answer, or not a 2xx),
// with at least 10 attempts. Baseline: a fixed bound (a healthy endpoint answers nearly
// every attempt; retries of one failing event alone stay under the minimum). Every attempt
// failing is critical (the endpoint is down, and is disabled after three days); fewer is a
// warning.
func DetectWebhookFailures(cfg WebhookConfig, samples []WebhookSample) []Finding {
	cfg = cfg.WithDefaults()
	var out []Finding
	for _, s := range samples {
		if s.Attempts < cfg.MinAttempts {
			continue
		}
		rate := float64(s.Failures) / float64(s.Attempts)
		if rate <= cfg.MaxFailureRate {
			continue
		}
		sev := Warning
		if s.Failures == s.Attempts {
			sev = Critical
		}
		out = append(out, Finding{Detector: DetectorWebhooks, Severity: sev, Labels: s.Labels, Value: rate,
			Summary: fmt.Sprintf("webhook deliveries %s: %.0f %% of %d attempts failed over the last %s (bound %.0f %%)",
				describe(s.Labels), 100*rate, s.Attempts, cfg.Recent, 100*cfg.MaxFailureRate)})
	}
	return out
}

// LedgerResult is what the whole-ledger check found.
type LedgerResult struct {
	Balanced           bool
	UnbalancedJournals int
	PaymentMismatches  int
}

// DetectLedger reports a failed whole-ledger check: always critical. Baseline: none; the
// ledger either balances or it does not.
func DetectLedger(r LedgerResult) []Finding {
	if r.Balanced {
		return nil
	}
	return []Finding{{Detector: DetectorLedger, Severity: Critical, Labels: map[string]string{},
		Value: float64(r.UnbalancedJournals + r.PaymentMismatches),
		Summary: fmt.Sprintf("ledger check failed: %d unbalanced journals, %d payments disagreeing with their postings",
			r.UnbalancedJournals, r.PaymentMismatches)}}
}

// Percentile is the q-quantile (nearest rank) of ds; 0 for none.
func Percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func median(xs []int64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]int64(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return float64(s[len(s)/2])
	}
	return float64(s[len(s)/2-1]+s[len(s)/2]) / 2
}

func describe(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+labels[k])
	}
	if len(parts) == 0 {
		return "platform-wide"
	}
	return "for " + strings.Join(parts, " ")
}

func with(labels map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(labels)+1)
	for lk, lv := range labels {
		out[lk] = lv
	}
	out[k] = v
	return out
}

func orDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func orFloat(f, def float64) float64 {
	if f == 0 {
		return def
	}
	return f
}
