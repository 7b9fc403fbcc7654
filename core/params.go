package core

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// CreatePaymentParams is a merchant's request to create a payment.
type CreatePaymentParams struct {
	Amount            int64              `json:"amount"`
	Currency          string             `json:"currency"`
	Channel           Channel            `json:"channel"`
	CaptureMethod     CaptureMethod      `json:"capture_method"`
	MerchantReference string             `json:"merchant_reference"`
	Description       string             `json:"description"`
	Customer          *Customer          `json:"customer"`
	PaymentMethod     *PaymentMethodData `json:"payment_method"`
	Metadata          map[string]string  `json:"metadata"`
	// TopUpFor is the customer whose wallet the payment tops up (set by top-ups only).
	TopUpFor string `json:"-"`
}

// PaymentMethodData is how the payer pays, as sent by the merchant.
type PaymentMethodData struct {
	Type   string      `json:"type"`
	Card   *CardData   `json:"card"`
	Wallet *WalletData `json:"wallet"`
}

// CardData is a card as sent by the merchant. It is passed to the channel and never stored.
type CardData struct {
	Number   string `json:"number"`
	ExpMonth int    `json:"exp_month"`
	ExpYear  int    `json:"exp_year"`
	CVC      string `json:"cvc"`
}

// Limits on merchant-supplied strings and maps.
const (
	MaxReferenceLen    = 128
	MaxDescriptionLen  = 1000
	MaxMetadataKeys    = 50
	MaxMetadataKeyLen  = 40
	MaxMetadataValLen  = 500
	MaxCustomerField   = 254
	MaxIdempotencyKey  = 255
	MaxCancelReasonLen = 200
)

var referenceRE = regexp.MustCompile(`^[\x21-\x7e]+$`) // printable ASCII, no spaces

// Validate checks p and normalises it in place: currency upper-cased, capture method
// defaulted, card number stripped of spaces, metadata never null.
//
// It depends on p alone, never on the time or on stored state: a retry of a request whose
// outcome is unknown must validate exactly as the original did, or it could never finish it.
// (An expired card is therefore the channel's decline, expired_card, not a 400.)
func (p *CreatePaymentParams) Validate() error {
	if err := ValidateAmount("amount", p.Amount); err != nil {
		return err
	}
	if p.Currency == "" {
		return ParamError(CodeParameterMissing, "currency", "currency is required: an ISO 4217 code such as \"usd\".")
	}
	cur, ok := NormalizeCurrency(p.Currency)
	if !ok {
		return ParamError(CodeParameterInvalid, "currency", "Unsupported currency %q: use an ISO 4217 code such as \"usd\", \"eur\" or \"cny\".", p.Currency)
	}
	p.Currency = cur
	if p.Channel == "" {
		return ParamError(CodeParameterMissing, "channel", "channel is required: one of %s.", channelList())
	}
	if !p.Channel.Valid() {
		return ParamError(CodeParameterInvalid, "channel", "Unknown channel %q: use one of %s.", p.Channel, channelList())
	}
	switch p.CaptureMethod {
	case "":
		p.CaptureMethod = CaptureAutomatic
	case CaptureAutomatic:
	case CaptureManual:
		if !p.Channel.IsCard() {
			return ParamError(CodeParameterInvalid, "capture_method", "capture_method \"manual\" is only available for the card and debit_card channels.")
		}
	default:
		return ParamError(CodeParameterInvalid, "capture_method", "capture_method must be \"automatic\" or \"manual\".")
	}
	if p.MerchantReference == "" {
		return ParamError(CodeParameterMissing, "merchant_reference", "merchant_reference is required: your own unique identifier for this payment.")
	}
	if err := ValidateReference("merchant_reference", p.MerchantReference); err != nil {
		return err
	}
	if err := ValidateText("description", p.Description, MaxDescriptionLen, Multiline); err != nil {
		return err
	}
	if err := p.Customer.validate(); err != nil {
		return err
	}
	if p.Metadata == nil {
		p.Metadata = map[string]string{}
	}
	if err := ValidateMetadata(p.Metadata); err != nil {
		return err
	}
	return p.validatePaymentMethod()
}

