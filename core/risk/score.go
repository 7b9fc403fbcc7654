package risk

import "github.com/paycenter/paycenter/core"

// Signals are the facts the risk score is made of, gathered from the database for one
// payment before its channel call.
type Signals struct {
	// CardPaymentsLastHour: the merchant's payments with this card in the hour before.
	CardPaymentsLastHour int64
	// NewCardForCustomer: the customer (by ID or email) paid the merchant before, never with
	// this card.
	NewCardForCustomer bool
	// MerchantAverage: the merchant's average payment amount over the last 30 days in this
	// currency, in minor units; 0 when it has fewer than 10 such payments (too few to judge).
	MerchantAverage int64
	// CountryMismatch: the card's country and the payer's known country differ.
	CountryMismatch bool
	// DeclinesInARow: how many of the card's latest payments at the merchant, newest first,
	// failed in a row.
	DeclinesInARow int64
}

// Score weights, in points of the 0..99 score. The score is their sum, capped at 99; its
// level is core.RiskLevel (normal below 65, elevated from 65, highest from 75).
const (
	ScoreBase            = 5  // every payment
	ScorePerCardPayment  = 8  // per payment on the card in the last hour beyond the first, up to ScoreVelocityMax
	ScoreVelocityMax     = 32 //
	ScoreNewCard         = 10 // a known customer's new card
	ScoreAmountHigh      = 15 // amount at least 3× the merchant's average
	ScoreAmountVeryHigh  = 30 // amount at least 10× the merchant's average (instead of ScoreAmountHigh)
	ScoreCountryMismatch = 15 // card country differs from the payer's
	ScorePerDecline      = 12 // per failed payment in a row on the card, up to ScoreDeclinesMax
	ScoreDeclinesMax     = 36 //
)

// Score is the payment's risk score from its signals, 0..99, and its level.
func Score(amount int64, s Signals) (int, string) {
	score := ScoreBase
	if s.CardPaymentsLastHour > 1 {
		score += int(min(ScoreVelocityMax, (s.CardPaymentsLastHour-1)*ScorePerCardPayment))
	}
	if s.NewCardForCustomer {
		score += ScoreNewCard
	}
	if s.MerchantAverage > 0 {
		switch {
		case amount >= 10*s.MerchantAverage:
			score += ScoreAmountVeryHigh
		case amount >= 3*s.MerchantAverage:
			score += ScoreAmountHigh
		}
	}
	if s.CountryMismatch {
		score += ScoreCountryMismatch
	}
	score += int(min(ScoreDeclinesMax, s.DeclinesInARow*ScorePerDecline))
	score = min(score, 99)
	return score, core.RiskLevel(score)
}
