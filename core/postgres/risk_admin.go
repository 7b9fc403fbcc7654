package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/risk"
)

// auditRisk records an operator's (or a worker's) action on a risk object, in the
// transaction of the action itself: the audit log holds what was done, and only that.
func (s *Service) auditRisk(ctx context.Context, tx pgx.Tx, actor, action, objectType, objectID string, detail any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO risk_audit (id, actor, action, object_type, object_id, detail, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, core.NewRandomID(risk.PrefixAudit), actor, action, objectType, objectID, detail, s.now())
	if err != nil {
		return fmt.Errorf("audit %s %s: %w", action, objectID, err)
	}
	return nil
}

// RiskAudit lists the audit entries about one object (or all, with objectID ""), newest
// first, at most limit.
func (s *Service) RiskAudit(ctx context.Context, objectID string, limit int) ([]risk.AuditEntry, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT id, actor, action, object_type, object_id, detail, created_at FROM risk_audit
		WHERE $1 = '' OR object_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, objectID, limit)
	if err != nil {
		return nil, fmt.Errorf("risk audit: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (risk.AuditEntry, error) {
		var e risk.AuditEntry
		err := row.Scan(&e.ID, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &e.Detail, &e.CreatedAt)
		return e, err
	})
}

const ruleColumns = `id, name, action, expression, scope, enabled, version, created_at, updated_at`

func scanRule(row pgx.Row) (*risk.RuleObject, error) {
	r := &risk.RuleObject{Object: "risk_rule"}
	err := row.Scan(&r.ID, &r.Name, &r.Action, &r.Expression, &r.Scope, &r.Enabled, &r.Version, &r.CreatedAt, &r.UpdatedAt)
	return r, err
}

func ruleNotFound(id string) error {
	return core.ParamError(core.CodeNotFound, "id", "No such risk rule: '%s'.", id)
}

func isUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// CreateRiskRule saves a new rule (compiled first: one that does not compile is refused
// with the position of the error).
func (s *Service) CreateRiskRule(ctx context.Context, actor string, p risk.RuleParams) (*risk.RuleObject, error) {
	return s.createRiskRule(ctx, actor, p, nil)
}

// createRiskRule is CreateRiskRule; after, if not nil, runs in the rule's transaction (a
// back-office audit entry).
func (s *Service) createRiskRule(ctx context.Context, actor string, p risk.RuleParams, after func(pgx.Tx, *risk.RuleObject) error) (*risk.RuleObject, error) {
	if _, err := p.Validate(true); err != nil {
		return nil, err
	}
	var out *risk.RuleObject
	err := s.db.WriteTx(ctx, "risk.rule.create", func(tx pgx.Tx) error {
		if *p.Scope != risk.ScopePlatform {
			if err := merchantExists(ctx, tx, *p.Scope, "scope"); err != nil {
				return err
			}
		}
		now := s.now()
		r, err := scanRule(tx.QueryRow(ctx, `INSERT INTO risk_rules (id, scope, name, action, expression, enabled, version, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) RETURNING `+ruleColumns,
			core.NewRandomID(risk.PrefixRule), *p.Scope, *p.Name, *p.Action, *p.Expression, *p.Enabled, now))
		if isUniqueViolation(err) {
			return core.ParamError(core.CodeParameterInvalid, "name", "A rule named '%s' already exists in scope %s.", *p.Name, *p.Scope)
		}
		if err != nil {
			return fmt.Errorf("insert risk rule: %w", err)
		}
		out = r
		if err := s.auditRisk(ctx, tx, actor, "rule.created", "risk_rule", r.ID, r); err != nil {
			return err
		}
		if after != nil {
			return after(tx, r)
		}
		return nil
	})
	if err != nil {
		return nil, coded(err)
	}
	s.risk.invalidate()
	return out, nil
}

// UpdateRiskRule changes a rule's name, action, expression or enabled flag; each change
// makes a new version.
func (s *Service) UpdateRiskRule(ctx context.Context, actor, id string, p risk.RuleParams) (*risk.RuleObject, error) {
	return s.updateRiskRule(ctx, actor, id, p, nil)
}

