package postgres

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/big"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/risk"
)

// Payer verification: a one-time code for a customer's phone, and cards bound to a customer.
// Rules see the state as customer.phone_verified and customer.card_bound.
//
// The code reaches the payer by SMS: the transaction that issues it makes a payer notice
// (notices.go, template verification_code) that the notifier sends; the notice's data, the
// code, is erased once sent. The outbox event customer.verification_code says a code was
// issued, without it. Only the code's keyed hash is kept.

func (s *Service) codeHash(id, code string) string {
	m := hmac.New(sha256.New, deriveKey(s.cfg.SecretKey, "verification-code-v1"))
	m.Write([]byte(id + "\x00" + code))
	return hex.EncodeToString(m.Sum(nil))
}

// codeEvent is the outbox payload of an issued code.
type codeEvent struct {
	Object    string    `json:"object"`
	Customer  string    `json:"customer"`
	Phone     string    `json:"phone"`
	ExpiresAt time.Time `json:"expires_at"`
}

// RequestPhoneVerification issues a one-time code for the customer's phone (at most
// risk.CodesPerHour an hour per customer): valid for risk.CodeTTL, risk.CodeAttempts tries.
func (s *Service) RequestPhoneVerification(ctx context.Context, m *core.Merchant, customerID string, p risk.PhoneParams) (*risk.PhoneVerification, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := s.knownCustomer(ctx, m.ID, customerID); err != nil { // customers.go
		return nil, err
	}
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return nil, err
	}
	code := fmt.Sprintf("%06d", n.Int64())
	now := s.now()
	v := &risk.PhoneVerification{ID: core.NewID("pv", m.HomeRegion), Object: "phone_verification", Customer: customerID,
		Phone: p.Phone, Status: "pending", ExpiresAt: now.Add(risk.CodeTTL), AttemptsLeft: risk.CodeAttempts}
	err = s.db.WriteTx(ctx, "verification.request", func(tx pgx.Tx) error {
		var recent int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM verification_codes WHERE merchant_id = $1 AND customer_id = $2 AND created_at > $3`,
			m.ID, customerID, now.Add(-time.Hour)).Scan(&recent); err != nil {
			return err
		}
		if recent >= risk.CodesPerHour {
			e := core.Errorf(core.CodeRateLimited, "At most %d codes an hour may be sent to one customer.", risk.CodesPerHour)
			e.RetryAfter = 60
			return e
		}
		var w writeBatch
		w.queue(`INSERT INTO verification_codes (id, merchant_id, region, customer_id, phone, code_hash, attempts, expires_at, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8)`, v.ID, m.ID, m.HomeRegion, customerID, p.Phone, s.codeHash(v.ID, code), v.ExpiresAt, now)
		s.emit(&w, core.OutboxEvent{Type: risk.EventCodeIssued, MerchantID: m.ID, Region: m.HomeRegion, ObjectID: v.ID,
			Object: codeEvent{Object: "verification_code", Customer: customerID, Phone: p.Phone, ExpiresAt: v.ExpiresAt}})
		verificationNotice(&w, v.ID, m, customerID, p.Phone, code, now)
		return w.commit(ctx, tx)
	})
	if err != nil {
		return nil, coded(err)
	}
	return v, nil
}

// ConfirmPhoneVerification checks a code against the customer's latest pending one. A wrong
// code uses up an attempt; the right one verifies the phone.
func (s *Service) ConfirmPhoneVerification(ctx context.Context, m *core.Merchant, customerID string, p risk.ConfirmParams) (*risk.PhoneVerification, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := s.knownCustomer(ctx, m.ID, customerID); err != nil { // customers.go
		return nil, err
	}
	var (
		out   *risk.PhoneVerification
		wrong error
	)
	err := s.db.WriteTx(ctx, "verification.confirm", func(tx pgx.Tx) error {
		out, wrong = nil, nil
		now := s.now()
		v := &risk.PhoneVerification{Object: "phone_verification", Customer: customerID}
		var hash string
		var attempts int
		err := tx.QueryRow(ctx, `SELECT id, phone, code_hash, attempts, expires_at FROM verification_codes
			WHERE merchant_id = $1 AND customer_id = $2 AND used_at IS NULL
			ORDER BY created_at DESC LIMIT 1 FOR UPDATE`, m.ID, customerID).Scan(&v.ID, &v.Phone, &hash, &attempts, &v.ExpiresAt)
		if errNoRows(err) || err == nil && (!v.ExpiresAt.After(now) || attempts >= risk.CodeAttempts) {
			return core.ParamError(core.CodeParameterInvalid, "code", "No code is pending for this customer (none was sent, it expired, or its attempts are used up): request a new one.")
		}
		if err != nil {
			return err
		}
		if !hmac.Equal([]byte(hash), []byte(s.codeHash(v.ID, p.Code))) {
			if _, err := tx.Exec(ctx, `UPDATE verification_codes SET attempts = attempts + 1 WHERE id = $1`, v.ID); err != nil {
				return err
			}
			wrong = core.ParamError(core.CodeParameterInvalid, "code", "The code is wrong; %d attempts left.", risk.CodeAttempts-attempts-1)
			return nil
		}
		var w writeBatch
		w.queue(`UPDATE verification_codes SET used_at = $2 WHERE id = $1`, v.ID, now)
		w.queue(`INSERT INTO customer_verifications (merchant_id, region, customer_id, phone, phone_verified_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (merchant_id, customer_id)
			DO UPDATE SET phone = EXCLUDED.phone, phone_verified_at = EXCLUDED.phone_verified_at, updated_at = EXCLUDED.updated_at`,
			m.ID, m.HomeRegion, customerID, v.Phone, now)
		v.Status, v.AttemptsLeft = "verified", risk.CodeAttempts-attempts-1
		out = v
		return w.commit(ctx, tx)
	})
	if err != nil {
		return nil, coded(err)
	}
	if wrong != nil {
		return nil, wrong
	}
	return out, nil
}

// BindCard binds the card of one of the customer's authorised or captured payments to the
// customer.
func (s *Service) BindCard(ctx context.Context, m *core.Merchant, customerID string, p risk.BindParams) (*risk.Verification, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := s.knownCustomer(ctx, m.ID, customerID); err != nil { // customers.go
		return nil, err
	}
	err := s.db.WriteTx(ctx, "verification.bind_card", func(tx pgx.Tx) error {
		pay, err := getPayment(ctx, tx, m.ID, p.Payment, false)
		if err != nil {
			return core.ParamError(core.CodeNotFound, "payment", "No such payment: '%s'.", p.Payment)
		}
		switch {
		case pay.Customer == nil || pay.Customer.ID != customerID:
			return core.ParamError(core.CodeParameterInvalid, "payment", "Payment %s is not this customer's.", pay.ID)
		case pay.PaymentMethod == nil || pay.PaymentMethod.Fingerprint == "":
			return core.ParamError(core.CodeParameterInvalid, "payment", "Payment %s was not made with a card.", pay.ID)
		case pay.Status != core.StatusSucceeded && pay.Status != core.StatusRequiresCapture:
			return core.ParamError(core.CodeParameterInvalid, "payment", "Payment %s is %s: only an authorised or captured card can be bound.", pay.ID, pay.Status)
		}
		_, err = tx.Exec(ctx, `INSERT INTO customer_cards (merchant_id, region, customer_id, fingerprint, payment_id, bound_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, m.ID, m.HomeRegion, customerID, pay.PaymentMethod.Fingerprint, pay.ID, s.now())
		return err
	})
	if err != nil {
		return nil, coded(err)
	}
	return s.CustomerVerification(ctx, m, customerID)
}

// CustomerVerification is what the platform knows of the customer's verification.
func (s *Service) CustomerVerification(ctx context.Context, m *core.Merchant, customerID string) (*risk.Verification, error) {
	if err := s.knownCustomer(ctx, m.ID, customerID); err != nil { // customers.go
		return nil, err
	}
	v := &risk.Verification{Object: "customer_verification", Customer: customerID, Cards: []string{}}
	err := s.db.Pool.QueryRow(ctx, `SELECT phone, phone_verified_at FROM customer_verifications WHERE merchant_id = $1 AND customer_id = $2`,
		m.ID, customerID).Scan(&v.Phone, &v.VerifiedAt)
	if err != nil && !errNoRows(err) {
		return nil, fmt.Errorf("read verification: %w", err)
	}
	v.PhoneVerified = v.VerifiedAt != nil
	rows, err := s.db.Pool.Query(ctx, `SELECT fingerprint FROM customer_cards WHERE merchant_id = $1 AND customer_id = $2 ORDER BY bound_at, fingerprint`,
		m.ID, customerID)
	if err != nil {
		return nil, fmt.Errorf("read bound cards: %w", err)
	}
	cards, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	v.Cards = append(v.Cards, cards...)
	return v, nil
}
