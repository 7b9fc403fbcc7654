package postgres

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// A merchant may use a channel unless an operator disabled it for them: onboarding grants
// every channel (the platform's own channel accounts), and SetChannel narrows or widens that
// and stores the merchant's own channel credentials, if it has any.

// SetChannel authorises or forbids a channel for a merchant and, when credentials is not
// nil, replaces the merchant's credentials for it (encrypted with AES-256-GCM under a key
// derived from the service's secret key; the database never sees them in clear).
func (s *Service) SetChannel(ctx context.Context, merchantID string, ch core.Channel, enabled bool, credentials map[string]string) (*core.ChannelAuthorization, error) {
	return s.setChannel(ctx, merchantID, ch, enabled, credentials, nil)
}

// setChannel is SetChannel; after, if not nil, runs in the change's transaction with the
// merchant's region and whether the channel was enabled before.
func (s *Service) setChannel(ctx context.Context, merchantID string, ch core.Channel, enabled bool, credentials map[string]string,
	after func(tx pgx.Tx, region string, wasEnabled bool) error) (*core.ChannelAuthorization, error) {
	if !ch.Valid() {
		return nil, core.ParamError(core.CodeParameterInvalid, "channel", "Unknown channel %q.", ch)
	}
	var sealed []byte
	if credentials != nil {
		plain, err := json.Marshal(credentials)
		if err != nil {
			return nil, core.Internal(err)
		}
		if sealed, err = seal(s.credentialsKey, plain, []byte(merchantID+"/"+string(ch))); err != nil {
			return nil, core.Internal(err)
		}
	}
	var out *core.ChannelAuthorization
	err := s.db.WriteTx(ctx, "merchant.set_channel", func(tx pgx.Tx) error {
		var region string
		if err := tx.QueryRow(ctx, `SELECT region FROM merchants WHERE id = $1`, merchantID).Scan(&region); err != nil {
			if errNoRows(err) {
				return core.ParamError(core.CodeNotFound, "id", "No such merchant: '%s'.", merchantID)
			}
			return err
		}
		wasEnabled := true
		if err := tx.QueryRow(ctx, `SELECT enabled FROM merchant_channels WHERE merchant_id = $1 AND channel = $2 FOR UPDATE`,
			merchantID, ch).Scan(&wasEnabled); err != nil && !errNoRows(err) {
			return err
		}
		now := s.now()
		_, err := tx.Exec(ctx, `
			INSERT INTO merchant_channels (merchant_id, channel, region, enabled, credentials, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6)
			ON CONFLICT (merchant_id, channel) DO UPDATE SET enabled = excluded.enabled,
				credentials = COALESCE(excluded.credentials, merchant_channels.credentials), updated_at = excluded.updated_at`,
			merchantID, ch, region, enabled, sealed, now)
		if err != nil {
			return err
		}
		var hasCreds bool
		if err := tx.QueryRow(ctx, `SELECT credentials IS NOT NULL FROM merchant_channels WHERE merchant_id = $1 AND channel = $2`,
			merchantID, ch).Scan(&hasCreds); err != nil {
			return err
		}
		out = &core.ChannelAuthorization{Object: "channel_authorization", Merchant: merchantID, Channel: ch, Enabled: enabled, HasCredentials: hasCreds, UpdatedAt: now}
		if after != nil {
			return after(tx, region, wasEnabled)
		}
		return nil
	})
	if err != nil {
		return nil, core.AsError(err)
	}
	return out, nil
}

