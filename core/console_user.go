package core

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// Back-office roles. Merchant users have owner, admin or analyst; operators have operator,
// risk or support.
const (
	RoleOwner    = "owner"
	RoleAdmin    = "admin"
	RoleAnalyst  = "analyst"
	RoleOperator = "operator"
	RoleRisk     = "risk"
	RoleSupport  = "support"
)

// PrefixUser, PrefixAudit and PrefixInvitation prefix back-office user, audit and
// invitation IDs.
const (
	PrefixUser       = "usr"
	PrefixAudit      = "aud"
	PrefixInvitation = "inv"
)

// Permission is something a back-office user may be allowed to do.
type Permission string

// Permissions, checked on the server for every action.
const (
	PermViewPayments    Permission = "view_payments"    // payments, overview, exports
	PermRefund          Permission = "refund"           // refund a payment
	PermManageKeys      Permission = "manage_keys"      // roll and revoke API keys
	PermManagePayouts   Permission = "manage_payouts"   // pay out, set the payout schedule
	PermManageWebhooks  Permission = "manage_webhooks"  // create, roll, redeliver
	PermManageTeam      Permission = "manage_team"      // add merchant users
	PermViewMerchants   Permission = "view_merchants"   // operators: merchants and their channels
	PermManageMerchants Permission = "manage_merchants" // operators: merchant owners, channel switches
	PermReviewRisk      Permission = "review_risk"      // operators: approve or reject held payments
	PermViewRisk        Permission = "view_risk"        // operators: review queue, rules, alerts
	PermReviewKYC       Permission = "review_kyc"       // operators: approve or reject KYC submissions
	PermManageRegions   Permission = "manage_regions"   // operators: drain and undrain regions
	PermManageRisk      Permission = "manage_risk"      // operators: risk rules and lists, rule dry-runs
	PermManageAML       Permission = "manage_aml"       // operators: open, escalate and close AML cases
)

var rolePermissions = map[string][]Permission{
	RoleOwner:    {PermViewPayments, PermRefund, PermManageKeys, PermManagePayouts, PermManageWebhooks, PermManageTeam},
	RoleAdmin:    {PermViewPayments, PermRefund, PermManageKeys, PermManagePayouts, PermManageWebhooks},
	RoleAnalyst:  {PermViewPayments},
	RoleOperator: {PermViewMerchants, PermManageMerchants, PermReviewRisk, PermViewRisk, PermReviewKYC, PermManageRegions},
	RoleRisk:     {PermViewMerchants, PermReviewRisk, PermViewRisk, PermReviewKYC, PermManageRisk, PermManageAML},
	RoleSupport:  {PermViewMerchants, PermViewRisk},
}

