package core

// Actor is how u is named in the platform's audit trails (risk_audit, merchant_ops_events)
// when it acts through the back office: "console:<user ID>", as for an actor in the context.
func (u *User) Actor() string { return "console:" + u.ID }

// MerchantLimits are a merchant's limits as the back office's operators see them.
type MerchantLimits struct {
	Merchant string
	// TransfersAllowed: the merchant may transfer to other merchants (an operator's switch).
	TransfersAllowed bool
	// KYCStatus is the merchant's verification status; UnverifiedVolume the volume per
	// currency, in minor units, it may take until verified (the platform's setting; negative:
	// no limit); Volume what it has taken so far, per currency.
	KYCStatus        string
	UnverifiedVolume int64
	Volume           []CurrencyAmount
}

// CurrencyAmount is an amount in minor units of a currency.
type CurrencyAmount struct {
	Currency string
	Amount   int64
}
