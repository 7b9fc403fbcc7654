package core

import (
	"net/mail"
	"regexp"
	"strings"
	"time"
)

// PrefixCustomer and PrefixBalanceTransaction are the ID prefixes of customers and of their
// wallets' balance transactions.
const (
	PrefixCustomer           = "cus"
	PrefixBalanceTransaction = "cbtxn"
)

// Payer is a merchant's customer object (cus_…): who pays, with the wallets they hold with
// the merchant. Its ID is the same ID space as a payment's customer.id, so the risk
// verifications keyed by customer ID apply to it.
type Payer struct {
	ID       string            `json:"id"`
	Object   string            `json:"object"`
	Email    *string           `json:"email"`
	Phone    *string           `json:"phone"`
	Name     *string           `json:"name"`
	Language string            `json:"language"`
	Metadata map[string]string `json:"metadata"`
	// Balances is the wallet balance per currency, in minor units.
	Balances   map[string]int64 `json:"balances"`
	Deleted    bool             `json:"deleted,omitempty"`
	CreatedAt  time.Time        `json:"created_at"`
	UpdatedAt  time.Time        `json:"updated_at"`
	MerchantID string           `json:"-"`
}

// CustomerParams creates or updates a customer. On update, absent fields stay as they are.
type CustomerParams struct {
	Email    *string           `json:"email"`
	Phone    *string           `json:"phone"`
	Name     *string           `json:"name"`
	Language *string           `json:"language"`
	Metadata map[string]string `json:"metadata"`
}

// E164RE is what a phone number in E.164 looks like: +, a country code, at most 15 digits.
var E164RE = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// Languages are the languages a customer's notices are written in.
var Languages = []string{"en", "zh"}

// Validate checks p. Email needs an @ and a domain; phone must be E.164.
func (p *CustomerParams) Validate() error {
	if p.Email != nil {
		e := *p.Email
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e || !strings.Contains(e, "@") || len(e) > MaxCustomerField {
			return ParamError(CodeParameterInvalid, "email", "email must be an address such as \"payer@example.com\".")
		}
	}
	if p.Phone != nil && !E164RE.MatchString(*p.Phone) {
		return ParamError(CodeParameterInvalid, "phone", "phone must be in E.164 form: + then country code and number, such as \"+8613800138000\".")
	}
	if p.Name != nil {
		if err := ValidateText("name", *p.Name, MaxCustomerField, SingleLine); err != nil {
			return err
		}
	}
	if p.Language != nil && *p.Language != Languages[0] && *p.Language != Languages[1] {
		return ParamError(CodeParameterInvalid, "language", "language must be \"en\" or \"zh\".")
	}
	if p.Metadata != nil {
		return ValidateMetadata(p.Metadata)
	}
	return nil
}

// WalletData names the wallet a wallet payment pays from.
type WalletData struct {
	Customer string `json:"customer"`
}

// validateWallet checks the payment method of the wallet channel, and that no other channel
// names a wallet.
func (p *CreatePaymentParams) validateWallet() error {
	pm := p.PaymentMethod
	if p.Channel != ChannelWallet {
		if pm != nil && pm.Wallet != nil {
			return ParamError(CodeParameterUnknown, "payment_method.wallet", "payment_method.wallet is only accepted on the wallet channel.")
		}
		return nil
	}
	if pm == nil || pm.Wallet == nil || pm.Wallet.Customer == "" {
		return ParamError(CodeParameterMissing, "payment_method.wallet.customer", "Wallet payments need payment_method.wallet.customer: the cus_ ID whose balance pays.")
	}
	if ValidateID("payment_method.wallet.customer", pm.Wallet.Customer) != nil || !strings.HasPrefix(pm.Wallet.Customer, PrefixCustomer+"_") {
		return ParamError(CodeParameterInvalid, "payment_method.wallet.customer", "payment_method.wallet.customer must be a customer ID (cus_…).")
	}
	if p.Customer != nil && p.Customer.ID != "" && p.Customer.ID != pm.Wallet.Customer {
		return ParamError(CodeParameterInvalid, "customer.id", "customer.id must be the wallet's customer.")
	}
	if p.Customer == nil {
		p.Customer = &Customer{ID: pm.Wallet.Customer}
	} else if p.Customer.ID == "" {
		p.Customer.ID = pm.Wallet.Customer
	}
	if pm.Type != "" && pm.Type != string(ChannelWallet) {
		return ParamError(CodeParameterInvalid, "payment_method.type", "payment_method.type must be \"wallet\" on the wallet channel.")
	}
	return nil
}

// WalletCustomer is the customer whose wallet a wallet payment pays from, or "".
func (p *Payment) WalletCustomer() string {
	if p.Channel != ChannelWallet || p.PaymentMethod == nil {
		return ""
	}
	return p.PaymentMethod.Customer
}

// TopUpParams tops a customer's wallet up: a payment through channel whose success credits
// the wallet with its amount.
type TopUpParams struct {
	Amount            int64              `json:"amount"`
	Currency          string             `json:"currency"`
	Channel           Channel            `json:"channel"`
	PaymentMethod     *PaymentMethodData `json:"payment_method"`
	MerchantReference string             `json:"merchant_reference"`
	Description       string             `json:"description"`
	Metadata          map[string]string  `json:"metadata"`
}

// Payment is the payment a top-up of customer makes; reference is used when the merchant
// gave none.
func (t *TopUpParams) Payment(customer, reference string) CreatePaymentParams {
	ref := t.MerchantReference
	if ref == "" {
		ref = reference
	}
	return CreatePaymentParams{Amount: t.Amount, Currency: t.Currency, Channel: t.Channel, CaptureMethod: CaptureAutomatic,
		MerchantReference: ref, Description: t.Description, Customer: &Customer{ID: customer},
		PaymentMethod: t.PaymentMethod, Metadata: t.Metadata, TopUpFor: customer}
}

// Validate checks a top-up as the payment it makes; the wallet cannot top itself up.
func (t *TopUpParams) Validate(customer string) error {
	if t.Channel == ChannelWallet {
		return ParamError(CodeParameterInvalid, "channel", "A wallet cannot be topped up from a wallet: use a payment channel.")
	}
	p := t.Payment(customer, "top_up")
	if err := p.Validate(); err != nil {
		return err
	}
	t.Currency, t.Metadata = p.Currency, p.Metadata
	return nil
}

// BalanceTransaction is one change of a customer's wallet balance.
type BalanceTransaction struct {
	ID           string    `json:"id"`
	Object       string    `json:"object"`
	Customer     string    `json:"customer"`
	Type         string    `json:"type"` // top_up, payment, refund
	Amount       int64     `json:"amount"`
	Currency     string    `json:"currency"`
	BalanceAfter int64     `json:"balance_after"`
	Payment      *string   `json:"payment"`
	Refund       *string   `json:"refund"`
	CreatedAt    time.Time `json:"created_at"`
}
