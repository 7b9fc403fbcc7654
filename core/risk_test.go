package core

import "testing"

// A payment held for review is authorised, not captured; approval moves it to
// requires_capture with its hold; from any other status approval is review_closed.
func TestReviewTransitions(t *testing.T) {
	p := paymentIn(StatusProcessing)
	p.CaptureMethod = CaptureAutomatic
	p.Risk = &Risk{Score: 70, Level: RiskElevated, Outcome: RiskReview}
	if p.CaptureWithAuthorization() {
		t.Fatal("a payment under review must not be captured with its authorisation")
	}
	ch, err := p.ApplyAuthorization(AuthorizeResult{Outcome: OutcomeAuthorized, Reference: "ch_1"}, t0)
	if err != nil {
		t.Fatal(err)
	}
	q := ch.Payment
	if q.Status != StatusRequiresReview || q.AmountCapturable != 1000 || len(ch.Journals) != 1 ||
		ch.Events[0].Type != EventReviewOpened {
		t.Fatalf("authorised under review: %+v %+v", q, ch)
	}
	if err := ch.Journals[0].Balanced(); err != nil {
		t.Fatal(err)
	}
	ap, err := q.ApproveReview(t0)
	if err != nil || ap.Payment.Status != StatusRequiresCapture || ap.Payment.AmountCapturable != 1000 ||
		len(ap.Journals) != 0 || ap.Events[0].Type != EventReviewClosed {
		t.Fatalf("approve: %+v %v", ap, err)
	}
	for _, st := range Statuses {
		if st == StatusRequiresReview {
			continue
		}
		if _, err := paymentIn(st).ApproveReview(t0); ErrorCode(err) != CodeReviewClosed {
			t.Errorf("approve from %s: %v, want %s", st, err, CodeReviewClosed)
		}
		if _, err := paymentIn(st).RejectReview(); ErrorCode(err) != CodeReviewClosed {
			t.Errorf("reject from %s: %v, want %s", st, err, CodeReviewClosed)
		}
	}
	v, err := q.ApplyVoid(OpResult{OK: true}, CancellationFraudulent, t0)
	if err != nil || v.Payment.Status != StatusCanceled || *v.Payment.CancellationReason != "fraudulent" || len(v.Journals) != 1 {
		t.Fatalf("void under review: %+v %v", v, err)
	}
}

func TestRiskLevel(t *testing.T) {
	for _, tc := range []struct {
		score int
		level string
	}{{0, RiskNormal}, {64, RiskNormal}, {65, RiskElevated}, {74, RiskElevated}, {75, RiskHighest}, {99, RiskHighest}} {
		if got := RiskLevel(tc.score); got != tc.level {
			t.Errorf("RiskLevel(%d) = %s, want %s", tc.score, got, tc.level)
		}
	}
}