func (p *CreatePaymentParams) validatePaymentMethod() error {
	pm := p.PaymentMethod
	if err := p.validateWallet(); err != nil {
		return err
	}
	if !p.Channel.IsCard() {
		if pm != nil && pm.Card != nil {
			return ParamError(CodeParameterUnknown, "payment_method.card", "Card details are only accepted on the card and debit_card channels.")
		}
		if pm != nil && pm.Type != "" && pm.Type != string(p.Channel) {
			return ParamError(CodeParameterInvalid, "payment_method.type", "payment_method.type must match the channel %q.", p.Channel)
		}
		return nil
	}
	if pm == nil || pm.Card == nil {
		return ParamError(CodeParameterMissing, "payment_method.card", "Card payments need payment_method.card with number, exp_month and exp_year.")
	}
	if pm.Type != "" && pm.Type != "card" {
		return ParamError(CodeParameterInvalid, "payment_method.type", "payment_method.type must be \"card\" on the %s channel.", p.Channel)
	}
	pm.Type = "card"
	return pm.Card.validate()
}

func (c *CardData) validate() error {
	num := strings.NewReplacer(" ", "", "-", "").Replace(c.Number)
	if num == "" {
		return ParamError(CodeParameterMissing, "payment_method.card.number", "The card number is required.")
	}
	// No card network's numbers start with 0 (0000000000000000 passes Luhn).
	if len(num) < 12 || len(num) > 19 || strings.Trim(num, "0123456789") != "" || num[0] == '0' || !Luhn(num) {
		return ParamError(CodeIncorrectNumber, "payment_method.card.number", "The card number is incorrect.")
	}
	c.Number = num
	if c.ExpMonth < 1 || c.ExpMonth > 12 {
		return ParamError(CodeParameterInvalid, "payment_method.card.exp_month", "exp_month must be 1 to 12.")
	}
	if c.ExpYear < 1000 || c.ExpYear > 9999 {
		return ParamError(CodeParameterInvalid, "payment_method.card.exp_year", "exp_year must be a four-digit year.")
	}
	if c.CVC != "" && (len(c.CVC) < 3 || len(c.CVC) > 4 || strings.Trim(c.CVC, "0123456789") != "") {
		return ParamError(CodeParameterInvalid, "payment_method.card.cvc", "The card's security code must be 3 or 4 digits.")
	}
	return nil
}

func (c *Customer) validate() error {
	if c == nil {
		return nil
	}
	for _, f := range []struct{ name, v string }{{"id", c.ID}, {"name", c.Name}, {"email", c.Email}, {"phone", c.Phone}, {"ip", c.IP}} {
		if err := ValidateText("customer."+f.name, f.v, MaxCustomerField, SingleLine); err != nil {
			return err
		}
	}
	if c.Email != "" && (!strings.Contains(c.Email, "@") || strings.ContainsAny(c.Email, " \t\r\n")) {
		return ParamError(CodeParameterInvalid, "customer.email", "customer.email is not an email address.")
	}
	if c.IP != "" {
		if _, err := netip.ParseAddr(c.IP); err != nil {
			return ParamError(CodeParameterInvalid, "customer.ip", "customer.ip is not an IPv4 or IPv6 address.")
		}
	}
	return nil
}

// ValidateAmount checks an amount in minor units.
func ValidateAmount(param string, amount int64) error {
	if amount <= 0 {
		return ParamError(CodeParameterInvalid, param, "%s must be a positive integer in the currency's minor units (e.g. 1000 for 10.00 USD).", param)
	}
	if amount > MaxAmount {
		return ParamError(CodeParameterInvalid, param, "%s must be at most %d minor units.", param, MaxAmount)
	}
	return nil
}

