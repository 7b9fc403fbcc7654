package netsim

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/internal/eventually"
)

var ctx = context.Background()

// The fixed test keys of core/channelauth/channeltest (which imports this package, so its
// tests read the files): generating RSA keys under -race is slow.
var (
	keysOnce                  sync.Once
	clientKey, simKey, badKey *rsa.PrivateKey
)

func testKeys(t *testing.T) (client, sim, other *rsa.PrivateKey) {
	t.Helper()
	keysOnce.Do(func() {
		for name, to := range map[string]**rsa.PrivateKey{"merchant": &clientKey, "channel": &simKey, "other": &badKey} {
			data, err := os.ReadFile("../../../core/channelauth/channeltest/testdata/" + name + ".key.pem")
			if err != nil {
				panic(err)
			}
			if *to, err = channelauth.ParsePrivateKeyPEM(data); err != nil {
				panic(err)
			}
		}
	})
	return clientKey, simKey, badKey
}

const testAPIv3Key = "netsimTestAPIv3Key32bytes0000000"

// testSim runs a simulator on loopback that trusts key for every client.
func testSim(t *testing.T, tweak ...func(*Config)) (*Server, *rsa.PrivateKey) {
	t.Helper()
	key, sk, _ := testKeys(t)
	cfg := Config{Clients: map[string]*rsa.PublicKey{"*": &key.PublicKey}, PrivateKey: sk, APIv3Keys: map[string]string{"*": testAPIv3Key},
		NotifyBackoff: 5 * time.Millisecond, NotifyMaxBackoff: 20 * time.Millisecond}
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, key
}

// signed builds a request signed with a header scheme.
func signed(t *testing.T, sc headerScheme, key *rsa.PrivateKey, client, method, rawURL string, body []byte, ts time.Time, nonce string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	tss := fmt.Sprint(ts.Unix())
	sig := rsaSign(key, requestMessage(method, r.URL.RequestURI(), tss, nonce, body))
	r.Header.Set("Authorization", sc.authorization(client, nonce, tss, "x", sig))
	r.Header.Set("Content-Type", "application/json")
	return r
}

type httpAnswer struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, r *http.Request) httpAnswer {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpAnswer{resp.StatusCode, resp.Header, b}
}

func TestHeaderSchemeAuthentication(t *testing.T) {
	t.Parallel()
	s, key := testSim(t)
	_, _, other := testKeys(t)
	for _, sc := range []struct {
		scheme headerScheme
		path   string
		code   string
	}{
		{wechatScheme, "/v3/pay/transactions/out-trade-no/pay_x?mchid=m1", `"code":"SIGN_ERROR"`},
		{bankScheme, "/bank/v1/transfers/pay_x", `"code":"signature_invalid"`},
	} {
		now := time.Now()
		replayed := newNonce()
		for _, tc := range []struct {
			name   string
			req    *http.Request
			status int
			msg    string
		}{
			{"good", signed(t, sc.scheme, key, "m1", "GET", s.URL()+sc.path, nil, now, replayed), 404, ""},
			{"replayed nonce", signed(t, sc.scheme, key, "m1", "GET", s.URL()+sc.path, nil, now, replayed), 401, "replayed nonce"},
			{"wrong key", signed(t, sc.scheme, other, "m1", "GET", s.URL()+sc.path, nil, now, newNonce()), 401, "signature does not verify"},
			{"stale", signed(t, sc.scheme, key, "m1", "GET", s.URL()+sc.path, nil, now.Add(-6*time.Minute), newNonce()), 401, "stale timestamp"},
			{"tampered path", func() *http.Request {
				r := signed(t, sc.scheme, key, "m1", "GET", s.URL()+sc.path, nil, now, newNonce())
				r.URL.Path += "y"
				return r
			}(), 401, "signature does not verify"},
			{"unsigned", func() *http.Request { r, _ := http.NewRequest("GET", s.URL()+sc.path, nil); return r }(), 401, "scheme"},
		} {
			t.Run(sc.scheme.authType+" "+tc.name, func(t *testing.T) {
				a := do(t, tc.req)
				if a.status != tc.status || !strings.Contains(string(a.body), tc.msg) {
					t.Fatalf("%d %s; want %d %q", a.status, a.body, tc.status, tc.msg)
				}
				if tc.status == 401 && !strings.Contains(string(a.body), sc.code) {
					t.Fatalf("error body %s lacks %s", a.body, sc.code)
				}
				// Every answer is signed, refusals included.
				ts, nonce := a.header.Get(sc.scheme.prefix+"Timestamp"), a.header.Get(sc.scheme.prefix+"Nonce")
				serial := s.Serial()
				if sc.scheme.prefix == wechatScheme.prefix {
					serial = s.CertificateSerial()
				}
				if !rsaVerify(s.PublicKey(), responseMessage(ts, nonce, a.body), a.header.Get(sc.scheme.prefix+"Signature")) || a.header.Get(sc.scheme.prefix+"Serial") != serial {
					t.Fatalf("answer not signed: %v", a.header)
				}
			})
		}
	}
}

