package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

const payoutColumns = `id, merchant_id, region, amount, currency, description, status, automatic, destination,
	failure_code, failure_message, channel_reference, created_at, updated_at`

func scanPayout(row pgx.Row) (*core.Payout, error) {
	po := &core.Payout{Object: "payout"}
	var dest []byte
	err := row.Scan(&po.ID, &po.MerchantID, &po.Region, &po.Amount, &po.Currency, &po.Description, &po.Status,
		&po.Automatic, &dest, &po.FailureCode, &po.FailureMessage, &po.ChannelReference, &po.CreatedAt, &po.UpdatedAt)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(dest, &po.Destination); err != nil {
		return nil, fmt.Errorf("payout %s destination: %w", po.ID, err)
	}
	return po, nil
}

func getPayout(ctx context.Context, q querier, merchantID, id string, lock bool) (*core.Payout, error) {
	sql := `SELECT ` + payoutColumns + ` FROM payouts WHERE id = $1 AND merchant_id = $2`
	if lock {
		sql += ` FOR UPDATE`
	}
	po, err := scanPayout(q.QueryRow(ctx, sql, id, merchantID))
	if errNoRows(err) {
		return nil, core.ParamError(core.CodeNotFound, "id", "No such payout: '%s'.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read payout %s: %w", id, err)
	}
	return po, nil
}

// Payout reads one of a merchant's payouts; another merchant's is not found.
func (s *Service) Payout(ctx context.Context, merchantID, id string) (*core.Payout, error) {
	return getPayout(ctx, s.db.Pool, merchantID, id, false)
}

// Payouts lists a merchant's payouts, newest first.
func (s *Service) Payouts(ctx context.Context, merchantID string, f core.PayoutFilter) (*core.List[*core.Payout], error) {
	limit := f.Limit
	if limit == 0 {
		limit = core.DefaultListLimit
	}
	args := []any{merchantID}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	sql := `SELECT ` + payoutColumns + ` FROM payouts WHERE merchant_id = $1`
	if f.Status != "" {
		sql += ` AND status = ` + arg(f.Status)
	}
	if f.StartingAfter != "" {
		after, err := s.Payout(ctx, merchantID, f.StartingAfter)
		if err != nil {
			if core.ErrorCode(err) == core.CodeNotFound {
				return nil, core.ParamError(core.CodeNotFound, "starting_after", "No such payout: '%s'.", f.StartingAfter)
			}
			return nil, err
		}
		sql += fmt.Sprintf(` AND (created_at, id) < (%s, %s)`, arg(after.CreatedAt), arg(after.ID))
	}
	sql += ` ORDER BY created_at DESC, id DESC LIMIT ` + arg(limit+1)
	rows, err := s.db.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("list payouts: %w", err)
	}
	defer rows.Close()
	list := &core.List[*core.Payout]{Object: "list", Data: []*core.Payout{}}
	for rows.Next() {
		po, err := scanPayout(rows)
		if err != nil {
			return nil, fmt.Errorf("list payouts: %w", err)
		}
		list.Data = append(list.Data, po)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list payouts: %w", err)
	}
	if len(list.Data) > limit {
		list.Data, list.HasMore = list.Data[:limit], true
	}
	return list, nil
}

// payoutAccount reads what a payout needs of the merchant's verification, inside tx: its KYC
// status and bank account, with the account number's sealed bytes (as merchant_kyc keeps
// them) and unsealed for the bank.
func (s *Service) payoutAccount(ctx context.Context, tx pgx.Tx, merchantID string) (core.PayoutAccount, []byte, error) {
	var (
		acct    core.PayoutAccount
		details core.KYCParams
		sealed  []byte
	)
	err := tx.QueryRow(ctx, `SELECT status, details, account_number FROM merchant_kyc WHERE merchant_id = $1`, merchantID).
		Scan(&acct.KYCStatus, &details, &sealed)
	if errNoRows(err) {
		return core.PayoutAccount{KYCStatus: core.KYCUnverified}, nil, nil
	}
	if err != nil {
		return acct, nil, fmt.Errorf("read kyc: %w", err)
	}
	number, err := s.openAccountNumber(merchantID, sealed)
	if err != nil {
		return acct, nil, err
	}
	acct.HolderName, acct.BankCode, acct.Currency, acct.AccountNumber = details.BankAccount.HolderName,
		details.BankAccount.BankCode, details.BankAccount.Currency, number
	return acct, sealed, nil
}

