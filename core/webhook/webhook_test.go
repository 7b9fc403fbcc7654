package webhook

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// The Standard Webhooks specification's published vector (its reference libraries' tests).
func TestSignatureMatchesTheSpecVector(t *testing.T) {
	key, err := DecodeSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Signature(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	two := SignatureHeader([][]byte{key, key}, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if two != got+" "+got {
		t.Fatalf("two signatures: %s", two)
	}
}

func TestNewSecret(t *testing.T) {
	s := NewSecret()
	key, err := DecodeSecret(s)
	if err != nil || len(key) != SecretBytes || s[:len(SecretPrefix)] != SecretPrefix {
		t.Fatalf("secret %q: %d bytes, %v", s, len(key), err)
	}
	if NewSecret() == s {
		t.Fatal("two secrets alike")
	}
}

func TestForbidden(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true,
		"169.254.169.254": true, "fd00:ec2::254": true, "fe80::1": true, "0.0.0.0": true, "::": true,
		"100.64.0.1": true, "::ffff:127.0.0.1": true, "::ffff:10.0.0.1": true, "224.0.0.1": true,
		"64:ff9b::a00:1": true, "255.255.255.255": true,
		"93.184.216.34": false, "8.8.8.8": false, "2606:4700:4700::1111": false, "::ffff:8.8.8.8": false,
	} {
		if got := Forbidden(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Forbidden(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestSenderRefusesPrivateAddressesAtConnectTime(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	// "localhost" passes any check of the URL's text; the dialer sees 127.0.0.1.
	url := "http://localhost:" + srv.URL[len("http://127.0.0.1:"):]
	res := NewSender(SenderConfig{}).Deliver(context.Background(), url, Message{ID: "evt_1", Timestamp: time.Now(), Body: []byte("{}"), Keys: [][]byte{[]byte("k")}})
	if !errors.Is(res.Err, ErrForbiddenAddress) || res.OK() || hits.Load() != 0 {
		t.Fatalf("refused: %+v, %d requests reached the server", res, hits.Load())
	}
	res = NewSender(SenderConfig{AllowPrivate: true}).Deliver(context.Background(), url, Message{ID: "evt_1", Timestamp: time.Now(), Body: []byte("{}"), Keys: [][]byte{[]byte("k")}})
	if !res.OK() || hits.Load() != 1 {
		t.Fatalf("allowed: %+v, %d requests", res, hits.Load())
	}
}

func TestSenderCountsOnly2xxAndReadsRetryAfter(t *testing.T) {
	for _, c := range []struct {
		status     int
		retryAfter string
		ok         bool
		wait       time.Duration
		hasWait    bool
	}{
		{200, "", true, 0, false},
		{204, "", true, 0, false},
		{302, "", false, 0, false},
		{500, "120", false, 0, false},
		{429, "120", false, 2 * time.Minute, true},
		{503, "7", false, 7 * time.Second, true},
		{502, "999999", false, MaxRetryAfter, true},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c.status == 302 {
				w.Header().Set("Location", "/elsewhere")
			}
			if c.retryAfter != "" {
				w.Header().Set("Retry-After", c.retryAfter)
			}
			w.WriteHeader(c.status)
		}))
		res := NewSender(SenderConfig{AllowPrivate: true}).Deliver(context.Background(), srv.URL, Message{ID: "evt_1", Timestamp: time.Now(), Body: []byte("{}")})
		srv.Close()
		if res.OK() != c.ok || res.Status != c.status || res.HasRetry != c.hasWait || res.RetryAfter != c.wait {
			t.Errorf("HTTP %d Retry-After %q: %+v", c.status, c.retryAfter, res)
		}
	}
}

func TestNextDelayFollowsTheScheduleWithJitter(t *testing.T) {
	for i, d := range Schedule {
		got, ok := NextDelay(Schedule, i+1)
		if !ok || got < d-time.Duration(Jitter*float64(d)) || got > d+time.Duration(Jitter*float64(d)) {
			t.Errorf("after attempt %d: %s, %v; want %s ± %.0f%%", i+1, got, ok, d, Jitter*100)
		}
	}
	if _, ok := NextDelay(Schedule, Attempts); ok {
		t.Error("a retry after the last attempt")
	}
	var total time.Duration
	for _, d := range Schedule {
		total += d
	}
	if total < 72*time.Hour || total > 76*time.Hour {
		t.Errorf("the schedule spans %s, want about three days", total)
	}
}
