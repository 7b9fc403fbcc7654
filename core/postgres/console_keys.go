package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// consoleActor is how the API keys' own trail (api_key_events) names a back-office user.
func consoleActor(userID string) string { return "console:" + userID }

// ConsoleRollKey rolls one of the merchant's live keys, picked by its ID, for a back-office
// user (who never holds a secret): as RollKey, the key expires after grace and a new secret
// is issued and returned once in the merchant's SecretKey. Another merchant's key, or one no
// longer live, is not found.
func (s *Service) ConsoleRollKey(ctx context.Context, merchantID, id, userID string, grace time.Duration) (*core.Merchant, error) {
	notFound := core.ParamError(core.CodeNotFound, "id", "No such live API key: '%s'.", id)
	if len(id) != len("key_")+24 || !strings.HasPrefix(id, "key_") {
		return nil, notFound
	}
	return s.rollKey(ctx, merchantID, grace, consoleActor(userID), func(tx pgx.Tx, now time.Time) (string, *time.Time, error) {
		var hash string
		var expires *time.Time
		err := tx.QueryRow(ctx, `SELECT key_hash, expires_at FROM api_keys
			WHERE merchant_id = $1 AND left(key_hash, 24) = $2 AND (expires_at IS NULL OR expires_at > $3)`,
			merchantID, strings.TrimPrefix(id, "key_"), now).Scan(&hash, &expires)
		if errNoRows(err) {
			return "", nil, notFound
		}
		return hash, expires, err
	})
}

// ConsoleRevokeKey ends one of the merchant's live keys at once for a back-office user, as
// RevokeKey.
func (s *Service) ConsoleRevokeKey(ctx context.Context, merchantID, id, userID string) (*core.APIKey, error) {
	out, _, err := s.revokeKey(ctx, merchantID, id, consoleActor(userID))
	return out, err
}