func (s *Service) openAccountNumber(merchantID string, sealed []byte) (string, error) {
	b, err := open(s.credentialsKey, sealed, []byte(merchantID+"/kyc/account_number"))
	if err != nil {
		return "", fmt.Errorf("open bank account number of %s: %w", merchantID, err)
	}
	return string(b), nil
}

// payouter is the service's gateway as a bank that pays out, or a not-executed error.
func (s *Service) payouter() (core.Payouter, error) {
	if p, ok := s.gw.(core.Payouter); ok {
		return p, nil
	}
	return nil, fmt.Errorf("the gateway makes no payouts: %w", core.ErrNotExecuted)
}

// CreatePayout pays some of the calling merchant's available balance to its verified bank
// account, exactly once per Idempotency-Key.
//
// Recovery points: started → payout_created → finished, as a payment's.
//   - (1) started: with the merchant's row locked (as transfers and adjustments lock it, so
//     every movement of available money is serialised per merchant), check its verification
//     and available balance and reserve the amount (core.NewPayout: merchant_available →
//     payouts_in_transit, payout.created), in the transaction that claims the key. A refusal
//     (kyc_required, balance_insufficient, a wrong currency) writes nothing, key included.
//   - (2) payout_created: call the bank with a key derived from the payout ID, then apply its
//     answer (core's Payout.Apply) with the stored reply. An unknown outcome leaves the payout
//     pending and the key open: a retry repeats the call with the same bank key, or the
//     recovery worker asks the bank (RecoverPayouts).
func (s *Service) CreatePayout(ctx context.Context, req core.IdempotentRequest, p core.CreatePayoutParams) (core.Reply, error) {
	if err := p.Validate(); err != nil {
		return core.Reply{}, err
	}
	return s.createPayout(ctx, req, p, "")
}

// createPayout runs a payout request; period, if set, marks an automatic payout of the
// merchant's schedule for that period.
func (s *Service) createPayout(ctx context.Context, req core.IdempotentRequest, p core.CreatePayoutParams, period string) (core.Reply, error) {
	hash := s.requestHash(req, p)
	reserve := func(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey) (string, error) {
		regions, err := lockMerchants(ctx, tx, "merchant", k.req.MerchantID)
		if err != nil {
			return "", err
		}
		acct, sealed, err := s.payoutAccount(ctx, tx, k.req.MerchantID)
		if err != nil {
			return "", err
		}
		avail, err := s.available(ctx, tx, k.req.MerchantID, p.Currency)
		if err != nil {
			return "", err
		}
		region := regions[k.req.MerchantID]
		po, ch, err := core.NewPayout(core.NewID(core.PrefixPayout, region), k.req.MerchantID, region, p, acct, avail, period != "", s.now())
		if err != nil {
			return "", err
		}
		dest, err := json.Marshal(po.Destination)
		if err != nil {
			return "", err
		}
		w.queue(`INSERT INTO payouts (id, merchant_id, region, amount, currency, description, status, automatic, schedule_period,
				destination, account_number, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`,
			po.ID, po.MerchantID, po.Region, po.Amount, po.Currency, po.Description, po.Status, po.Automatic,
			nullIfEmpty(period), dest, sealed, po.CreatedAt)
		if err := s.persistPayout(w, ch); err != nil {
			return "", err
		}
		if err := s.consoleAudit(ctx, tx, po.MerchantID, "payout.created", po.ID, core.FormatAmount(po.Amount, po.Currency)); err != nil {
			return "", err
		}
		k.payoutID = &po.ID
		return pointPayoutCreated, nil
	}
	first := &firstPhase{name: "create_payout.reserve", run: reserve}
	return s.run(ctx, req, hash, first, steps{
		pointPayoutCreated: channelStep(s, "create_payout", "payout", s.payoutWork),
	})
}

// persistPayout queues a payout change: the payout's new state (unless it is new), its
// journals and events. The payout row must have been read with a lock in the transaction.
func (s *Service) persistPayout(w *writeBatch, ch core.PayoutChange) error {
	if ch.Empty() {
		return nil
	}
	po := ch.Payout
	if ch.From != "" {
		w.queue(`UPDATE payouts SET status = $2, failure_code = $3, failure_message = $4, channel_reference = $5, updated_at = $6
			WHERE id = $1`, po.ID, po.Status, po.FailureCode, po.FailureMessage, po.ChannelReference, po.UpdatedAt)
	}
	for _, j := range ch.Journals {
		if err := s.post(w, j); err != nil {
			return err
		}
	}
	for _, e := range ch.Events {
		s.emit(w, e)
	}
	return nil
}

