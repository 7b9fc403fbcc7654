package postgres_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
)

// A card payment with automatic capture costs the database four round trips at steady
// state: the reads before its transaction (KYC volume, terms, risk signals) in one; the key's
// claim with the payment's INSERT; the first phase's writes with its COMMIT; and, after the
// channel call, the authorisation's compare-and-set with the journal, the event, the stored
// reply and the COMMIT. The per-node caches (risk rules, the merchant's average, 1 and 10 s)
// add one when they expire, so the test waits for a payment that meets them warm.
func TestCardPaymentRoundTrips(t *testing.T) {
	e := newPhaseEnv(t)
	const want = 4
	deadline := time.Now().Add(60 * time.Second)
	var seen []int64
	for i := 0; ; i++ {
		ctx, count := postgres.CountRoundTrips(context.Background())
		rep, err := e.svc.CreatePayment(ctx, e.req(fmt.Sprintf("k-rt-%d", i), "/v1/payments"), core.CreatePaymentParams{
			Amount: 1000, Currency: "USD", Channel: core.ChannelCard, CaptureMethod: core.CaptureAutomatic, MerchantReference: fmt.Sprintf("o-rt-%d", i),
			PaymentMethod: &core.PaymentMethodData{Type: "card", Card: &core.CardData{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2040, CVC: "123"}}})
		e.object(rep, err, string(core.StatusSucceeded))
		n := count()
		seen = append(seen, n)
		if n < want {
			t.Fatalf("payment %d took %d round trips, fewer than the %d its phases need: not counted (round trips so far %v)", i, n, want, seen)
		}
		if n == want && i > 0 {
			t.Logf("round trips per payment: %v", seen)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no payment took %d round trips within 60 s: %v", want, seen)
		}
	}
}