// ValidateMetadata checks the merchant's free-form key-value pairs.
func ValidateMetadata(md map[string]string) error {
	if len(md) > MaxMetadataKeys {
		return ParamError(CodeParameterInvalid, "metadata", "metadata holds at most %d keys.", MaxMetadataKeys)
	}
	for k, v := range md {
		if k == "" {
			return ParamError(CodeParameterInvalid, "metadata", "metadata keys must be 1 to %d characters.", MaxMetadataKeyLen)
		}
		if err := ValidateText("metadata", k, MaxMetadataKeyLen, SingleLine); err != nil {
			return ParamError(CodeParameterInvalid, "metadata", "metadata keys must be 1 to %d characters of %s.", MaxMetadataKeyLen, SingleLine)
		}
		if err := ValidateText("metadata["+k+"]", v, MaxMetadataValLen, Multiline); err != nil {
			return err
		}
	}
	return nil
}

// CaptureParams is a request to capture a requires_capture payment.
type CaptureParams struct {
	// Amount to capture; nil captures everything authorised. The rest of the hold is released.
	Amount *int64 `json:"amount"`
}

// Validate checks p.
func (p *CaptureParams) Validate() error {
	if p.Amount != nil {
		return ValidateAmount("amount", *p.Amount)
	}
	return nil
}

// CancelParams is a request to cancel a payment that has not been captured.
type CancelParams struct {
	CancellationReason string `json:"cancellation_reason"`
}

// Validate checks p.
func (p *CancelParams) Validate() error {
	return ValidateText("cancellation_reason", p.CancellationReason, MaxCancelReasonLen, Multiline)
}

// CreateRefundParams is a request to refund some or all of a payment's captured amount.
type CreateRefundParams struct {
	Payment string `json:"payment"`
	// Amount to refund; nil refunds everything still refundable.
	Amount *int64 `json:"amount"`
	Reason string `json:"reason"`
}

// Validate checks p.
func (p *CreateRefundParams) Validate() error {
	if p.Payment == "" {
		return ParamError(CodeParameterMissing, "payment", "payment is required: the ID of the payment to refund.")
	}
	if err := ValidateID("payment", p.Payment); err != nil {
		return err
	}
	if p.Amount != nil {
		if err := ValidateAmount("amount", *p.Amount); err != nil {
			return err
		}
	}
	if p.Reason != "" {
		ok := false
		for _, r := range RefundReasons {
			ok = ok || r == p.Reason
		}
		if !ok {
			return ParamError(CodeParameterInvalid, "reason", "reason must be one of %s.", strings.Join(RefundReasons, ", "))
		}
	}
	return nil
}

// PaymentFilter selects and pages a merchant's payments, newest first.
type PaymentFilter struct {
	Status            Status
	MerchantReference string
	CreatedGTE        *time.Time
	CreatedLTE        *time.Time
	Limit             int    // 1..100; default 10
	StartingAfter     string // a payment ID: the page starts after it
	// Channel, amount range in minor units (both bounds included) and customer (the
	// payment's customer.id, or its customer.email when it has an @).
	Channel   Channel
	AmountGTE *int64
	AmountLTE *int64
	Customer  string
}

// MaxCustomerFilterLen bounds PaymentFilter.Customer (an e-mail address is at most 254).
const MaxCustomerFilterLen = 254

// RefundFilter selects and pages a merchant's refunds, newest first.
type RefundFilter struct {
	Payment       string // only this payment's refunds
	Limit         int    // 1..100; default 10
	StartingAfter string // a refund ID: the page starts after it
}

// List limits.
const (
	DefaultListLimit = 10
	MaxListLimit     = 100
)

func channelList() string {
	s := make([]string, len(Channels))
	for i, c := range Channels {
		s[i] = fmt.Sprintf("%q", c)
	}
	return strings.Join(s, ", ")
}

// TextKind says which characters a free-text parameter may hold besides printable ones.
type TextKind int

// Text kinds.
const (
	// SingleLine text (names, keys, identifiers) holds no control characters at all.
	SingleLine TextKind = iota
	// Multiline text (descriptions, reasons, metadata values) may also hold tab, line feed
	// and carriage return.
	Multiline
)

func (k TextKind) String() string {
	if k == Multiline {
		return "UTF-8 text without control characters other than tab and line breaks"
	}
	return "UTF-8 text without control characters"
}

