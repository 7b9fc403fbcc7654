package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// Audit actions of KYC.
const (
	opsKYCSubmitted = "kyc.submitted"
	opsKYCApproved  = "kyc.approved"
	opsKYCRejected  = "kyc.rejected"
	actorMerchant   = "merchant"
)

// SubmitKYC records a merchant's KYC submission, pending an operator's decision: the
// representative's ID number and the bank account number are sealed (shown as last four).
// A merchant verified before is pending again until the new details are approved.
func (s *Service) SubmitKYC(ctx context.Context, merchantID string, p core.KYCParams) (*core.KYC, error) {
	now := s.now()
	if err := p.Validate(now); err != nil {
		return nil, err
	}
	idSealed, err := seal(s.credentialsKey, []byte(p.Representative.IDNumber), []byte(merchantID+"/kyc/id_number"))
	if err != nil {
		return nil, core.Internal(err)
	}
	acctSealed, err := seal(s.credentialsKey, []byte(p.BankAccount.AccountNumber), []byte(merchantID+"/kyc/account_number"))
	if err != nil {
		return nil, core.Internal(err)
	}
	shown := p
	shown.Representative.IDLast4, shown.Representative.IDNumber = core.Last4(p.Representative.IDNumber), ""
	shown.BankAccount.Last4, shown.BankAccount.AccountNumber = core.Last4(p.BankAccount.AccountNumber), ""
	details, err := json.Marshal(shown)
	if err != nil {
		return nil, core.Internal(err)
	}
	err = s.db.WriteTx(ctx, "merchant.submit_kyc", func(tx pgx.Tx) error {
		region, err := merchantRegion(ctx, tx, merchantID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO merchant_kyc (merchant_id, region, status, details, id_number, account_number, submitted_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
			ON CONFLICT (merchant_id) DO UPDATE SET status = excluded.status, details = excluded.details,
				id_number = excluded.id_number, account_number = excluded.account_number, rejected_reason = NULL,
				submitted_at = excluded.submitted_at, decided_at = NULL, updated_at = excluded.updated_at`,
			merchantID, region, core.KYCPending, details, idSealed, acctSealed, now); err != nil {
			return err
		}
		return auditOps(ctx, tx, merchantID, region, opsKYCSubmitted, actorMerchant, shown, now)
	})
	if err != nil {
		return nil, core.AsError(err)
	}
	return s.KYC(ctx, merchantID)
}

// KYC is a merchant's verification; unverified if it never submitted.
func (s *Service) KYC(ctx context.Context, merchantID string) (*core.KYC, error) {
	return readKYC(ctx, s.db.Pool, merchantID, false)
}

func readKYC(ctx context.Context, q querier, merchantID string, lock bool) (*core.KYC, error) {
	sql := `SELECT status, details, rejected_reason, submitted_at, decided_at FROM merchant_kyc WHERE merchant_id = $1`
	if lock {
		sql += ` FOR UPDATE`
	}
	var (
		status    string
		details   core.KYCParams
		reason    *string
		submitted time.Time
		decided   *time.Time
	)
	err := q.QueryRow(ctx, sql, merchantID).Scan(&status, &details, &reason, &submitted, &decided)
	if errNoRows(err) {
		return core.NewKYC(merchantID, core.KYCUnverified), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read kyc: %w", err)
	}
	k := core.NewKYC(merchantID, status)
	k.Details, k.RejectedReason, k.SubmittedAt, k.DecidedAt = &details, reason, &submitted, decided
	return k, nil
}

// DecideKYC is an operator's decision on a pending KYC submission: approved (verified) or
// rejected with a reason; audited, with its kyc.verified or kyc.rejected event.
func (s *Service) DecideKYC(ctx context.Context, merchantID string, approve bool, reason string) (*core.KYC, error) {
	if !approve && (len(reason) == 0 || len(reason) > 500) {
		return nil, core.ParamError(core.CodeParameterInvalid, "reason", "reason is required, at most 500 characters.")
	}
	var out *core.KYC
	err := s.db.WriteTx(ctx, "merchant.decide_kyc", func(tx pgx.Tx) error {
		region, err := merchantRegion(ctx, tx, merchantID)
		if err != nil {
			return err
		}
		k, err := readKYC(ctx, tx, merchantID, true)
		if err != nil {
			return err
		}
		if k.Status != core.KYCPending {
			return core.Errorf(core.CodeInvalidState, "Merchant %s's KYC is %s; only a pending submission can be decided.", merchantID, k.Status)
		}
		now := s.now()
		status, action, event, why := core.KYCVerified, opsKYCApproved, core.EventKYCVerified, (*string)(nil)
		if !approve {
			status, action, event, why = core.KYCRejected, opsKYCRejected, core.EventKYCRejected, &reason
		}
		if _, err := tx.Exec(ctx, `UPDATE merchant_kyc SET status = $2, rejected_reason = $3, decided_at = $4, updated_at = $4 WHERE merchant_id = $1`,
			merchantID, status, why, now); err != nil {
			return err
		}
		if err := auditOps(ctx, tx, merchantID, region, action, actorOr(ctx, actorOperator), map[string]any{"reason": reason}, now); err != nil {
			return err
		}
		if err := s.consoleAudit(ctx, tx, merchantID, action, merchantID, reason); err != nil {
			return err
		}
		out = core.NewKYC(merchantID, status)
		out.Details, out.RejectedReason, out.SubmittedAt, out.DecidedAt = k.Details, why, k.SubmittedAt, &now
		var w writeBatch
		s.emit(&w, core.OutboxEvent{Type: event, MerchantID: merchantID, Region: region, ObjectID: merchantID, Object: out})
		return w.commit(ctx, tx)
	})
	if err != nil {
		return nil, core.AsError(err)
	}
	return out, nil
}

// kycRead is a new payment's KYC volume check (queueKYCVolume), read with the risk
// screening's reads.
type kycRead struct {
	merchantID, currency string
	limit                int64
	status               string
	keyed                bool
	volume               int64
}

// queueKYCVolume queues on b the read that check decides from: it refuses, with 403
// kyc_required, a payment that would take a merchant not verified past its cumulative volume
// limit in currency (payments not failed or canceled); a rejected merchant takes none. Read
// before the payment's transaction, with the risk screening's reads: concurrent payments may
// pass the limit by what they add together. With no limit it queues nothing (nil).
//
// A request whose Idempotency-Key exists already is not checked: its first attempt was, and
// the key's runner replays or resumes it (its own payment counts in the volume now).
func (s *Service) queueKYCVolume(b *pgx.Batch, req core.IdempotentRequest, currency string) *kycRead {
	if s.cfg.UnverifiedVolumeLimit < 0 {
		return nil
	}
	k := &kycRead{merchantID: req.MerchantID, currency: currency, limit: s.cfg.UnverifiedVolumeLimit}
	// The volume's counter (volume.go), kept by the payments' transactions: at most
	// volumeSlots rows, whatever the merchant's history; read only for a merchant that is
	// neither verified nor rejected.
	b.Queue(`SELECT v.status, EXISTS (SELECT 1 FROM idempotency_keys WHERE merchant_id = $1 AND idem_key = $2),
			CASE WHEN v.status IN ($4, $5) THEN 0 ELSE (SELECT COALESCE(SUM(amount), 0)::INT8 FROM merchant_volume
				WHERE merchant_id = $1 AND currency = $6) END
		FROM (SELECT COALESCE((SELECT status FROM merchant_kyc WHERE merchant_id = $1), $3) AS status) v`,
		req.MerchantID, req.Key, core.KYCUnverified, core.KYCVerified, core.KYCRejected, currency).
		QueryRow(func(row pgx.Row) error {
			if err := row.Scan(&k.status, &k.keyed, &k.volume); err != nil {
				return fmt.Errorf("read kyc: %w", err)
			}
			return nil
		})
	return k
}

// check is the KYC volume check's answer for a payment of amount, once its read is done.
func (k *kycRead) check(amount int64) error {
	if k == nil || k.keyed {
		return nil
	}
	switch k.status {
	case core.KYCVerified:
		return nil
	case core.KYCRejected:
		return core.Errorf(core.CodeKYCRequired, "Merchant %s's verification was rejected: it cannot take payments until it is verified.", k.merchantID)
	}
	if k.volume+amount > k.limit {
		return core.Errorf(core.CodeKYCRequired, "Merchant %s is not verified: it has taken %s and may take at most %s before its KYC is verified (POST /v1/merchant/kyc).",
			k.merchantID, core.FormatAmount(k.volume, k.currency), core.FormatAmount(k.limit, k.currency))
	}
	return nil
}

// KYCSubmissions lists merchants' KYC verifications in status ("" for all), oldest
// submission first (the review queue's order), at most limit (default 10).
func (s *Service) KYCSubmissions(ctx context.Context, status string, limit int) (*core.List[*core.KYC], error) {
	if limit == 0 {
		limit = 10
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT merchant_id, status, details, rejected_reason, submitted_at, decided_at FROM merchant_kyc
		WHERE $1 = '' OR status = $1 ORDER BY submitted_at, merchant_id LIMIT $2`, status, limit+1)
	if err != nil {
		return nil, core.AsError(fmt.Errorf("list kyc: %w", err))
	}
	defer rows.Close()
	list := &core.List[*core.KYC]{Object: "list", Data: []*core.KYC{}}
	for rows.Next() {
		var (
			mer, st   string
			details   core.KYCParams
			reason    *string
			submitted time.Time
			decided   *time.Time
		)
		if err := rows.Scan(&mer, &st, &details, &reason, &submitted, &decided); err != nil {
			return nil, core.AsError(fmt.Errorf("list kyc: %w", err))
		}
		k := core.NewKYC(mer, st)
		k.Details, k.RejectedReason, k.SubmittedAt, k.DecidedAt = &details, reason, &submitted, decided
		list.Data = append(list.Data, k)
	}
	if err := rows.Err(); err != nil {
		return nil, core.AsError(err)
	}
	if len(list.Data) > limit {
		list.Data, list.HasMore = list.Data[:limit], true
	}
	return list, nil
}
