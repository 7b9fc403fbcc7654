package postgres

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// Audit actions of transfers and adjustments.
const (
	opsTransfersAllowed = "transfers.allowed"
	opsAdjustment       = "adjustment.created"
)

// lockMerchants locks the merchants' rows, in ID order so that two movements between the
// same merchants never deadlock, and returns their regions. Every movement of available
// money that must not exceed it (transfers, reversals, adjustments) takes these locks, so
// they are serialised per merchant; a missing merchant is a not-found naming param.
func lockMerchants(ctx context.Context, tx pgx.Tx, param string, ids ...string) (map[string]string, error) {
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	rows, err := tx.Query(ctx, `SELECT id, region FROM merchants WHERE id = ANY($1) ORDER BY id FOR UPDATE`, sorted)
	if err != nil {
		return nil, err
	}
	regions := map[string]string{}
	for rows.Next() {
		var id, region string
		if err := rows.Scan(&id, &region); err != nil {
			rows.Close()
			return nil, err
		}
		regions[id] = region
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if _, ok := regions[id]; !ok {
			return nil, core.ParamError(core.CodeNotFound, param, "No such merchant: '%s'.", id)
		}
	}
	return regions, nil
}

// available is a merchant's available balance in currency, in minor units, now.
func (s *Service) available(ctx context.Context, tx pgx.Tx, merchantID, currency string) (int64, error) {
	var a int64
	err := tx.QueryRow(ctx, `SELECT COALESCE(-SUM(amount), 0) FROM ledger_entries
		WHERE merchant_id = $1 AND account = $2 AND currency = $3 AND (available_on IS NULL OR available_on <= $4)`,
		merchantID, core.AccountMerchantAvailable, currency, s.now()).Scan(&a)
	return a, err
}

// SetTransfersAllowed lets (or stops) a platform merchant transfer to other merchants; audited.
func (s *Service) SetTransfersAllowed(ctx context.Context, merchantID string, allowed bool) error {
	return s.setTransfersAllowed(ctx, actorOperator, merchantID, allowed, nil)
}

// setTransfersAllowed is SetTransfersAllowed audited as actor; after, if not nil, runs in the
// change's transaction.
func (s *Service) setTransfersAllowed(ctx context.Context, actor, merchantID string, allowed bool, after func(pgx.Tx) error) error {
	err := s.db.WriteTx(ctx, "merchant.set_transfers_allowed", func(tx pgx.Tx) error {
		region, err := merchantRegion(ctx, tx, merchantID)
		if err != nil {
			return err
		}
		now := s.now()
		if _, err := tx.Exec(ctx, `INSERT INTO merchant_transfer_permissions (merchant_id, region, allowed, updated_at)
			VALUES ($1, $2, $3, $4) ON CONFLICT (merchant_id) DO UPDATE SET allowed = excluded.allowed, updated_at = excluded.updated_at`,
			merchantID, region, allowed, now); err != nil {
			return err
		}
		if err := auditOps(ctx, tx, merchantID, region, opsTransfersAllowed, actor, map[string]bool{"allowed": allowed}, now); err != nil {
			return err
		}
		if after != nil {
			return after(tx)
		}
		return nil
	})
	if err != nil {
		return core.AsError(err)
	}
	return nil
}

const transferColumns = `id, merchant_id, region, destination, amount, amount_reversed, currency, description, created_at`

func scanTransfer(row pgx.Row) (*core.Transfer, string, error) {
	t := &core.Transfer{Object: "transfer"}
	var hash string
	err := row.Scan(&t.ID, &t.MerchantID, &t.Region, &t.Destination, &t.Amount, &t.AmountReversed, &t.Currency,
		&t.Description, &t.CreatedAt, &hash)
	return t, hash, err
}

func keyReused() *core.Error {
	return core.ParamError(core.CodeIdempotencyKeyReused, "Idempotency-Key",
		"This Idempotency-Key was used with other parameters; use a new key for a new request.")
}

