package core

import "time"

// APIKey describes one of a merchant's secret keys, never the key itself.
type APIKey struct {
	ID     string `json:"id"`
	Object string `json:"object"`
	// Prefix and Last4 are the key's first ten and last four characters, to tell keys apart.
	Prefix    string     `json:"prefix"`
	Last4     string     `json:"last4"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	// LastUsedAt is when the key last authenticated a request, to within an hour.
	LastUsedAt *time.Time `json:"last_used_at"`
	// Current marks the key the listing request was made with.
	Current bool `json:"current"`
}

// MaxLiveAPIKeys bounds a merchant's live keys, those rolled and still in their grace period
// included. A roll replaces the key it is made with, so a merchant has one key without an
// expiry and, while deployments switch over, a few expiring ones.
const MaxLiveAPIKeys = 5

// Actions recorded in a merchant's key audit trail.
const (
	KeyCreated    = "created"
	KeyRolled     = "rolled"
	KeyRevoked    = "revoked"
	KeyRevokedAll = "revoked_by_operator"
)