// alipayRequest signs Alipay parameters.
func alipayRequest(key *rsa.PrivateKey, base string, p url.Values) *http.Request {
	p.Set("sign", rsaSign(key, []byte(alipaySignContent(p, "sign"))))
	r, _ := http.NewRequest("POST", base+"/gateway.do", strings.NewReader(p.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func testAlipayParams(now time.Time, method, biz string) url.Values {
	return url.Values{"app_id": {"2021"}, "method": {method}, "charset": {"utf-8"}, "sign_type": {"RSA2"},
		"timestamp": {now.In(chinaZone).Format(alipayTimeLayout)}, "version": {"1.0"}, "biz_content": {biz}}
}

func TestAlipayAuthentication(t *testing.T) {
	t.Parallel()
	s, key := testSim(t)
	_, _, other := testKeys(t)
	now := time.Now()
	good := testAlipayParams(now, "alipay.trade.query", `{"out_trade_no":"pay_x"}`)
	goodReq := alipayRequest(key, s.URL(), good)
	goodBody, _ := io.ReadAll(goodReq.Body)
	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		msg    string
	}{
		{"good", func() *http.Request {
			r, _ := http.NewRequest("POST", s.URL()+"/gateway.do", bytes.NewReader(goodBody))
			return r
		}(), 200, "ACQ.TRADE_NOT_EXIST"},
		{"repeated (Alipay has no request nonce)", func() *http.Request {
			r, _ := http.NewRequest("POST", s.URL()+"/gateway.do", bytes.NewReader(goodBody))
			return r
		}(), 200, "ACQ.TRADE_NOT_EXIST"},
		{"sign_type RSA", alipayRequest(key, s.URL(), func() url.Values {
			p := testAlipayParams(now, "alipay.trade.query", `{}`)
			p.Set("sign_type", "RSA")
			return p
		}()), 401, "isv.invalid-signature-type"},
		{"wrong key", alipayRequest(other, s.URL(), testAlipayParams(now, "alipay.trade.query", `{}`)), 401, "isv.invalid-signature"},
		{"stale", alipayRequest(key, s.URL(), testAlipayParams(now.Add(-time.Hour), "alipay.trade.query", `{}`)), 401, "isv.invalid-timestamp"},
		{"tampered", func() *http.Request {
			p := testAlipayParams(now, "alipay.trade.query", `{"out_trade_no":"pay_x"}`)
			r := alipayRequest(key, s.URL(), p)
			p.Set("biz_content", `{"out_trade_no":"pay_y"}`)
			r.Body = io.NopCloser(strings.NewReader(p.Encode()))
			r.ContentLength = int64(len(p.Encode()))
			return r
		}(), 401, "isv.invalid-signature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			a := do(t, tc.req)
			if a.status != tc.status || !strings.Contains(string(a.body), tc.msg) {
				t.Fatalf("%d %s; want %d %q", a.status, a.body, tc.status, tc.msg)
			}
			var env map[string]json.RawMessage
			if err := json.Unmarshal(a.body, &env); err != nil {
				t.Fatal(err)
			}
			var sign string
			json.Unmarshal(env["sign"], &sign)
			obj := env["alipay_trade_query_response"]
			if obj == nil {
				obj = env["error_response"]
			}
			if !rsaVerify(s.PublicKey(), obj, sign) {
				t.Fatalf("answer not signed: %s", a.body)
			}
		})
	}
}

func TestKeyReuseAndReplay(t *testing.T) {
	t.Parallel()
	s, key := testSim(t)
	create := func(amount int, idem string) httpAnswer {
		body := []byte(fmt.Sprintf(`{"out_trade_no":"pay_k","amount":%d,"currency":"EUR"}`, amount))
		r := signed(t, bankScheme, key, "c1", "POST", s.URL()+"/bank/v1/transfers", body, time.Now(), newNonce())
		r.Header.Set("Idempotency-Key", idem)
		return do(t, r)
	}
	first := create(100, "pay_k:authorize")
	again := create(100, "pay_k:authorize")
	if first.status != 201 || again.status != 201 || !bytes.Equal(first.body, again.body) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s / %d %s %v", first.status, first.body, again.status, again.body, again.header)
	}
	if a := create(200, "pay_k:authorize"); a.status != 422 || !strings.Contains(string(a.body), "IDEMPOTENCY_KEY_REUSED") {
		t.Fatalf("key reused with another amount: %d %s", a.status, a.body)
	}
	if a := create(200, "other-key"); a.status != 409 || !strings.Contains(string(a.body), "out_trade_no_in_use") {
		t.Fatalf("out_trade_no reused with another amount: %d %s", a.status, a.body)
	}
	c := s.Charges()
	if p := c.Payments["pay_k"]; p == nil || p.Orders != 1 || c.Keys["pay_k:authorize"] != 1 {
		t.Fatalf("charges %+v", c)
	}
}

