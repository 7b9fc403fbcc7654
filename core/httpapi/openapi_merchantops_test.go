package httpapi

import (
	"context"
	"time"

	"github.com/paycenter/paycenter/core"
)

func (f *oaPayments) SetFeeSchedule(_ context.Context, merchantID string, p core.FeeScheduleParams) (*core.FeeScheduleSet, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	ch := string(p.Channel)
	if ch == "" {
		ch = "*"
	}
	return &core.FeeScheduleSet{Object: "fee_schedule", Merchant: merchantID, Channel: ch, FeeSchedule: p.FeeSchedule,
		UpdatedAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)}, nil
}

func (f *oaPayments) SetSettlementTerms(_ context.Context, _ string, days int, zone string) error {
	return core.ValidateSettlement(days, zone)
}

func (f *oaPayments) BalanceTransactions(context.Context, string, core.BalanceTransactionFilter) (*core.List[*core.BalanceTransaction], error) {
	if f.err != nil {
		return nil, f.err
	}
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	return &core.List[*core.BalanceTransaction]{Object: "list", Data: []*core.BalanceTransaction{
		{Object: "balance_transaction", ID: "jnl_us-east_x", Type: core.TxnPayment, Amount: 1000, Fee: 59, Net: 941,
			Currency: "USD", Status: core.TxnPending, AvailableOn: at.AddDate(0, 0, 2), Source: "pay_us-east_x", CreatedAt: at}}}, nil
}
