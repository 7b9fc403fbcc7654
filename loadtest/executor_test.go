package loadtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// runAgainst onboards merchants on a fake platform and runs the SDK executor against it.
func runAgainst(t *testing.T, tgt Target, n int, cfg Config, during func()) (*Report, []HistoryRecord, []Merchant) {
	t.Helper()
	ctx := context.Background()
	ms, err := Onboard(ctx, tgt, n, OnboardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var hist bytes.Buffer
	cfg.History = NewHistoryWriter(&hist)
	cfg.RunID = "t1"
	g, err := New(cfg, tgt, ms)
	if err != nil {
		t.Fatal(err)
	}
	if during != nil {
		go during()
	}
	rep, err := g.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := ReadHistory(&hist)
	if err != nil {
		t.Fatal(err)
	}
	return rep, recs, ms
}

// Every operation type through the SDK: valid refunds only, declines expected and counted
// apart, every ok result matching what the platform holds.
func TestSDKExecutor(t *testing.T) {
	f, tgt := newFakePlatform(t, "us-east", "eu-west")
	rep, recs, ms := runAgainst(t, tgt, 6, Config{Concurrency: 8, Ops: 800, Duration: time.Minute, DeclineShare: 0.1, Seed: 5}, nil)
	if len(ms) != 6 || ms[0].HomeRegion != "us-east" || ms[1].HomeRegion != "eu-west" || ms[2].HomeRegion != "us-east" {
		t.Fatalf("merchants %+v: want them homed round-robin", ms)
	}
	if rep.Overall.Count != 800 || len(recs) != 800 {
		t.Fatalf("%d operations, %d in the history, want 800", rep.Overall.Count, len(recs))
	}
	if rep.Overall.Errors != 0 || f.overRefs != 0 {
		t.Fatalf("errors %v, refunds above what was left %d", rep.Errors, f.overRefs)
	}
	if rep.Overall.Declined == 0 {
		t.Error("no expected declines with a decline share of 0.1")
	}
	home := map[string]string{}
	for _, m := range ms {
		home[m.ID] = m.HomeRegion
	}
	byOp := map[OpType]int{}
	for _, r := range recs {
		byOp[r.Op]++
		if len(r.Calls) == 0 || r.Attempts < 1 || r.MerchantID == "" {
			t.Fatalf("record %+v lacks calls, attempts or merchant", r)
		}
		if r.Region != home[r.MerchantID] {
			t.Errorf("operation %d of a merchant of %s served by %q", r.Seq, home[r.MerchantID], r.Region)
		}
		if r.InvokeNS <= 0 || r.CompleteNS < r.InvokeNS {
			t.Errorf("operation %d: timestamps %d..%d", r.Seq, r.InvokeNS, r.CompleteNS)
		}
		switch r.Outcome {
		case OutcomeDeclined:
			if !r.Params.ExpectDecline || r.Result.PaymentID == "" || r.Params.CardLast4 != "0002" {
				t.Errorf("decline %+v", r)
			}
			continue
		case OutcomeOK:
		default:
			t.Fatalf("operation %+v failed", r)
		}
		if r.Result.PaymentID == "" {
			continue
		}
		p, ok := f.payment(r.Result.PaymentID)
		if !ok {
			t.Errorf("operation %d names payment %s, which does not exist", r.Seq, r.Result.PaymentID)
			continue
		}
		switch r.Op {
		case OpCreateAuto:
			if r.IdempotencyKey != fmt.Sprintf("lt-t1-%d-create", r.Seq) || p.Amount != r.Params.Amount || p.MerchantReference != r.Params.MerchantReference {
				t.Errorf("create %+v vs payment %+v", r, p)
			}
			want := core.StatusRequiresAction
			if r.Params.Channel.IsCard() {
				want = core.StatusSucceeded
			}
			if r.Result.Status != want {
				t.Errorf("create_auto on %s answered %s", r.Params.Channel, r.Result.Status)
			}
		case OpCreateCapture:
			if len(r.Calls) != 2 || r.Calls[1].IdempotencyKey != fmt.Sprintf("lt-t1-%d-capture", r.Seq) || r.Result.Status != core.StatusSucceeded {
				t.Errorf("create_capture %+v", r)
			}
			if c := r.Params.CaptureAmount; (c != nil && r.Result.AmountCaptured != *c) || (c == nil && r.Result.AmountCaptured != r.Params.Amount) {
				t.Errorf("captured %d, asked %v of %d", r.Result.AmountCaptured, c, r.Params.Amount)
			}
		case OpRefund:
			if r.Result.RefundStatus != core.RefundSucceeded || r.Params.RefundAmount < 1 || r.Result.RefundAmount != r.Params.RefundAmount {
				t.Errorf("refund %+v", r)
			}
		}
	}
	for _, op := range OpTypes {
		if byOp[op] == 0 {
			t.Errorf("no %s operation in %v", op, byOp)
		}
	}
	if byOp[OpRefund] < 40 {
		t.Errorf("only %d refunds", byOp[OpRefund])
	}
}

// When a region's endpoint goes away, the SDK moves to the next region with the same key;
// 503s are retried elsewhere too. Nothing fails.
func TestSDKExecutorFailsOver(t *testing.T) {
	f, tgt := newFakePlatform(t, "us-east", "eu-west")
	f.failNext["POST /v1/payments"] = 3
	rep, recs, _ := runAgainst(t, tgt, 4, Config{Concurrency: 4, Duration: 1200 * time.Millisecond, ClientRegion: "us-east", Backoff: 10 * time.Millisecond},
		func() {
			time.Sleep(400 * time.Millisecond)
			f.servers["us-east"].Close()
		})
	if rep.Overall.Errors != 0 {
		t.Fatalf("errors %v", rep.Errors)
	}
	var euWest, retried int
	for _, r := range recs {
		if r.Region == "eu-west" {
			euWest++
		}
		if r.Attempts > len(r.Calls) {
			retried++
		}
	}
	if euWest == 0 || retried == 0 {
		t.Errorf("%d operations served by eu-west, %d retried; want some of each (of %d)", euWest, retried, len(recs))
	}
}

func TestClassify(t *testing.T) {
	urlErr := &url.Error{Op: "Post", URL: "http://x", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}
	for _, tc := range []struct {
		err     error
		outcome Outcome
		code    string
		status  int
	}{
		{nil, OutcomeOK, "", 0},
		{&paysdk.Error{Status: 402, Type: "card_error", Code: "card_declined"}, OutcomeDeclined, "card_declined", 402},
		{fmt.Errorf("wrapped: %w", &paysdk.Error{Status: 429, Code: "rate_limited"}), OutcomeError, "rate_limited", 429},
		{&paysdk.Error{Status: 502}, OutcomeError, "http_502", 502},
		{fmt.Errorf("paysdk: POST /v1/payments: %w", context.DeadlineExceeded), OutcomeTimeout, CodeTimeout, 0},
		{fmt.Errorf("paysdk: POST /v1/payments: %w", context.Canceled), OutcomeUnknown, CodeCanceled, 0},
		{fmt.Errorf("paysdk: POST /v1/payments: %w", urlErr), OutcomeNetworkError, CodeNetworkError, 0},
		{errors.New("paysdk: GET /v1/payments: decoding the 200 answer: EOF"), OutcomeError, CodeBadResponse, 0},
	} {
		o, code, status, _ := classify(tc.err)
		if o != tc.outcome || code != tc.code || status != tc.status {
			t.Errorf("classify(%v) = %s %s %d, want %s %s %d", tc.err, o, code, status, tc.outcome, tc.code, tc.status)
		}
	}
	if !OutcomeTimeout.Failed() || OutcomeDeclined.Failed() || OutcomeOK.Failed() {
		t.Error("Failed is wrong")
	}
}

func TestOnboardFailsOverFromADeadHomeEndpoint(t *testing.T) {
	f, tgt := newFakePlatform(t, "us-east", "eu-west")
	f.servers["us-east"].Close()
	ms, err := Onboard(context.Background(), tgt, 4, OnboardOptions{NamePrefix: "fo-"})
	if err != nil {
		t.Fatal(err)
	}
	homes := map[string]int{}
	for i, m := range ms {
		if m.ID == "" || m.SecretKey == "" || m.Name != fmt.Sprintf("fo-%d", i+1) {
			t.Errorf("merchant %d = %+v", i, m)
		}
		homes[m.HomeRegion]++
	}
	if homes["us-east"] != 2 || homes["eu-west"] != 2 {
		t.Errorf("homes %v, want two in each region (the home is the request's, not the endpoint's)", homes)
	}
}

func TestOnboardErrors(t *testing.T) {
	_, tgt := newFakePlatform(t, "us-east")
	tgt.AdminToken = "wrong"
	if _, err := Onboard(context.Background(), tgt, 2, OnboardOptions{}); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("Onboard with a wrong token: %v", err)
	}
	tgt.AdminToken = ""
	if _, err := Onboard(context.Background(), tgt, 2, OnboardOptions{}); err == nil {
		t.Error("Onboard without a token succeeded")
	}
}
