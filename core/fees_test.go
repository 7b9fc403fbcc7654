package core

import (
	"testing"
	"time"
)

func TestFeeRoundsHalfEvenOnTheMinorUnit(t *testing.T) {
	cases := []struct {
		name     string
		currency string // for the reader: the arithmetic is the same in minor units
		amount   int64
		sched    FeeSchedule
		want     int64
	}{
		{"USD 2.9% + 30: 10.00 USD", "USD", 1000, FeeSchedule{PercentBps: 290, Fixed: 30}, 59},
		{"USD 2.5% of 0.10 is 0.25 cents: rounds down", "USD", 10, FeeSchedule{PercentBps: 250}, 0},
		{"USD 2.5% of 0.30 is 0.75 cents: rounds up", "USD", 30, FeeSchedule{PercentBps: 250}, 1},
		{"USD 1% of 0.50 is half a cent: to even 0", "USD", 50, FeeSchedule{PercentBps: 100}, 0},
		{"USD 1% of 1.50 is 1.5 cents: to even 2", "USD", 150, FeeSchedule{PercentBps: 100}, 2},
		{"USD 1% of 2.50 is 2.5 cents: to even 2", "USD", 250, FeeSchedule{PercentBps: 100}, 2},
		{"JPY (zero-decimal) 3.6% of ¥1000", "JPY", 1000, FeeSchedule{PercentBps: 360}, 36},
		{"JPY 3.6% of ¥125 is ¥4.5: to even ¥4", "JPY", 125, FeeSchedule{PercentBps: 360}, 4},
		{"JPY 3.6% of ¥375 is ¥13.5: to even ¥14", "JPY", 375, FeeSchedule{PercentBps: 360}, 14},
		{"JPY fixed ¥40 only", "JPY", 5000, FeeSchedule{Fixed: 40}, 40},
		{"KWD (three-decimal) 2.5% of 1.234 KWD is 30.85 fils", "KWD", 1234, FeeSchedule{PercentBps: 250}, 31},
		{"BHD 2% + 0.100 of 12.345 BHD is 246.9 + 100 fils", "BHD", 12345, FeeSchedule{PercentBps: 200, Fixed: 100}, 347},
		{"BHD 1% of 0.050 is half a fil: to even 0", "BHD", 50, FeeSchedule{PercentBps: 100}, 0},
		{"fee never exceeds the amount", "USD", 20, FeeSchedule{PercentBps: 100, Fixed: 30}, 20},
		{"no schedule, no fee", "USD", 1000, FeeSchedule{}, 0},
		{"largest amount at 100% is the amount", "USD", MaxAmount, FeeSchedule{PercentBps: 10_000}, MaxAmount},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.sched.Fee(c.amount); got != c.want {
				t.Errorf("fee on %s = %d minor units, want %d", FormatAmount(c.amount, c.currency), got, c.want)
			}
		})
	}
}

func TestCaptureJournalPostsTheFeeAndTheAvailableDay(t *testing.T) {
	p := paymentIn(StatusRequiresCapture)
	p.Terms = &Terms{Fees: FeeSchedule{PercentBps: 290, Fixed: 30}, DelayDays: 2, TimeZone: "Asia/Shanghai"}
	// 2026-01-02 23:30 in Shanghai is 15:30 UTC: the day is the 2nd there, so T+2 is the 4th, 00:00 Shanghai.
	at := time.Date(2026, 1, 2, 15, 30, 0, 0, time.UTC)
	ch, err := p.ApplyCapture(OpResult{OK: true, Amount: 1000}, at)
	if err != nil {
		t.Fatal(err)
	}
	j := ch.Journals[0]
	if err := j.Balanced(); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{AccountChannelHolds: -1000, AccountMerchantHolds: 1000, AccountChannelReceivable: 1000,
		AccountMerchantAvailable: -941, AccountPlatformFees: -59}
	for _, ps := range j.Postings {
		if want[ps.Account] != ps.Amount {
			t.Errorf("%s posted %d, want %d", ps.Account, ps.Amount, want[ps.Account])
		}
	}
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	if wantOn := time.Date(2026, 1, 4, 0, 0, 0, 0, shanghai); j.AvailableOn == nil || !j.AvailableOn.Equal(wantOn) {
		t.Errorf("available_on = %v, want %v", j.AvailableOn, wantOn)
	}
}

func TestRefundsReturnTheFeeInProportionAndWhollyAtTheEnd(t *testing.T) {
	p := paymentIn(StatusSucceeded) // 1000 captured
	p.Terms = &Terms{Fees: FeeSchedule{PercentBps: 290, Fixed: 30, RefundFees: true}}
	// fee 59: refunds of 333, 333, 334 return round(59×333/1000)=20, round(59×666/1000)-20=19, 59-39=20.
	var back int64
	for i, r := range []int64{333, 333, 334} {
		ref := &Refund{ID: "re_" + string(rune('a'+i)), Payment: p.ID, Amount: r, Status: RefundPending}
		p.AmountRefundPending = r
		ch, err := ref.Settle(p, OpResult{OK: true}, t0)
		if err != nil {
			t.Fatal(err)
		}
		j := ch.Journals[0]
		if err := j.Balanced(); err != nil {
			t.Fatal(err)
		}
		for _, ps := range j.Postings {
			if ps.Account == AccountPlatformFees {
				back += ps.Amount
			}
		}
		p = ch.Payment
	}
	if back != 59 {
		t.Errorf("refunds returned %d of the 59 fee", back)
	}
	// Without refund_fees, the merchant's account gives back the whole refund.
	p = paymentIn(StatusSucceeded)
	p.Terms = &Terms{Fees: FeeSchedule{PercentBps: 290, Fixed: 30}}
	p.AmountRefundPending = 1000
	ch, _ := (&Refund{ID: "re_x", Payment: p.ID, Amount: 1000, Status: RefundPending}).Settle(p, OpResult{OK: true}, t0)
	if got := ch.Journals[0].Postings; len(got) != 2 || got[0] != (Posting{AccountMerchantAvailable, 1000}) {
		t.Errorf("refund without fee return posted %+v", got)
	}
}
