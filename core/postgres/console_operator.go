package postgres

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/risk"
)

// The back office's operator actions. Each one makes its change through the method the admin
// API uses and, in that change's own transaction, writes both the object's audit trail
// (risk_audit or merchant_ops_events) with the user's Actor() and the back office's audit log
// (console_audit) with the user: an action that fails leaves neither, one that succeeds
// leaves exactly one entry in each.

// Back-office audit actions of the operator pages.
const (
	auditRuleCreated       = "risk_rule.created"
	auditRuleUpdated       = "risk_rule.updated"
	auditRuleDisabled      = "risk_rule.disabled"
	auditRuleEnabled       = "risk_rule.enabled"
	auditListCreated       = "risk_list.created"
	auditChannelEnabled    = "channel.enabled"
	auditChannelDisabled   = "channel.disabled"
	auditTransfersAllowed  = "transfers.allowed"
	auditTransfersStopped  = "transfers.stopped"
	auditPayoutScheduleSet = "payout_schedule.set"
	opsChannelSet          = "channel.set"
)

// ConsoleCreateRiskRule creates a rule as back-office user by.
func (s *Service) ConsoleCreateRiskRule(ctx context.Context, by *core.User, p risk.RuleParams) (*risk.RuleObject, error) {
	return s.createRiskRule(ctx, by.Actor(), p, func(tx pgx.Tx, r *risk.RuleObject) error {
		return s.audit(ctx, tx, by.ID, "", auditRuleCreated, r.ID, fmt.Sprintf("%s (%s, %s): %s", r.Name, r.Action, r.Scope, r.Expression))
	})
}

// ConsoleUpdateRiskRule changes a rule (its name, action, expression or enabled flag) as
// back-office user by.
func (s *Service) ConsoleUpdateRiskRule(ctx context.Context, by *core.User, id string, p risk.RuleParams) (*risk.RuleObject, error) {
	return s.updateRiskRule(ctx, by.Actor(), id, p, func(tx pgx.Tx, before, r *risk.RuleObject) error {
		action, detail := auditRuleUpdated, fmt.Sprintf("v%d: %s (%s): %s", r.Version, r.Name, r.Action, r.Expression)
		if before.Enabled != r.Enabled && p.Name == nil && p.Action == nil && p.Expression == nil {
			action, detail = auditRuleDisabled, fmt.Sprintf("v%d", r.Version)
			if r.Enabled {
				action = auditRuleEnabled
			}
		}
		return s.audit(ctx, tx, by.ID, "", action, r.ID, detail)
	})
}

// ConsoleCreateRiskList creates an empty list as back-office user by.
func (s *Service) ConsoleCreateRiskList(ctx context.Context, by *core.User, p risk.ListParams) (*risk.ListObject, error) {
	return s.createRiskList(ctx, by.Actor(), p, func(tx pgx.Tx, l *risk.ListObject) error {
		return s.audit(ctx, tx, by.ID, "", auditListCreated, l.ID, l.Name+" ("+l.ItemType+")")
	})
}

// AMLCase is one AML case.
func (s *Service) AMLCase(ctx context.Context, id string) (*risk.Case, error) {
	c, err := scanCase(s.db.Pool.QueryRow(ctx, `SELECT `+caseColumns+` FROM aml_cases WHERE id = $1`, id))
	if errNoRows(err) {
		return nil, core.ParamError(core.CodeNotFound, "id", "No such AML case: '%s'.", id)
	}
	if err != nil {
		return nil, core.Internal(err)
	}
	return c, nil
}

// ConsoleUpdateAMLCase moves a case to another status as back-office user by, with the
// note.
func (s *Service) ConsoleUpdateAMLCase(ctx context.Context, by *core.User, id string, p risk.CaseParams) (*risk.Case, error) {
	return s.updateAMLCase(ctx, by.Actor(), id, p, func(tx pgx.Tx, before, c *risk.Case) error {
		m := ""
		if c.Merchant != nil {
			m = *c.Merchant
		}
		detail := before.Status + " → " + c.Status
		if p.Note != "" {
			detail += ": " + p.Note
		}
		return s.audit(ctx, tx, by.ID, m, "aml_case."+c.Status, c.ID, detail)
	})
}

