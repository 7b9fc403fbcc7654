package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// RegisterRegion records that this service's region serves the platform. Merchants can only
// be homed in registered regions.
func (s *Service) RegisterRegion(ctx context.Context) error {
	return s.db.WriteTx(ctx, "region.register", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO regions (name, created_at) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING`,
			s.cfg.Region, s.now())
		return err
	})
}

// Regions lists the registered regions.
func (s *Service) Regions(ctx context.Context) ([]string, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT name FROM regions ORDER BY name`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func hashKey(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func newSecretKey() string { return "sk_" + core.RandomToken(25) }

// CreateMerchant onboards a merchant homed in region and returns it with its secret key,
// which is shown only here.
func (s *Service) CreateMerchant(ctx context.Context, name, region string) (*core.Merchant, error) {
	name = strings.TrimSpace(name)
	if err := core.ValidateMerchantName(name); err != nil {
		return nil, err
	}
	if err := core.ValidateRegionName("home_region", region); err != nil {
		return nil, err
	}
	now := s.now()
	m := &core.Merchant{Object: "merchant", ID: core.NewID(core.PrefixMerchant, region), Name: name,
		HomeRegion: region, Status: "active", CreatedAt: now, SecretKey: newSecretKey()}
	var known bool
	err := s.db.WriteTx(ctx, "merchant.create", func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM regions WHERE name = $1)`, region).Scan(&known); err != nil || !known {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO merchants (id, region, name, status, created_at) VALUES ($1, $2, $3, $4, $5)`,
			m.ID, region, name, m.Status, now); err != nil {
			return fmt.Errorf("insert merchant: %w", err)
		}
		return insertKey(ctx, tx, m.ID, region, m.SecretKey, actorOperator, now)
	})
	if err != nil {
		return nil, core.Internal(err)
	}
	if !known {
		regions, _ := s.Regions(ctx)
		return nil, core.ParamError(core.CodeParameterInvalid, "home_region", "Unknown region %q: the platform serves %s.", region, strings.Join(regions, ", "))
	}
	return m, nil
}

// Authenticate finds the merchant whose live secret key is secret. A key this node
// authenticated recently is taken from its cache (Config.AuthCacheTTL).
func (s *Service) Authenticate(ctx context.Context, secret string) (*core.Merchant, error) {
	invalid := core.Errorf(core.CodeUnauthenticated, "Invalid API key: use 'Authorization: Bearer <secret key>' with a live key.")
	h := hashKey(secret)
	now := s.now()
	if m, live, ok := s.auth.get(h, now); ok {
		if !live {
			return nil, invalid
		}
		return &m, nil
	}
	gen := s.auth.generation()
	m := &core.Merchant{Object: "merchant"}
	var expires, lastUsed *time.Time
	err := s.db.Pool.QueryRow(ctx, `
		SELECT m.id, m.name, m.region, m.status, m.created_at, k.expires_at, k.last_used_at
		FROM api_keys k JOIN merchants m ON m.id = k.merchant_id WHERE k.key_hash = $1`,
		h).Scan(&m.ID, &m.Name, &m.HomeRegion, &m.Status, &m.CreatedAt, &expires, &lastUsed)
	if errNoRows(err) || (err == nil && expires != nil && !expires.After(now)) || (err == nil && m.Status != "active") {
		return nil, invalid
	}
	if err != nil {
		return nil, s.dbError(ctx, err)
	}
	if lastUsed == nil || now.Sub(*lastUsed) > lastUsedResolution {
		// Best effort, and at most hourly per key: a failure to note the use fails nothing.
		if _, err := s.db.Pool.Exec(ctx, `UPDATE api_keys SET last_used_at = $2 WHERE key_hash = $1`, h, now); err != nil {
			s.log.WarnContext(ctx, "could not record a key's use", "key", keyID(h), "err", err)
		}
	}
	s.auth.put(h, *m, expires, now, gen)
	return m, nil
}

// lastUsedResolution is how stale an API key's last_used_at may be: noting every use would
// cost a write per request.
const lastUsedResolution = time.Hour

const actorOperator = "operator"

// keyID is the public ID of the key with hash h: derived from the hash, so that it needs no
// column and can be computed from the key at hand.
func keyID(h string) string { return "key_" + h[:24] }

func actorKey(secret string) string { return "key:" + keyID(hashKey(secret)) }