// payoutRequest is the bank call of a payout: its amount to the account fixed when it was made.
func (s *Service) payoutRequest(ctx context.Context, po *core.Payout) (core.PayoutRequest, error) {
	var sealed []byte
	if err := s.db.Pool.QueryRow(ctx, `SELECT account_number FROM payouts WHERE id = $1`, po.ID).Scan(&sealed); err != nil {
		return core.PayoutRequest{}, fmt.Errorf("read payout %s account: %w", po.ID, err)
	}
	number, err := s.openAccountNumber(po.MerchantID, sealed)
	if err != nil {
		return core.PayoutRequest{}, err
	}
	return core.PayoutRequest{Key: core.PayoutKey(po.ID), PayoutID: po.ID, MerchantID: po.MerchantID, Amount: po.Amount,
		Currency: po.Currency, HolderName: po.Destination.HolderName, AccountNumber: number, BankCode: po.Destination.BankCode,
		Description: po.Description}, nil
}

// payoutWork is a payout's second step: unless the bank's answer is in already (the
// recovery worker, a notification), the bank call, then the phase that applies its answer.
func (s *Service) payoutWork(ctx context.Context, k *idemKey) (channelWork[core.PayoutResult], error) {
	po, err := getPayout(ctx, s.db.Pool, k.req.MerchantID, *k.payoutID, false)
	if err != nil {
		return channelWork[core.PayoutResult]{}, err
	}
	if po.Status != core.PayoutPending {
		return channelWork[core.PayoutResult]{settled: func(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey) (string, error) {
			po, err := getPayout(ctx, tx, k.req.MerchantID, *k.payoutID, false)
			if err != nil {
				return "", err
			}
			return k.finish(po, nil), nil
		}}, nil
	}
	bank, err := s.payouter()
	if err != nil {
		return channelWork[core.PayoutResult]{}, channelError(k, err, po)
	}
	req, err := s.payoutRequest(ctx, po)
	if err != nil {
		return channelWork[core.PayoutResult]{}, err
	}
	return channelWork[core.PayoutResult]{payout: po,
		call: func(ctx context.Context) (core.PayoutResult, error) { return bank.Payout(ctx, req) },
		apply: func(res core.PayoutResult) phaseFunc {
			return func(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey) (string, error) {
				po, err := getPayout(ctx, tx, k.req.MerchantID, *k.payoutID, true)
				if err != nil {
					return "", err
				}
				res.Found = true // the bank answered the payout itself
				ch, err := po.Apply(res, s.now())
				if err != nil {
					return "", err
				}
				if ch.Empty() {
					return k.finish(po, nil), nil
				}
				if err := s.persistPayout(w, ch); err != nil {
					return "", err
				}
				return k.finish(ch.Payout, nil), nil
			}
		}}, nil
}

// ApplyPayoutResult applies the bank's account of a payout (a query's answer, or a
// notification's: see ApplyNotification): in transit, paid, failed or returned. Repeats
// change nothing: a payout returned twice restores its funds once. It reports whether the
// payout moved.
func (s *Service) ApplyPayoutResult(ctx context.Context, payoutID string, res core.PayoutResult) (bool, error) {
	var moved bool
	err := s.db.WriteTx(ctx, "payout.apply", func(tx pgx.Tx) error {
		var w writeBatch
		var err error
		if moved, err = s.applyPayout(ctx, tx, &w, payoutID, res); err != nil || !moved {
			return err
		}
		return w.commit(ctx, tx)
	})
	if err != nil {
		var ce *core.Error
		if errors.As(err, &ce) {
			return false, ce
		}
		return false, fmt.Errorf("apply payout %s: %w", payoutID, err)
	}
	return moved, nil
}

// applyPayout locks a payout in tx and queues on w the change res makes of it (core's
// Payout.Apply), reporting whether there is one.
func (s *Service) applyPayout(ctx context.Context, tx pgx.Tx, w *writeBatch, payoutID string, res core.PayoutResult) (bool, error) {
	po, err := scanPayout(tx.QueryRow(ctx, `SELECT `+payoutColumns+` FROM payouts WHERE id = $1 FOR UPDATE`, payoutID))
	if errNoRows(err) {
		return false, core.ParamError(core.CodeNotFound, "payout", "No such payout: '%s'.", payoutID)
	}
	if err != nil {
		return false, err
	}
	ch, err := po.Apply(res, s.now())
	if err != nil || ch.Empty() {
		return false, err
	}
	return true, s.persistPayout(w, ch)
}