// ConsoleSetChannel switches a channel on or off for a merchant as back-office user by (its
// credentials, if any, are kept). It audits the switch on the merchant's operations trail too,
// which SetChannel through the API does not.
func (s *Service) ConsoleSetChannel(ctx context.Context, by *core.User, merchantID string, ch core.Channel, enabled bool) (*core.ChannelAuthorization, error) {
	return s.setChannel(ctx, merchantID, ch, enabled, nil, func(tx pgx.Tx, region string, was bool) error {
		if err := auditOps(ctx, tx, merchantID, region, opsChannelSet, by.Actor(),
			map[string]any{"channel": ch, "enabled": enabled, "was_enabled": was}, s.now()); err != nil {
			return err
		}
		action := auditChannelDisabled
		if enabled {
			action = auditChannelEnabled
		}
		return s.audit(ctx, tx, by.ID, merchantID, action, merchantID+"/"+string(ch), "was "+onOff(was))
	})
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// ConsoleSetTransfersAllowed lets (or stops) a merchant transfer to other merchants, as
// back-office user by.
func (s *Service) ConsoleSetTransfersAllowed(ctx context.Context, by *core.User, merchantID string, allowed bool) error {
	return s.setTransfersAllowed(ctx, by.Actor(), merchantID, allowed, func(tx pgx.Tx) error {
		action := auditTransfersStopped
		if allowed {
			action = auditTransfersAllowed
		}
		return s.audit(ctx, tx, by.ID, merchantID, action, merchantID, "")
	})
}

// ConsoleSetPayoutSchedule sets a merchant's payout schedule as back-office user by (an
// operator).
func (s *Service) ConsoleSetPayoutSchedule(ctx context.Context, by *core.User, merchantID string, p core.PayoutScheduleParams) (*core.PayoutSchedule, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return s.setPayoutSchedule(ctx, by.Actor(), merchantID, p, func(tx pgx.Tx, sc *core.PayoutSchedule) error {
		detail := sc.Interval
		if sc.WeeklyAnchor != "" {
			detail += " on " + sc.WeeklyAnchor
		}
		return s.audit(ctx, tx, by.ID, merchantID, auditPayoutScheduleSet, merchantID, detail+", delay "+strconv.Itoa(sc.DelayDays)+" days")
	})
}

// ConsoleMerchantLimits reads a merchant's limits: whether it may transfer to other
// merchants, and the volume it may take before its KYC is verified.
func (s *Service) ConsoleMerchantLimits(ctx context.Context, merchantID string) (*core.MerchantLimits, error) {
	l := &core.MerchantLimits{Merchant: merchantID, UnverifiedVolume: s.cfg.UnverifiedVolumeLimit}
	err := s.db.Pool.QueryRow(ctx, `SELECT COALESCE((SELECT allowed FROM merchant_transfer_permissions WHERE merchant_id = $1), false),
		COALESCE((SELECT status FROM merchant_kyc WHERE merchant_id = $1), $2)`, merchantID, core.KYCUnverified).
		Scan(&l.TransfersAllowed, &l.KYCStatus)
	if err != nil {
		return nil, core.Internal(err)
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT currency, COALESCE(SUM(amount), 0)::INT8 FROM merchant_volume
		WHERE merchant_id = $1 GROUP BY currency ORDER BY currency`, merchantID)
	if err != nil {
		return nil, core.Internal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var v core.CurrencyAmount
		if err := rows.Scan(&v.Currency, &v.Amount); err != nil {
			return nil, core.Internal(err)
		}
		l.Volume = append(l.Volume, v)
	}
	if err := rows.Err(); err != nil {
		return nil, core.Internal(err)
	}
	return l, nil
}
