package main

import (
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/paycenter/paycenter/core"
)

// Each request, transaction and channel call gets a span, all in the request's trace.
func TestSpansCoverRequestTransactionsAndChannel(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	e := newEnv(t)
	_, key := e.merchant("Acme")
	e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("tr-1", 100, visaOK, core.CaptureAutomatic)), 200)

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range rec.Ended() {
		byName[s.Name()] = s
	}
	root, ok := byName["POST /v1/payments"]
	if !ok {
		t.Fatalf("no request span; have %v", names(rec.Ended()))
	}
	// The key's claim and the payment's insert are one transaction.
	for _, want := range []string{"tx create_payment.insert", "channel authorize", "tx create_payment.apply"} {
		s, ok := byName[want]
		if !ok {
			t.Fatalf("no %q span; have %v", want, names(rec.Ended()))
		}
		if s.SpanContext().TraceID() != root.SpanContext().TraceID() {
			t.Fatalf("%q is not in the request's trace", want)
		}
	}
	if _, ok := byName["tx idempotency.begin"]; ok {
		t.Fatalf("a new payment's key was claimed in a transaction of its own: %v", names(rec.Ended()))
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name()
	}
	return out
}
