package core

import (
	"fmt"
	"strings"
	"time"
)

// Payout schedules: how often a merchant's available balance is paid out on its own.
const (
	ScheduleDaily  = "daily"
	ScheduleWeekly = "weekly"
	ScheduleManual = "manual"
)

// MaxPayoutDelayDays bounds a schedule's delay_days.
const MaxPayoutDelayDays = 30

// PayoutSchedule is a merchant's payout schedule. Manual (the default): payouts only on
// request. Daily: every day (UTC) one automatic payout per currency of the bank account, of
// what is available. Weekly: the same, on WeeklyAnchor only. DelayDays holds back money that
// became available less than that many days ago: it goes with a later payout.
type PayoutSchedule struct {
	Object       string     `json:"object"`
	Merchant     string     `json:"merchant"`
	Interval     string     `json:"interval"`
	WeeklyAnchor string     `json:"weekly_anchor,omitempty"` // monday … sunday, weekly only
	DelayDays    int        `json:"delay_days"`
	UpdatedAt    *time.Time `json:"updated_at"`
}

// PayoutScheduleParams set a payout schedule.
type PayoutScheduleParams struct {
	Interval     string `json:"interval"`
	WeeklyAnchor string `json:"weekly_anchor,omitempty"`
	DelayDays    *int   `json:"delay_days,omitempty"`
}

// Validate checks p and fills defaults (weekly on monday, delay 0).
func (p *PayoutScheduleParams) Validate() error {
	switch p.Interval {
	case ScheduleDaily, ScheduleManual:
		if p.WeeklyAnchor != "" {
			return ParamError(CodeParameterInvalid, "weekly_anchor", "weekly_anchor is for the weekly interval only.")
		}
	case ScheduleWeekly:
		if p.WeeklyAnchor == "" {
			p.WeeklyAnchor = "monday"
		}
		if _, ok := weekdays[p.WeeklyAnchor]; !ok {
			return ParamError(CodeParameterInvalid, "weekly_anchor", "weekly_anchor must be a day of the week in lower case, such as \"monday\".")
		}
	default:
		return ParamError(CodeParameterInvalid, "interval", "interval must be daily, weekly or manual.")
	}
	if p.DelayDays == nil {
		p.DelayDays = new(int)
	}
	if *p.DelayDays < 0 || *p.DelayDays > MaxPayoutDelayDays {
		return ParamError(CodeParameterInvalid, "delay_days", "delay_days must be from 0 to %d.", MaxPayoutDelayDays)
	}
	return nil
}

var weekdays = map[string]time.Weekday{"sunday": time.Sunday, "monday": time.Monday, "tuesday": time.Tuesday,
	"wednesday": time.Wednesday, "thursday": time.Thursday, "friday": time.Friday, "saturday": time.Saturday}

// Weekday is the anchor as a time.Weekday.
func (s *PayoutSchedule) Weekday() time.Weekday { return weekdays[s.WeeklyAnchor] }

// WeekdayName is the schedule's name of a weekday.
func WeekdayName(d time.Weekday) string { return strings.ToLower(d.String()) }

// Period is the schedule's payout period at now (UTC): its name, and whether an automatic
// payout is due in it. Daily: every UTC day is a period; weekly: the anchor day is, and the
// other days are not due; manual: none is.
func (s *PayoutSchedule) Period(now time.Time) (string, bool) {
	day := now.UTC().Format(time.DateOnly)
	switch s.Interval {
	case ScheduleDaily:
		return "daily " + day, true
	case ScheduleWeekly:
		return "weekly " + day, now.UTC().Weekday() == s.Weekday()
	}
	return "", false
}

// Held is the cut-off of the schedule's delay at now: money that became available after it is
// held back from the automatic payout.
func (s *PayoutSchedule) Held(now time.Time) time.Time {
	return now.Add(-time.Duration(s.DelayDays) * 24 * time.Hour)
}

// AutomaticPayoutKey is the idempotency key of a schedule's payout for period and currency:
// one per merchant, period and currency, whichever node makes it. It has spaces, which a
// client's Idempotency-Key may not, so no request can take it.
func AutomaticPayoutKey(period, currency string) string {
	return fmt.Sprintf("payout schedule %s %s", period, currency)
}
