package risk

import (
	"fmt"
	"testing"
	"time"
)

var amlT0 = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

func settled(id, payer string, amount int64, at time.Duration) Settled {
	return Settled{PaymentID: id, MerchantID: "mer_1", Payer: payer, Amount: amount, Currency: "USD", CapturedAt: amlT0.Add(at)}
}

func TestDetectStructuring(t *testing.T) {
	var txns []Settled
	// payer a: 4 payments of 9,500.00 within 6 hours: structuring.
	for i := 0; i < 4; i++ {
		txns = append(txns, settled(fmt.Sprintf("a%d", i), "email:a@x", 950_000, time.Duration(i)*2*time.Hour))
	}
	// payer b: 3 just below, but spread over 3 days: not within 24h.
	for i := 0; i < 3; i++ {
		txns = append(txns, settled(fmt.Sprintf("b%d", i), "email:b@x", 990_000, time.Duration(i)*30*time.Hour))
	}
	// payer c: 5 payments above the threshold and 5 small ones: neither is just below it.
	for i := 0; i < 5; i++ {
		txns = append(txns, settled(fmt.Sprintf("c%d", i), "email:c@x", 1_200_000, time.Duration(i)*time.Minute))
		txns = append(txns, settled(fmt.Sprintf("d%d", i), "email:c@x", 50_000, time.Duration(i)*time.Minute))
	}
	cases := DetectStructuring(AMLConfig{}, txns)
	if len(cases) != 1 || cases[0].Subject != "email:a@x" || cases[0].Detail["count"] != 4 || cases[0].DedupKey != "structuring:a0" {
		t.Fatalf("cases = %+v", cases)
	}
	if c := DetectStructuring(AMLConfig{}, txns[4:]); len(c) != 0 {
		t.Fatalf("clean set opened %+v", c)
	}
}

func TestDetectRapidMovementAndVolume(t *testing.T) {
	quick, late := amlT0.Add(10*time.Minute), amlT0.Add(48*time.Hour)
	a := settled("p1", "card:fp1", 100_000, 0)
	a.Refunded, a.FirstRefundAt = 100_000, &quick
	b := settled("p2", "card:fp2", 100_000, 0)
	b.Refunded, b.FirstRefundAt = 100_000, &late
	c := settled("p3", "card:fp3", 100_000, 0)
	c.Refunded, c.FirstRefundAt = 10_000, &quick
	cases := DetectRapidMovement(AMLConfig{}, []Settled{a, b, c})
	if len(cases) != 1 || cases[0].Detail["payment"] != "p1" {
		t.Fatalf("rapid movement: %+v", cases)
	}
	var txns []Settled
	for i := 0; i < 6; i++ {
		txns = append(txns, settled(fmt.Sprintf("v%d", i), "email:big@x", 900_000, time.Duration(i)*24*time.Hour))
		txns = append(txns, settled(fmt.Sprintf("s%d", i), "email:small@x", 90_000, time.Duration(i)*24*time.Hour))
	}
	vol := DetectHighVolume(AMLConfig{}, txns, amlT0.Add(7*24*time.Hour))
	if len(vol) != 1 || vol[0].Subject != "email:big@x" || vol[0].Detail["total"] != int64(5_400_000) {
		t.Fatalf("high volume: %+v", vol)
	}
}
