package loadtest

import (
	"bytes"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/paycenter/paycenter/core"
)

func TestHistoryRoundTrip(t *testing.T) {
	amt := int64(700)
	recs := []HistoryRecord{
		{
			Seq: 7, Op: OpCreateCapture, MerchantID: "mer_us-east_x", IdempotencyKey: "lt-r-7-create",
			Params: HistoryParams{Amount: 1000, Currency: "usd", Channel: core.ChannelCard, CaptureMethod: core.CaptureManual,
				MerchantReference: "lt-r-7", CardLast4: "4242", PaymentID: "pay_us-east_x", CaptureAmount: &amt},
			ScheduledNS: 1, InvokeNS: 2, CompleteNS: 3, Outcome: OutcomeOK,
			Result: HistoryResult{PaymentID: "pay_us-east_x", Status: core.StatusSucceeded, Amount: 1000, AmountCaptured: 700},
			Region: "eu-west", Endpoint: "http://127.0.0.1:1", Attempts: 3,
			Calls: []HistoryCall{
				{Call: "create_payment", IdempotencyKey: "lt-r-7-create", InvokeNS: 2, CompleteNS: 2, Outcome: OutcomeOK, HTTPStatus: 200, Region: "us-east", Attempts: 1},
				{Call: "capture_payment", IdempotencyKey: "lt-r-7-capture", InvokeNS: 2, CompleteNS: 3, Outcome: OutcomeOK, HTTPStatus: 200, Region: "eu-west", Attempts: 2, Replayed: true, RequestID: "req_1"},
			},
		},
		{Seq: 8, Op: OpCreateAuto, SubstitutedFor: OpRefund, Warmup: true, Outcome: OutcomeDeclined, ErrorCode: "card_declined", HTTPStatus: 402,
			Params: HistoryParams{ExpectDecline: true}, Error: "declined"},
		{Seq: 9, Op: OpRefund, Outcome: OutcomeTimeout, ErrorCode: CodeTimeout, Params: HistoryParams{PaymentID: "pay_1", RefundAmount: 5},
			Result: HistoryResult{RefundID: "re_1", RefundStatus: "pending", RefundAmount: 5}},
		{Seq: 10, Op: OpList, Outcome: OutcomeOK, Result: HistoryResult{Listed: 10}},
	}
	var buf bytes.Buffer
	w := NewHistoryWriter(&buf)
	for i := range recs {
		if err := w.Write(&recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != len(recs) || w.Count() != int64(len(recs)) {
		t.Fatalf("%d lines, count %d, want %d", n, w.Count(), len(recs))
	}
	back, err := ReadHistory(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, recs) {
		t.Errorf("round trip changed the records:\n got %+v\nwant %+v", back, recs)
	}
	// Field names a checker relies on.
	for _, want := range []string{`"op":"create_capture"`, `"merchant_id"`, `"idempotency_key"`, `"invoke_ns"`, `"complete_ns"`,
		`"outcome":"ok"`, `"amount_captured":700`, `"region":"eu-west"`, `"attempts":3`, `"merchant_reference":"lt-r-7"`} {
		var line bytes.Buffer
		w := NewHistoryWriter(&line)
		_ = w.Write(&recs[0])
		_ = w.Flush()
		if !strings.Contains(line.String(), want) {
			t.Errorf("history line lacks %s: %s", want, line.String())
		}
	}
	if _, err := ReadHistory(strings.NewReader("{\"seq\":1}\nnot json\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("ReadHistory of a bad line: %v", err)
	}
}

// Concurrent writers give whole lines.
func TestHistoryConcurrentWrites(t *testing.T) {
	var buf bytes.Buffer
	w := NewHistoryWriter(&buf)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				_ = w.Write(&HistoryRecord{Seq: int64(g*1000 + i), Op: OpGet, Outcome: OutcomeOK, MerchantID: strings.Repeat("m", 100)})
			}
		}()
	}
	wg.Wait()
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	recs, err := ReadHistory(&buf)
	if err != nil || len(recs) != 4000 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	seen := map[int64]bool{}
	for _, r := range recs {
		seen[r.Seq] = true
	}
	if len(seen) != 4000 {
		t.Errorf("%d distinct records, want 4000", len(seen))
	}
}