// CreateTransfer moves available money from the calling merchant (one an operator allowed to
// transfer) to another merchant, exactly once per Idempotency-Key: a retry answers with the
// transfer made. It never moves more than the source has available: the source's and the
// destination's rows are locked while the balance is read and the journals written.
func (s *Service) CreateTransfer(ctx context.Context, req core.IdempotentRequest, p core.CreateTransferParams) (*core.Transfer, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	hash := s.requestHash(req, p)
	var out *core.Transfer
	err := s.db.WriteTx(ctx, "transfer.create", func(tx pgx.Tx) error {
		regions, err := lockMerchants(ctx, tx, "destination", req.MerchantID, p.Destination)
		if err != nil {
			return err
		}
		t, h, err := scanTransfer(tx.QueryRow(ctx, `SELECT `+transferColumns+`, request_hash FROM transfers
			WHERE merchant_id = $1 AND idem_key = $2`, req.MerchantID, req.Key))
		switch {
		case err == nil && h != hash:
			return keyReused()
		case err == nil:
			out = t
			return nil
		case !errNoRows(err):
			return fmt.Errorf("read transfer: %w", err)
		}
		var allowed bool
		if err := tx.QueryRow(ctx, `SELECT COALESCE((SELECT allowed FROM merchant_transfer_permissions WHERE merchant_id = $1), false)`,
			req.MerchantID).Scan(&allowed); err != nil {
			return err
		}
		if !allowed {
			return core.Errorf(core.CodeForbidden, "Merchant %s may not make transfers; an operator must allow it.", req.MerchantID)
		}
		avail, err := s.available(ctx, tx, req.MerchantID, p.Currency)
		if err != nil {
			return err
		}
		now := s.now()
		region := regions[req.MerchantID]
		t, journals, err := core.NewTransfer(core.NewID(core.PrefixTransfer, region), req.MerchantID, region, regions[p.Destination], p, avail, now)
		if err != nil {
			return err
		}
		var w writeBatch
		w.queue(`INSERT INTO transfers (id, merchant_id, region, destination, amount, currency, description, idem_key, request_hash, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			t.ID, t.MerchantID, t.Region, t.Destination, t.Amount, t.Currency, t.Description, req.Key, hash, now)
		if err := s.persistLedger(&w, journals, core.OutboxEvent{Type: core.EventTransferCreated, MerchantID: t.MerchantID,
			Region: t.Region, ObjectID: t.ID, Object: t}); err != nil {
			return err
		}
		out = t
		return w.commit(ctx, tx)
	})
	if err != nil {
		return nil, core.AsError(err)
	}
	return out, nil
}

// persistLedger queues journals and their event.
func (s *Service) persistLedger(w *writeBatch, journals []core.Journal, e core.OutboxEvent) error {
	for _, j := range journals {
		if err := s.post(w, j); err != nil {
			return err
		}
	}
	s.emit(w, e)
	return nil
}

// Transfer reads one of the calling merchant's transfers.
func (s *Service) Transfer(ctx context.Context, merchantID, id string) (*core.Transfer, error) {
	t, _, err := scanTransfer(s.db.Pool.QueryRow(ctx, `SELECT `+transferColumns+`, request_hash FROM transfers
		WHERE id = $1 AND merchant_id = $2`, id, merchantID))
	if errNoRows(err) {
		return nil, core.ParamError(core.CodeNotFound, "id", "No such transfer: '%s'.", id)
	}
	if err != nil {
		return nil, core.AsError(err)
	}
	return t, nil
}

// ReverseTransfer moves some or all of a transfer back to the calling merchant, exactly once
// per Idempotency-Key, never more than is left of the transfer (the transfer row is locked)
// nor more than the destination has available.
func (s *Service) ReverseTransfer(ctx context.Context, req core.IdempotentRequest, transferID string, p core.CreateReversalParams) (*core.TransferReversal, error) {
	hash := s.requestHash(req, p)
	var out *core.TransferReversal
	err := s.db.WriteTx(ctx, "transfer.reverse", func(tx pgx.Tx) error {
		t, _, err := scanTransfer(tx.QueryRow(ctx, `SELECT `+transferColumns+`, request_hash FROM transfers
			WHERE id = $1 AND merchant_id = $2`, transferID, req.MerchantID))
		if errNoRows(err) {
			return core.ParamError(core.CodeNotFound, "id", "No such transfer: '%s'.", transferID)
		}
		if err != nil {
			return err
		}
		regions, err := lockMerchants(ctx, tx, "destination", t.MerchantID, t.Destination)
		if err != nil {
			return err
		}
		t.DestRegion = regions[t.Destination]
		// Read again under the lock: the amount reversed so far is the lock's to decide.
		if err := tx.QueryRow(ctx, `SELECT amount_reversed FROM transfers WHERE id = $1 FOR UPDATE`, t.ID).Scan(&t.AmountReversed); err != nil {
			return err
		}
		r := &core.TransferReversal{Object: "transfer_reversal", Transfer: t.ID, Currency: t.Currency}
		var h string
		err = tx.QueryRow(ctx, `SELECT id, amount, created_at, request_hash FROM transfer_reversals WHERE merchant_id = $1 AND idem_key = $2`,
			req.MerchantID, req.Key).Scan(&r.ID, &r.Amount, &r.CreatedAt, &h)
		switch {
		case err == nil && h != hash:
			return keyReused()
		case err == nil:
			out = r
			return nil
		case !errNoRows(err):
			return err
		}
		avail, err := s.available(ctx, tx, t.Destination, t.Currency)
		if err != nil {
			return err
		}
		now := s.now()
		u, r, journals, err := t.Reverse(core.NewID(core.PrefixTransferReversal, t.Region), p.Amount, avail, now)
		if err != nil {
			return err
		}
		var w writeBatch
		w.queue(`UPDATE transfers SET amount_reversed = $2 WHERE id = $1`, u.ID, u.AmountReversed)
		w.queue(`INSERT INTO transfer_reversals (id, transfer_id, merchant_id, region, amount, currency, idem_key, request_hash, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, r.ID, t.ID, req.MerchantID, t.Region, r.Amount, r.Currency, req.Key, hash, now)
		if err := s.persistLedger(&w, journals, core.OutboxEvent{Type: core.EventTransferReversed, MerchantID: t.MerchantID,
			Region: t.Region, ObjectID: t.ID, Object: u}); err != nil {
			return err
		}
		out = r
		return w.commit(ctx, tx)
	})
	if err != nil {
		return nil, core.AsError(err)
	}
	return out, nil
}

// CreateAdjustment is an operator's credit or debit of a merchant's available balance, with
// a reason: audited, with its journal and event. A debit below zero needs allow_negative.
func (s *Service) CreateAdjustment(ctx context.Context, p core.AdjustmentParams) (*core.Adjustment, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var out *core.Adjustment
	err := s.db.WriteTx(ctx, "adjustment.create", func(tx pgx.Tx) error {
		regions, err := lockMerchants(ctx, tx, "merchant", p.Merchant)
		if err != nil {
			return err
		}
		region := regions[p.Merchant]
		avail, err := s.available(ctx, tx, p.Merchant, p.Currency)
		if err != nil {
			return err
		}
		now := s.now()
		a := &core.Adjustment{Object: "adjustment", ID: core.NewID(core.PrefixAdjustment, region), Merchant: p.Merchant,
			Amount: p.Amount, Currency: p.Currency, Reason: p.Reason, CreatedAt: now}
		j, err := core.AdjustmentJournal(a.ID, region, p, avail)
		if err != nil {
			return err
		}
		if err := auditOps(ctx, tx, p.Merchant, region, opsAdjustment, actorOperator, p, now); err != nil {
			return err
		}
		var w writeBatch
		w.queue(`INSERT INTO adjustments (id, merchant_id, region, amount, currency, reason, allow_negative, actor, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, a.ID, a.Merchant, region, a.Amount, a.Currency, a.Reason, p.AllowNegative, actorOperator, now)
		if err := s.persistLedger(&w, []core.Journal{j}, core.OutboxEvent{Type: core.EventAdjustmentCreated, MerchantID: p.Merchant,
			Region: region, ObjectID: a.ID, Object: a}); err != nil {
			return err
		}
		out = a
		return w.commit(ctx, tx)
	})
	if err != nil {
		return nil, core.AsError(err)
	}
	return out, nil
}
