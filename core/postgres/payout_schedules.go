package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// Audit action of payout schedules.
const opsPayoutSchedule = "payout_schedule.set"

// SetPayoutSchedule sets a merchant's payout schedule, by the merchant itself or an operator,
// audited with who did it.
func (s *Service) SetPayoutSchedule(ctx context.Context, merchantID string, byOperator bool, p core.PayoutScheduleParams) (*core.PayoutSchedule, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	actor := actorMerchant
	if byOperator {
		actor = actorOperator
	}
	return s.setPayoutSchedule(ctx, actor, merchantID, p, nil)
}

// setPayoutSchedule is SetPayoutSchedule audited as actor; after, if not nil, runs in the
// change's transaction. p is validated.
func (s *Service) setPayoutSchedule(ctx context.Context, actor, merchantID string, p core.PayoutScheduleParams, after func(pgx.Tx, *core.PayoutSchedule) error) (*core.PayoutSchedule, error) {
	now := s.now()
	out := &core.PayoutSchedule{Object: "payout_schedule", Merchant: merchantID, Interval: p.Interval,
		WeeklyAnchor: p.WeeklyAnchor, DelayDays: *p.DelayDays, UpdatedAt: &now}
	anchor := 1
	if p.Interval == core.ScheduleWeekly {
		anchor = int(out.Weekday())
	}
	err := s.db.WriteTx(ctx, "merchant.set_payout_schedule", func(tx pgx.Tx) error {
		region, err := merchantRegion(ctx, tx, merchantID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO merchant_payout_schedules (merchant_id, region, schedule, weekly_anchor, delay_days, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (merchant_id) DO UPDATE SET schedule = excluded.schedule, weekly_anchor = excluded.weekly_anchor,
				delay_days = excluded.delay_days, updated_at = excluded.updated_at`,
			merchantID, region, p.Interval, anchor, *p.DelayDays, now); err != nil {
			return err
		}
		if err := auditOps(ctx, tx, merchantID, region, opsPayoutSchedule, actorOr(ctx, actor), out, now); err != nil {
			return err
		}
		if after != nil {
			// An operator's change from the back office writes its own console entry.
			return after(tx, out)
		}
		detail := out.Interval
		if out.WeeklyAnchor != "" {
			detail += " on " + out.WeeklyAnchor
		}
		return s.consoleAudit(ctx, tx, merchantID, opsPayoutSchedule, merchantID, fmt.Sprintf("%s, delay %d days", detail, out.DelayDays))
	})
	if err != nil {
		return nil, core.AsError(err)
	}
	return out, nil
}

// PayoutSchedule is a merchant's payout schedule; manual if it never set one.
func (s *Service) PayoutSchedule(ctx context.Context, merchantID string) (*core.PayoutSchedule, error) {
	sc := &core.PayoutSchedule{Object: "payout_schedule", Merchant: merchantID, Interval: core.ScheduleManual}
	var (
		anchor int
		at     time.Time
	)
	err := s.db.Pool.QueryRow(ctx, `SELECT schedule, weekly_anchor, delay_days, updated_at FROM merchant_payout_schedules
		WHERE merchant_id = $1`, merchantID).Scan(&sc.Interval, &anchor, &sc.DelayDays, &at)
	if errNoRows(err) {
		return sc, nil
	}
	if err != nil {
		return nil, core.AsError(fmt.Errorf("read payout schedule: %w", err))
	}
	sc.UpdatedAt = &at
	if sc.Interval == core.ScheduleWeekly {
		sc.WeeklyAnchor = core.WeekdayName(time.Weekday(anchor))
	}
	return sc, nil
}

// RunPayoutSchedules makes the automatic payouts due now: for every verified merchant on a
// daily or weekly schedule whose period is due, one payout of what is available in its bank
// account's currency (less what became available within its delay_days). It is safe on every
// node at once: each payout is an idempotent request whose key is derived from the merchant,
// the period and the currency (core.AutomaticPayoutKey), so a period is paid once whoever
// runs it, and its bank call has the phases and recovery of any payout. It reports how many
// payouts it made.
func (s *Service) RunPayoutSchedules(ctx context.Context) (int, error) {
	rows, err := s.db.Pool.Query(ctx, `
		SELECT m.id, m.region, ps.schedule, ps.weekly_anchor, ps.delay_days, k.details->'bank_account'->>'currency'
		FROM merchant_payout_schedules ps JOIN merchants m ON m.id = ps.merchant_id
			JOIN merchant_kyc k ON k.merchant_id = ps.merchant_id
		WHERE ps.schedule <> $1 AND k.status = $2`, core.ScheduleManual, core.KYCVerified)
	if err != nil {
		return 0, fmt.Errorf("payout schedules: %w", err)
	}
	type due struct {
		merchantID, region, currency string
		sc                           core.PayoutSchedule
	}
	var all []due
	for rows.Next() {
		var d due
		var anchor int
		if err := rows.Scan(&d.merchantID, &d.region, &d.sc.Interval, &anchor, &d.sc.DelayDays, &d.currency); err != nil {
			rows.Close()
			return 0, err
		}
		d.sc.WeeklyAnchor = core.WeekdayName(time.Weekday(anchor))
		all = append(all, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	made := 0
	for _, d := range all {
		now := s.now()
		period, ok := d.sc.Period(now)
		if !ok {
			continue
		}
		var avail, recent int64
		if err := s.db.Pool.QueryRow(ctx, `SELECT
				COALESCE(-SUM(amount) FILTER (WHERE available_on IS NULL OR available_on <= $4), 0),
				COALESCE(-SUM(amount) FILTER (WHERE amount < 0 AND available_on > $5 AND available_on <= $4), 0)
			FROM ledger_entries WHERE merchant_id = $1 AND account = $2 AND currency = $3`,
			d.merchantID, core.AccountMerchantAvailable, d.currency, now, d.sc.Held(now)).Scan(&avail, &recent); err != nil {
			return made, fmt.Errorf("payout schedule of %s: %w", d.merchantID, err)
		}
		amount := min(avail-recent, core.MaxAmount)
		if amount <= 0 {
			continue
		}
		req := core.IdempotentRequest{MerchantID: d.merchantID, Region: d.region, Key: core.AutomaticPayoutKey(period, d.currency),
			Method: "POST", Path: "/v1/payouts", Render: renderInternal}
		p := core.CreatePayoutParams{Amount: amount, Currency: d.currency, Description: "Automatic payout, " + period}
		rep, err := s.createPayout(ctx, req, p, period)
		switch code := core.ErrorCode(err); {
		case err == nil && !rep.Replayed:
			made++
		case err == nil, code == core.CodeIdempotencyKeyReused, code == core.CodeIdempotencyKeyInUse, code == core.CodeBalanceInsufficient:
			// Made already, by this node or another (with the balance as it was then), or
			// being made now, or the balance moved meanwhile: the period is done or in hand.
		default:
			s.log.WarnContext(ctx, "automatic payout failed; the next run tries again", "merchant", d.merchantID, "period", period, "err", err)
		}
	}
	return made, nil
}

// renderInternal renders the stored reply of a request the platform made itself (an
// automatic payout): no client reads it, but a finished key needs one.
func renderInternal(v any, err error) core.Reply {
	if err != nil {
		e := core.AsError(err)
		b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": e.Code, "message": e.Message}})
		return core.Reply{Status: 400, Body: b}
	}
	b, _ := json.Marshal(v)
	return core.Reply{Status: 200, Body: b}
}

// NewPayoutScheduler makes the worker that runs RunPayoutSchedules every interval (default
// 10 minutes) on every node: the payouts' keys make it safe everywhere.
func NewPayoutScheduler(s *Service, interval time.Duration) *Worker {
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	return NewWorker("payout schedule", interval, s.log, func(ctx context.Context) error {
		n, err := s.RunPayoutSchedules(ctx)
		if n > 0 {
			s.log.Info("made automatic payouts", "payouts", n)
		}
		return err
	})
}
