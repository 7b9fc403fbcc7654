package inprocsim_test

import (
	"context"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/core"
)

func auth(id, number string, capture bool) core.AuthorizeRequest {
	return core.AuthorizeRequest{Key: core.AuthorizeKey(id), PaymentID: id, Channel: core.ChannelCard, Amount: 1000,
		Currency: "USD", Capture: capture, Card: &core.CardData{Number: number, ExpMonth: 1, ExpYear: time.Now().Year() + 2}}
}

func TestTestCards(t *testing.T) {
	ch := inprocsim.New()
	ctx := context.Background()
	for _, tc := range []struct {
		number  string
		outcome core.AuthorizeOutcome
		code    string
	}{
		{"4242424242424242", core.OutcomeCaptured, ""},
		{"4000000000000002", core.OutcomeDeclined, core.CodeCardDeclined},
		{"4000000000009995", core.OutcomeDeclined, core.CodeInsufficientFunds},
		{"4000000000000069", core.OutcomeDeclined, core.CodeExpiredCard},
		{"4000000000000127", core.OutcomeDeclined, core.CodeIncorrectCVC},
		{"4000000000000119", core.OutcomeDeclined, core.CodeProcessingError},
	} {
		res, err := ch.Authorize(ctx, auth("pay_"+tc.number, tc.number, true))
		if err != nil || res.Outcome != tc.outcome || res.DeclineCode != tc.code {
			t.Errorf("%s: %+v %v", tc.number, res, err)
		}
	}
	expired := auth("pay_expired", "4242424242424242", true)
	expired.Card.ExpYear = time.Now().Year() - 1
	if res, _ := ch.Authorize(ctx, expired); res.DeclineCode != core.CodeExpiredCard {
		t.Errorf("expired card: %+v", res)
	}
	if ch.TotalCharges() != 1 {
		t.Fatalf("%d charges, want 1 (declines charge nothing)", ch.TotalCharges())
	}
}

func TestKeyExecutesOnce(t *testing.T) {
	ch := inprocsim.New()
	ctx := context.Background()
	first, _ := ch.Authorize(ctx, auth("pay_1", "4242424242424242", false))
	again, _ := ch.Authorize(ctx, auth("pay_1", "4242424242424242", false))
	if first != again || ch.Charges("pay_1") != 1 || ch.Calls() != 2 {
		t.Fatalf("repeat: %+v vs %+v, charges %d, calls %d", first, again, ch.Charges("pay_1"), ch.Calls())
	}
	c1, _ := ch.Capture(ctx, core.CaptureRequest{Key: core.CaptureKey("pay_1"), PaymentID: "pay_1", Amount: 600})
	c2, _ := ch.Capture(ctx, core.CaptureRequest{Key: core.CaptureKey("pay_1"), PaymentID: "pay_1", Amount: 900})
	if !c1.OK || c2.Amount != 600 {
		t.Fatalf("a repeated capture key must return the first capture: %+v %+v", c1, c2)
	}
	if v, _ := ch.Void(ctx, core.VoidRequest{Key: core.VoidKey("pay_1"), PaymentID: "pay_1"}); v.OK {
		t.Fatal("voided a captured payment")
	}
	r1, _ := ch.Refund(ctx, core.RefundRequest{Key: "re_1:refund", PaymentID: "pay_1", Amount: 500})
	r2, _ := ch.Refund(ctx, core.RefundRequest{Key: "re_2:refund", PaymentID: "pay_1", Amount: 500})
	if !r1.OK || r2.OK || ch.Refunded("pay_1") != 500 {
		t.Fatalf("refunds beyond the capture: %+v %+v refunded %d", r1, r2, ch.Refunded("pay_1"))
	}
}

func TestFaults(t *testing.T) {
	ch := inprocsim.New()
	ch.SetFaults(inprocsim.Faults{LoseResponses: 1, Timeouts: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := ch.Authorize(ctx, auth("pay_t", "4242424242424242", true)); err == nil || ch.Charges("pay_t") != 0 {
		t.Fatalf("timeout: err %v, charges %d (a timeout must not execute)", err, ch.Charges("pay_t"))
	}
	if _, err := ch.Authorize(context.Background(), auth("pay_l", "4242424242424242", true)); err == nil || ch.Charges("pay_l") != 1 {
		t.Fatalf("lost response: err %v, charges %d (it must execute, then lose the answer)", err, ch.Charges("pay_l"))
	}
	res, err := ch.Authorize(context.Background(), auth("pay_l", "4242424242424242", true))
	if err != nil || res.Outcome != core.OutcomeCaptured || ch.Charges("pay_l") != 1 {
		t.Fatalf("retry after lost response: %+v %v charges %d", res, err, ch.Charges("pay_l"))
	}
}

func TestWalletsWaitForThePayer(t *testing.T) {
	ch := inprocsim.New()
	for _, c := range []core.Channel{core.ChannelWeChatPay, core.ChannelAlipay, core.ChannelBankTransfer} {
		res, err := ch.Authorize(context.Background(), core.AuthorizeRequest{Key: "k-" + string(c), PaymentID: "p-" + string(c), Channel: c, Amount: 100, Currency: "CNY"})
		if err != nil || res.Outcome != core.OutcomeActionRequired || res.NextAction == nil {
			t.Errorf("%s: %+v %v", c, res, err)
		}
	}
}
