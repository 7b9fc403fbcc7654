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

func oaKYC(status string) *core.KYC {
	k := core.NewKYC("mer_us-east_x", status)
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	d := core.KYCParams{LegalName: "Acme GmbH", RegistrationNumber: "HRB 12345", Country: "DE",
		Address:        core.KYCAddress{Line1: "Unter den Linden 1", Line2: "3. OG", City: "Berlin", PostalCode: "10117"},
		Representative: core.KYCRepresentative{Name: "Erika Mustermann", IDLast4: "0129", DateOfBirth: "1980-05-17", Phone: "+4930123456"},
		BankAccount:    core.KYCBankAccount{HolderName: "Acme GmbH", Last4: "3000", BankCode: "37040044", Currency: "EUR"}}
	k.Details, k.SubmittedAt = &d, &at
	if status == core.KYCRejected {
		why := "documents unreadable"
		k.RejectedReason, k.DecidedAt = &why, &at
	}
	return k
}

func (f *oaPayments) SubmitKYC(_ context.Context, _ string, p core.KYCParams) (*core.KYC, error) {
	if err := p.Validate(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)); err != nil {
		return nil, err
	}
	return oaKYC(core.KYCPending), nil
}

func (f *oaPayments) KYC(_ context.Context, merchantID string) (*core.KYC, error) {
	if merchantID == "mer_missing" {
		return nil, core.ParamError(core.CodeNotFound, "id", "No such merchant.")
	}
	return core.NewKYC(merchantID, core.KYCUnverified), nil
}

func (f *oaPayments) DecideKYC(_ context.Context, _ string, approve bool, reason string) (*core.KYC, error) {
	if f.err != nil {
		return nil, f.err
	}
	if approve {
		return oaKYC(core.KYCVerified), nil
	}
	if reason == "" {
		return nil, core.ParamError(core.CodeParameterInvalid, "reason", "reason is required.")
	}
	return oaKYC(core.KYCRejected), nil
}

var oaAt = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func (f *oaPayments) CreateTransfer(_ context.Context, req core.IdempotentRequest, p core.CreateTransferParams) (*core.Transfer, error) {
	if p.Destination == "mer_missing" {
		return nil, core.ParamError(core.CodeNotFound, "destination", "No such merchant.")
	}
	if p.Amount > 1000 {
		return nil, core.InsufficientAvailable("amount", p.Amount, 1000, p.Currency)
	}
	return &core.Transfer{Object: "transfer", ID: "tr_us-east_x", Amount: p.Amount, Currency: p.Currency,
		Destination: p.Destination, Description: p.Description, CreatedAt: oaAt}, nil
}

func (f *oaPayments) Transfer(context.Context, string, string) (*core.Transfer, error) {
	return &core.Transfer{Object: "transfer", ID: "tr_us-east_x", Amount: 500, AmountReversed: 100, Currency: "USD",
		Destination: "mer_us-east_y", CreatedAt: oaAt}, nil
}

func (f *oaPayments) ReverseTransfer(_ context.Context, _ core.IdempotentRequest, id string, p core.CreateReversalParams) (*core.TransferReversal, error) {
	a := int64(400)
	if p.Amount != nil {
		a = *p.Amount
	}
	return &core.TransferReversal{Object: "transfer_reversal", ID: "trr_us-east_x", Transfer: id, Amount: a, Currency: "USD", CreatedAt: oaAt}, nil
}

func (f *oaPayments) SetTransfersAllowed(context.Context, string, bool) error { return nil }

func (f *oaPayments) CreateAdjustment(_ context.Context, p core.AdjustmentParams) (*core.Adjustment, error) {
	return &core.Adjustment{Object: "adjustment", ID: "adj_us-east_x", Merchant: p.Merchant, Amount: p.Amount,
		Currency: p.Currency, Reason: p.Reason, CreatedAt: oaAt}, nil
}

func oaSettlement() *core.Settlement {
	return &core.Settlement{Object: "settlement", ID: "st_us-east_x", Merchant: "mer_us-east_x", Date: "2026-11-24", Currency: "USD",
		Count: 2, Gross: 1000, Refunds: 400, Fees: 59, Net: 541, Status: core.SettlementClosed, CreatedAt: oaAt,
		Reconciliation: core.SettlementMismatch, ReconciliationDetail: []string{"card 2026-11-24: charge pay_us-east_x: platform 1000, channel 900"}}
}

func (f *oaPayments) ReviewSettlements(context.Context, core.SettlementFilter) (*core.List[*core.Settlement], error) {
	return &core.List[*core.Settlement]{Object: "list", Data: []*core.Settlement{oaSettlement()}}, nil
}

func (f *oaPayments) Settlements(context.Context, string, int) (*core.List[*core.Settlement], error) {
	return &core.List[*core.Settlement]{Object: "list", Data: []*core.Settlement{oaSettlement()}}, nil
}

func (f *oaPayments) Settlement(context.Context, string, string) (*core.Settlement, []*core.BalanceTransaction, error) {
	if f.err != nil {
		return nil, nil, f.err
	}
	return oaSettlement(), []*core.BalanceTransaction{{Object: "balance_transaction", ID: "jnl_us-east_x", Type: core.TxnPayment,
		Amount: 1000, Fee: 59, Net: 941, Currency: "USD", Status: core.TxnAvailable, AvailableOn: oaAt, Source: "pay_us-east_x", CreatedAt: oaAt}}, nil
}

func (f *oaPayments) KYCSubmissions(context.Context, string, int) (*core.List[*core.KYC], error) {
	return &core.List[*core.KYC]{Object: "list", Data: []*core.KYC{oaKYC(core.KYCPending)}}, nil
}

func (f *oaPayments) FeeSchedules(_ context.Context, merchantID string) (*core.List[*core.FeeScheduleSet], error) {
	if merchantID == "mer_missing" {
		return nil, core.ParamError(core.CodeNotFound, "id", "No such merchant.")
	}
	return &core.List[*core.FeeScheduleSet]{Object: "list", Data: []*core.FeeScheduleSet{
		{Object: "fee_schedule", Merchant: merchantID, Channel: "card", FeeSchedule: core.FeeSchedule{PercentBps: 290, Fixed: 30}, UpdatedAt: oaAt},
		{Object: "fee_schedule", Merchant: "*", Channel: "*", FeeSchedule: core.FeeSchedule{PercentBps: 250}, UpdatedAt: oaAt}}}, nil
}
