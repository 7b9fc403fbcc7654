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
	Balances map[string]int64 `json:"balances"`
	// LowBalanceThreshold per currency (minor units): a reminder is sent when a wallet
	// falls below it, once until the balance is back at or above it.
	LowBalanceThreshold map[string]int64 `json:"low_balance_threshold"`
	// Opt-outs of notices, per channel.
	EmailOptOut bool      `json:"email_opt_out"`
	SMSOptOut   bool      `json:"sms_opt_out"`
	Deleted     bool      `json:"deleted,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	MerchantID  string    `json:"-"`
}

// CustomerParams creates or updates a customer. On update, absent fields stay as they are.
type CustomerParams struct {
	Email    *string           `json:"email"`
	Phone    *string           `json:"phone"`
	Name     *string           `json:"name"`
	Language *string           `json:"language"`
	Metadata map[string]string `json:"metadata"`
	// LowBalanceThreshold replaces the thresholds per currency (minor units).
	LowBalanceThreshold map[string]int64 `json:"low_balance_threshold"`
	EmailOptOut         *bool            `json:"email_opt_out"`
	SMSOptOut           *bool            `json:"sms_opt_out"`
}

// Apply sets the fields p names on c.
func (p *CustomerParams) Apply(c *Payer) {
	if p.Email != nil {
		c.Email = p.Email
	}
	if p.Phone != nil {
		c.Phone = p.Phone
	}
	if p.Name != nil {
		c.Name = p.Name
	}
	if p.Language != nil {
		c.Language = *p.Language
	}
	if p.Metadata != nil {
		c.Metadata = p.Metadata
	}
	if p.LowBalanceThreshold != nil {
		c.LowBalanceThreshold = p.LowBalanceThreshold
	}
	if p.EmailOptOut != nil {
		c.EmailOptOut = *p.EmailOptOut
	}
	if p.SMSOptOut != nil {
		c.SMSOptOut = *p.SMSOptOut
	}
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
	if p.LowBalanceThreshold != nil {
		norm := map[string]int64{}
		for cur, v := range p.LowBalanceThreshold {
			c, ok := NormalizeCurrency(cur)
			if !ok {
				return ParamError(CodeParameterInvalid, "low_balance_threshold", "Unsupported currency %q in low_balance_threshold.", cur)
			}
			if v < 0 {
				return ParamError(CodeParameterInvalid, "low_balance_threshold", "low_balance_threshold amounts are minor units, 0 or more.")
			}
			norm[c] = v
		}
		p.LowBalanceThreshold = norm
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

// CustomerBalanceTransaction is one change of a customer's wallet balance.
type CustomerBalanceTransaction struct {
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

// Notice is a notice sent (or to be sent) to a customer.
type Notice struct {
	ID        string     `json:"id"`
	Object    string     `json:"object"`
	Customer  string     `json:"customer"`
	Event     *string    `json:"event"`
	Template  string     `json:"template"`
	Channel   string     `json:"channel"` // email or sms
	Language  string     `json:"language"`
	Status    string     `json:"status"` // pending, sent, failed, skipped
	Attempts  int        `json:"attempts"`
	LastError *string    `json:"last_error"`
	SentAt    *time.Time `json:"sent_at"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
}

// NoticePreviewParams renders a template: in a language (default en) with data (default a
// sample payment).
type NoticePreviewParams struct {
	Language string         `json:"language"`
	Data     map[string]any `json:"data"`
}

// NoticePreview is a rendered template.
type NoticePreview struct {
	Object   string `json:"object"`
	Template string `json:"template"`
	Language string `json:"language"`
	Subject  string `json:"subject"`
	Body     string `json:"body"`
	// HTML is the email's HTML part.
	HTML string `json:"html"`
}
