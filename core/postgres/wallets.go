package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// Wallets: a customer's stored value, per currency, held by the merchant.
//
// A wallet payment is settled inside create's first phase, in the transaction that claims
// its idempotency key and inserts the payment: the wallet row is locked (FOR UPDATE), its
// balance compared with the amount, and the debit (the sale journal on customer_wallet, the
// wallet's new balance and its balance transaction), the payment's success, its outbox
// event and the key's stored reply all commit together, or not at all. There is no channel
// call whose outcome could be unknown, so no second phase: a retry replays the reply, and a
// request taken over after a crash re-runs the whole phase. The row lock serialises
// concurrent spending on one wallet from any node or region; the CHECK (balance >= 0) is the
// last guard. This is why the wallet is a special case of the create phase rather than a
// core.Gateway: a gateway call sits between two transactions, and a debit there would need a
// ledger of its own keys to be exactly-once.
//
// A top-up is a payment through any other channel, recorded in top_ups in the same first
// phase. Whenever its sale (or capture) journal is posted — the channel's synchronous answer,
// its notification, the recovery worker — the same batch credits the wallet once: the credit
// is conditional on top_ups.credited_at being unset, which it sets.

// payerStep finishes create's first phase for wallet payments, and records top-ups.
func (s *Service) payerStep(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey, pay *core.Payment, p *core.CreatePaymentParams) (string, error) {
	if p.TopUpFor != "" {
		w.queue(`INSERT INTO top_ups (payment_id, merchant_id, customer_id, customer_region, region, currency, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			pay.ID, pay.MerchantID, p.TopUpFor, core.RegionOfID(p.TopUpFor), pay.Region, pay.Currency, pay.CreatedAt)
	}
	cus := pay.WalletCustomer()
	if cus == "" {
		return k.point, nil
	}
	var balance int64
	err := tx.QueryRow(ctx, `SELECT w.balance FROM customer_wallets w JOIN customers c ON c.id = w.customer_id
		WHERE w.customer_id = $1 AND w.currency = $2 AND c.merchant_id = $3 AND c.deleted_at IS NULL
		FOR UPDATE OF w`, cus, pay.Currency, pay.MerchantID).Scan(&balance)
	if err != nil && !errNoRows(err) {
		return "", fmt.Errorf("read wallet: %w", err)
	}
	res := core.AuthorizeResult{Outcome: core.OutcomeCaptured, Reference: "wallet:" + cus}
	if balance < pay.Amount {
		res = core.AuthorizeResult{Outcome: core.OutcomeDeclined, DeclineCode: core.CodeInsufficientFunds,
			DeclineMessage: fmt.Sprintf("The wallet holds %d %s (minor units), less than the payment's %d.", balance, strings.ToUpper(pay.Currency), pay.Amount)}
	}
	ch, err := pay.ApplyAuthorization(res, s.now())
	if err != nil {
		return "", err
	}
	if err := s.persist(w, ch); err != nil {
		return "", err
	}
	return k.finish(ch.Payment, ch.Payment.DeclineError()), nil
}

// walletRefund is a wallet payment's refund "channel call": it moves nothing itself; the
// refund's apply phase posts the refund journal, whose customer_wallet posting credits the
// wallet in the same transaction as the refund's success.
func walletRefund(ref *core.Refund) func(context.Context) (core.OpResult, error) {
	return func(context.Context) (core.OpResult, error) {
		return core.OpResult{OK: true, Amount: ref.Amount, Reference: "wallet:" + ref.ID}, nil
	}
}

// balanceTxType names a wallet movement by the journal that made it.
func balanceTxType(kind string) string {
	switch kind {
	case core.JournalSale:
		return "payment"
	case core.JournalRefund:
		return "refund"
	}
	return kind
}

// postWallet queues the wallet side of a journal's customer_wallet posting: the wallet's
// balance (-posting) and a balance transaction with the balance after it. A debit updates an
// existing row (the caller locked it and checked the balance); a credit creates the wallet
// if needed.
func (s *Service) postWallet(w *writeBatch, j core.Journal, journalID string) error {
	for _, p := range j.Postings {
		if p.Account != core.AccountCustomerWallet {
			continue
		}
		if j.Customer == "" {
			return fmt.Errorf("ledger: %s journal for %s posts to a wallet without a customer", j.Kind, j.PaymentID)
		}
		change := -p.Amount
		now := s.now()
		upsert := `INSERT INTO customer_wallets (merchant_id, customer_id, currency, balance, updated_at, region)
			VALUES ($1, $2, $3, $4::INT8, $5, $11)
			ON CONFLICT (customer_id, currency) DO UPDATE SET balance = customer_wallets.balance + excluded.balance,
				updated_at = excluded.updated_at
			RETURNING balance`
		if change < 0 {
			upsert = `UPDATE customer_wallets SET balance = balance + $4::INT8, updated_at = $5
				WHERE merchant_id = $1 AND customer_id = $2 AND currency = $3 AND region = $11 RETURNING balance`
		}
		// The INSERT … SELECT inserts nothing if the wallet is missing: the count check fails
		// the transaction instead of losing the movement.
		txID := core.NewID(core.PrefixBalanceTransaction, j.Region)
		w.queue(`WITH w AS (`+upsert+`),
			t AS (INSERT INTO customer_balance_transactions (id, merchant_id, customer_id, currency, amount,
				balance_after, type, payment_id, refund_id, journal_id, created_at, region)
				SELECT $6, $1, $2, $3, $4::INT8, balance, $7, $8, $9, $10, $5, $11 FROM w RETURNING 1)
			SELECT 1 / (SELECT count(*) FROM t)::INT8`,
			j.MerchantID, j.Customer, j.Currency, change, now,
			txID, balanceTxType(j.Kind), j.PaymentID, j.RefundID, journalID, core.RegionOfID(j.Customer))
		if change < 0 {
			lowBalance(w, j.Customer, j.Currency, txID, now)
		} else {
			rearm(w, j.Customer, j.Currency)
		}
	}
	return nil
}

// creditTopUp queues, after a sale or capture journal of a payment naming a customer, the
// wallet credit of a top-up: once per top-up (top_ups.credited_at), in the same transaction
// as the sale.
func (s *Service) creditTopUp(w *writeBatch, pay *core.Payment, j core.Journal) {
	if pay == nil || pay.Channel == core.ChannelWallet || pay.Customer == nil ||
		!strings.HasPrefix(pay.Customer.ID, core.PrefixCustomer+"_") ||
		(j.Kind != core.JournalSale && j.Kind != core.JournalCapture) {
		return
	}
	var amount int64
	for _, p := range j.Postings {
		if p.Account == core.AccountChannelReceivable {
			amount += p.Amount
		}
	}
	if amount <= 0 {
		return
	}
	jid := core.NewID(core.PrefixJournal, j.Region)
	w.queue(`
		WITH t AS (UPDATE top_ups SET credited_at = $5 WHERE payment_id = $1 AND credited_at IS NULL
				RETURNING customer_id, customer_region),
			l AS (INSERT INTO ledger_entries (id, journal_id, merchant_id, region, account, currency, amount, kind, payment_id, refund_id, created_at)
				SELECT $6 || '.0', $6, $2, $3, $9, $4, $7::INT8, $11, $1, NULL, $5 FROM t
				UNION ALL
				SELECT $6 || '.1', $6, $2, $3, $10, $4, -$7::INT8, $11, $1, NULL, $5 FROM t),
			w AS (INSERT INTO customer_wallets (merchant_id, customer_id, currency, balance, updated_at, region)
				SELECT $2, customer_id, $4, $7::INT8, $5, customer_region FROM t
				ON CONFLICT (customer_id, currency) DO UPDATE SET balance = customer_wallets.balance + excluded.balance,
					updated_at = excluded.updated_at
				RETURNING customer_id, balance, region)
		INSERT INTO customer_balance_transactions (id, merchant_id, customer_id, currency, amount, balance_after,
			type, payment_id, refund_id, journal_id, created_at, region)
		SELECT $8, $2, customer_id, $4, $7::INT8, balance, $11, $1, NULL, $6, $5, region FROM w`,
		pay.ID, pay.MerchantID, j.Region, j.Currency, s.now(), jid, amount,
		core.NewID(core.PrefixBalanceTransaction, j.Region),
		core.AccountMerchantAvailable, core.AccountCustomerWallet, core.JournalTopUp)
	w.queue(`UPDATE customer_wallets cw SET low_armed = true FROM customers c, top_ups t
		WHERE t.payment_id = $1 AND cw.customer_id = t.customer_id AND cw.currency = $2 AND c.id = cw.customer_id
			AND NOT cw.low_armed AND cw.balance >= COALESCE((c.low_balance_threshold->>$2)::INT8, 0)`, pay.ID, j.Currency)
}

// TopUp tops a customer's wallet up: a payment through p.Channel, exactly once per
// Idempotency-Key, whose success credits the wallet. The customer must be the merchant's.
func (s *Service) TopUp(ctx context.Context, req core.IdempotentRequest, customerID string, p core.TopUpParams) (core.Reply, error) {
	if _, err := s.customer(ctx, s.db.Pool, req.MerchantID, customerID, false); err != nil {
		return core.Reply{}, err
	}
	sum := sha256.Sum256([]byte(req.Key))
	return s.CreatePayment(ctx, req, p.Payment(customerID, "top_up_"+hex.EncodeToString(sum[:16])))
}

// PayFromWallet is CreatePayment on the wallet channel, after checking that the wallet's
// customer is the merchant's: another merchant's customer is a 400 that writes nothing.
func (s *Service) checkWalletCustomer(ctx context.Context, merchantID string, p *core.CreatePaymentParams) error {
	if p.Channel != core.ChannelWallet {
		return nil
	}
	c := p.PaymentMethod.Wallet.Customer
	if _, err := s.customer(ctx, s.db.Pool, merchantID, c, false); err != nil {
		if core.ErrorCode(err) == core.CodeNotFound {
			return core.ParamError(core.CodeParameterInvalid, "payment_method.wallet.customer", "No such customer: %s.", c)
		}
		return err
	}
	return nil
}

// CustomerBalanceTransactions lists a customer's wallet movements, newest first.
func (s *Service) CustomerBalanceTransactions(ctx context.Context, merchantID, customerID string, limit int) (*core.List[*core.CustomerBalanceTransaction], error) {
	if _, err := s.customer(ctx, s.db.Pool, merchantID, customerID, true); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = core.DefaultListLimit
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT id, customer_id, type, amount, currency, balance_after, payment_id, refund_id, created_at
		FROM customer_balance_transactions WHERE merchant_id = $1 AND customer_id = $2
		ORDER BY created_at DESC, id DESC LIMIT $3`, merchantID, customerID, limit+1)
	if err != nil {
		return nil, fmt.Errorf("balance transactions: %w", err)
	}
	defer rows.Close()
	out := &core.List[*core.CustomerBalanceTransaction]{Object: "list", Data: []*core.CustomerBalanceTransaction{}}
	for rows.Next() {
		t := &core.CustomerBalanceTransaction{Object: "customer_balance_transaction"}
		if err := rows.Scan(&t.ID, &t.Customer, &t.Type, &t.Amount, &t.Currency, &t.BalanceAfter, &t.Payment, &t.Refund, &t.CreatedAt); err != nil {
			return nil, fmt.Errorf("balance transactions: %w", err)
		}
		out.Data = append(out.Data, t)
	}
	if len(out.Data) > limit {
		out.Data, out.HasMore = out.Data[:limit], true
	}
	return out, rows.Err()
}

// checkWallets adds the wallets to the ledger check: every wallet's balance equals the sum
// of its balance transactions, and each merchant's wallets per currency sum to the ledger's
// customer_wallet account.
func (s *Service) checkWallets(ctx context.Context, r *core.LedgerReport) error {
	r.WalletMismatches = []string{}
	rows, err := s.db.Pool.Query(ctx, `
		SELECT w.customer_id, w.currency, w.balance, COALESCE(SUM(t.amount), 0)
		FROM customer_wallets w LEFT JOIN customer_balance_transactions t
			ON t.customer_id = w.customer_id AND t.currency = w.currency
		GROUP BY w.customer_id, w.currency, w.balance
		HAVING w.balance <> COALESCE(SUM(t.amount), 0) OR w.balance < 0 LIMIT 100`)
	if err != nil {
		return fmt.Errorf("ledger check: wallets: %w", err)
	}
	for rows.Next() {
		var cus, cur string
		var bal, sum int64
		if err := rows.Scan(&cus, &cur, &bal, &sum); err != nil {
			rows.Close()
			return err
		}
		r.WalletMismatches = append(r.WalletMismatches, fmt.Sprintf("%s %s: balance %d vs transactions %d (minor units)", cus, cur, bal, sum))
	}
	rows.Close()
	rows, err = s.db.Pool.Query(ctx, `
		WITH l AS (SELECT merchant_id, currency, -SUM(amount) AS posted FROM ledger_entries
				WHERE account = $1 GROUP BY merchant_id, currency),
			w AS (SELECT merchant_id, currency, SUM(balance) AS held FROM customer_wallets GROUP BY merchant_id, currency)
		SELECT COALESCE(l.merchant_id, w.merchant_id), COALESCE(l.currency, w.currency), COALESCE(l.posted, 0), COALESCE(w.held, 0)
		FROM l FULL JOIN w ON l.merchant_id = w.merchant_id AND l.currency = w.currency
		WHERE COALESCE(l.posted, 0) <> COALESCE(w.held, 0) LIMIT 100`, core.AccountCustomerWallet)
	if err != nil {
		return fmt.Errorf("ledger check: wallets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var mer, cur string
		var posted, held int64
		if err := rows.Scan(&mer, &cur, &posted, &held); err != nil {
			return err
		}
		r.WalletMismatches = append(r.WalletMismatches, fmt.Sprintf("%s %s: customer_wallet posted %d vs wallets %d (minor units)", mer, cur, posted, held))
	}
	return rows.Err()
}

// refusedTopUpRefund refuses refunds of top-ups: the money is in the customer's wallet, and
// a refund through the channel would leave it there too. The customer spends it, or a
// wallet withdrawal (not built yet) returns it.
func refusedTopUpRefund(ctx context.Context, tx pgx.Tx, pay *core.Payment) error {
	if pay.Customer == nil || !strings.HasPrefix(pay.Customer.ID, core.PrefixCustomer+"_") {
		return nil
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM top_ups WHERE payment_id = $1`, pay.ID).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return core.ParamError(core.CodeParameterInvalid, "payment", "Payment %s is a wallet top-up: its money is in the customer's wallet and cannot be refunded through the channel.", pay.ID)
	}
	return nil
}
