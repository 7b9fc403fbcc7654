package core

import (
	"regexp"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// KYC statuses of a merchant's verification (Stripe's account requirements are the model).
const (
	KYCUnverified = "unverified"
	KYCPending    = "pending"
	KYCVerified   = "verified"
	KYCRejected   = "rejected"
)

// CodeKYCRequired refuses a payment of an unverified merchant beyond its volume limit, and a
// payout of a merchant not verified.
const CodeKYCRequired = "kyc_required"

// DefaultUnverifiedVolume is the cumulative volume per currency, in minor units, an
// unverified merchant may take before its further payments are refused with kyc_required.
const DefaultUnverifiedVolume = 1_000_000

// KYCAddress is a postal address.
type KYCAddress struct {
	Line1      string `json:"line1"`
	Line2      string `json:"line2,omitempty"`
	City       string `json:"city"`
	PostalCode string `json:"postal_code"`
}

// KYCRepresentative is the person who represents the merchant. IDNumber is stored sealed and
// shown only as its last four characters.
type KYCRepresentative struct {
	Name        string `json:"name"`
	IDNumber    string `json:"id_number,omitempty"`
	IDLast4     string `json:"id_number_last4,omitempty"`
	DateOfBirth string `json:"date_of_birth"` // YYYY-MM-DD
	Phone       string `json:"phone"`         // E.164
}

// KYCBankAccount is the account payouts go to. AccountNumber is stored sealed and shown only
// as its last four digits.
type KYCBankAccount struct {
	HolderName    string `json:"holder_name"`
	AccountNumber string `json:"account_number,omitempty"`
	Last4         string `json:"last4,omitempty"`
	BankCode      string `json:"bank_code"`
	Currency      string `json:"currency"`
}

// KYCParams is a merchant's submission of its details for verification.
type KYCParams struct {
	LegalName          string            `json:"legal_name"`
	RegistrationNumber string            `json:"registration_number"`
	Country            string            `json:"country"`
	Address            KYCAddress        `json:"address"`
	Representative     KYCRepresentative `json:"representative"`
	BankAccount        KYCBankAccount    `json:"bank_account"`
}

var (
	reRegistration = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 ./-]{2,39}$`)
	reIDNumber     = regexp.MustCompile(`^[A-Za-z0-9]{6,32}$`)
	rePhone        = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	reAccount      = regexp.MustCompile(`^[0-9]{6,34}$`)
	reBankCode     = regexp.MustCompile(`^[A-Za-z0-9]{3,15}$`)
	rePostal       = regexp.MustCompile(`^[A-Za-z0-9 -]{2,12}$`)
)

// MinRepresentativeAge is the youngest a merchant's representative may be, in years.
const MinRepresentativeAge = 18

func text(param, v string, max int) error {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > max {
		return ParamError(CodeParameterInvalid, param, "%s is required, at most %d characters.", param, max)
	}
	return nil
}

// ValidCountry reports whether code is an ISO 3166-1 alpha-2 country code.
func ValidCountry(code string) bool {
	if len(code) != 2 || strings.ToUpper(code) != code {
		return false
	}
	r, err := language.ParseRegion(code)
	return err == nil && r.IsCountry() && r.String() == code
}

// Validate checks the submission on now's date: the formats, the country (ISO 3166-1
// alpha-2) and the representative's age (at least 18). The error names the first wrong field.
func (p *KYCParams) Validate(now time.Time) error {
	checks := []func() error{
		func() error { return text("legal_name", p.LegalName, 200) },
		func() error {
			if !reRegistration.MatchString(p.RegistrationNumber) {
				return ParamError(CodeParameterInvalid, "registration_number", "registration_number must be 3 to 40 letters, digits, spaces or ./-.")
			}
			return nil
		},
		func() error {
			if !ValidCountry(p.Country) {
				return ParamError(CodeParameterInvalid, "country", "country must be an ISO 3166-1 alpha-2 code such as \"DE\"; got %q.", p.Country)
			}
			return nil
		},
		func() error { return text("address[line1]", p.Address.Line1, 200) },
		func() error {
			if len(p.Address.Line2) > 200 {
				return ParamError(CodeParameterInvalid, "address[line2]", "address[line2] is at most 200 characters.")
			}
			return nil
		},
		func() error { return text("address[city]", p.Address.City, 100) },
		func() error {
			if !rePostal.MatchString(p.Address.PostalCode) {
				return ParamError(CodeParameterInvalid, "address[postal_code]", "address[postal_code] must be 2 to 12 letters, digits, spaces or dashes.")
			}
			return nil
		},
		func() error { return text("representative[name]", p.Representative.Name, 200) },
		func() error {
			if !reIDNumber.MatchString(p.Representative.IDNumber) {
				return ParamError(CodeParameterInvalid, "representative[id_number]", "representative[id_number] must be 6 to 32 letters or digits.")
			}
			return nil
		},
		func() error { return p.Representative.validateAge(now) },
		func() error {
			if !rePhone.MatchString(p.Representative.Phone) {
				return ParamError(CodeParameterInvalid, "representative[phone]", "representative[phone] must be in E.164 form, such as +4930123456.")
			}
			return nil
		},
		func() error { return text("bank_account[holder_name]", p.BankAccount.HolderName, 200) },
		func() error {
			if !reAccount.MatchString(p.BankAccount.AccountNumber) {
				return ParamError(CodeParameterInvalid, "bank_account[account_number]", "bank_account[account_number] must be 6 to 34 digits.")
			}
			return nil
		},
		func() error {
			if !reBankCode.MatchString(p.BankAccount.BankCode) {
				return ParamError(CodeParameterInvalid, "bank_account[bank_code]", "bank_account[bank_code] must be 3 to 15 letters or digits.")
			}
			return nil
		},
		func() error {
			c, ok := NormalizeCurrency(p.BankAccount.Currency)
			if !ok || c != p.BankAccount.Currency {
				return ParamError(CodeParameterInvalid, "bank_account[currency]", "bank_account[currency] must be an upper-case ISO 4217 code the platform accepts.")
			}
			return nil
		},
	}
	for _, c := range checks {
		if err := c(); err != nil {
			return err
		}
	}
	return nil
}

func (r *KYCRepresentative) validateAge(now time.Time) error {
	const param = "representative[date_of_birth]"
	dob, err := time.Parse(time.DateOnly, r.DateOfBirth)
	if err != nil {
		return ParamError(CodeParameterInvalid, param, "%s must be a date YYYY-MM-DD.", param)
	}
	if !dob.AddDate(MinRepresentativeAge, 0, 0).After(now) {
		return nil
	}
	return ParamError(CodeParameterInvalid, param, "The representative must be at least %d years old.", MinRepresentativeAge)
}

// Last4 is the last four characters of s, as a sealed number is shown.
func Last4(s string) string {
	if len(s) <= 4 {
		return s
	}
	return s[len(s)-4:]
}

// KYCRequirements lists what is still due and what is being verified.
type KYCRequirements struct {
	CurrentlyDue        []string `json:"currently_due"`
	PendingVerification []string `json:"pending_verification"`
}

// KYCFields are the fields a submission provides.
var KYCFields = []string{"legal_name", "registration_number", "country", "address", "representative", "bank_account"}

// KYC is a merchant's verification as shown to it: the status, what is due, and the
// submitted details with the sealed numbers as last four only.
type KYC struct {
	Object         string          `json:"object"`
	Merchant       string          `json:"merchant"`
	Status         string          `json:"status"`
	Requirements   KYCRequirements `json:"requirements"`
	RejectedReason *string         `json:"rejected_reason"`
	// ChargesEnabled: the merchant may take payments (an unverified one up to its limit).
	ChargesEnabled bool `json:"charges_enabled"`
	// PayoutsEnabled: the merchant is verified, payouts may go to its bank account.
	PayoutsEnabled bool       `json:"payouts_enabled"`
	Details        *KYCParams `json:"details"`
	SubmittedAt    *time.Time `json:"submitted_at"`
	DecidedAt      *time.Time `json:"decided_at"`
}

// NewKYC is the verification object for status, filling requirements and the flags.
func NewKYC(merchantID, status string) *KYC {
	k := &KYC{Object: "kyc", Merchant: merchantID, Status: status, ChargesEnabled: status != KYCRejected,
		PayoutsEnabled: status == KYCVerified, Requirements: KYCRequirements{CurrentlyDue: []string{}, PendingVerification: []string{}}}
	switch status {
	case KYCUnverified, KYCRejected:
		k.Requirements.CurrentlyDue = append(k.Requirements.CurrentlyDue, KYCFields...)
	case KYCPending:
		k.Requirements.PendingVerification = append(k.Requirements.PendingVerification, KYCFields...)
	}
	return k
}
