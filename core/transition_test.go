package core

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func paymentIn(st Status) *Payment {
	p := &Payment{Object: "payment", ID: "pay_us-east_1", MerchantID: "mer_us-east_1", Region: "us-east",
		Status: st, Amount: 1000, Currency: "USD", Channel: ChannelCard, CaptureMethod: CaptureManual,
		Metadata: map[string]string{}, CreatedAt: t0, UpdatedAt: t0}
	switch st {
	case StatusRequiresCapture:
		p.AmountCapturable = 1000
	case StatusSucceeded:
		p.AmountCaptured = 1000
	case StatusRequiresAction:
		p.Channel = ChannelWeChatPay
		p.NextAction = &NextAction{Type: "wechat_pay_display_qr_code", QRCode: "weixin://x"}
	}
	return p
}

func i64(v int64) *int64 { return &v }

// event is one input a payment may receive; each runs against a payment in every status.
type event struct {
	name string
	// legal lists the statuses the event moves (or reserves) the payment from; from every
	// other status it must change nothing, with invalid (when set) saying it is an error.
	legal   []Status
	invalid bool
	// replayed is a status the event has already brought the payment to: a re-driven
	// request's answer, applied again, changes nothing and is no error.
	replayed Status
	run      func(p *Payment) (Change, error)
}

var events = []event{
	{"authorized", []Status{StatusProcessing, StatusRequiresAction}, true, "", func(p *Payment) (Change, error) {
		return p.ApplyAuthorization(AuthorizeResult{Outcome: OutcomeAuthorized, Reference: "ch_1"}, t0)
	}},
	{"captured", []Status{StatusProcessing, StatusRequiresAction}, true, "", func(p *Payment) (Change, error) {
		return p.ApplyAuthorization(AuthorizeResult{Outcome: OutcomeCaptured, Reference: "ch_1"}, t0)
	}},
	{"action_required", []Status{StatusProcessing}, true, "", func(p *Payment) (Change, error) {
		return p.ApplyAuthorization(AuthorizeResult{Outcome: OutcomeActionRequired, NextAction: &NextAction{Type: "x"}}, t0)
	}},
	{"declined", []Status{StatusProcessing, StatusRequiresAction}, true, "", func(p *Payment) (Change, error) {
		return p.ApplyAuthorization(AuthorizeResult{Outcome: OutcomeDeclined, DeclineCode: CodeInsufficientFunds}, t0)
	}},
	{"capture_request", []Status{StatusRequiresCapture}, true, "", func(p *Payment) (Change, error) { return p.RequestCapture(nil) }},
	{"capture", []Status{StatusRequiresCapture}, true, "", func(p *Payment) (Change, error) {
		return p.ApplyCapture(OpResult{OK: true, Amount: 600}, t0)
	}},
	{"cancel_request", []Status{StatusRequiresCapture, StatusRequiresAction, StatusRequiresReview}, true, "", func(p *Payment) (Change, error) { return p.RequestCancel() }},
	{"void", []Status{StatusRequiresCapture, StatusRequiresAction, StatusRequiresReview}, true, StatusCanceled, func(p *Payment) (Change, error) {
		return p.ApplyVoid(OpResult{OK: true}, "requested_by_customer", t0)
	}},
	{"block", []Status{StatusProcessing}, true, "", func(p *Payment) (Change, error) {
		return p.Block(Risk{Score: 80, Level: RiskHighest, Outcome: RiskBlocked}, t0)
	}},
	{"refund_reserve", []Status{StatusSucceeded}, true, "", func(p *Payment) (Change, error) {
		return p.ReserveRefund("re_us-east_1", nil, "", t0)
	}},
	{"expire", []Status{StatusProcessing, StatusRequiresAction}, false, "", func(p *Payment) (Change, error) { return p.Expire("", t0) }},
	{"report_paid", []Status{StatusProcessing, StatusRequiresAction}, false, "", func(p *Payment) (Change, error) {
		return p.ApplyChannelReport(ChannelReport{Outcome: OutcomeCaptured}, t0)
	}},
	{"report_declined", []Status{StatusProcessing, StatusRequiresAction}, false, "", func(p *Payment) (Change, error) {
		return p.ApplyChannelReport(ChannelReport{Outcome: OutcomeDeclined}, t0)
	}},
	{"report_authorized", []Status{StatusProcessing, StatusRequiresAction}, false, "", func(p *Payment) (Change, error) {
		return p.ApplyChannelReport(ChannelReport{Outcome: OutcomeAuthorized}, t0)
	}},
	{"report_closed", []Status{StatusProcessing, StatusRequiresAction}, false, "", func(p *Payment) (Change, error) {
		return p.ApplyChannelReport(ChannelReport{Outcome: OutcomeClosed}, t0)
	}},
}

