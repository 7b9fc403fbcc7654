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
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (key_hash, merchant_id, region, prefix, created_at) VALUES ($1, $2, $3, $4, $5)`,
			hashKey(m.SecretKey), m.ID, region, m.SecretKey[:10], now)
		return err
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
	var expires *time.Time
	err := s.db.Pool.QueryRow(ctx, `
		SELECT m.id, m.name, m.region, m.status, m.created_at, k.expires_at
		FROM api_keys k JOIN merchants m ON m.id = k.merchant_id WHERE k.key_hash = $1`,
		h).Scan(&m.ID, &m.Name, &m.HomeRegion, &m.Status, &m.CreatedAt, &expires)
	if errNoRows(err) || (err == nil && expires != nil && !expires.After(now)) || (err == nil && m.Status != "active") {
		return nil, invalid
	}
	if err != nil {
		return nil, core.Internal(err)
	}
	s.auth.put(h, *m, expires, now, gen)
	return m, nil
}

// RollKey issues a new secret key for the merchant. The key used to call expires after
// grace (0: at once; at most 24h), so deployments can switch over.
func (s *Service) RollKey(ctx context.Context, merchantID, currentSecret string, grace time.Duration) (*core.Merchant, error) {
	if grace < 0 || grace > 24*time.Hour {
		return nil, core.ParamError(core.CodeParameterInvalid, "expire_current_in", "expire_current_in must be 0 to 86400 seconds.")
	}
	now := s.now()
	secret := newSecretKey()
	var m *core.Merchant
	err := s.db.WriteTx(ctx, "merchant.roll_key", func(tx pgx.Tx) error {
		m = &core.Merchant{Object: "merchant", SecretKey: secret}
		if err := tx.QueryRow(ctx, `SELECT id, name, region, status, created_at FROM merchants WHERE id = $1`, merchantID).
			Scan(&m.ID, &m.Name, &m.HomeRegion, &m.Status, &m.CreatedAt); err != nil {
			return err
		}
		// Never lengthen a key that already expires sooner (rolling again during a grace period).
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET expires_at = LEAST(COALESCE(expires_at, $3), $3)
			WHERE merchant_id = $1 AND key_hash = $2`,
			merchantID, hashKey(currentSecret), now.Add(grace)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (key_hash, merchant_id, region, prefix, created_at) VALUES ($1, $2, $3, $4, $5)`,
			hashKey(secret), merchantID, m.HomeRegion, secret[:10], now)
		return err
	})
	if err != nil {
		return nil, core.Internal(err)
	}
	s.auth.drop(hashKey(currentSecret))
	return m, nil
}
