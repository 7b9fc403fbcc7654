package banktransfer

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
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
	if res.NextAction.Type != "bank_transfer_instructions" || !strings.HasPrefix(res.NextAction.Reference, "SIM-") ||
		!strings.HasPrefix(res.NextAction.BankAccount, "SIMBANK ") || res.Reference == "" ||
		res.NextAction.ExpiresAt == nil || res.NextAction.ExpiresAt.Sub(e.Clock.Now()) < 71*time.Hour {
		t.Fatalf("next action: %+v", res.NextAction)
	}
	if st, err := e.GW.QueryPayment(ctx, query(id)); err != nil || !st.Found || st.Outcome != core.OutcomeActionRequired {
		t.Fatalf("query before paying: %+v %v", st, err)
	}

	n := e.Pay(t, id)
	if n.Channel != core.ChannelBankTransfer || n.EventID == "" || n.Amount != 4990 || n.Currency != "EUR" || n.Reference == "" || n.OccurredAt.IsZero() {
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
		t.Fatalf("void of a paid transfer: %+v %v", r, err)
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

func TestRefundOfUnpaidTransfer(t *testing.T) {
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
		if errs[i] != nil || results[i].NextAction == nil || results[i].NextAction.Reference != results[0].NextAction.Reference {
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
	if _, err := e.Ctl.Pay(ctx, core.ChannelBankTransfer, id); err == nil {
		t.Fatal("paying a paid transfer again succeeded")
	}
	if c := e.Charges(t, id); c.Charges != 1 {
		t.Fatalf("charged %d times", c.Charges)
	}
}

// signedNotification signs body as the simulator would, with key.
func signedNotification(key *rsa.PrivateKey, ts time.Time, nonce string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/notify", bytes.NewReader(body))
	tss := strconv.FormatInt(ts.Unix(), 10)
	sig, _ := channelauth.SignRSA(key, channelauth.ResponseMessage(tss, nonce, body))
	r.Header.Set("Simbank-Timestamp", tss)
	r.Header.Set("Simbank-Nonce", nonce)
	r.Header.Set("Simbank-Serial", channelauth.KeySerial(&key.PublicKey))
	r.Header.Set("Simbank-Signature", sig)
	return r
}

func TestForgedNotificationsAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const id = "pay_forged"
	e.Authorize(t, id, 100)
	e.Pay(t, id)
	real := e.Recv.Raw()[0] // the genuine captured notification, as delivered
	other := channeltest.OtherKey()

	replay := func() *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/notify", bytes.NewReader(real.Body))
		r.Header = real.Header.Clone()
		return r
	}
	forged := func(key *rsa.PrivateKey, ts time.Time, body []byte) *http.Request {
		r := signedNotification(key, ts, newNonce(), body)
		r.Header.Set("Simbank-Serial", real.Header.Get("Simbank-Serial"))
		return r
	}
	tampered := bytes.Replace(real.Body, []byte(`"amount":100`), []byte(`"amount":999999`), 1)
	if bytes.Equal(tampered, real.Body) {
		t.Fatal("tampering changed nothing")
	}
	tamperedReq := replay()
	tamperedReq.Body = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(tampered)).Body
	tamperedReq.Header.Set("Simbank-Nonce", newNonce())

	for _, tc := range []struct {
		name string
		req  *http.Request
	}{
		{"replayed nonce", replay()},
		{"wrong key", forged(other, e.Clock.Now(), real.Body)},
		{"tampered body", tamperedReq},
		{"stale timestamp", forged(e.Sim.Private(), e.Clock.Now().Add(-10*time.Minute), real.Body)},
		{"future timestamp", forged(e.Sim.Private(), e.Clock.Now().Add(10*time.Minute), real.Body)},
		{"unknown serial", func() *http.Request {
			r := forged(e.Sim.Private(), e.Clock.Now(), real.Body)
			r.Header.Set("Simbank-Serial", "0000000000000000")
			return r
		}()},
		{"unsigned", httptest.NewRequest(http.MethodPost, "/notify", bytes.NewReader(real.Body))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := e.GW.ParseNotification(tc.req)
			if !errors.Is(err, core.ErrBadSignature) {
				t.Fatalf("got %+v, %v; want ErrBadSignature", n, err)
			}
		})
	}
	t.Run("genuine, freshly signed", func(t *testing.T) {
		n, err := e.GW.ParseNotification(forged(e.Sim.Private(), e.Clock.Now(), real.Body))
		if err != nil || n.PaymentID != id || n.Outcome != core.OutcomeCaptured {
			t.Fatalf("%+v %v", n, err)
		}
	})
}

func TestRequestsSignedWithAnotherKeyAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.PrivateKey = channeltest.OtherKey() })
	_, err := e.GW.Authorize(ctx, authReq("pay_wrongkey", 100))
	if !errors.Is(err, core.ErrNotExecuted) || !strings.Contains(err.Error(), "signature does not verify") {
		t.Fatalf("authorize signed with a wrong key: %v", err)
	}
	if c := e.Charges(t, "pay_wrongkey"); c.Orders != 0 {
		t.Fatalf("a transfer was created: %+v", c)
	}
}