// ValidateText checks a merchant-supplied string completely, so that nothing the database or
// a later phase would refuse gets past the first check: valid UTF-8, no NUL (PostgreSQL text
// cannot hold it), no control characters where kind allows none, no Unicode noncharacters,
// and at most max characters.
//
// Every string parameter goes through it (or a stricter check) before a request's first
// phase: a payment's channel call must never be followed by a failure caused by its input.
func ValidateText(param, s string, max int, kind TextKind) error {
	if !utf8.ValidString(s) {
		return ParamError(CodeParameterInvalid, param, "%s is not valid UTF-8.", param)
	}
	n := 0
	for _, r := range s {
		n++
		if !textRuneOK(r, kind) {
			return ParamError(CodeParameterInvalid, param, "%s holds the character %U: it must be %s.", param, r, kind)
		}
	}
	if n > max {
		return ParamError(CodeParameterInvalid, param, "%s must be at most %d characters (got %d).", param, max, n)
	}
	return nil
}

func textRuneOK(r rune, kind TextKind) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return kind == Multiline
	case r < 0x20 || (r >= 0x7f && r < 0xa0): // C0, DEL, C1 (NUL among them)
		return false
	case r == 0x2028 || r == 0x2029: // line and paragraph separators
		return kind == Multiline
	case r >= 0xfdd0 && r <= 0xfdef, r&0xfffe == 0xfffe: // noncharacters
		return false
	}
	return true
}

// MaxIDLen bounds an object ID given by a client; the platform's own IDs are far shorter.
const MaxIDLen = 64

var idRE = regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9-]+){1,2}$`)

// ValidateID checks that an object ID given by a client (in the path, the query or the body)
// looks like one of the platform's IDs, so that an arbitrary string is never looked up, echoed
// or sent to the database. A well-formed ID that names nothing is resource_missing, later.
func ValidateID(param, id string) error {
	if len(id) > MaxIDLen || !idRE.MatchString(id) {
		return ParamError(CodeParameterInvalid, param, "%s is not a valid ID: IDs look like \"pay_us-east_...\" and are at most %d characters.", param, MaxIDLen)
	}
	return nil
}

// MaxMerchantNameLen bounds a merchant's name.
const MaxMerchantNameLen = 200

// ValidateMerchantName checks a merchant's name (already trimmed of surrounding space).
func ValidateMerchantName(name string) error {
	if name == "" {
		return ParamError(CodeParameterMissing, "name", "name is required.")
	}
	return ValidateText("name", name, MaxMerchantNameLen, SingleLine)
}

// ValidateRegionName checks a region name given by a client.
func ValidateRegionName(param, region string) error {
	if region == "" {
		return ParamError(CodeParameterMissing, param, "%s is required.", param)
	}
	if !RegionNameRE.MatchString(region) {
		return ParamError(CodeParameterInvalid, param, "%s must be a region name such as \"us-east\".", param)
	}
	return nil
}

// ValidateReference checks a merchant_reference (in a body or as a list filter).
func ValidateReference(param, ref string) error {
	if len(ref) > MaxReferenceLen || !referenceRE.MatchString(ref) {
		return ParamError(CodeParameterInvalid, param, "%s must be 1 to %d printable ASCII characters without spaces.", param, MaxReferenceLen)
	}
	return nil
}

// Limits on a merchant's channel credentials.
const (
	MaxCredentialKeys   = 20
	MaxCredentialKeyLen = 64
	MaxCredentialValLen = 8192
)

// ValidateCredentials checks a merchant's channel credentials (stored encrypted).
func ValidateCredentials(c map[string]string) error {
	if len(c) > MaxCredentialKeys {
		return ParamError(CodeParameterInvalid, "credentials", "credentials hold at most %d keys.", MaxCredentialKeys)
	}
	for k, v := range c {
		if k == "" || ValidateText("credentials", k, MaxCredentialKeyLen, SingleLine) != nil {
			return ParamError(CodeParameterInvalid, "credentials", "credentials keys must be 1 to %d characters of %s.", MaxCredentialKeyLen, SingleLine)
		}
		if err := ValidateText("credentials["+k+"]", v, MaxCredentialValLen, Multiline); err != nil {
			return err
		}
	}
	return nil
}