// RecoverPayouts is the payouts' part of in-doubt recovery, run by the recovery worker after
// the payments': it claims payouts left pending (their request went away before the bank's
// answer was applied) or in transit (the bank has not said paid yet), with FOR UPDATE SKIP
// LOCKED and a backoff per payout as payments are claimed, and asks the bank about each by
// its payout ID. A pending payout the bank never saw is sent again with the same bank key
// (which pays at most once), unless a live request still holds its key's lease; the
// answer is applied as a notification's would be.
func (s *Service) RecoverPayouts(ctx context.Context, cfg RecoveryConfig) (RecoveryStats, error) {
	cfg.withDefaults(s.cfg.Lease)
	var st RecoveryStats
	bank, err := s.payouter()
	if err != nil {
		return st, nil // no bank here: nothing to recover through it
	}
	type claim struct{ id, merchantID string }
	var claimed []claim
	now := s.now()
	err = s.db.WriteTx(ctx, "payout_recovery.claim", func(tx pgx.Tx) error {
		claimed = claimed[:0]
		rows, err := tx.Query(ctx, `
			SELECT id, merchant_id, recovery_attempts FROM payouts
			WHERE status IN ($1, $2) AND updated_at < $3 AND (next_recovery_at IS NULL OR next_recovery_at <= $4)
			ORDER BY status = $2, COALESCE(next_recovery_at, updated_at)
			LIMIT $5 FOR UPDATE SKIP LOCKED`, core.PayoutPending, core.PayoutInTransit, now.Add(-cfg.MinAge), now, cfg.Batch)
		if err != nil {
			return err
		}
		var attempts []int
		for rows.Next() {
			var c claim
			var n int
			if err := rows.Scan(&c.id, &c.merchantID, &n); err != nil {
				rows.Close()
				return err
			}
			claimed, attempts = append(claimed, c), append(attempts, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i, c := range claimed {
			backoff := min(cfg.MaxBackoff, cfg.Interval<<min(attempts[i], 20))
			if _, err := tx.Exec(ctx, `UPDATE payouts SET recovery_attempts = recovery_attempts + 1, next_recovery_at = $2 WHERE id = $1`,
				c.id, now.Add(backoff)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("payout recovery: claim: %w", err)
	}
	for _, c := range claimed {
		st.Examined++
		moved, err := s.recoverPayout(ctx, bank, c.merchantID, c.id)
		switch {
		case err != nil:
			st.Errors++
			s.log.WarnContext(ctx, "payout recovery: bank query failed; will retry", "payout", c.id, "err", err)
		case moved:
			st.Resolved++
		default:
			st.Waiting++
		}
	}
	return st, nil
}

func (s *Service) recoverPayout(ctx context.Context, bank core.Payouter, merchantID, id string) (bool, error) {
	po, err := getPayout(ctx, s.db.Pool, merchantID, id, false)
	if err != nil {
		return false, err
	}
	var res core.PayoutResult
	err = s.callBank(ctx, "payout_query", po, func(ctx context.Context) error {
		var err error
		res, err = bank.QueryPayout(ctx, core.PayoutQuery{Key: core.PayoutKey(po.ID), PayoutID: po.ID})
		return err
	})
	if err != nil {
		return false, err
	}
	if !res.Found {
		if po.Status != core.PayoutPending || s.payoutLeased(ctx, po.ID) {
			return false, nil
		}
		// The bank never saw it: send it again with the same key, which pays at most once.
		req, err := s.payoutRequest(ctx, po)
		if err != nil {
			return false, err
		}
		if err := s.callBank(ctx, "payout", po, func(ctx context.Context) error {
			var err error
			res, err = bank.Payout(ctx, req)
			return err
		}); err != nil {
			return false, err
		}
		res.Found = true
	}
	return s.ApplyPayoutResult(ctx, po.ID, res)
}

// payoutLeased reports whether a live request holds the lease of the key that made the
// payout, by the same rule as a retry's take-over.
func (s *Service) payoutLeased(ctx context.Context, payoutID string) bool {
	var leased bool
	if err := s.db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM idempotency_keys k WHERE payout_id = $1
		AND response_status IS NULL AND locked_until > $2
		AND (holder IS NULL OR `+holderAliveSQL("k.holder", "$3")+`))`, payoutID, s.now(), s.cfg.Liveness.Timeout.Seconds()).Scan(&leased); err != nil {
		return true // cannot tell: leave it for the next sweep
	}
	return leased
}