// insertKey stores a new key and records its creation.
func insertKey(ctx context.Context, tx pgx.Tx, merchantID, region, secret, actor string, now time.Time) error {
	if _, err := tx.Exec(ctx, `INSERT INTO api_keys (key_hash, merchant_id, region, prefix, last4, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		hashKey(secret), merchantID, region, secret[:10], secret[len(secret)-4:], now); err != nil {
		return fmt.Errorf("insert key: %w", err)
	}
	return auditKey(ctx, tx, merchantID, region, keyID(hashKey(secret)), core.KeyCreated, actor, now)
}

// auditKey appends to the merchant's key audit trail.
func auditKey(ctx context.Context, tx pgx.Tx, merchantID, region, keyID, action, actor string, now time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO api_key_events (id, merchant_id, region, key_id, action, actor, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		core.NewID(core.PrefixKeyEvent, region), merchantID, region, keyID, action, actor, now)
	if err != nil {
		return fmt.Errorf("audit key change: %w", err)
	}
	return nil
}

func (s *Service) merchantForUpdate(ctx context.Context, tx pgx.Tx, merchantID string) (*core.Merchant, error) {
	m := &core.Merchant{Object: "merchant"}
	err := tx.QueryRow(ctx, `SELECT id, name, region, status, created_at FROM merchants WHERE id = $1 FOR UPDATE`, merchantID).
		Scan(&m.ID, &m.Name, &m.HomeRegion, &m.Status, &m.CreatedAt)
	if errNoRows(err) {
		return nil, core.ParamError(core.CodeNotFound, "id", "No such merchant: '%s'.", merchantID)
	}
	return m, err
}

// RollKey issues a new secret key that replaces the one used to call: that key expires
// after grace (0: at once; at most 24h), so deployments can switch over. A key already
// expiring cannot be rolled (only the newest key can), and a roll that would leave more than
// core.MaxLiveAPIKeys live keys is refused, so one key can never mint keys without end.
func (s *Service) RollKey(ctx context.Context, merchantID, currentSecret string, grace time.Duration) (*core.Merchant, error) {
	current := hashKey(currentSecret)
	return s.rollKey(ctx, merchantID, grace, actorKey(currentSecret), func(tx pgx.Tx, now time.Time) (string, *time.Time, error) {
		var expires *time.Time
		err := tx.QueryRow(ctx, `SELECT expires_at FROM api_keys WHERE merchant_id = $1 AND key_hash = $2`, merchantID, current).Scan(&expires)
		if errNoRows(err) || (err == nil && expires != nil && !expires.After(now)) {
			return "", nil, core.Errorf(core.CodeUnauthenticated, "The key used to call is no longer live.")
		}
		return current, expires, err
	})
}

// rollKey rolls the key find picks (by its hash, with its expiry; find runs with the
// merchant's row locked) as RollKey says, recording actor as who did it.
func (s *Service) rollKey(ctx context.Context, merchantID string, grace time.Duration, actor string,
	find func(tx pgx.Tx, now time.Time) (string, *time.Time, error)) (*core.Merchant, error) {
	if grace < 0 || grace > 24*time.Hour {
		return nil, core.ParamError(core.CodeParameterInvalid, "expire_current_in", "expire_current_in must be 0 to 86400 seconds.")
	}
	now := s.now()
	secret := newSecretKey()
	var current string
	var m *core.Merchant
	err := s.db.WriteTx(ctx, "merchant.roll_key", func(tx pgx.Tx) error {
		var err error
		// The merchant's row serialises its key changes.
		if m, err = s.merchantForUpdate(ctx, tx, merchantID); err != nil {
			return err
		}
		m.SecretKey = secret
		var expires *time.Time
		if current, expires, err = find(tx, now); err != nil {
			return err
		}
		if expires != nil {
			return core.Errorf(core.CodeForbidden, "This key was already rolled and expires at %s: roll with the key that replaced it.", expires.UTC().Format(time.RFC3339))
		}
		var live int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE merchant_id = $1 AND (expires_at IS NULL OR expires_at > $2)`,
			merchantID, now).Scan(&live); err != nil {
			return err
		}
		if grace > 0 && live >= core.MaxLiveAPIKeys {
			return core.Errorf(core.CodeForbidden, "At most %d keys may be live at once: revoke an expiring key (POST /v1/api_keys/{id}/revoke) or roll with expire_current_in 0.", core.MaxLiveAPIKeys)
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET expires_at = $3 WHERE merchant_id = $1 AND key_hash = $2`,
			merchantID, current, now.Add(grace)); err != nil {
			return err
		}
		if err := auditKey(ctx, tx, merchantID, m.HomeRegion, keyID(current), core.KeyRolled, actor, now); err != nil {
			return err
		}
		if err := s.consoleAudit(ctx, tx, merchantID, "api_key.rolled", keyID(current), "old key expires in "+grace.String()); err != nil {
			return err
		}
		return insertKey(ctx, tx, merchantID, m.HomeRegion, secret, actor, now)
	})
	if err != nil {
		return nil, core.AsError(err)
	}
	s.auth.drop(current)
	return m, nil
}

// APIKeys lists the merchant's live keys, newest first; currentSecret's is marked current.
func (s *Service) APIKeys(ctx context.Context, merchantID, currentSecret string) ([]core.APIKey, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT key_hash, prefix, COALESCE(last4, ''), created_at, expires_at, last_used_at
		FROM api_keys WHERE merchant_id = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY created_at DESC, key_hash`,
		merchantID, s.now())
	if err != nil {
		return nil, core.Internal(err)
	}
	current := hashKey(currentSecret)
	out := []core.APIKey{}
	for rows.Next() {
		var h string
		k := core.APIKey{Object: "api_key"}
		if err := rows.Scan(&h, &k.Prefix, &k.Last4, &k.CreatedAt, &k.ExpiresAt, &k.LastUsedAt); err != nil {
			return nil, core.Internal(err)
		}
		k.ID, k.Current = keyID(h), h == current
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, core.Internal(err)
	}
	return out, nil
}

