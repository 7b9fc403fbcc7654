package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
)

func kycForm() core.KYCParams {
	return core.KYCParams{LegalName: "Acme GmbH", RegistrationNumber: "HRB 12345", Country: "DE",
		Address:        core.KYCAddress{Line1: "Unter den Linden 1", City: "Berlin", PostalCode: "10117"},
		Representative: core.KYCRepresentative{Name: "Erika Mustermann", IDNumber: "T22000129", DateOfBirth: "1980-05-17", Phone: "+4930123456"},
		BankAccount:    core.KYCBankAccount{HolderName: "Acme GmbH", AccountNumber: "0532013000", BankCode: "37040044", Currency: "EUR"}}
}

// A KYC form with a wrong field (a 15-year-old representative among them) is refused naming
// the field and writes nothing.
func TestKYCBadInputNamesTheFieldAndWritesNothing(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	// The clock is 2026-03-01: born 2010-06-01 the representative is 15.
	for _, c := range []struct {
		param string
		edit  func(p *core.KYCParams)
	}{
		{"representative[date_of_birth]", func(p *core.KYCParams) { p.Representative.DateOfBirth = "2010-06-01" }},
		{"representative[date_of_birth]", func(p *core.KYCParams) { p.Representative.DateOfBirth = "2008-03-02" }}, // 18 tomorrow
		{"representative[date_of_birth]", func(p *core.KYCParams) { p.Representative.DateOfBirth = "17/05/1980" }},
		{"country", func(p *core.KYCParams) { p.Country = "XX" }},
		{"country", func(p *core.KYCParams) { p.Country = "DEU" }},
		{"legal_name", func(p *core.KYCParams) { p.LegalName = " " }},
		{"representative[phone]", func(p *core.KYCParams) { p.Representative.Phone = "030 123456" }},
		{"bank_account[account_number]", func(p *core.KYCParams) { p.BankAccount.AccountNumber = "12-34" }},
		{"bank_account[currency]", func(p *core.KYCParams) { p.BankAccount.Currency = "eur" }},
	} {
		p := kycForm()
		c.edit(&p)
		_, err := e.svc.SubmitKYC(ctx, e.merchant.ID, p)
		if ce := core.AsError(err); err == nil || ce.Param != c.param || ce.Code != core.CodeParameterInvalid {
			t.Errorf("want an error naming %s, got %v", c.param, err)
		}
	}
	// Exactly 18 today is old enough.
	p := kycForm()
	p.Representative.DateOfBirth = "2008-03-01"
	if err := p.Validate(e.clock.Now()); err != nil {
		t.Errorf("an 18-year-old representative refused: %v", err)
	}
	if n := e.count("merchant_kyc") + e.count("merchant_ops_events"); n != 0 {
		t.Errorf("bad KYC forms wrote %d rows", n)
	}
}