// TestTransitionTable runs every event against a payment in every status: a legal one moves
// the payment along the documented table with balanced journals and an event per move; an
// illegal one changes nothing.
func TestTransitionTable(t *testing.T) {
	for _, ev := range events {
		for _, st := range Statuses {
			t.Run(ev.name+"/"+string(st), func(t *testing.T) {
				p := paymentIn(st)
				before := *p
				ch, err := ev.run(p)
				if p.Status != before.Status || p.AmountCapturable != before.AmountCapturable || p.PendingOp != before.PendingOp {
					t.Fatalf("the transition changed its input: %+v", p)
				}
				legal := false
				for _, l := range ev.legal {
					legal = legal || l == st
				}
				if !legal {
					if !ch.Empty() || len(ch.Journals) > 0 || len(ch.Events) > 0 {
						t.Fatalf("illegal event changed something: %+v", ch)
					}
					if st == ev.replayed {
						if err != nil {
							t.Fatalf("replayed event: %v", err)
						}
						return
					}
					if ev.invalid && ErrorCode(err) != CodeInvalidState {
						t.Fatalf("err = %v, want %s", err, CodeInvalidState)
					}
					if !ev.invalid && err != nil {
						t.Fatalf("err = %v, want nil (a stale report is ignored)", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("legal event failed: %v", err)
				}
				if ch.Payment == nil {
					t.Fatal("legal event changed nothing")
				}
				if ch.From != st {
					t.Errorf("From = %s, want %s", ch.From, st)
				}
				to := ch.Payment.Status
				if to != st && !st.CanTransition(to) {
					t.Fatalf("%s -> %s is not in the transition table", st, to)
				}
				if (to != st) != (len(ch.Events) == 1) && ch.Refund == nil {
					t.Errorf("status %s -> %s with events %v", st, to, ch.Events)
				}
				for _, j := range ch.Journals {
					if err := j.Balanced(); err != nil {
						t.Error(err)
					}
				}
				for _, e := range ch.Events {
					if e.ObjectID != ch.Payment.ID || e.Object != ch.Payment || e.MerchantID != p.MerchantID {
						t.Errorf("event %+v is not about the changed payment", e)
					}
				}
			})
		}
	}
}

func TestApplyAuthorization(t *testing.T) {
	for _, tc := range []struct {
		res      AuthorizeResult
		status   Status
		event    string
		journal  string
		held     int64
		captured int64
	}{
		{AuthorizeResult{Outcome: OutcomeAuthorized}, StatusRequiresCapture, EventPaymentRequiresCapture, JournalAuthorize, 1000, 0},
		{AuthorizeResult{Outcome: OutcomeCaptured}, StatusSucceeded, EventPaymentSucceeded, JournalSale, 0, 1000},
		{AuthorizeResult{Outcome: OutcomeActionRequired, NextAction: &NextAction{Type: "alipay_redirect"}}, StatusRequiresAction, EventPaymentRequiresAction, "", 0, 0},
		{AuthorizeResult{Outcome: OutcomeDeclined}, StatusFailed, EventPaymentFailed, "", 0, 0},
	} {
		t.Run(string(tc.res.Outcome), func(t *testing.T) {
			ch, err := paymentIn(StatusProcessing).ApplyAuthorization(tc.res, t0.Add(time.Second))
			if err != nil {
				t.Fatal(err)
			}
			q := ch.Payment
			if q.Status != tc.status || q.AmountCapturable != tc.held || q.AmountCaptured != tc.captured {
				t.Fatalf("payment %s held %d captured %d", q.Status, q.AmountCapturable, q.AmountCaptured)
			}
			if !q.UpdatedAt.Equal(t0.Add(time.Second)) {
				t.Errorf("updated_at = %s", q.UpdatedAt)
			}
			if len(ch.Events) != 1 || ch.Events[0].Type != tc.event {
				t.Errorf("events %+v, want %s", ch.Events, tc.event)
			}
			if (tc.journal == "") != (len(ch.Journals) == 0) || (tc.journal != "" && ch.Journals[0].Kind != tc.journal) {
				t.Errorf("journals %+v, want %q", ch.Journals, tc.journal)
			}
		})
	}
	t.Run("declined defaults", func(t *testing.T) {
		ch, _ := paymentIn(StatusProcessing).ApplyAuthorization(AuthorizeResult{Outcome: OutcomeDeclined}, t0)
		e := AsError(ch.Payment.DeclineError())
		if e.Code != CodeCardDeclined || e.Message != "The payment was declined." || e.PaymentID != "pay_us-east_1" {
			t.Errorf("decline error %+v", e)
		}
		ch, _ = paymentIn(StatusProcessing).ApplyAuthorization(AuthorizeResult{Outcome: OutcomeDeclined, DeclineCode: "do_not_honor"}, t0)
		if *ch.Payment.FailureCode != CodeProcessingError {
			t.Errorf("unknown decline code became %s", *ch.Payment.FailureCode)
		}
	})
	t.Run("unknown outcome", func(t *testing.T) {
		if _, err := paymentIn(StatusProcessing).ApplyAuthorization(AuthorizeResult{Outcome: "weird"}, t0); err == nil {
			t.Fatal("an unknown outcome was applied")
		}
	})
}

func TestCapture(t *testing.T) {
	p := paymentIn(StatusRequiresCapture)
	if _, err := p.RequestCapture(i64(1001)); ErrorCode(err) != CodeAmountTooLarge ||
		AsError(err).Message != "The capture amount (1001) exceeds the amount capturable (1000)." {
		t.Fatalf("over-capture: %v", err)
	}
	ch, err := p.RequestCapture(i64(600))
	if err != nil || *ch.Payment.PendingOp != OpCapture || *ch.Payment.PendingAmount != 600 {
		t.Fatalf("reserve: %+v %v", ch.Payment, err)
	}
	reserved := ch.Payment
	if reserved.CaptureAmount(nil) != 600 {
		t.Errorf("capture amount %d", reserved.CaptureAmount(nil))
	}
	if _, err := reserved.RequestCapture(i64(600)); err != nil {
		t.Errorf("the same capture re-driven: %v", err)
	}
	_, err = reserved.RequestCapture(i64(500))
	if ErrorCode(err) != CodeOperationInProgress || AsError(err).Message != "Payment pay_us-east_1 has a capture of 600 in progress; retry once it has finished." {
		t.Errorf("another capture: %v", err)
	}
	_, err = reserved.RequestCancel()
	if ErrorCode(err) != CodeOperationInProgress {
		t.Errorf("cancel during a capture: %v", err)
	}

	// The channel captured 600 of the 1000 held: the rest of the hold is released.
	ch, err = reserved.ApplyCapture(OpResult{OK: true, Amount: 600}, t0)
	if err != nil {
		t.Fatal(err)
	}
	q := ch.Payment
	if q.Status != StatusSucceeded || q.AmountCaptured != 600 || q.AmountCapturable != 0 || q.PendingOp != nil {
		t.Fatalf("captured payment %+v", q)
	}
	j := ch.Journals[0]
	want := []Posting{{AccountChannelHolds, -1000}, {AccountMerchantHolds, 1000}, {AccountChannelReceivable, 600}, {AccountMerchantAvailable, -600}}
	for i, w := range want {
		if j.Postings[i] != w {
			t.Errorf("posting %d = %+v, want %+v", i, j.Postings[i], w)
		}
	}
	// Applying it again (a request re-driving the same capture) changes nothing.
	if ch, err := q.ApplyCapture(OpResult{OK: true, Amount: 600}, t0); err != nil || !ch.Empty() {
		t.Errorf("re-applied capture: %+v %v", ch, err)
	}
	if err := q.CaptureSettled(i64(600)); err != nil {
		t.Errorf("settled capture: %v", err)
	}
	if err := q.CaptureSettled(i64(700)); ErrorCode(err) != CodeInvalidState {
		t.Errorf("settled capture of another amount: %v", err)
	}
	// A capture outside the hold is a channel fault, not applied.
	if _, err := reserved.ApplyCapture(OpResult{OK: true, Amount: 1001}, t0); err == nil {
		t.Error("captured more than held")
	}
	// A refusal releases the reservation and answers with the channel's error.
	ch, err = reserved.ApplyCapture(OpResult{OK: false, FailureCode: CodeInvalidState, FailureMessage: "expired"}, t0)
	if err != nil || ch.Payment.PendingOp != nil || ch.Payment.Status != StatusRequiresCapture || ch.Refused.Code != CodeInvalidState || len(ch.Events) != 0 {
		t.Errorf("refusal: %+v %v", ch, err)
	}
}

func TestInvalidStateMessages(t *testing.T) {
	_, err := paymentIn(StatusSucceeded).RequestCapture(nil)
	if got := AsError(err).Message; got != "Payment pay_us-east_1 is succeeded and cannot be captured; it must be requires_capture." {
		t.Errorf("capture: %q", got)
	}
	_, err = paymentIn(StatusFailed).RequestCancel()
	if got := AsError(err).Message; got != "Payment pay_us-east_1 is failed and cannot be canceled; it must be requires_capture or requires_action." {
		t.Errorf("cancel: %q", got)
	}
	_, err = paymentIn(StatusCanceled).ReserveRefund("re_1", nil, "", t0)
	if got := AsError(err).Message; got != "Payment pay_us-east_1 is canceled and cannot be refunded; it must be succeeded." {
		t.Errorf("refund: %q", got)
	}
}

func TestVoid(t *testing.T) {
	ch, _ := paymentIn(StatusRequiresCapture).RequestCancel()
	ch, err := ch.Payment.ApplyVoid(OpResult{OK: true}, "duplicate", t0)
	if err != nil {
		t.Fatal(err)
	}
	q := ch.Payment
	if q.Status != StatusCanceled || q.AmountCapturable != 0 || q.CanceledAt == nil || *q.CancellationReason != "duplicate" || q.PendingOp != nil {
		t.Fatalf("voided %+v", q)
	}
	if len(ch.Journals) != 1 || ch.Journals[0].Kind != JournalVoid || ch.Events[0].Type != EventPaymentCanceled {
		t.Errorf("void journals %+v events %+v", ch.Journals, ch.Events)
	}
	// Canceling a payment waiting for its payer holds nothing: no journal, next action gone.
	ch, _ = paymentIn(StatusRequiresAction).ApplyVoid(OpResult{OK: true}, "", t0)
	if len(ch.Journals) != 0 || ch.Payment.NextAction != nil || ch.Payment.CancellationReason != nil {
		t.Errorf("cancel of requires_action: %+v", ch)
	}
	if err := q.CancelSettled(); err != nil {
		t.Errorf("settled cancel: %v", err)
	}
}

func TestExpiryAndReports(t *testing.T) {
	ch, _ := paymentIn(StatusRequiresAction).Expire("", t0)
	q := ch.Payment
	if q.Status != StatusCanceled || *q.CancellationReason != ReasonExpired || q.NextAction != nil || q.CanceledAt == nil {
		t.Errorf("expired unpaid order: %+v", q)
	}
	ch, _ = paymentIn(StatusProcessing).Expire("ref", t0)
	if q := ch.Payment; q.Status != StatusFailed || *q.FailureCode != CodeProcessingError || *q.ChannelReference != "ref" {
		t.Errorf("expired processing payment: %+v", q)
	}
	// A stale "closed" after "paid" changes nothing.
	paid, _ := paymentIn(StatusRequiresAction).ApplyChannelReport(ChannelReport{Outcome: OutcomeCaptured}, t0)
	if paid.Payment.NextAction != nil || paid.Payment.Status != StatusSucceeded {
		t.Fatalf("paid: %+v", paid.Payment)
	}
	if ch, err := paid.Payment.ApplyChannelReport(ChannelReport{Outcome: OutcomeClosed}, t0); err != nil || !ch.Empty() {
		t.Errorf("stale closed: %+v %v", ch, err)
	}
	// A notification of another amount, currency or channel is refused.
	p := paymentIn(StatusRequiresAction)
	for _, n := range []Notification{
		{Channel: ChannelWeChatPay, Outcome: OutcomeCaptured, Amount: 999, Currency: "USD"},
		{Channel: ChannelWeChatPay, Outcome: OutcomeCaptured, Amount: 1000, Currency: "EUR"},
		{Channel: ChannelAlipay, Outcome: OutcomeCaptured, Amount: 1000},
	} {
		if ch, err := p.ApplyNotification(n, t0); ErrorCode(err) != CodeParameterInvalid || !ch.Empty() {
			t.Errorf("notification %+v: %+v %v", n, ch, err)
		}
	}
	if ch, err := p.ApplyNotification(Notification{Channel: ChannelWeChatPay, Outcome: OutcomeCaptured, Amount: 1000}, t0); err != nil || ch.Payment.Status != StatusSucceeded {
		t.Errorf("matching notification: %+v %v", ch, err)
	}
}

func TestRecover(t *testing.T) {
	t.Run("unreached", func(t *testing.T) {
		ch, _ := paymentIn(StatusProcessing).Recover(PaymentState{}, nil, t0)
		if ch.Payment.Status != StatusFailed || *ch.Payment.FailureMessage != "The payment never reached its channel." {
			t.Errorf("%+v", ch.Payment)
		}
	})
	t.Run("waiting", func(t *testing.T) {
		ch, _ := paymentIn(StatusRequiresAction).Recover(PaymentState{Found: true, Outcome: OutcomeActionRequired}, nil, t0)
		if !ch.Empty() {
			t.Errorf("a payment still waiting moved: %+v", ch)
		}
	})
	t.Run("capture settled from the channel", func(t *testing.T) {
		r, _ := paymentIn(StatusRequiresCapture).RequestCapture(i64(400))
		ch, err := r.Payment.Recover(PaymentState{Found: true, Outcome: OutcomeAuthorized, AmountCaptured: 400}, nil, t0)
		if err != nil || ch.Payment.Status != StatusSucceeded || ch.Payment.AmountCaptured != 400 || ch.Refused != nil || ch.Payment.PendingOp != nil {
			t.Errorf("%+v %v", ch, err)
		}
	})
	t.Run("capture never done", func(t *testing.T) {
		r, _ := paymentIn(StatusRequiresCapture).RequestCapture(nil)
		ch, err := r.Payment.Recover(PaymentState{Found: true, Outcome: OutcomeAuthorized}, nil, t0)
		if err != nil || ch.Payment.Status != StatusRequiresCapture || ch.Payment.PendingOp != nil || len(ch.Journals) != 0 || ch.Refused != nil {
			t.Errorf("%+v %v", ch, err)
		}
	})
	t.Run("void settled from the channel", func(t *testing.T) {
		r, _ := paymentIn(StatusRequiresCapture).RequestCancel()
		ch, err := r.Payment.Recover(PaymentState{Found: true, Closed: true}, nil, t0)
		if err != nil || ch.Payment.Status != StatusCanceled || ch.Journals[0].Kind != JournalVoid {
			t.Errorf("%+v %v", ch, err)
		}
	})
	t.Run("redriven", func(t *testing.T) {
		p := paymentIn(StatusProcessing)
		p.Channel = ChannelAlipay
		st := PaymentState{Found: true, Outcome: OutcomeActionRequired}
		if !p.NeedsRedrive(st) {
			t.Fatal("a lost wallet answer is not redriven")
		}
		ch, _ := p.Recover(st, &AuthorizeResult{Outcome: OutcomeActionRequired, NextAction: &NextAction{Type: "alipay_redirect"}}, t0)
		if ch.Payment.Status != StatusRequiresAction || ch.Payment.NextAction == nil {
			t.Errorf("%+v", ch.Payment)
		}
	})
}

func TestRefund(t *testing.T) {
	p := paymentIn(StatusSucceeded)
	p.AmountRefunded = 300
	if _, err := p.ReserveRefund("re_1", i64(701), "", t0); ErrorCode(err) != CodeAmountTooLarge ||
		AsError(err).Message != "Refund amount (701) is greater than the amount still refundable (700)." {
		t.Fatalf("over-refund: %v", err)
	}
	ch, err := p.ReserveRefund("re_1", nil, "", t0)
	if err != nil || !ch.NewRefund || ch.Refund.Amount != 700 || ch.Refund.Reason != DefaultRefundReason || ch.Payment.AmountRefundPending != 700 {
		t.Fatalf("reserve: %+v %v", ch, err)
	}
	pay, ref := ch.Payment, ch.Refund
	_, err = pay.ReserveRefund("re_2", nil, "", t0)
	if ErrorCode(err) != CodeAmountTooLarge || !strings.Contains(AsError(err).Message, "nothing left to refund (300 refunded, 700 pending)") {
		t.Errorf("second refund: %v", err)
	}
	ok, err := ref.Settle(pay, OpResult{OK: true, Reference: "rf_1"}, t0)
	if err != nil || ok.Refund.Status != RefundSucceeded || ok.Payment.AmountRefunded != 1000 || ok.Payment.AmountRefundPending != 0 ||
		ok.Journals[0].Kind != JournalRefund || ok.Events[0].Type != EventRefundSucceeded || ok.Events[0].Object != ok.Refund {
		t.Errorf("succeeded: %+v %v", ok, err)
	}
	if err := ok.Journals[0].Balanced(); err != nil {
		t.Error(err)
	}
	failed, err := ref.Settle(pay, OpResult{}, t0)
	if err != nil || failed.Refund.Status != RefundFailed || *failed.Refund.FailureCode != CodeProcessingError ||
		failed.Payment.AmountRefunded != 300 || failed.Payment.AmountRefundPending != 0 || len(failed.Journals) != 0 ||
		failed.Events[0].Type != EventRefundFailed {
		t.Errorf("failed: %+v %v", failed, err)
	}
	if ch, _ := ok.Refund.Settle(ok.Payment, OpResult{}, t0); !ch.Empty() {
		t.Errorf("a settled refund settled again: %+v", ch)
	}
}

func TestJournalBalanced(t *testing.T) {
	j := Journal{Kind: "x", PaymentID: "p", Postings: []Posting{{AccountChannelHolds, 5}, {AccountMerchantHolds, -4}}}
	if err := j.Balanced(); err == nil {
		t.Error("an unbalanced journal passed")
	}
	p := paymentIn(StatusSucceeded)
	for _, j := range []Journal{AuthorizeJournal(p, 7), SaleJournal(p, 7), CaptureJournal(p, 9, 7), VoidJournal(p, 7),
		RefundJournal(p, &Refund{ID: "re_1", Amount: 7})} {
		if err := j.Balanced(); err != nil {
			t.Error(err)
		}
	}
	var e *Error
	if errors.As(j.Balanced(), &e) {
		t.Error("an unbalanced journal is a client error")
	}
}