// updateRiskRule is UpdateRiskRule; then, if not nil, runs in the change's transaction with
// the rule before and after.
func (s *Service) updateRiskRule(ctx context.Context, actor, id string, p risk.RuleParams, then func(tx pgx.Tx, before, r *risk.RuleObject) error) (*risk.RuleObject, error) {
	if _, err := p.Validate(false); err != nil {
		return nil, err
	}
	var out *risk.RuleObject
	err := s.db.WriteTx(ctx, "risk.rule.update", func(tx pgx.Tx) error {
		before, err := scanRule(tx.QueryRow(ctx, `SELECT `+ruleColumns+` FROM risk_rules WHERE id = $1 FOR UPDATE`, id))
		if errNoRows(err) {
			return ruleNotFound(id)
		}
		if err != nil {
			return fmt.Errorf("read risk rule: %w", err)
		}
		after := *before
		if p.Name != nil {
			after.Name = *p.Name
		}
		if p.Action != nil {
			after.Action = *p.Action
		}
		if p.Expression != nil {
			after.Expression = *p.Expression
		}
		if p.Enabled != nil {
			after.Enabled = *p.Enabled
		}
		r, err := scanRule(tx.QueryRow(ctx, `UPDATE risk_rules SET name = $2, action = $3, expression = $4, enabled = $5,
			version = version + 1, updated_at = $6 WHERE id = $1 RETURNING `+ruleColumns,
			id, after.Name, after.Action, after.Expression, after.Enabled, s.now()))
		if isUniqueViolation(err) {
			return core.ParamError(core.CodeParameterInvalid, "name", "A rule named '%s' already exists in scope %s.", after.Name, after.Scope)
		}
		if err != nil {
			return fmt.Errorf("update risk rule: %w", err)
		}
		out = r
		if err := s.auditRisk(ctx, tx, actor, "rule.updated", "risk_rule", id, map[string]any{"before": before, "after": r}); err != nil {
			return err
		}
		if then != nil {
			return then(tx, before, r)
		}
		return nil
	})
	if err != nil {
		return nil, coded(err)
	}
	s.risk.invalidate()
	return out, nil
}

