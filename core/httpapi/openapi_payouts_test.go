package httpapi

import (
	"context"

	"github.com/paycenter/paycenter/core"
)

func oaPayout(status string) *core.Payout {
	po := &core.Payout{Object: "payout", ID: "po_us-east_x", Amount: 50000, Currency: "EUR", Description: "November takings",
		Status: status, Destination: core.PayoutDestination{BankCode: "37040044", Last4: "3000", HolderName: "Acme GmbH"},
		CreatedAt: oaAt, UpdatedAt: oaAt}
	if status != core.PayoutPending {
		ref := "bk_1"
		po.ChannelReference = &ref
	}
	if status == core.PayoutFailed {
		code, msg := core.PayoutCodeReturned, "The receiving bank returned the payout."
		po.FailureCode, po.FailureMessage = &code, &msg
	}
	return po
}

func (f *oaPayments) CreatePayout(_ context.Context, req core.IdempotentRequest, p core.CreatePayoutParams) (core.Reply, error) {
	if p.Amount > 100000 {
		return core.Reply{}, core.InsufficientAvailable("amount", p.Amount, 100000, p.Currency)
	}
	if p.Description == "unverified" {
		return core.Reply{}, core.Errorf(core.CodeKYCRequired, "Payouts need a verified merchant.")
	}
	return f.do(req, oaPayout(core.PayoutPaid))
}

func (f *oaPayments) Payout(_ context.Context, _, id string) (*core.Payout, error) {
	if f.err != nil {
		return nil, f.err
	}
	return oaPayout(core.PayoutFailed), nil
}

func (f *oaPayments) Payouts(context.Context, string, core.PayoutFilter) (*core.List[*core.Payout], error) {
	return &core.List[*core.Payout]{Object: "list", Data: []*core.Payout{oaPayout(core.PayoutPaid), oaPayout(core.PayoutPending)}}, nil
}

func (f *oaPayments) SetPayoutSchedule(_ context.Context, merchantID string, _ bool, p core.PayoutScheduleParams) (*core.PayoutSchedule, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	at := oaAt
	return &core.PayoutSchedule{Object: "payout_schedule", Merchant: merchantID, Interval: p.Interval, WeeklyAnchor: p.WeeklyAnchor,
		DelayDays: *p.DelayDays, UpdatedAt: &at}, nil
}

func (f *oaPayments) PayoutSchedule(_ context.Context, merchantID string) (*core.PayoutSchedule, error) {
	return &core.PayoutSchedule{Object: "payout_schedule", Merchant: merchantID, Interval: core.ScheduleManual}, nil
}
