package wechatpay

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/channelauth/channeltest"
	"github.com/paycenter/paycenter/internal/eventually"
)

func TestFullFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const id = "pay_us-east_flow1"
	res := e.Authorize(t, id, 4990)
	if res.NextAction.Type != "wechat_pay_display_qr_code" || !strings.HasPrefix(res.NextAction.QRCode, "weixin://wxpay/bizpayurl?pr=") ||
		res.NextAction.ExpiresAt == nil || !res.NextAction.ExpiresAt.After(e.Clock.Now()) {
		t.Fatalf("next action: %+v", res.NextAction)
	}
	if st, err := e.GW.QueryPayment(ctx, query(id)); err != nil || !st.Found || st.Outcome != core.OutcomeActionRequired {
		t.Fatalf("query before paying: %+v %v", st, err)
	}

	n := e.Pay(t, id)
	if n.Channel != core.ChannelWeChatPay || n.EventID == "" || n.Amount != 4990 || n.Currency != "CNY" || n.Reference == "" || n.OccurredAt.IsZero() {
		t.Fatalf("captured notification: %+v", n)
	}
	st, err := e.GW.QueryPayment(ctx, query(id))
	if err != nil || !st.Found || st.Outcome != core.OutcomeCaptured || st.AmountCaptured != 4990 || st.Reference != n.Reference {
		t.Fatalf("query after paying: %+v %v", st, err)
	}

	if r, err := e.GW.Capture(ctx, core.CaptureRequest{Key: core.CaptureKey(id), PaymentID: id, Amount: 4990}); err != nil || r.OK || r.FailureCode != core.CodeInvalidState {
		t.Fatalf("capture: %+v %v", r, err)
	}
	if r, err := e.GW.Void(ctx, core.VoidRequest{Key: core.VoidKey(id), PaymentID: id}); err != nil || r.OK || r.FailureCode != core.CodeInvalidState {
		t.Fatalf("void of a paid order: %+v %v", r, err)
	}

	r, err := e.GW.Refund(ctx, refundReq(id, "re_us-east_r1", 1000))
	if err != nil || !r.OK || r.Amount != 1000 || r.Reference == "" {
		t.Fatalf("refund: %+v %v", r, err)
	}
	e.Recv.WaitNotifications(t, id, "the refund notification", func(ns []core.Notification) bool {
		for _, n := range ns {
			if n.RefundID == "re_us-east_r1" && n.Outcome == core.OutcomeCaptured && n.Amount == 1000 {
				return true
			}
		}
		return false
	})
	r, err = e.GW.Refund(ctx, refundReq(id, "re_us-east_r2", 3991))
	if err != nil || r.OK || r.FailureCode != core.CodeAmountTooLarge {
		t.Fatalf("refund above what is left: %+v %v", r, err)
	}
	if r, err := e.GW.Refund(ctx, refundReq(id, "re_us-east_r3", 3990)); err != nil || !r.OK {
		t.Fatalf("refund of the rest: %+v %v", r, err)
	}
	if st, err := e.GW.QueryPayment(ctx, query(id)); err != nil || st.AmountRefunded != 4990 || st.Outcome != core.OutcomeCaptured {
		t.Fatalf("query after refunds: %+v %v", st, err)
	}
	c := e.Charges(t, id)
	if c.Orders != 1 || c.Charges != 1 || c.AmountCharged != 4990 || c.Refunds != 2 || c.AmountRefunded != 4990 {
		t.Fatalf("charges: %+v", c)
	}
}

func TestRefundOfUnpaidOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.Authorize(t, "pay_unpaid", 100)
	for name, id := range map[string]string{"unpaid": "pay_unpaid", "unknown": "pay_never"} {
		t.Run(name, func(t *testing.T) {
			r, err := e.GW.Refund(ctx, refundReq(id, "re_"+id, 50))
			if err != nil || r.OK || r.FailureCode != core.CodeInvalidState {
				t.Fatalf("refund: %+v %v", r, err)
			}
		})
	}
}

func TestSameKeyExecutesOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const id = "pay_us-east_once"
	var wg sync.WaitGroup
	results := make([]core.AuthorizeResult, 6)
	errs := make([]error, 6)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = e.GW.Authorize(ctx, authReq(id, 700))
		}()
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil || results[i].NextAction == nil || results[i].NextAction.QRCode != results[0].NextAction.QRCode {
			t.Fatalf("authorize %d: %+v %v (first %+v)", i, results[i], errs[i], results[0])
		}
	}
	// Later, the repeat still answers what the first call did (the order's expiry included).
	e.Clock.Shift(2 * time.Minute)
	if later, err := e.GW.Authorize(ctx, authReq(id, 700)); err != nil || !reflect.DeepEqual(later, results[0]) {
		t.Fatalf("authorize repeated later: %+v %v; first %+v", later, err, results[0])
	}
	e.Clock.Shift(0)
	e.Pay(t, id)
	for range 3 {
		if r, err := e.GW.Refund(ctx, refundReq(id, "re_once", 300)); err != nil || !r.OK || r.Amount != 300 {
			t.Fatalf("refund: %+v %v", r, err)
		}
	}
	c := e.Charges(t, id)
	if c.Orders != 1 || c.Charges != 1 || c.Refunds != 1 || c.AmountRefunded != 300 ||
		c.Keys[core.AuthorizeKey(id)] != 1 || c.Keys[core.RefundKey("re_once")] != 1 {
		t.Fatalf("charges: %+v", c)
	}
	if _, err := e.Ctl.Pay(ctx, core.ChannelWeChatPay, id); err == nil {
		t.Fatal("paying a paid order again succeeded")
	}
	if c := e.Charges(t, id); c.Charges != 1 {
		t.Fatalf("charged %d times", c.Charges)
	}
}

// signedNotification signs body as WeChat Pay would, with key, naming serial.
func signedNotification(key *rsa.PrivateKey, serial string, ts time.Time, nonce string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/notify", bytes.NewReader(body))
	tss := strconv.FormatInt(ts.Unix(), 10)
	sig, err := channelauth.SignRSA(key, channelauth.ResponseMessage(tss, nonce, body))
	if err != nil {
		panic(err)
	}
	r.Header.Set("Wechatpay-Timestamp", tss)
	r.Header.Set("Wechatpay-Nonce", nonce)
	r.Header.Set("Wechatpay-Serial", serial)
	r.Header.Set("Wechatpay-Signature", sig)
	return r
}

// reseal re-encrypts a notification's resource after change alters its plain text, as
// someone knowing the APIv3 key (but not WeChat Pay's private key) could.
func reseal(t *testing.T, body []byte, change func([]byte) []byte) []byte {
	t.Helper()
	var n map[string]any
	if err := json.Unmarshal(body, &n); err != nil {
		t.Fatal(err)
	}
	res := n["resource"].(map[string]any)
	plain, err := DecryptResource(channeltest.APIv3Key, res["nonce"].(string), res["associated_data"].(string), res["ciphertext"].(string))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := aes.NewCipher([]byte(channeltest.APIv3Key))
	gcm, _ := cipher.NewGCM(block)
	res["ciphertext"] = base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte(res["nonce"].(string)), change(plain), []byte(res["associated_data"].(string))))
	out, _ := json.Marshal(n)
	return out
}

func TestForgedNotificationsAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const id = "pay_forged"
	e.Authorize(t, id, 100)
	e.Pay(t, id)
	real := e.Recv.Raw()[0] // the genuine captured notification, as delivered
	serial := real.Header.Get("Wechatpay-Serial")
	if serial != e.Sim.CertificateSerial() {
		t.Fatalf("notification signed by serial %s, want the platform certificate's %s", serial, e.Sim.CertificateSerial())
	}

	replay := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/notify", bytes.NewReader(real.Body))
		r.Header = real.Header.Clone()
		return r
	}
	forged := func(key *rsa.PrivateKey, ts time.Time, body []byte) *http.Request {
		return signedNotification(key, serial, ts, newNonce(), body)
	}
	// Tampered in transit: the signature no longer covers the body.
	tampered := bytes.Replace(real.Body, []byte(`"event_type":"TRANSACTION.SUCCESS"`), []byte(`"event_type":"TRANSACTION.CLOSED"`), 1)
	if bytes.Equal(tampered, real.Body) {
		t.Fatal("tampering changed nothing")
	}
	tamperedReq := replay()
	tamperedReq.Body = io.NopCloser(bytes.NewReader(tampered))
	tamperedReq.Header.Set("Wechatpay-Nonce", newNonce())
	// Signed by the platform key but with a resource someone re-encrypted: it decrypts, so
	// only the signature over the whole body stops it; and one whose ciphertext was flipped
	// after signing, which the signature and the GCM tag both refuse.
	resealed := reseal(t, real.Body, func(p []byte) []byte { return bytes.Replace(p, []byte(`"total":100`), []byte(`"total":999999`), 1) })
	var env map[string]any
	json.Unmarshal(real.Body, &env)
	env["resource"].(map[string]any)["ciphertext"] = "AAAA" + env["resource"].(map[string]any)["ciphertext"].(string)[4:]
	flipped, _ := json.Marshal(env)

	for _, tc := range []struct {
		name string
		req  *http.Request
	}{
		{"replayed nonce", replay()},
		{"wrong key", forged(channeltest.OtherKey(), e.Clock.Now(), real.Body)},
		{"tampered body", tamperedReq},
		{"re-encrypted resource, old signature", func() *http.Request {
			r := replay()
			r.Body = io.NopCloser(bytes.NewReader(resealed))
			r.Header.Set("Wechatpay-Nonce", newNonce())
			return r
		}()},
		{"flipped ciphertext, re-signed with another key", forged(channeltest.OtherKey(), e.Clock.Now(), flipped)},
		{"stale timestamp", forged(e.Sim.Private(), e.Clock.Now().Add(-10*time.Minute), real.Body)},
		{"future timestamp", forged(e.Sim.Private(), e.Clock.Now().Add(10*time.Minute), real.Body)},
		{"wrong serial", signedNotification(e.Sim.Private(), "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", e.Clock.Now(), newNonce(), real.Body)},
		{"unsigned", httptest.NewRequest(http.MethodPost, "/notify", bytes.NewReader(real.Body))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := e.GW.ParseNotification(tc.req)
			if !errors.Is(err, core.ErrBadSignature) {
				t.Fatalf("got %+v, %v; want ErrBadSignature", n, err)
			}
		})
	}
	t.Run("flipped ciphertext, signed by the platform key", func(t *testing.T) {
		// Only WeChat Pay could sign it; the GCM tag still refuses it.
		n, err := e.GW.ParseNotification(forged(e.Sim.Private(), e.Clock.Now(), flipped))
		if !errors.Is(err, core.ErrBadSignature) || !strings.Contains(err.Error(), "decrypt") {
			t.Fatalf("got %+v, %v; want a decryption failure", n, err)
		}
	})
	t.Run("genuine, freshly signed", func(t *testing.T) {
		n, err := e.GW.ParseNotification(forged(e.Sim.Private(), e.Clock.Now(), real.Body))
		if err != nil || n.PaymentID != id || n.Outcome != core.OutcomeCaptured || n.Amount != 100 {
			t.Fatalf("%+v %v", n, err)
		}
	})
	if st, err := e.GW.QueryPayment(ctx, query(id)); err != nil || st.Outcome != core.OutcomeCaptured || st.AmountCaptured != 100 {
		t.Fatalf("the refused notifications changed the order: %+v %v", st, err)
	}
}

func TestCertificateRotation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.Authorize(t, "pay_rot1", 100)
	first := e.Sim.CertificateSerial()
	if err := e.Sim.Rotate(channeltest.Channel2Key()); err != nil {
		t.Fatal(err)
	}
	if e.Sim.CertificateSerial() == first {
		t.Fatal("the rotation kept the serial")
	}
	// Answers now come signed by the new certificate: the adapter downloads the list again.
	e.Clock.Shift(2 * DefaultCertificateRefreshGap)
	e.Authorize(t, "pay_rot2", 100)
	n := e.Pay(t, "pay_rot2")
	if n.Amount != 100 {
		t.Fatalf("notification after the rotation: %+v", n)
	}
	if raw := e.Recv.Raw(); raw[len(raw)-1].Header.Get("Wechatpay-Serial") != e.Sim.CertificateSerial() {
		t.Fatalf("notification signed by %s, want the new certificate", raw[len(raw)-1].Header.Get("Wechatpay-Serial"))
	}
}

