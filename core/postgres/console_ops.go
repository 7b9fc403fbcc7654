package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// ConsolePendingKYC lists the KYC submissions waiting for an operator's decision, oldest
// first, as KYC shows them (sealed fields as their last four only).
func (s *Service) ConsolePendingKYC(ctx context.Context, limit int) ([]*core.KYC, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT merchant_id FROM merchant_kyc WHERE status = $1 ORDER BY submitted_at, merchant_id LIMIT $2`,
		core.KYCPending, limit)
	if err != nil {
		return nil, core.Internal(fmt.Errorf("pending kyc: %w", err))
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, core.Internal(fmt.Errorf("pending kyc: %w", err))
	}
	out := make([]*core.KYC, 0, len(ids))
	for _, id := range ids {
		k, err := s.KYC(ctx, id)
		if err != nil {
			return nil, core.Internal(err)
		}
		out = append(out, k)
	}
	return out, nil
}

// ConsoleFeeSchedules lists a merchant's own fee schedules and the platform's defaults
// (merchant "*"), by merchant then channel ("*": every channel without its own).
func (s *Service) ConsoleFeeSchedules(ctx context.Context, merchantID string) ([]core.FeeScheduleSet, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT merchant_id, channel, percent_bps, fixed, refund_fees, updated_at FROM fee_schedules
		WHERE merchant_id IN ($1, $2) ORDER BY merchant_id = $2, channel`, merchantID, platformScope)
	if err != nil {
		return nil, core.Internal(fmt.Errorf("fee schedules: %w", err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (core.FeeScheduleSet, error) {
		f := core.FeeScheduleSet{Object: "fee_schedule"}
		err := r.Scan(&f.Merchant, &f.Channel, &f.PercentBps, &f.Fixed, &f.RefundFees, &f.UpdatedAt)
		return f, err
	})
	if err != nil {
		return nil, core.Internal(fmt.Errorf("fee schedules: %w", err))
	}
	return out, nil
}
