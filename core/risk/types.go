package risk

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
)

// ID prefixes of risk objects.
const (
	PrefixRule  = "rr"
	PrefixList  = "rl"
	PrefixCase  = "aml"
	PrefixAudit = "rau"
)

// RuleObject is a rule as operators manage it.
type RuleObject struct {
	ID         string    `json:"id"`
	Object     string    `json:"object"`
	Name       string    `json:"name"`
	Action     string    `json:"action"`
	Expression string    `json:"expression"`
	Scope      string    `json:"scope"`
	Enabled    bool      `json:"enabled"`
	Version    int64     `json:"version"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// RuleParams create a rule, or (nil fields unchanged) update one.
type RuleParams struct {
	Name       *string `json:"name"`
	Action     *string `json:"action"`
	Expression *string `json:"expression"`
	Scope      *string `json:"scope"`
	Enabled    *bool   `json:"enabled"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// Validate checks p; create insists on name, action and expression, and defaults scope
// to the platform and enabled to true. The expression is compiled.
func (p *RuleParams) Validate(create bool) (*Program, error) {
	if create {
		for _, f := range []struct {
			name string
			v    *string
		}{{"name", p.Name}, {"action", p.Action}, {"expression", p.Expression}} {
			if f.v == nil {
				return nil, core.ParamError(core.CodeParameterMissing, f.name, "%s is required.", f.name)
			}
		}
		if p.Scope == nil {
			s := ScopePlatform
			p.Scope = &s
		}
		if p.Enabled == nil {
			t := true
			p.Enabled = &t
		}
	} else if p.Scope != nil {
		return nil, core.ParamError(core.CodeParameterInvalid, "scope", "A rule's scope cannot change: disable it and create another.")
	}
	if p.Name != nil {
		if err := ValidateName("name", *p.Name); err != nil {
			return nil, err
		}
	}
	if p.Action != nil && *p.Action != ActionAllow && *p.Action != ActionBlock && *p.Action != ActionReview {
		return nil, core.ParamError(core.CodeParameterInvalid, "action", "action must be one of %s.", strings.Join(Actions, ", "))
	}
	if p.Scope != nil {
		if err := validScope(*p.Scope); err != nil {
			return nil, err
		}
	}
	if p.Expression != nil {
		return Compile(*p.Expression)
	}
	return nil, nil
}

func validScope(scope string) error {
	if scope == ScopePlatform {
		return nil
	}
	if core.ValidateID("scope", scope) != nil || !strings.HasPrefix(scope, core.PrefixMerchant+"_") {
		return core.ParamError(core.CodeParameterInvalid, "scope", "scope must be \"platform\" or a merchant ID.")
	}
	return nil
}

// ValidateName checks the name of a rule or list: 1 to 100 lower-case letters, digits and
// _ . -, starting with a letter or digit.
func ValidateName(param, name string) error {
	if name == "" {
		return core.ParamError(core.CodeParameterMissing, param, "%s is required.", param)
	}
	if len(name) > MaxRuleNameLen || !nameRE.MatchString(name) {
		return core.ParamError(core.CodeParameterInvalid, param, "%s must be 1 to %d lower-case letters, digits, '_', '.' or '-'.", param, MaxRuleNameLen)
	}
	return nil
}

// DryRunParams ask how many of the last Days days of payments (in Scope) a rule would match.
type DryRunParams struct {
	Expression string `json:"expression"`
	Scope      string `json:"scope"`
	Days       int    `json:"days"`
}

// MaxDryRunDays and MaxDryRunPayments bound a dry run.
const (
	MaxDryRunDays     = 90
	MaxDryRunPayments = 50_000
)

// Validate checks p (scope defaults to the platform, days to 7) and compiles the expression.
func (p *DryRunParams) Validate() (*Program, error) {
	if p.Scope == "" {
		p.Scope = ScopePlatform
	}
	if p.Days == 0 {
		p.Days = 7
	}
	if p.Days < 1 || p.Days > MaxDryRunDays {
		return nil, core.ParamError(core.CodeParameterInvalid, "days", "days must be from 1 to %d.", MaxDryRunDays)
	}
	if err := validScope(p.Scope); err != nil {
		return nil, err
	}
	return Compile(p.Expression)
}

// DryRunResult is what a dry run found.
type DryRunResult struct {
	Object    string `json:"object"`
	Evaluated int    `json:"evaluated"`
	Matched   int    `json:"matched"`
	// Matches are up to 20 of the matched payments' IDs, newest first.
	Matches   []string `json:"matches"`
	Truncated bool     `json:"truncated"`
}

// List item types.
const (
	ItemCardFingerprint = "card_fingerprint"
	ItemEmail           = "email"
	ItemIP              = "ip"
	ItemCountry         = "country"
	ItemCustomer        = "customer"
)

// ItemTypes lists the item types of lists.
var ItemTypes = []string{ItemCardFingerprint, ItemEmail, ItemIP, ItemCountry, ItemCustomer}

// ListObject is a list, as operators manage it.
type ListObject struct {
	ID        string    `json:"id"`
	Object    string    `json:"object"`
	Name      string    `json:"name"`
	ItemType  string    `json:"item_type"`
	Items     int64     `json:"items"`
	CreatedAt time.Time `json:"created_at"`
}

// ListParams create a list.
type ListParams struct {
	Name     string `json:"name"`
	ItemType string `json:"item_type"`
}

// Validate checks p.
func (p *ListParams) Validate() error {
	if err := ValidateName("name", p.Name); err != nil {
		return err
	}
	for _, t := range ItemTypes {
		if p.ItemType == t {
			return nil
		}
	}
	if p.ItemType == "" {
		return core.ParamError(core.CodeParameterMissing, "item_type", "item_type is required: one of %s.", strings.Join(ItemTypes, ", "))
	}
	return core.ParamError(core.CodeParameterInvalid, "item_type", "item_type must be one of %s.", strings.Join(ItemTypes, ", "))
}

// ItemParams add or remove list items.
type ItemParams struct {
	Values []string `json:"values"`
}

// MaxItemsPerCall bounds one call's items.
const MaxItemsPerCall = 1000

// Validate checks each value against the list's item type, normalising e-mails and
// countries.
func (p *ItemParams) Validate(itemType string) error {
	if len(p.Values) == 0 || len(p.Values) > MaxItemsPerCall {
		return core.ParamError(core.CodeParameterInvalid, "values", "values must hold 1 to %d items.", MaxItemsPerCall)
	}
	for i, v := range p.Values {
		param := fmt.Sprintf("values[%d]", i)
		if err := core.ValidateText(param, v, core.MaxCustomerField, core.SingleLine); err != nil || v == "" {
			return core.ParamError(core.CodeParameterInvalid, param, "%s must be 1 to %d characters without control characters.", param, core.MaxCustomerField)
		}
		switch itemType {
		case ItemEmail:
			if !strings.Contains(v, "@") {
				return core.ParamError(core.CodeParameterInvalid, param, "%s is not an email address.", param)
			}
			p.Values[i] = strings.ToLower(v)
		case ItemCountry:
			if len(v) != 2 {
				return core.ParamError(core.CodeParameterInvalid, param, "%s must be an ISO 3166 two-letter country code.", param)
			}
			p.Values[i] = strings.ToUpper(v)
		case ItemCardFingerprint:
			if len(v) != 24 || strings.Trim(v, "0123456789abcdef") != "" {
				return core.ParamError(core.CodeParameterInvalid, param, "%s must be a card fingerprint as payments show it (24 hex digits).", param)
			}
		}
	}
	return nil
}

// Review is a payment held for an operator's review.
type Review struct {
	Object    string     `json:"object"`
	Payment   string     `json:"payment"`
	Merchant  string     `json:"merchant"`
	Status    string     `json:"status"` // open, approved, rejected
	Rule      *string    `json:"rule"`
	Reason    *string    `json:"reason"`
	ClosedBy  *string    `json:"closed_by"`
	OpenedAt  time.Time  `json:"opened_at"`
	ClosedAt  *time.Time `json:"closed_at"`
	Amount    int64      `json:"amount"`
	Currency  string     `json:"currency"`
	RiskScore int        `json:"risk_score"`
}

// Review statuses.
const (
	ReviewOpen     = "open"
	ReviewApproved = "approved"
	ReviewRejected = "rejected"
)

// RejectParams reject a review.
type RejectParams struct {
	Reason string `json:"reason"`
}

// Validate checks p.
func (p *RejectParams) Validate() error {
	return core.ValidateText("reason", p.Reason, core.MaxCancelReasonLen, core.Multiline)
}

// AuditEntry is one audited operator action.
type AuditEntry struct {
	ID         string         `json:"id"`
	Actor      string         `json:"actor"`
	Action     string         `json:"action"`
	ObjectType string         `json:"object_type"`
	ObjectID   string         `json:"object_id"`
	Detail     map[string]any `json:"detail"`
	CreatedAt  time.Time      `json:"created_at"`
}

// Verification is what the platform knows of a customer's verification, per merchant.
type Verification struct {
	Object        string     `json:"object"`
	Customer      string     `json:"customer"`
	Phone         *string    `json:"phone"`
	PhoneVerified bool       `json:"phone_verified"`
	VerifiedAt    *time.Time `json:"phone_verified_at"`
	// Cards are the fingerprints of the cards bound to the customer.
	Cards []string `json:"cards"`
}

// PhoneVerification is a one-time code issued for a customer's phone.
type PhoneVerification struct {
	ID           string    `json:"id"`
	Object       string    `json:"object"`
	Customer     string    `json:"customer"`
	Phone        string    `json:"phone"`
	Status       string    `json:"status"` // pending, verified
	ExpiresAt    time.Time `json:"expires_at"`
	AttemptsLeft int       `json:"attempts_left"`
}

// One-time code limits.
const (
	CodeTTL         = 10 * time.Minute
	CodeAttempts    = 5
	CodesPerHour    = 5
	EventCodeIssued = "customer.verification_code"
)

var phoneRE = regexp.MustCompile(`^\+?[0-9][0-9 ()-]{4,30}$`)

// PhoneParams ask for a code for a phone.
type PhoneParams struct {
	Phone string `json:"phone"`
}

// Validate checks p.
func (p *PhoneParams) Validate() error {
	if p.Phone == "" {
		return core.ParamError(core.CodeParameterMissing, "phone", "phone is required.")
	}
	if !phoneRE.MatchString(p.Phone) {
		return core.ParamError(core.CodeParameterInvalid, "phone", "phone must be a phone number: digits, with an optional leading '+', spaces, '-' and parentheses.")
	}
	return nil
}

// ConfirmParams confirm a code.
type ConfirmParams struct {
	Code string `json:"code"`
}

// Validate checks p.
func (p *ConfirmParams) Validate() error {
	if len(p.Code) != 6 || strings.Trim(p.Code, "0123456789") != "" {
		return core.ParamError(core.CodeParameterInvalid, "code", "code must be the 6 digits sent to the phone.")
	}
	return nil
}

// BindParams bind the card of one of the customer's payments.
type BindParams struct {
	Payment string `json:"payment"`
}

// Validate checks p.
func (p *BindParams) Validate() error {
	if p.Payment == "" {
		return core.ParamError(core.CodeParameterMissing, "payment", "payment is required: a payment of this customer made with the card.")
	}
	return core.ValidateID("payment", p.Payment)
}
