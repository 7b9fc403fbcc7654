package paysdk

import (
	"context"
	"net/url"
	"time"
)

// APIKey describes one of the merchant's secret keys; the key itself is never shown again
// after the answer that created it.
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

// RollKeyParams says how long the key being rolled keeps working.
type RollKeyParams struct {
	// ExpireCurrentIn is the grace period of the current key, in seconds (0: it stops at
	// once).
	ExpireCurrentIn int64 `json:"expire_current_in"`
}

// APIKeys lists the merchant's live keys (GET /v1/api_keys); Current marks the client's.
func (c *Client) APIKeys(ctx context.Context) (*List[APIKey], error) {
	var out List[APIKey]
	if err := c.get(ctx, "/v1/api_keys", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RollKey replaces the key this client uses with a new one (POST /v1/api_keys/roll). The
// answer's SecretKey is the new key, shown only here; the client keeps the old key, so
// make a new Client with the new one. The old key works for p.ExpireCurrentIn seconds.
func (c *Client) RollKey(ctx context.Context, p RollKeyParams) (*Merchant, error) {
	var out Merchant
	if err := c.post(ctx, "/v1/api_keys/roll", p, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeKey ends one of the merchant's keys at once (POST /v1/api_keys/{id}/revoke). The
// key the client uses cannot revoke itself; roll it instead.
func (c *Client) RevokeKey(ctx context.Context, id string) (*APIKey, error) {
	if id == "" {
		return nil, localError(CodeParameterMissing, "id", "An API key ID is required.")
	}
	var out APIKey
	if err := c.post(ctx, "/v1/api_keys/"+url.PathEscape(id)+"/revoke", struct{}{}, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// RevokeAllKeys ends every key of a merchant at once and issues a new one, shown only in
// the answer's SecretKey (POST /v1/admin/merchants/{id}/api_keys/revoke_all): for a
// merchant whose keys leaked.
func (a *Admin) RevokeAllKeys(ctx context.Context, merchantID string) (*Merchant, error) {
	if merchantID == "" {
		return nil, localError(CodeParameterMissing, "id", "A merchant ID is required.")
	}
	var out Merchant
	if err := a.post(ctx, "/v1/admin/merchants/"+url.PathEscape(merchantID)+"/api_keys/revoke_all", struct{}{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