// RevokeKey ends one of the merchant's live keys at once. The merchant's last key without an
// expiry cannot be revoked (nothing would be left to call with); roll it instead.
func (s *Service) RevokeKey(ctx context.Context, merchantID, id, currentSecret string) (*core.APIKey, error) {
	out, revoked, err := s.revokeKey(ctx, merchantID, id, actorKey(currentSecret))
	if err != nil {
		return nil, err
	}
	out.Current = revoked == hashKey(currentSecret)
	return out, nil
}

// revokeKey revokes a key as RevokeKey says, recording actor as who did it; it returns the
// revoked key's hash too.
func (s *Service) revokeKey(ctx context.Context, merchantID, id, actor string) (*core.APIKey, string, error) {
	now := s.now()
	notFound := core.ParamError(core.CodeNotFound, "id", "No such live API key: '%s'.", id)
	if len(id) != len("key_")+24 {
		return nil, "", notFound
	}
	var revoked string
	out := &core.APIKey{Object: "api_key", ID: id}
	err := s.db.WriteTx(ctx, "merchant.revoke_key", func(tx pgx.Tx) error {
		m, err := s.merchantForUpdate(ctx, tx, merchantID)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT key_hash, prefix, COALESCE(last4, ''), created_at, expires_at, last_used_at
			FROM api_keys WHERE merchant_id = $1 AND (expires_at IS NULL OR expires_at > $2)`, merchantID, now)
		if err != nil {
			return err
		}
		permanent, found := 0, false
		for rows.Next() {
			var h string
			k := core.APIKey{Object: "api_key"}
			if err := rows.Scan(&h, &k.Prefix, &k.Last4, &k.CreatedAt, &k.ExpiresAt, &k.LastUsedAt); err != nil {
				rows.Close()
				return err
			}
			if k.ExpiresAt == nil {
				permanent++
			}
			if keyID(h) == id {
				found, revoked, *out = true, h, k
				out.ID = id
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if !found {
			return notFound
		}
		if out.ExpiresAt == nil && permanent == 1 {
			return core.Errorf(core.CodeForbidden, "This is the account's only key without an expiry: roll it (POST /v1/api_keys/roll) rather than revoke it.")
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET expires_at = $2, revoked_at = $2 WHERE key_hash = $1`, revoked, now); err != nil {
			return err
		}
		if err := s.consoleAudit(ctx, tx, merchantID, "api_key.revoked", id, ""); err != nil {
			return err
		}
		return auditKey(ctx, tx, merchantID, m.HomeRegion, id, core.KeyRevoked, actor, now)
	})
	if err != nil {
		return nil, "", core.AsError(err)
	}
	s.auth.drop(revoked)
	out.ExpiresAt = &now
	return out, revoked, nil
}

// RevokeAllKeys is the operator's answer to a leaked key: every key of the merchant ends at
// once, and a new one is issued (returned once, in the merchant's SecretKey). Other nodes
// stop taking the old keys within their auth cache's TTL.
func (s *Service) RevokeAllKeys(ctx context.Context, merchantID string) (*core.Merchant, error) {
	now := s.now()
	secret := newSecretKey()
	var m *core.Merchant
	var hashes []string
	err := s.db.WriteTx(ctx, "merchant.revoke_all_keys", func(tx pgx.Tx) error {
		var err error
		if m, err = s.merchantForUpdate(ctx, tx, merchantID); err != nil {
			return err
		}
		m.SecretKey = secret
		rows, err := tx.Query(ctx, `UPDATE api_keys SET expires_at = $2, revoked_at = $2
			WHERE merchant_id = $1 AND (expires_at IS NULL OR expires_at > $2) RETURNING key_hash`, merchantID, now)
		if err != nil {
			return err
		}
		hashes, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, h := range hashes {
			if err := auditKey(ctx, tx, merchantID, m.HomeRegion, keyID(h), core.KeyRevokedAll, actorOperator, now); err != nil {
				return err
			}
		}
		return insertKey(ctx, tx, merchantID, m.HomeRegion, secret, actorOperator, now)
	})
	if err != nil {
		return nil, core.AsError(err)
	}
	for _, h := range hashes {
		s.auth.drop(h)
	}
	return m, nil
}