// An unverified merchant is stopped at its volume limit with kyc_required; once an operator
// approves its KYC (audited, with an event), it takes payments again. The ID and account
// numbers are stored sealed and shown as last four.
func TestUnverifiedMerchantStopsAtTheVolumeLimitUntilVerified(t *testing.T) {
	e := newPhaseEnv(t) // default limit: 1,000,000 minor units per currency
	ctx := context.Background()
	pay := func(key string, amount int64) (core.Reply, error) {
		return e.svc.CreatePayment(ctx, e.req(key, "/v1/payments"), core.CreatePaymentParams{
			Amount: amount, Currency: "USD", Channel: core.ChannelCard, CaptureMethod: core.CaptureAutomatic, MerchantReference: key,
			PaymentMethod: &core.PaymentMethodData{Type: "card", Card: &core.CardData{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2040, CVC: "123"}}})
	}
	for i := range 10 {
		rep, err := pay(fmt.Sprintf("v-%d", i), 99_999)
		e.object(rep, err, string(core.StatusSucceeded))
	}
	// A canceled payment does not stay in the volume.
	rep, err := e.svc.CreatePayment(ctx, e.req("held", "/v1/payments"), core.CreatePaymentParams{
		Amount: 10, Currency: "USD", Channel: core.ChannelCard, CaptureMethod: core.CaptureManual, MerchantReference: "held",
		PaymentMethod: &core.PaymentMethodData{Type: "card", Card: &core.CardData{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2040, CVC: "123"}}})
	held := e.object(rep, err, string(core.StatusRequiresCapture))
	rep, err = e.svc.CancelPayment(ctx, e.req("cancel-held", "/v1/payments/"+held+"/cancel"), held, core.CancelParams{CancellationReason: "duplicate"})
	e.object(rep, err, string(core.StatusCanceled))
	// 999,990 taken: 10 more fit, 11 do not.
	if _, err := pay("over", 11); core.ErrorCode(err) != core.CodeKYCRequired {
		t.Fatalf("payment over the limit: %v, want kyc_required", err)
	}
	rep, err = pay("fits", 10)
	e.object(rep, err, string(core.StatusSucceeded))
	// A retry of an accepted request replays, though its own payment is in the volume now.
	rep, err = pay("fits", 10)
	e.object(rep, err, string(core.StatusSucceeded))
	if _, err := pay("over-2", 1); core.ErrorCode(err) != core.CodeKYCRequired {
		t.Fatalf("payment at the limit: %v, want kyc_required", err)
	}
	// Another currency has its own volume.
	rep, err = e.svc.CreatePayment(ctx, e.req("eur-1", "/v1/payments"), core.CreatePaymentParams{
		Amount: 5000, Currency: "EUR", Channel: core.ChannelCard, CaptureMethod: core.CaptureAutomatic, MerchantReference: "eur-1",
		PaymentMethod: &core.PaymentMethodData{Type: "card", Card: &core.CardData{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2040, CVC: "123"}}})
	e.object(rep, err, string(core.StatusSucceeded))

	k, err := e.svc.SubmitKYC(ctx, e.merchant.ID, kycForm())
	if err != nil {
		t.Fatal(err)
	}
	if k.Status != core.KYCPending || k.PayoutsEnabled || len(k.Requirements.PendingVerification) == 0 ||
		k.Details.Representative.IDLast4 != "0129" || k.Details.BankAccount.Last4 != "3000" ||
		k.Details.Representative.IDNumber != "" || k.Details.BankAccount.AccountNumber != "" {
		t.Fatalf("submitted KYC %+v", k)
	}
	var stored []byte
	if err := e.db.Pool.QueryRow(ctx, `SELECT convert_to(details::TEXT, 'UTF8') || id_number || account_number FROM merchant_kyc`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, []byte("T22000129")) || bytes.Contains(stored, []byte("0532013000")) {
		t.Fatal("the ID or account number is stored in the clear")
	}
	if _, err := pay("pending", 1); core.ErrorCode(err) != core.CodeKYCRequired {
		t.Fatalf("payment while pending: %v, want kyc_required", err)
	}
	if _, err := e.svc.DecideKYC(ctx, e.merchant.ID, false, ""); core.AsError(err).Param != "reason" {
		t.Fatalf("rejection without reason: %v", err)
	}
	if k, err = e.svc.DecideKYC(ctx, e.merchant.ID, true, ""); err != nil || k.Status != core.KYCVerified || !k.PayoutsEnabled {
		t.Fatalf("approve: %+v, %v", k, err)
	}
	if _, err := e.svc.DecideKYC(ctx, e.merchant.ID, true, ""); core.ErrorCode(err) != core.CodeInvalidState {
		t.Fatalf("approving twice: %v, want invalid_state", err)
	}
	rep, err = pay("verified", 500_000)
	e.object(rep, err, string(core.StatusSucceeded))
	// The volume's counter holds what the payments sum to, per currency.
	var mismatched int
	if err := e.db.Pool.QueryRow(ctx, `SELECT count(*) FROM (
			SELECT currency, sum(amount) FROM payments WHERE merchant_id = $1 AND status NOT IN ('failed', 'canceled') GROUP BY 1
			EXCEPT ALL SELECT currency, sum(amount) FROM merchant_volume WHERE merchant_id = $1 GROUP BY 1) x`,
		e.merchant.ID).Scan(&mismatched); err != nil || mismatched != 0 {
		t.Fatalf("volume counter differs from the payments in %d currencies (%v)", mismatched, err)
	}

	var actions []string
	rows, err := e.db.Pool.Query(ctx, `SELECT action || ' by ' || actor FROM merchant_ops_events WHERE merchant_id = $1 ORDER BY created_at, action DESC`, e.merchant.ID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		actions = append(actions, a)
	}
	if got, _ := json.Marshal(actions); string(got) != `["kyc.submitted by merchant","kyc.approved by operator"]` {
		t.Errorf("audit trail %s", got)
	}
	evs, err := e.svc.Events(ctx, e.merchant.ID, e.merchant.ID)
	if err != nil || len(evs) != 1 || evs[0].Type != core.EventKYCVerified {
		t.Errorf("events %+v, %v; want one kyc.verified", evs, err)
	}
	e.requireBalancedLedger()
}

// The operators' review queue lists pending submissions only, oldest first; the fee
// schedules of a merchant come with the platform's after its own.
func TestKYCQueueAndFeeSchedules(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	second, err := e.svc.CreateMerchant(ctx, "Second", "us-east")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{e.merchant.ID, second.ID} {
		if _, err := e.svc.SubmitKYC(ctx, m, kycForm()); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Second)
	}
	if _, err := e.svc.DecideKYC(ctx, second.ID, true, ""); err != nil {
		t.Fatal(err)
	}
	q, err := e.svc.KYCSubmissions(ctx, core.KYCPending, 0)
	if err != nil || len(q.Data) != 1 || q.Data[0].Merchant != e.merchant.ID || q.Data[0].Details.BankAccount.Last4 != "3000" {
		t.Fatalf("pending queue %+v, %v; want only %s", q, err, e.merchant.ID)
	}
	if all, err := e.svc.KYCSubmissions(ctx, "", 1); err != nil || len(all.Data) != 1 || !all.HasMore {
		t.Errorf("all, one at a time: %+v, %v", all, err)
	}
	if _, err := e.svc.SetFeeSchedule(ctx, "*", core.FeeScheduleParams{FeeSchedule: core.FeeSchedule{PercentBps: 250}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.SetFeeSchedule(ctx, e.merchant.ID, core.FeeScheduleParams{Channel: core.ChannelCard, FeeSchedule: core.FeeSchedule{PercentBps: 290, Fixed: 30}}); err != nil {
		t.Fatal(err)
	}
	fs, err := e.svc.FeeSchedules(ctx, e.merchant.ID)
	if err != nil || len(fs.Data) != 2 || fs.Data[0].Merchant != e.merchant.ID || fs.Data[0].PercentBps != 290 || fs.Data[1].Merchant != "*" {
		t.Fatalf("fee schedules %+v, %v", fs, err)
	}
	if _, err := e.svc.FeeSchedules(ctx, "mer_us-east_nobody"); core.ErrorCode(err) != core.CodeNotFound {
		t.Errorf("unknown merchant: %v", err)
	}
}