// TestHMAC runs a payment with HMAC-SHA256 authentication: requests, answers and
// notifications are signed with the shared secret, and a wrong secret is refused.
func TestHMAC(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.HMACSecret = channeltest.HMACSecret })
	const id = "pay_hmac"
	e.Authorize(t, id, 1500)
	n := e.Pay(t, id)
	if n.Amount != 1500 {
		t.Fatalf("notification: %+v", n)
	}
	raw := e.Recv.Raw()[0]
	if raw.Header.Get("Simbank-Serial") != hmacSerial || raw.Header.Get("Simbank-Signature-Type") != hmacScheme.AuthType {
		t.Fatalf("notification headers %v", raw.Header)
	}
	if r, err := e.GW.Refund(ctx, refundReq(id, "re_hmac", 500)); err != nil || !r.OK {
		t.Fatalf("refund: %+v %v", r, err)
	}
	t.Run("wrong secret", func(t *testing.T) {
		g, err := New(Config{ClientID: clientID, HMACSecret: "not-the-shared-secret", BaseConfig: channelauth.BaseConfig{BaseURL: e.Sim.URL(),
			NotifyURL: "http://127.0.0.1:1/n", Now: e.Clock.Now}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.Authorize(ctx, authReq("pay_hmac_wrong", 100)); !errors.Is(err, core.ErrNotExecuted) || !strings.Contains(err.Error(), "signature does not verify") {
			t.Fatalf("authorize with a wrong secret: %v", err)
		}
		r := httptest.NewRequest(http.MethodPost, "/n", bytes.NewReader(raw.Body))
		r.Header = raw.Header.Clone()
		if _, err := g.ParseNotification(r); !errors.Is(err, core.ErrBadSignature) || !strings.Contains(err.Error(), "does not verify") {
			t.Fatalf("a notification checked with a wrong secret: %v", err)
		}
	})
}

func TestLostResponse(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{netsim.LoseByDrop, netsim.LoseWith502} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			id := "pay_lost_" + mode
			if err := e.Ctl.SetFaults(ctx, core.ChannelBankTransfer, netsim.Faults{LostResponses: 1, LostResponseMode: mode}); err != nil {
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

			e.Ctl.SetFaults(ctx, core.ChannelBankTransfer, netsim.Faults{LostResponses: 1, LostResponseMode: mode})
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
	e.Ctl.SetFaults(ctx, core.ChannelBankTransfer, netsim.Faults{Outage: true})
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
		g, _ := New(Config{ClientID: clientID, BaseConfig: channelauth.BaseConfig{BaseURL: "http://" + addr, PrivateKey: e.Key,
			ChannelPublicKey: e.Sim.PublicKey(), NotifyURL: "http://127.0.0.1:1/n"}})
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
			e.Ctl.SetFaults(ctx, core.ChannelBankTransfer, tc.faults)
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
		e.Ctl.SetFaults(ctx, core.ChannelBankTransfer, netsim.Faults{DuplicateNotifications: 2})
		e.Authorize(t, "pay_dup", 100)
		e.Ctl.Pay(ctx, core.ChannelBankTransfer, "pay_dup")
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
	if _, err := e.Ctl.Fail(ctx, core.ChannelBankTransfer, "pay_fail", "sender account closed"); err != nil {
		t.Fatal(err)
	}
	ns := e.Recv.WaitNotifications(t, "pay_fail", "declined", func(ns []core.Notification) bool { return len(ns) > 0 })
	if ns[0].Outcome != core.OutcomeDeclined || ns[0].DeclineCode != core.CodeProcessingError || ns[0].DeclineMessage != "sender account closed" {
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
		if _, err := e.Ctl.Pay(ctx, core.ChannelBankTransfer, "pay_void"); err == nil {
			t.Fatal("the payer paid a closed transfer")
		}
		if r, err := e.GW.Void(ctx, core.VoidRequest{Key: core.VoidKey("pay_nope"), PaymentID: "pay_nope"}); err != nil || r.OK {
			t.Fatalf("void of an unknown transfer: %+v %v", r, err)
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
		if _, err := e.Ctl.Pay(ctx, core.ChannelBankTransfer, "pay_exp"); err == nil {
			t.Fatal("the payer paid an expired transfer")
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
			lines, err := e.GW.Statement(ctx, core.ChannelBankTransfer, tc.day)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range lines {
				if l.Reference == "" || l.Currency != "EUR" || l.At.UTC().Format(time.DateOnly) != tc.day.UTC().Format(time.DateOnly) {
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

func TestBankConfirmsOnItsOwn(t *testing.T) {
	t.Parallel()
	e := newEnvWith(t, func(c *netsim.Config) { c.BankAutoConfirm = 100 * time.Millisecond })
	e.Authorize(t, "pay_auto", 4200)
	ns := e.Recv.WaitNotifications(t, "pay_auto", "received", func(ns []core.Notification) bool { return len(ns) > 0 })
	if ns[0].Outcome != core.OutcomeCaptured || ns[0].Amount != 4200 || ns[0].Currency != "EUR" {
		t.Fatalf("notification: %+v", ns[0])
	}
	if c := e.Charges(t, "pay_auto"); c.Charges != 1 || c.AmountCharged != 4200 {
		t.Fatalf("charges: %+v", c)
	}
}

func TestConfigIsValidated(t *testing.T) {
	t.Parallel()
	_, err := New(Config{})
	for _, want := range []string{"banktransfer: invalid config", "BaseURL is required", "ClientID is required", "NotifyURL is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("New(Config{}): %v; want it to say %q", err, want)
		}
	}
}