func TestFaultsControl(t *testing.T) {
	t.Parallel()
	s, key := testSim(t)
	ctl := Control{BaseURL: s.URL()}
	if err := ctl.SetFaults(ctx, core.ChannelBankTransfer, Faults{Errors: 2, LatencyMS: 150}); err != nil {
		t.Fatal(err)
	}
	var cerr *ControlError
	for _, bad := range []Faults{{StaleNotification: "paid"}, {LostResponseMode: "explode"}} {
		if err := ctl.SetFaults(ctx, core.ChannelAlipay, bad); !errors.As(err, &cerr) || cerr.StatusCode != 400 {
			t.Fatalf("bad faults %+v accepted: %v", bad, err)
		}
	}
	if err := ctl.SetFaults(ctx, "carrier_pigeon", Faults{}); !errors.As(err, &cerr) || cerr.StatusCode != 400 {
		t.Fatalf("unknown channel accepted: %v", err)
	}
	get := func() httpAnswer {
		return do(t, signed(t, bankScheme, key, "c1", "GET", s.URL()+"/bank/v1/transfers/pay_f", nil, time.Now(), newNonce()))
	}
	start := time.Now()
	if a := get(); a.status != 500 || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("first call: %d after %v", a.status, time.Since(start))
	}
	f, err := ctl.Faults(ctx)
	if err != nil || f[core.ChannelBankTransfer].Errors != 1 || f[core.ChannelBankTransfer].LatencyMS != 150 {
		t.Fatalf("faults after one error: %+v %v", f, err)
	}
	if a := get(); a.status != 500 {
		t.Fatalf("second call: %d", a.status)
	}
	if a := get(); a.status != 404 {
		t.Fatalf("third call (errors used up): %d %s", a.status, a.body)
	}
	if a := do(t, signed(t, wechatScheme, key, "m1", "GET", s.URL()+"/v3/pay/transactions/out-trade-no/x?mchid=m1", nil, time.Now(), newNonce())); a.status != 404 {
		t.Fatalf("faults leaked to another channel: %d", a.status)
	}
	ctl.SetFaults(ctx, core.ChannelBankTransfer, Faults{Outage: true})
	if a := get(); a.status != 503 {
		t.Fatalf("outage: %d", a.status)
	}
	if err := ctl.ClearFaults(ctx); err != nil {
		t.Fatal(err)
	}
	if f, _ := ctl.Faults(ctx); len(f) != 0 {
		t.Fatalf("faults after clearing: %+v", f)
	}
	if a := get(); a.status != 404 {
		t.Fatalf("after clearing: %d", a.status)
	}
}