// Channels lists a merchant's channel authorisations, one per channel.
func (s *Service) Channels(ctx context.Context, merchantID string) ([]core.ChannelAuthorization, error) {
	var exists bool
	if err := s.db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM merchants WHERE id = $1)`, merchantID).Scan(&exists); err != nil {
		return nil, core.Internal(err)
	}
	if !exists {
		return nil, core.ParamError(core.CodeNotFound, "id", "No such merchant: '%s'.", merchantID)
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT channel, enabled, credentials IS NOT NULL, updated_at FROM merchant_channels WHERE merchant_id = $1`, merchantID)
	if err != nil {
		return nil, core.Internal(err)
	}
	defer rows.Close()
	set := map[core.Channel]core.ChannelAuthorization{}
	for rows.Next() {
		a := core.ChannelAuthorization{Object: "channel_authorization", Merchant: merchantID}
		if err := rows.Scan(&a.Channel, &a.Enabled, &a.HasCredentials, &a.UpdatedAt); err != nil {
			return nil, core.Internal(err)
		}
		set[a.Channel] = a
	}
	out := make([]core.ChannelAuthorization, 0, len(core.Channels))
	for _, ch := range core.Channels {
		a, ok := set[ch]
		if !ok {
			a = core.ChannelAuthorization{Object: "channel_authorization", Merchant: merchantID, Channel: ch, Enabled: true}
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ChannelCredentials decrypts a merchant's credentials for a channel (nil if it has none).
func (s *Service) ChannelCredentials(ctx context.Context, merchantID string, ch core.Channel) (map[string]string, error) {
	var sealed []byte
	err := s.db.Pool.QueryRow(ctx, `SELECT credentials FROM merchant_channels WHERE merchant_id = $1 AND channel = $2`, merchantID, ch).Scan(&sealed)
	if errNoRows(err) || (err == nil && sealed == nil) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	plain, err := open(s.credentialsKey, sealed, []byte(merchantID+"/"+string(ch)))
	if err != nil {
		return nil, fmt.Errorf("credentials of %s for %s: %w", merchantID, ch, err)
	}
	var creds map[string]string
	return creds, json.Unmarshal(plain, &creds)
}

// channelAllowed checks inside tx that the merchant may use ch.
func channelAllowed(ctx context.Context, tx pgx.Tx, merchantID string, ch core.Channel) error {
	var enabled bool
	err := tx.QueryRow(ctx, `SELECT enabled FROM merchant_channels WHERE merchant_id = $1 AND channel = $2`, merchantID, ch).Scan(&enabled)
	if errNoRows(err) || (err == nil && enabled) {
		return nil
	}
	if err != nil {
		return err
	}
	return core.ParamError(core.CodeChannelNotAuthorized, "channel", "Your account is not authorised to take payments through %s.", ch)
}

// seal encrypts plain with AES-256-GCM; the nonce leads the result and ad binds the
// ciphertext to its row, so it cannot be moved to another merchant or channel.
func seal(key, plain, ad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, plain, ad), nil
}

func open(key, sealed, ad []byte) ([]byte, error) {
	gcm, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("ciphertext too short")
	}
	return gcm.Open(nil, sealed[:gcm.NonceSize()], sealed[gcm.NonceSize():], ad)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// PaymentMerchant names the merchant of a payment ("" when there is no such payment): the
// channel wiring uses it to pick the merchant's own channel account for calls that carry a
// payment ID but no merchant (captures, voids, refunds, queries).
func (s *Service) PaymentMerchant(ctx context.Context, paymentID string) (string, error) {
	var merchant string
	err := s.db.Pool.QueryRow(ctx, `SELECT merchant_id FROM payments WHERE id = $1`, paymentID).Scan(&merchant)
	if errNoRows(err) {
		return "", nil
	}
	return merchant, err
}

// RecordPaymentAccount records, once, the channel account a payment is authorised on: the
// merchant's credentials (nil: the platform's account). It returns the account recorded
// first, which a re-driven authorisation must use even if the merchant's credentials
// changed meanwhile.
func (s *Service) RecordPaymentAccount(ctx context.Context, paymentID, merchantID string, ch core.Channel, credentials map[string]string) (map[string]string, error) {
	var sealed []byte
	if credentials != nil {
		plain, err := json.Marshal(credentials)
		if err != nil {
			return nil, err
		}
		if sealed, err = seal(s.credentialsKey, plain, []byte(paymentID+"/"+string(ch))); err != nil {
			return nil, err
		}
	}
	region := core.RegionOfID(paymentID)
	if region == "" {
		region = s.cfg.Region
	}
	err := s.db.WriteTx(ctx, "payment.record_channel_account", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO payment_channel_accounts (payment_id, merchant_id, channel, region, credentials, created_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (payment_id) DO NOTHING`, paymentID, merchantID, ch, region, sealed, s.now())
		return err
	})
	if err != nil {
		return nil, err
	}
	_, creds, _, err := s.PaymentAccount(ctx, paymentID)
	return creds, err
}

// PaymentAccount reads the channel account a payment was authorised on: its merchant, the
// credentials (nil: the platform's account) and whether one was recorded at all.
func (s *Service) PaymentAccount(ctx context.Context, paymentID string) (merchantID string, credentials map[string]string, found bool, err error) {
	var ch core.Channel
	var sealed []byte
	err = s.db.Pool.QueryRow(ctx, `SELECT merchant_id, channel, credentials FROM payment_channel_accounts WHERE payment_id = $1`, paymentID).
		Scan(&merchantID, &ch, &sealed)
	if errNoRows(err) {
		return "", nil, false, nil
	}
	if err != nil || sealed == nil {
		return merchantID, nil, err == nil, err
	}
	plain, err := open(s.credentialsKey, sealed, []byte(paymentID+"/"+string(ch)))
	if err != nil {
		return "", nil, false, fmt.Errorf("channel account of %s: %w", paymentID, err)
	}
	if err := json.Unmarshal(plain, &credentials); err != nil {
		return "", nil, false, fmt.Errorf("channel account of %s: %w", paymentID, err)
	}
	return merchantID, credentials, true, nil
}