// User is a person who signs in to the back office.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Role  string `json:"role"`
	// MerchantID is the merchant a merchant user belongs to; empty for operators.
	MerchantID string    `json:"merchant,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	// TOTPEnabled says the user set up a TOTP second factor, required at login.
	TOTPEnabled bool `json:"totp_enabled"`
}

// Operator reports whether u is a platform operator rather than a merchant user.
func (u *User) Operator() bool { return u.MerchantID == "" }

// Can reports whether u's role grants p.
func (u *User) Can(p Permission) bool {
	for _, q := range rolePermissions[u.Role] {
		if q == p {
			return true
		}
	}
	return false
}

// Session is a signed-in user's session. Token is the secret the cookie carries; it is set
// only when the session is created (only its hash is stored).
type Session struct {
	Token      string
	User       *User
	CSRF       string
	CreatedAt  time.Time
	LastSeenAt time.Time
}

// CreateUserParams creates a back-office user.
type CreateUserParams struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Role     string `json:"role"`
	// Merchant is the merchant of a merchant user; empty for an operator.
	Merchant string `json:"merchant"`
}

// MinPasswordLength is the shortest password accepted, in characters.
const MinPasswordLength = 12

// Validate checks p: a merchant user needs a merchant role, an operator an operator role.
func (p *CreateUserParams) Validate() error {
	a, err := mail.ParseAddress(p.Email)
	if err != nil || a.Address != p.Email || len(p.Email) > 254 {
		return ParamError(CodeParameterInvalid, "email", "email must be an e-mail address such as ana@example.com.")
	}
	if n := len([]rune(p.Password)); n < MinPasswordLength || n > 256 {
		return ParamError(CodeParameterInvalid, "password", "password must have %d to 256 characters.", MinPasswordLength)
	}
	merchantRoles := []string{RoleOwner, RoleAdmin, RoleAnalyst}
	operatorRoles := []string{RoleOperator, RoleRisk, RoleSupport}
	roles := operatorRoles
	if p.Merchant != "" {
		roles = merchantRoles
	}
	for _, r := range roles {
		if p.Role == r {
			return nil
		}
	}
	return ParamError(CodeParameterInvalid, "role", "role must be one of %s.", strings.Join(roles, ", "))
}

// InvitationTTL is how long an e-mailed invitation's link stays good (once).
const InvitationTTL = 72 * time.Hour

// Invitation is a merchant owner's invitation of a person by e-mail, with a role.
type Invitation struct {
	ID         string
	MerchantID string
	Email      string
	Role       string
	InvitedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	UsedAt     *time.Time
}

// InviteParams invites a person to a merchant's back office.
type InviteParams struct {
	Email    string
	Role     string
	Merchant string
}

// Validate checks p: an e-mail address and a merchant role.
func (p *InviteParams) Validate() error {
	c := CreateUserParams{Email: p.Email, Password: strings.Repeat("x", MinPasswordLength), Role: p.Role, Merchant: p.Merchant}
	return c.Validate()
}

// NormalizeEmail is how e-mail addresses are compared: trimmed and lower-cased.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// argon2id parameters (RFC 9106's second recommended option, with 64 MiB of memory).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 2
	argonKeyLen  = 32
)

// HashPassword hashes a password with argon2id, in the PHC string format.
func HashPassword(password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// CheckPassword reports whether password matches a hash made by HashPassword, in constant
// time. A malformed hash matches nothing.
func CheckPassword(hash, password string) bool {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var v int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	want, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// ErrLoginFailed is the one answer to a wrong e-mail or password, so that neither is
// revealed.
var ErrLoginFailed = Errorf(CodeUnauthenticated, "Wrong e-mail or password.")

// ErrTOTPRequired answers a right password of a user with a second factor when no code
// came with it.
var ErrTOTPRequired = Errorf(CodeUnauthenticated, "Enter the 6-digit code from your authenticator app.")

// MaxFailedLogins is how many wrong passwords in a row lock an account.
const MaxFailedLogins = 5

// PaymentStats is a merchant's figures over a period, in minor units of Currency.
type PaymentStats struct {
	Currency      string
	Channel       Channel
	Region        string // the region that took the payments
	Count         int64  // payments created
	Succeeded     int64  // payments that reached succeeded (or requires_capture)
	Volume        int64  // amount of those, minor units
	RefundCount   int64
	RefundVolume  int64 // amount refunded (succeeded refunds), minor units
	FailedOrOther int64
}

// SuccessRate is Succeeded / Count, or 0 with no payments.
func (s PaymentStats) SuccessRate() float64 {
	if s.Count == 0 {
		return 0
	}
	return float64(s.Succeeded) / float64(s.Count)
}

// DayVolume is one day's captured-or-authorised volume in one currency, for a chart.
type DayVolume struct {
	Day      time.Time
	Currency string
	Volume   int64
	Count    int64
}

// Overview is a merchant's back-office overview.
type Overview struct {
	Today  []PaymentStats // by currency, channel and region, since 00:00 UTC
	Last30 []PaymentStats // by currency, channel and region, the last 30 days including today
	Days   []DayVolume    // the last 30 days, oldest first, every day present
}

// MerchantSummary is one merchant as operators list it.
type MerchantSummary struct {
	ID        string
	Name      string
	Region    string
	Status    string
	CreatedAt time.Time
}

// AuditEntry is one change made in the back office.
type AuditEntry struct {
	ID        string
	UserID    string
	Merchant  string
	Action    string
	ObjectID  string
	Detail    string
	CreatedAt time.Time
}

// RiskListItem is one entry of a risk list, as the back office shows it.
type RiskListItem struct {
	Value     string
	CreatedAt time.Time
}
