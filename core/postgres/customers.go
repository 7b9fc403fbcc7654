package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

const customerColumns = `id, merchant_id, email, phone, name, language, metadata, email_opt_out, sms_opt_out,
	low_balance_threshold, created_at, updated_at, deleted_at IS NOT NULL`

func scanCustomer(row pgx.Row) (*core.Payer, error) {
	c := &core.Payer{Object: "customer", Balances: map[string]int64{}}
	err := row.Scan(&c.ID, &c.MerchantID, &c.Email, &c.Phone, &c.Name, &c.Language, &c.Metadata, &c.EmailOptOut, &c.SMSOptOut,
		&c.LowBalanceThreshold, &c.CreatedAt, &c.UpdatedAt, &c.Deleted)
	return c, err
}

func customerNotFound(id string) *core.Error {
	return core.ParamError(core.CodeNotFound, "id", "No such customer: '%s'.", id)
}

// customer reads one of a merchant's customers; a deleted one is found only with deleted.
func (s *Service) customer(ctx context.Context, q querier, merchantID, id string, deleted bool) (*core.Payer, error) {
	c, err := scanCustomer(q.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = $1 AND merchant_id = $2`, id, merchantID))
	if errNoRows(err) || (err == nil && c.Deleted && !deleted) {
		return nil, customerNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("read customer: %w", err)
	}
	rows, err := q.Query(ctx, `SELECT currency, balance FROM customer_wallets WHERE customer_id = $1 AND merchant_id = $2`, id, merchantID)
	if err != nil {
		return nil, fmt.Errorf("read wallets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var cur string
		var b int64
		if err := rows.Scan(&cur, &b); err != nil {
			return nil, err
		}
		c.Balances[cur] = b
	}
	return c, rows.Err()
}

// CreateCustomer creates a customer of the merchant.
func (s *Service) CreateCustomer(ctx context.Context, merchantID string, p core.CustomerParams) (*core.Payer, error) {
	now := s.now()
	lang := "en"
	if p.Language != nil {
		lang = *p.Language
	} else {
		// The merchant's default language, if its notification settings name one.
		ns, err := s.NotificationSettings(ctx, merchantID)
		if err != nil {
			return nil, s.dbError(ctx, err)
		}
		lang = ns.DefaultLanguage
	}
	md := p.Metadata
	if md == nil {
		md = map[string]string{}
	}
	c := &core.Payer{ID: core.NewID(core.PrefixCustomer, s.cfg.Region), Object: "customer", Email: p.Email, Phone: p.Phone,
		Name: p.Name, Language: lang, Metadata: md, Balances: map[string]int64{}, CreatedAt: now, UpdatedAt: now, MerchantID: merchantID,
		LowBalanceThreshold: map[string]int64{}}
	p.Apply(c)
	_, err := s.db.Pool.Exec(ctx, `INSERT INTO customers (id, merchant_id, region, email, phone, name, language, metadata,
			email_opt_out, sms_opt_out, low_balance_threshold, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`, c.ID, merchantID, s.cfg.Region, c.Email, c.Phone, c.Name, lang, md,
		c.EmailOptOut, c.SMSOptOut, c.LowBalanceThreshold, now)
	if err != nil {
		return nil, s.dbError(ctx, fmt.Errorf("insert customer: %w", err))
	}
	return c, nil
}

// Customer reads one of the merchant's customers, deleted ones included (redacted).
func (s *Service) Customer(ctx context.Context, merchantID, id string) (*core.Payer, error) {
	return s.customer(ctx, s.db.Pool, merchantID, id, true)
}

// UpdateCustomer changes the fields p names.
func (s *Service) UpdateCustomer(ctx context.Context, merchantID, id string, p core.CustomerParams) (*core.Payer, error) {
	var out *core.Payer
	err := s.db.WriteTx(ctx, "customer.update", func(tx pgx.Tx) error {
		c, err := scanCustomer(tx.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = $1 AND merchant_id = $2 FOR UPDATE`, id, merchantID))
		if errNoRows(err) || (err == nil && c.Deleted) {
			return customerNotFound(id)
		}
		if err != nil {
			return err
		}
		p.Apply(c)
		c.UpdatedAt = s.now()
		if _, err := tx.Exec(ctx, `UPDATE customers SET email = $2, phone = $3, name = $4, language = $5, metadata = $6,
				email_opt_out = $8, sms_opt_out = $9, low_balance_threshold = $10, updated_at = $7 WHERE id = $1`,
			id, c.Email, c.Phone, c.Name, c.Language, c.Metadata, c.UpdatedAt, c.EmailOptOut, c.SMSOptOut, c.LowBalanceThreshold); err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		if core.ErrorCode(err) != "" {
			return nil, err
		}
		return nil, s.dbError(ctx, err)
	}
	return s.customer(ctx, s.db.Pool, merchantID, out.ID, false)
}

// DeleteCustomer soft-deletes a customer: its personal fields are erased; its wallets,
// balance transactions and payments stay (the money trail).
func (s *Service) DeleteCustomer(ctx context.Context, merchantID, id string) (*core.Payer, error) {
	tag, err := s.db.Pool.Exec(ctx, `UPDATE customers SET email = NULL, phone = NULL, name = NULL, metadata = '{}',
		deleted_at = $3, updated_at = $3 WHERE id = $1 AND merchant_id = $2 AND deleted_at IS NULL`, id, merchantID, s.now())
	if err != nil {
		return nil, s.dbError(ctx, err)
	}
	if tag.RowsAffected() == 0 {
		return nil, customerNotFound(id)
	}
	return s.customer(ctx, s.db.Pool, merchantID, id, true)
}

// Customers lists the merchant's customers that are not deleted, newest first.
func (s *Service) Customers(ctx context.Context, merchantID string, limit int) (*core.List[*core.Payer], error) {
	if limit <= 0 {
		limit = core.DefaultListLimit
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT `+customerColumns+` FROM customers WHERE merchant_id = $1 AND deleted_at IS NULL
		ORDER BY created_at DESC, id DESC LIMIT $2`, merchantID, limit+1)
	if err != nil {
		return nil, s.dbError(ctx, err)
	}
	out := &core.List[*core.Payer]{Object: "list", Data: []*core.Payer{}}
	for rows.Next() {
		c, err := scanCustomer(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out.Data = append(out.Data, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out.Data) > limit {
		out.Data, out.HasMore = out.Data[:limit], true
	}
	for _, c := range out.Data {
		full, err := s.customer(ctx, s.db.Pool, merchantID, c.ID, false)
		if err != nil {
			return nil, err
		}
		c.Balances = full.Balances
	}
	return out, nil
}

// knownCustomer refuses, with 404, a customer ID of the platform's (cus_…) that names none of
// the merchant's customers. Other IDs are the merchant's own, as payments' customer.id may be.
func (s *Service) knownCustomer(ctx context.Context, merchantID, id string) error {
	if !strings.HasPrefix(id, core.PrefixCustomer+"_") {
		return nil
	}
	var n int
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*) FROM customers WHERE id = $1 AND merchant_id = $2 AND deleted_at IS NULL`,
		id, merchantID).Scan(&n); err != nil {
		return s.dbError(ctx, err)
	}
	if n == 0 {
		return customerNotFound(id)
	}
	return nil
}
