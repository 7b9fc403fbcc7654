package core

import (
	"fmt"
	"time"
)

// FeeSchedule is what the platform charges a merchant for a captured payment: PercentBps
// basis points of the captured amount plus Fixed minor units of the payment's currency.
type FeeSchedule struct {
	// PercentBps is the proportional part, in basis points (1/100 of a percent): 0..10000.
	PercentBps int64 `json:"percent_bps"`
	// Fixed is the fixed part, in minor units of the payment's currency.
	Fixed int64 `json:"fixed"`
	// RefundFees says a refund returns the fee in proportion to the amount refunded.
	RefundFees bool `json:"refund_fees"`
}

// Validate reports a parameter error for a schedule out of range.
func (f FeeSchedule) Validate() error {
	if f.PercentBps < 0 || f.PercentBps > 10_000 {
		return ParamError(CodeParameterInvalid, "percent_bps", "percent_bps must be from 0 to 10000 (basis points).")
	}
	if f.Fixed < 0 || f.Fixed > MaxAmount {
		return ParamError(CodeParameterInvalid, "fixed", "fixed must be from 0 to %d (minor units).", MaxAmount)
	}
	return nil
}

// Fee is the fee on a captured amount, in minor units: amount × percent_bps / 10000 rounded
// half to even on the minor unit, plus the fixed part, never more than the amount itself.
// The arithmetic is on integers only: amounts are at most MaxAmount and basis points at most
// 10000, so the product fits an int64 with room to spare.
func (f FeeSchedule) Fee(amount int64) int64 {
	if amount <= 0 {
		return 0
	}
	fee := MulDivHalfEven(amount, f.PercentBps, 10_000) + f.Fixed
	return min(fee, amount)
}

// MulDivHalfEven is a×b/c rounded half to even, for a, b ≥ 0 and c > 0.
func MulDivHalfEven(a, b, c int64) int64 {
	n := a * b
	q, r := n/c, n%c
	switch {
	case 2*r > c:
		q++
	case 2*r == c && q%2 == 1:
		q++
	}
	return q
}

// Terms are the merchant's commercial terms a payment is made under, fixed when it is
// created: the fee schedule for its channel and when its money becomes available.
type Terms struct {
	Fees FeeSchedule `json:"fees"`
	// DelayDays is N of T+N: captured money becomes available N days after the day of
	// its capture, at the start of the day in TimeZone. Default 2.
	DelayDays int `json:"delay_days"`
	// TimeZone is the IANA zone of the merchant's settlement day. Default UTC.
	TimeZone string `json:"time_zone"`
}

// DefaultDelayDays is the T+N delay of a merchant whose terms do not say.
const DefaultDelayDays = 2

// ValidateSettlement reports a parameter error for a delay or zone that cannot be used.
func ValidateSettlement(delayDays int, zone string) error {
	if delayDays < 0 || delayDays > 30 {
		return ParamError(CodeParameterInvalid, "delay_days", "delay_days must be from 0 to 30.")
	}
	if _, err := time.LoadLocation(zone); err != nil || zone == "" || zone == "Local" {
		return ParamError(CodeParameterInvalid, "time_zone", "Unknown time zone %q.", zone)
	}
	return nil
}

// AvailableOn is when money captured at t becomes available: the start of the day
// DelayDays after t's day, in the terms' time zone.
func (t *Terms) AvailableOn(at time.Time) time.Time {
	if t == nil {
		return at
	}
	loc, err := time.LoadLocation(t.TimeZone)
	if err != nil || t.TimeZone == "" {
		loc = time.UTC
	}
	l := at.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()+t.DelayDays, 0, 0, 0, 0, loc).UTC()
}

// fee is the fee on captured under the terms (none for payments made before terms).
func (t *Terms) fee(captured int64) int64 {
	if t == nil {
		return 0
	}
	return t.Fees.Fee(captured)
}

// refundedFee is the part of the fee on captured returned once refunded of it is refunded:
// in proportion, rounded half to even, so that refunding everything returns the whole fee
// whatever the partial refunds before were.
func (t *Terms) refundedFee(captured, refunded int64) int64 {
	if t == nil || !t.Fees.RefundFees || captured <= 0 {
		return 0
	}
	if refunded >= captured {
		return t.fee(captured)
	}
	return MulDivHalfEven(t.fee(captured), refunded, captured)
}

// String renders the schedule as an operator reads it, e.g. "2.90% + 30 minor units".
func (f FeeSchedule) String() string {
	return fmt.Sprintf("%d.%02d%% + %d minor units", f.PercentBps/100, f.PercentBps%100, f.Fixed)
}
