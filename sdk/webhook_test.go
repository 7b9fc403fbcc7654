package paysdk

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The Standard Webhooks specification's published test vector (its reference libraries'
// tests: libraries/go/webhook_test.go, TestWebhookSign and TestWebhook).
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specPayload   = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	specWrongSig  = "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
)

func specHeader(sig string) http.Header {
	h := http.Header{}
	h.Set(HeaderWebhookID, specMsgID)
	h.Set(HeaderWebhookTimestamp, strconv.Itoa(specTimestamp))
	h.Set(HeaderWebhookSignature, sig)
	return h
}

func TestVerifySpecVectors(t *testing.T) {
	at := time.Unix(specTimestamp, 0)
	body := []byte(specPayload)
	cases := []struct {
		name    string
		secret  string
		header  http.Header
		body    []byte
		now     time.Time
		tol     time.Duration
		wantErr error
	}{
		{"the published signature", specSecret, specHeader(specSignature), body, at, WebhookTolerance, nil},
		{"the secret without its prefix", strings.TrimPrefix(specSecret, "whsec_"), specHeader(specSignature), body, at, WebhookTolerance, nil},
		{"several signatures, one valid, other versions ignored", specSecret,
			specHeader(specWrongSig + " v2," + strings.TrimPrefix(specWrongSig, "v1,") + " " + specSignature + " " + specWrongSig), body, at, WebhookTolerance, nil},
		{"the spec's invalid signature", specSecret, specHeader(specWrongSig), body, at, WebhookTolerance, ErrWebhookSignature},
		{"a changed body", specSecret, specHeader(specSignature), []byte(`{"test": 2432232315}`), at, WebhookTolerance, ErrWebhookSignature},
		{"a wrong secret", "whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", specHeader(specSignature), body, at, WebhookTolerance, ErrWebhookSignature},
		{"a timestamp older than the tolerance", specSecret, specHeader(specSignature), body, at.Add(WebhookTolerance + time.Second), WebhookTolerance, ErrWebhookTimestamp},
		{"a timestamp newer than the tolerance", specSecret, specHeader(specSignature), body, at.Add(-WebhookTolerance - time.Second), WebhookTolerance, ErrWebhookTimestamp},
		{"an old timestamp with the tolerance off", specSecret, specHeader(specSignature), body, at.Add(48 * time.Hour), 0, nil},
		{"a missing signature", specSecret, specHeader(""), body, at, WebhookTolerance, ErrWebhookHeaders},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := VerifyAt(c.secret, c.header, c.body, c.now, c.tol)
			if c.wantErr == nil && err != nil {
				t.Fatalf("Verify: %v, want it accepted", err)
			}
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("Verify: %v, want %v", err, c.wantErr)
			}
		})
	}
	t.Run("missing id or timestamp", func(t *testing.T) {
		for _, name := range []string{HeaderWebhookID, HeaderWebhookTimestamp} {
			h := specHeader(specSignature)
			h.Del(name)
			if err := VerifyAt(specSecret, h, body, at, WebhookTolerance); !errors.Is(err, ErrWebhookHeaders) {
				t.Errorf("without %s: %v", name, err)
			}
		}
	})
	t.Run("a timestamp that is not a number", func(t *testing.T) {
		h := specHeader(specSignature)
		h.Set(HeaderWebhookTimestamp, "yesterday")
		if err := VerifyAt(specSecret, h, body, at, 0); !errors.Is(err, ErrWebhookHeaders) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("a secret that is not base64", func(t *testing.T) {
		if err := VerifyAt("whsec_!!!", specHeader(specSignature), body, at, 0); err == nil {
			t.Error("accepted")
		}
	})
}