func TestPublicKeyMode(t *testing.T) {
	t.Parallel()
	sim := newEnv(t).Sim
	g, err := New(Config{MerchantID: merchantID, MerchantSerialNo: merchantSerial, APIv3Key: channeltest.APIv3Key,
		PublicKeyID: sim.WeChatPayPublicKeyID(), BaseConfig: channelauth.BaseConfig{BaseURL: sim.URL(), PrivateKey: channeltest.MerchantKey(),
			ChannelPublicKey: sim.PublicKey(), NotifyURL: "http://127.0.0.1:1/n"}})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"EV-1"}`)
	r := signedNotification(sim.Private(), sim.WeChatPayPublicKeyID(), time.Now(), newNonce(), body)
	if err := g.signer.Verify(r.Header, body, false); err != nil {
		t.Fatalf("a notification signed with the WeChat Pay public key: %v", err)
	}
	r = signedNotification(sim.Private(), sim.CertificateSerial(), time.Now(), newNonce(), body)
	if err := g.signer.Verify(r.Header, body, false); !errors.Is(err, core.ErrBadSignature) {
		t.Fatalf("in public-key mode, a certificate serial: %v", err)
	}
}

func TestRequestsSignedWithAnotherKeyAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.PrivateKey = channeltest.OtherKey() })
	_, err := e.GW.Authorize(ctx, authReq("pay_wrongkey", 100))
	if !errors.Is(err, core.ErrNotExecuted) || !strings.Contains(err.Error(), "signature does not verify") {
		t.Fatalf("authorize signed with a wrong key: %v", err)
	}
	if c := e.Charges(t, "pay_wrongkey"); c.Orders != 0 {
		t.Fatalf("an order was created: %+v", c)
	}
}

func TestLostResponse(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{netsim.LoseByDrop, netsim.LoseWith502} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			id := "pay_lost_" + mode
			if err := e.Ctl.SetFaults(ctx, core.ChannelWeChatPay, netsim.Faults{LostResponses: 1, LostResponseMode: mode}); err != nil {
				t.Fatal(err)
			}
			_, err := e.GW.Authorize(ctx, authReq(id, 2500))
			if err == nil || errors.Is(err, core.ErrNotExecuted) {
				t.Fatalf("authorize with a lost answer: %v; want an unknown-outcome error", err)
			}
			if st, err := e.GW.QueryPayment(ctx, query(id)); err != nil || !st.Found || st.Outcome != core.OutcomeActionRequired {
				t.Fatalf("query after the lost answer: %+v %v", st, err)
			}
			e.Authorize(t, id, 2500)
			e.Pay(t, id)

			e.Ctl.SetFaults(ctx, core.ChannelWeChatPay, netsim.Faults{LostResponses: 1, LostResponseMode: mode})
			if _, err := e.GW.Refund(ctx, refundReq(id, "re_lost", 500)); err == nil || errors.Is(err, core.ErrNotExecuted) {
				t.Fatalf("refund with a lost answer: %v", err)
			}
			if r, err := e.GW.Refund(ctx, refundReq(id, "re_lost", 500)); err != nil || !r.OK || r.Amount != 500 {
				t.Fatalf("refund repeated: %+v %v", r, err)
			}
			c := e.Charges(t, id)
			if c.Orders != 1 || c.Charges != 1 || c.Refunds != 1 || c.AmountRefunded != 500 || c.Keys[core.AuthorizeKey(id)] != 1 {
				t.Fatalf("charges: %+v", c)
			}
		})
	}
}

func TestOutageIsNotExecuted(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.Ctl.SetFaults(ctx, core.ChannelWeChatPay, netsim.Faults{Outage: true})
	const id = "pay_outage"
	if _, err := e.GW.Authorize(ctx, authReq(id, 100)); !errors.Is(err, core.ErrNotExecuted) {
		t.Fatalf("authorize during an outage: %v", err)
	}
	if _, err := e.GW.QueryPayment(ctx, query(id)); !errors.Is(err, core.ErrNotExecuted) {
		t.Fatalf("query during an outage: %v", err)
	}
	e.Ctl.ClearFaults(ctx)
	if st, err := e.GW.QueryPayment(ctx, query(id)); err != nil || st.Found {
		t.Fatalf("query after the outage: %+v %v", st, err)
	}

	t.Run("connection refused", func(t *testing.T) {
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := ln.Addr().String()
		ln.Close()
		g, _ := New(Config{MerchantID: merchantID, MerchantSerialNo: merchantSerial, APIv3Key: channeltest.APIv3Key,
			BaseConfig: channelauth.BaseConfig{BaseURL: "http://" + addr, PrivateKey: e.Key, NotifyURL: "http://127.0.0.1:1/n"}})
		if _, err := g.Authorize(ctx, authReq(id, 100)); !errors.Is(err, core.ErrNotExecuted) {
			t.Fatalf("authorize against a closed port: %v", err)
		}
	})
}

func TestUnknownOutcomes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		faults netsim.Faults
	}{
		{"timeout", netsim.Faults{Timeouts: 1}},
		{"server error", netsim.Faults{Errors: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			id := "pay_unknown_" + strings.ReplaceAll(tc.name, " ", "_")
			e.Ctl.SetFaults(ctx, core.ChannelWeChatPay, tc.faults)
			// The caller's deadline ends a hung call (in the platform, resilience.Gateway's
			// per-call timeout); the adapter has none of its own.
			cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			_, err := e.GW.Authorize(cctx, authReq(id, 100))
			if err == nil || errors.Is(err, core.ErrNotExecuted) {
				t.Fatalf("authorize: %v; want an unknown-outcome error", err)
			}
			if st, err := e.GW.QueryPayment(ctx, query(id)); err != nil || st.Found {
				t.Fatalf("the simulator executed the call: %+v %v", st, err)
			}
			e.Authorize(t, id, 100)
		})
	}
}

func TestNotificationFaults(t *testing.T) {
	t.Parallel()
	t.Run("duplicates", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.Ctl.SetFaults(ctx, core.ChannelWeChatPay, netsim.Faults{DuplicateNotifications: 2})
		e.Authorize(t, "pay_dup", 100)
		e.Ctl.Pay(ctx, core.ChannelWeChatPay, "pay_dup")
		ns := e.Recv.WaitNotifications(t, "pay_dup", "three copies", func(ns []core.Notification) bool { return len(ns) >= 3 })
		for _, n := range ns {
			if n.EventID != ns[0].EventID || n.Outcome != core.OutcomeCaptured {
				t.Fatalf("copies differ: %+v", ns)
			}
		}
	})
	channeltest.StaleAfterPaid(t, channel, func(t *testing.T) *env { return newEnv(t) })
	t.Run("redelivered until acknowledged", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.Recv.FailNext(2)
		e.Authorize(t, "pay_retry", 100)
		e.Pay(t, "pay_retry")
		// The receiver has the notification before the simulator has read its answer: wait
		// for the simulator to record the acknowledgement, then count the attempts.
		recs := eventually.Value(t, eventually.Patience, "the acknowledged delivery", func() ([]netsim.NotificationRecord, bool) {
			recs, err := e.Ctl.Notifications(ctx)
			return recs, err == nil && len(recs) == 1 && recs[0].Delivered
		})
		if recs[0].Attempts != 3 {
			t.Fatalf("delivered after %d attempts, want 3 (two refused first): %+v", recs[0].Attempts, recs[0])
		}
	})
}

func TestFailedPayment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.Authorize(t, "pay_fail", 100)
	if _, err := e.Ctl.Fail(ctx, core.ChannelWeChatPay, "pay_fail", "card frozen"); err != nil {
		t.Fatal(err)
	}
	ns := e.Recv.WaitNotifications(t, "pay_fail", "declined", func(ns []core.Notification) bool { return len(ns) > 0 })
	if ns[0].Outcome != core.OutcomeDeclined || ns[0].DeclineCode != core.CodeProcessingError || ns[0].DeclineMessage != "card frozen" {
		t.Fatalf("notification: %+v", ns[0])
	}
	if st, err := e.GW.QueryPayment(ctx, query("pay_fail")); err != nil || st.Outcome != core.OutcomeDeclined {
		t.Fatalf("query: %+v %v", st, err)
	}
	if c := e.Charges(t, "pay_fail"); c.Charges != 0 {
		t.Fatalf("a failed payment charged: %+v", c)
	}
}

func TestVoidAndExpiry(t *testing.T) {
	t.Parallel()
	t.Run("void", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.Authorize(t, "pay_void", 100)
		for range 2 {
			if r, err := e.GW.Void(ctx, core.VoidRequest{Key: core.VoidKey("pay_void"), PaymentID: "pay_void"}); err != nil || !r.OK {
				t.Fatalf("void: %+v %v", r, err)
			}
		}
		if st, err := e.GW.QueryPayment(ctx, query("pay_void")); err != nil || !st.Closed || st.Outcome != core.OutcomeClosed {
			t.Fatalf("query: %+v %v", st, err)
		}
		if _, err := e.Ctl.Pay(ctx, core.ChannelWeChatPay, "pay_void"); err == nil {
			t.Fatal("the payer paid a closed order")
		}
		if r, err := e.GW.Void(ctx, core.VoidRequest{Key: core.VoidKey("pay_nope"), PaymentID: "pay_nope"}); err != nil || r.OK {
			t.Fatalf("void of an unknown order: %+v %v", r, err)
		}
	})
	t.Run("expiry", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, func(c *Config) { c.OrderTTL = 300 * time.Millisecond })
		res := e.Authorize(t, "pay_exp", 100)
		if d := res.NextAction.ExpiresAt.Sub(e.Clock.Now()); d <= 0 || d > 1500*time.Millisecond {
			t.Fatalf("expires in %v", d)
		}
		ns := e.Recv.WaitNotifications(t, "pay_exp", "closed", func(ns []core.Notification) bool { return len(ns) > 0 })
		if ns[0].Outcome != core.OutcomeClosed {
			t.Fatalf("notification: %+v", ns[0])
		}
		if st, err := e.GW.QueryPayment(ctx, query("pay_exp")); err != nil || !st.Closed {
			t.Fatalf("query: %+v %v", st, err)
		}
		if _, err := e.Ctl.Pay(ctx, core.ChannelWeChatPay, "pay_exp"); err == nil {
			t.Fatal("the payer paid an expired order")
		}
	})
}

func TestStatements(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	day2 := e.Clock.Now()
	e.Clock.Shift(-24 * time.Hour)
	day1 := e.Clock.Now()
	e.Authorize(t, "pay_day1", 1000)
	e.Pay(t, "pay_day1")
	if r, err := e.GW.Refund(ctx, refundReq("pay_day1", "re_day1", 400)); err != nil || !r.OK {
		t.Fatalf("refund: %+v %v", r, err)
	}
	e.Authorize(t, "pay_day1_unpaid", 1000)
	e.Clock.Shift(0)
	e.Authorize(t, "pay_day2", 2000)
	e.Pay(t, "pay_day2")

	for _, tc := range []struct {
		name string
		day  time.Time
		want []string
	}{
		{"day 1", day1, []string{"charge pay_day1  1000", "refund pay_day1 re_day1 400"}},
		{"day 2", day2, []string{"charge pay_day2  2000"}},
		{"day 0", day1.AddDate(0, 0, -1), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lines, err := e.GW.Statement(ctx, core.ChannelWeChatPay, tc.day)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range lines {
				if l.Reference == "" || l.Currency != "CNY" || l.At.UTC().Format(time.DateOnly) != tc.day.UTC().Format(time.DateOnly) {
					t.Errorf("line %+v", l)
				}
				got = append(got, strings.Join([]string{l.Kind, l.PaymentID, l.RefundID, strconv.FormatInt(l.Amount, 10)}, " "))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Fatalf("lines %q, want %q", got, tc.want)
			}
		})
	}
}

func TestConfigIsValidated(t *testing.T) {
	t.Parallel()
	_, err := New(Config{})
	for _, want := range []string{"wechatpay: invalid config", "BaseURL is required", "MerchantID is required", "NotifyURL is required",
		"MerchantSerialNo is required", "PrivateKey", "APIv3Key must be 32 bytes"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("New(Config{}): %v; want it to say %q", err, want)
		}
	}
}

func TestParseTradeBill(t *testing.T) {
	t.Parallel()
	bill := "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n" +
		"`2031-03-14 17:00:00,`wx1,`1900000109,`0,`,`4200001,`pay_1,`oX,`NATIVE,`SUCCESS,`OTHERS,`CNY,`49.90,`0.00,`0,`0,`0.00,`0.00,`,`,`cups, saucers,`,`0.30,`0.60%,`49.90,`0.00,`\r\n" +
		"`2031-03-14 18:00:00,`wx1,`1900000109,`0,`,`4200001,`pay_1,`oX,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50300001,`re_1,`10.00,`0.00,`ORIGINAL,`SUCCESS,`cups, saucers,`,`0.00,`0.60%,`0.00,`10.00,`\r\n" +
		"总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n`2,`49.90,`10.00,`0.00,`0.30,`49.90,`10.00\r\n"
	lines, err := ParseTradeBill([]byte(bill))
	if err != nil || len(lines) != 2 {
		t.Fatalf("%+v %v", lines, err)
	}
	if l := lines[0]; l.Kind != "charge" || l.PaymentID != "pay_1" || l.Reference != "4200001" || l.Amount != 4990 || l.At != time.Date(2031, 3, 14, 9, 0, 0, 0, time.UTC) {
		t.Errorf("charge %+v", l)
	}
	if l := lines[1]; l.Kind != "refund" || l.RefundID != "re_1" || l.Reference != "50300001" || l.Amount != 1000 {
		t.Errorf("refund %+v", l)
	}
	if _, err := ParseTradeBill([]byte("交易时间,商户订单号\r\n")); err == nil {
		t.Error("a bill without the columns parsed")
	}
}