// RiskRules lists rules, in scope (all with ""), oldest first.
func (s *Service) RiskRules(ctx context.Context, scope string) ([]*risk.RuleObject, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+ruleColumns+` FROM risk_rules WHERE $1 = '' OR scope = $1
		ORDER BY created_at, id LIMIT 1000`, scope)
	if err != nil {
		return nil, fmt.Errorf("list risk rules: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*risk.RuleObject, error) { return scanRule(row) })
}

// TestRiskRule dry-runs an expression over the last days of payments in scope: how many it
// would have matched, with list membership as the lists are now.
func (s *Service) TestRiskRule(ctx context.Context, p risk.DryRunParams) (*risk.DryRunResult, error) {
	prog, err := p.Validate()
	if err != nil {
		return nil, err
	}
	since := s.now().Add(-time.Duration(p.Days) * 24 * time.Hour)
	rows, err := s.db.Pool.Query(ctx, `SELECT `+paymentColumns+` FROM payments
		WHERE ($1 = 'platform' OR merchant_id = $1) AND created_at > $2 ORDER BY created_at, id LIMIT $3`,
		p.Scope, since, risk.MaxDryRunPayments+1)
	if err != nil {
		return nil, fmt.Errorf("dry run: %w", err)
	}
	pays, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*core.Payment, error) { return scanPayment(row) })
	if err != nil {
		return nil, fmt.Errorf("dry run: %w", err)
	}
	truncated := len(pays) > risk.MaxDryRunPayments
	if truncated {
		pays = pays[:risk.MaxDryRunPayments]
	}
	lists := map[string]map[string]bool{}
	if len(prog.Lists) > 0 {
		rows, err := s.db.Pool.Query(ctx, `SELECT l.name, i.value FROM risk_list_items i JOIN risk_lists l ON l.id = i.list_id
			WHERE l.name = ANY($1)`, prog.Lists)
		if err != nil {
			return nil, fmt.Errorf("dry run lists: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var name, value string
			if err := rows.Scan(&name, &value); err != nil {
				return nil, err
			}
			if lists[name] == nil {
				lists[name] = map[string]bool{}
			}
			lists[name][value] = true
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	res := risk.DryRun(prog, pays, lists)
	res.Truncated = truncated
	return &res, nil
}

func merchantExists(ctx context.Context, q querier, id, param string) error {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM merchants WHERE id = $1`, id).Scan(&one)
	if errNoRows(err) {
		return core.ParamError(core.CodeNotFound, param, "No such merchant: '%s'.", id)
	}
	return err
}

// coded passes a coded error on as it is, and wraps anything else as a database error.
func coded(err error) error {
	var e *core.Error
	if errors.As(err, &e) {
		return e
	}
	return core.Internal(err)
}

const listColumns = `l.id, l.name, l.item_type, l.created_at, (SELECT count(*) FROM risk_list_items i WHERE i.list_id = l.id)`

func scanList(row pgx.Row) (*risk.ListObject, error) {
	l := &risk.ListObject{Object: "risk_list"}
	err := row.Scan(&l.ID, &l.Name, &l.ItemType, &l.CreatedAt, &l.Items)
	return l, err
}

// CreateRiskList makes an empty list.
func (s *Service) CreateRiskList(ctx context.Context, actor string, p risk.ListParams) (*risk.ListObject, error) {
	return s.createRiskList(ctx, actor, p, nil)
}

// createRiskList is CreateRiskList; after, if not nil, runs in the list's transaction.
func (s *Service) createRiskList(ctx context.Context, actor string, p risk.ListParams, after func(pgx.Tx, *risk.ListObject) error) (*risk.ListObject, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var out *risk.ListObject
	err := s.db.WriteTx(ctx, "risk.list.create", func(tx pgx.Tx) error {
		id := core.NewRandomID(risk.PrefixList)
		_, err := tx.Exec(ctx, `INSERT INTO risk_lists (id, name, item_type, created_at) VALUES ($1, $2, $3, $4)`,
			id, p.Name, p.ItemType, s.now())
		if isUniqueViolation(err) {
			return core.ParamError(core.CodeParameterInvalid, "name", "A list named '%s' already exists.", p.Name)
		}
		if err != nil {
			return fmt.Errorf("insert risk list: %w", err)
		}
		out = &risk.ListObject{Object: "risk_list", ID: id, Name: p.Name, ItemType: p.ItemType, CreatedAt: s.now()}
		if err := s.auditRisk(ctx, tx, actor, "list.created", "risk_list", id, p); err != nil {
			return err
		}
		if after != nil {
			return after(tx, out)
		}
		return nil
	})
	if err != nil {
		return nil, coded(err)
	}
	return out, nil
}

// RiskLists lists every list.
func (s *Service) RiskLists(ctx context.Context) ([]*risk.ListObject, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+listColumns+` FROM risk_lists l ORDER BY l.name LIMIT 1000`)
	if err != nil {
		return nil, fmt.Errorf("list risk lists: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*risk.ListObject, error) { return scanList(row) })
}

// ChangeRiskListItems adds (add) or removes values of a list, and answers the list.
func (s *Service) ChangeRiskListItems(ctx context.Context, actor, id string, add bool, p risk.ItemParams) (*risk.ListObject, error) {
	var out *risk.ListObject
	err := s.db.WriteTx(ctx, "risk.list.items", func(tx pgx.Tx) error {
		l, err := scanList(tx.QueryRow(ctx, `SELECT `+listColumns+` FROM risk_lists l WHERE l.id = $1 FOR UPDATE`, id))
		if errNoRows(err) {
			return core.ParamError(core.CodeNotFound, "id", "No such risk list: '%s'.", id)
		}
		if err != nil {
			return fmt.Errorf("read risk list: %w", err)
		}
		if err := p.Validate(l.ItemType); err != nil {
			return err
		}
		action := "list.items_removed"
		if add {
			action = "list.items_added"
			_, err = tx.Exec(ctx, `INSERT INTO risk_list_items (list_id, value, created_at)
				SELECT $1, v, $3 FROM unnest($2::TEXT[]) AS v ON CONFLICT DO NOTHING`, id, p.Values, s.now())
		} else {
			_, err = tx.Exec(ctx, `DELETE FROM risk_list_items WHERE list_id = $1 AND value = ANY($2)`, id, p.Values)
		}
		if err != nil {
			return fmt.Errorf("change risk list items: %w", err)
		}
		if err := s.auditRisk(ctx, tx, actor, action, "risk_list", id, map[string]any{"values": p.Values}); err != nil {
			return err
		}
		if err := s.consoleAudit(ctx, tx, "", "risk_"+action, id, strings.Join(p.Values, ", ")); err != nil {
			return err
		}
		out, err = scanList(tx.QueryRow(ctx, `SELECT `+listColumns+` FROM risk_lists l WHERE l.id = $1`, id))
		return err
	})
	if err != nil {
		return nil, coded(err)
	}
	return out, nil
}