func TestNotificationRetriesAreCapped(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var times []time.Time
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		times = append(times, time.Now())
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer sink.Close()
	s, key := testSim(t, func(c *Config) {
		c.NotifyAttempts = 4
		c.NotifyBackoff = 20 * time.Millisecond
		c.NotifyMaxBackoff = time.Second
	})
	body := []byte(`{"out_trade_no":"pay_n","amount":100,"currency":"EUR","notify_url":"` + sink.URL + `"}`)
	if a := do(t, signed(t, bankScheme, key, "c1", "POST", s.URL()+"/bank/v1/transfers", body, time.Now(), newNonce())); a.status != 201 {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	ctl := Control{BaseURL: s.URL()}
	if _, err := ctl.Pay(ctx, core.ChannelBankTransfer, "pay_n"); err != nil {
		t.Fatal(err)
	}
	// Finished: the job gave up, and no attempt can follow.
	rec := eventually.Value(t, eventually.Patience, "the delivery job to give up", func() (NotificationRecord, bool) {
		recs, err := ctl.Notifications(ctx)
		if err != nil || len(recs) != 1 {
			return NotificationRecord{}, false
		}
		return recs[0], recs[0].Finished
	})
	if rec.Attempts != 4 || rec.Delivered || rec.LastStatus != 503 {
		t.Fatalf("record %+v, want 4 undelivered attempts, the last answered 503", rec)
	}
	mu.Lock()
	defer mu.Unlock()
	if n := len(times); n != 4 {
		t.Fatalf("the receiver saw %d attempts, want 4", n)
	}
	// Timers never fire early, so each gap is at least its backoff however loaded the
	// machine; a backoff that did not grow would leave the last gap near 20 ms.
	for i, want := range []time.Duration{20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond} {
		if gap := times[i+1].Sub(times[i]); gap < want {
			t.Fatalf("gap %d is %v, want at least the backoff %v (gaps grow 20, 40, 80 ms)", i+1, gap, want)
		}
	}
}

func TestCloseStopsHangsAndDeliveries(t *testing.T) {
	t.Parallel()
	s, key := testSim(t, func(c *Config) { c.NotifyBackoff = time.Hour })
	ctl := Control{BaseURL: s.URL()}
	ctl.SetFaults(ctx, core.ChannelBankTransfer, Faults{Timeouts: 1})
	done := make(chan httpAnswer, 1)
	go func() {
		r := signed(t, bankScheme, key, "c1", "GET", s.URL()+"/bank/v1/transfers/x", nil, time.Now(), newNonce())
		resp, err := http.DefaultClient.Do(r)
		if err == nil {
			resp.Body.Close()
			done <- httpAnswer{status: resp.StatusCode}
			return
		}
		done <- httpAnswer{}
	}()
	eventually.True(t, eventually.Patience, "the GET to take the timeout fault and hang", func() bool {
		f, err := ctl.Faults(ctx)
		return err == nil && f[core.ChannelBankTransfer].Timeouts == 0
	})
	// A notification stuck in backoff: its receiver refuses.
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }))
	defer sink.Close()
	body := []byte(`{"out_trade_no":"pay_c","amount":100,"currency":"EUR","notify_url":"` + sink.URL + `"}`)
	do(t, signed(t, bankScheme, key, "c1", "POST", s.URL()+"/bank/v1/transfers", body, time.Now(), newNonce()))
	if _, err := ctl.Pay(ctx, core.ChannelBankTransfer, "pay_c"); err != nil {
		t.Fatal(err)
	}
	eventually.True(t, eventually.Patience, "the first delivery attempt, refused (then an hour's backoff)", func() bool {
		recs, err := ctl.Notifications(ctx)
		return err == nil && len(recs) == 1 && recs[0].Attempts == 1
	})
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v", d)
	}
	// Close waits for the delivery jobs: the one in backoff has ended without a second try.
	if recs := s.notifications(); len(recs) != 1 || !recs[0].Finished || recs[0].Attempts != 1 {
		t.Fatalf("delivery jobs after Close: %+v", recs)
	}
	select {
	case a := <-done:
		if a.status != 0 {
			t.Fatalf("the hanging call got an answer: %d", a.status)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the hanging call is still hanging")
	}
}

func TestDecimals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		amount   int64
		currency string
		text     string
	}{{8888, "CNY", "88.88"}, {5, "CNY", "0.05"}, {4990, "JPY", "4990"}, {1234, "BHD", "1.234"}} {
		if got := formatDecimal(tc.amount, tc.currency); got != tc.text {
			t.Errorf("format %d %s = %q", tc.amount, tc.currency, got)
		}
		if got, err := parseDecimal(tc.text, tc.currency); err != nil || got != tc.amount {
			t.Errorf("parse %q %s = %d %v", tc.text, tc.currency, got, err)
		}
	}
	if n, err := parseDecimal("88.8", "CNY"); err != nil || n != 8880 {
		t.Errorf("88.8 = %d %v", n, err)
	}
	for _, bad := range []string{"", "1.234", "-1", "1e3", "abc", ".5"} {
		if _, err := parseDecimal(bad, "CNY"); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestControlErrors(t *testing.T) {
	t.Parallel()
	s, _ := testSim(t)
	ctl := Control{BaseURL: s.URL()}
	var cerr *ControlError
	if _, err := ctl.Pay(ctx, core.ChannelWeChatPay, "pay_none"); !errors.As(err, &cerr) || cerr.StatusCode != 404 {
		t.Fatalf("pay of an unknown order: %v", err)
	}
	if _, err := ctl.Order(ctx, core.ChannelWeChatPay, "pay_none"); !errors.As(err, &cerr) || cerr.StatusCode != 404 {
		t.Fatalf("unknown order: %v", err)
	}
	if resp, err := http.Get(s.URL() + "/pay/nosuchtoken"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("payer page of an unknown token: %v %v", resp, err)
	}
	pub, err := ctl.PublicKey(ctx)
	if err != nil || !pub.Equal(s.PublicKey()) {
		t.Fatalf("public key: %v", err)
	}
	_, _, k := testKeys(t)
	pemKey, _ := channelauth.MarshalPublicKeyPEM(&k.PublicKey)
	if err := ctl.RegisterClient(ctx, "newclient", ClientRegistration{PublicKey: string(pemKey), APIv3Key: "newclientAPIv3Key32bytes00000000"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.clientKey("newclient"); err != nil || !got.Equal(&k.PublicKey) {
		t.Fatalf("registered key: %v", err)
	}
	if err := ctl.RegisterClient(ctx, "newclient", ClientRegistration{APIv3Key: "short"}); err == nil {
		t.Fatal("an APIv3 key of 5 bytes was accepted")
	}
}
