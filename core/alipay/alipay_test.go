package alipay

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
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
	if res.NextAction.Type != "alipay_redirect" || !strings.Contains(res.NextAction.RedirectURL, "/pay/") ||
		res.NextAction.ExpiresAt == nil || !res.NextAction.ExpiresAt.After(e.Clock.Now()) {
		t.Fatalf("next action: %+v", res.NextAction)
	}
	if st, err := e.GW.QueryPayment(ctx, query(id)); err != nil || !st.Found || st.Outcome != core.OutcomeActionRequired {
		t.Fatalf("query before paying: %+v %v", st, err)
	}
	n := e.Pay(t, id)
	if n.Channel != core.ChannelAlipay || n.EventID == "" || n.Amount != 4990 || n.Currency != "CNY" || n.Reference == "" || n.OccurredAt.IsZero() {
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
		t.Fatalf("void of a paid trade: %+v %v", r, err)
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
	if r, err := e.GW.Refund(ctx, refundReq(id, "re_us-east_r2", 3991)); err != nil || r.OK || r.FailureCode != core.CodeAmountTooLarge {
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

func TestAmountsInOtherCurrencies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		currency string
		amount   int64
	}{{"JPY", 4990}, {"BHD", 4990}, {"USD", 5}} {
		t.Run(tc.currency, func(t *testing.T) {
			id := "pay_cur_" + tc.currency
			req := authReq(id, tc.amount)
			req.Currency = strings.ToLower(tc.currency)
			if _, err := e.GW.Authorize(ctx, req); err != nil {
				t.Fatal(err)
			}
			o, err := e.Ctl.Pay(ctx, core.ChannelAlipay, id)
			if err != nil || o.Amount != tc.amount || o.Currency != tc.currency {
				t.Fatalf("order %+v %v", o, err)
			}
			if st, err := e.GW.QueryPayment(ctx, query(id)); err != nil || st.AmountCaptured != tc.amount {
				t.Fatalf("query %+v %v", st, err)
			}
		})
	}
}

func TestPagePayAndPayerPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.PagePay = true })
	res := e.Authorize(t, "pay_page", 1234)
	if res.Reference == "" {
		t.Fatalf("page pay returned no trade_no: %+v", res)
	}
	// The redirect leads to the simulator's page for the payer.
	page := res.NextAction.RedirectURL
	if !strings.HasPrefix(page, e.Sim.URL()+"/pay/") {
		t.Fatalf("redirect URL %s", page)
	}
	resp, err := http.Get(page)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "pay_page") || !strings.Contains(string(b), "pending") {
		t.Fatalf("payer page %d %s", resp.StatusCode, b)
	}
	if resp, err := http.PostForm(page, url.Values{"action": {"pay"}}); err != nil || resp.StatusCode != 200 {
		t.Fatalf("pay on the payer page: %v %v", resp, err)
	}
	e.Recv.WaitNotifications(t, "pay_page", "captured", func(ns []core.Notification) bool {
		return len(ns) > 0 && ns[0].Outcome == core.OutcomeCaptured && ns[0].Amount == 1234
	})
}

func TestRefundOfUnpaidTrade(t *testing.T) {
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
		if errs[i] != nil || results[i].NextAction == nil || results[i].NextAction.RedirectURL != results[0].NextAction.RedirectURL {
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
	if _, err := e.Ctl.Pay(ctx, core.ChannelAlipay, id); err == nil {
		t.Fatal("paying a paid trade again succeeded")
	}
	if c := e.Charges(t, id); c.Charges != 1 {
		t.Fatalf("charged %d times", c.Charges)
	}
}

// signForm signs notification parameters as Alipay would, with key.
func signForm(key *rsa.PrivateKey, params url.Values) *http.Request {
	sig, err := channelauth.SignRSA(key, []byte(SignContent(params, "sign", "sign_type")))
	if err != nil {
		panic(err)
	}
	params.Set("sign", sig)
	return httptest.NewRequest(http.MethodPost, "/notify", strings.NewReader(params.Encode()))
}

func TestForgedNotificationsAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const id = "pay_forged"
	e.Authorize(t, id, 100)
	e.Pay(t, id)
	real := e.Recv.Raw()[0]
	genuine, _ := url.ParseQuery(string(real.Body))
	if genuine.Get("sign_type") != "RSA2" {
		t.Fatalf("notification sign_type %q", genuine.Get("sign_type"))
	}

	resigned := func(key *rsa.PrivateKey, change func(url.Values)) *http.Request {
		p := url.Values{}
		for k, v := range genuine {
			p[k] = append([]string{}, v...)
		}
		p.Set("notify_time", e.Clock.Now().Add(time.Second).In(chinaZone).Format(timeLayout))
		if change != nil {
			change(p)
		}
		return signForm(key, p)
	}
	tampered := bytes.Replace(real.Body, []byte("total_amount=1.00"), []byte("total_amount=9999.00"), 1)
	if bytes.Equal(tampered, real.Body) {
		t.Fatal("tampering changed nothing")
	}
	for _, tc := range []struct {
		name string
		req  *http.Request
	}{
		{"replayed delivery", httptest.NewRequest(http.MethodPost, "/notify", bytes.NewReader(real.Body))},
		{"wrong key", resigned(channeltest.OtherKey(), nil)},
		{"tampered body", httptest.NewRequest(http.MethodPost, "/notify", bytes.NewReader(tampered))},
		{"stale timestamp", resigned(e.Sim.Private(), func(p url.Values) {
			p.Set("notify_time", e.Clock.Now().Add(-10*time.Minute).In(chinaZone).Format(timeLayout))
		})},
		{"another app", resigned(e.Sim.Private(), func(p url.Values) { p.Set("app_id", "2021999999999999") })},
		{"no notify_id", resigned(e.Sim.Private(), func(p url.Values) { p.Del("notify_id") })},
		{"unsigned", httptest.NewRequest(http.MethodPost, "/notify", strings.NewReader("out_trade_no=pay_forged&trade_status=TRADE_SUCCESS"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := e.GW.ParseNotification(tc.req)
			if !errors.Is(err, core.ErrBadSignature) {
				t.Fatalf("got %+v, %v; want ErrBadSignature", n, err)
			}
		})
	}
	t.Run("genuine redelivery, freshly stamped", func(t *testing.T) {
		n, err := e.GW.ParseNotification(resigned(e.Sim.Private(), nil))
		if err != nil || n.PaymentID != id || n.Outcome != core.OutcomeCaptured || n.Amount != 100 || n.EventID != genuine.Get("notify_id") {
			t.Fatalf("%+v %v", n, err)
		}
	})
}

func TestRequestSignatureCoversParameters(t *testing.T) {
	t.Parallel()
	g, err := New(Config{AppID: "app", BaseConfig: channelauth.BaseConfig{BaseURL: "http://127.0.0.1:1", PrivateKey: channeltest.MerchantKey(),
		ChannelPublicKey: &channeltest.ChannelKey().PublicKey, NotifyURL: "http://127.0.0.1:1/n"}})
	if err != nil {
		t.Fatal(err)
	}
	p := g.common("alipay.trade.query")
	p.Set("biz_content", `{"out_trade_no":"pay_1"}`)
	if err := g.sign(p); err != nil {
		t.Fatal(err)
	}
	content := SignContent(p, "sign")
	if !strings.HasPrefix(content, "app_id=app&biz_content={") || !strings.Contains(content, "&sign_type=RSA2&") || strings.Contains(content, "sign=") {
		t.Fatalf("sign content %q", content)
	}
	if err := channelauth.VerifyRSA(&channeltest.MerchantKey().PublicKey, []byte(content), p.Get("sign")); err != nil {
		t.Fatalf("our request signature does not verify: %v", err)
	}
	p.Set("biz_content", `{"out_trade_no":"pay_2"}`)
	if channelauth.VerifyRSA(&channeltest.MerchantKey().PublicKey, []byte(SignContent(p, "sign")), p.Get("sign")) == nil {
		t.Fatal("the signature does not cover biz_content")
	}
}

func TestRequestsSignedWithAnotherKeyAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *Config) { c.PrivateKey = channeltest.OtherKey() })
	_, err := e.GW.Authorize(ctx, authReq("pay_wrongkey", 100))
	if !errors.Is(err, core.ErrNotExecuted) || !strings.Contains(err.Error(), "isv.invalid-signature") {
		t.Fatalf("authorize signed with a wrong key: %v", err)
	}
	if c := e.Charges(t, "pay_wrongkey"); c.Orders != 0 {
		t.Fatalf("a trade was created: %+v", c)
	}
}

func TestLostResponse(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{netsim.LoseByDrop, netsim.LoseWith502} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			id := "pay_lost_" + mode
			if err := e.Ctl.SetFaults(ctx, core.ChannelAlipay, netsim.Faults{LostResponses: 1, LostResponseMode: mode}); err != nil {
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
			e.Ctl.SetFaults(ctx, core.ChannelAlipay, netsim.Faults{LostResponses: 1, LostResponseMode: mode})
			// The refund executed and its answer was lost: the refund query finds it.
			if r, err := e.GW.Refund(ctx, refundReq(id, "re_lost", 500)); err != nil || !r.OK || r.Amount != 500 {
				t.Fatalf("refund with a lost answer, resolved by the refund query: %+v %v", r, err)
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
	e.Ctl.SetFaults(ctx, core.ChannelAlipay, netsim.Faults{Outage: true})
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
		g, _ := New(Config{AppID: appID, BaseConfig: channelauth.BaseConfig{BaseURL: "http://" + addr, PrivateKey: e.Key,
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
			e.Ctl.SetFaults(ctx, core.ChannelAlipay, tc.faults)
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
		e.Ctl.SetFaults(ctx, core.ChannelAlipay, netsim.Faults{DuplicateNotifications: 2})
		e.Authorize(t, "pay_dup", 100)
		e.Ctl.Pay(ctx, core.ChannelAlipay, "pay_dup")
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
	if _, err := e.Ctl.Fail(ctx, core.ChannelAlipay, "pay_fail", "balance frozen"); err != nil {
		t.Fatal(err)
	}
	ns := e.Recv.WaitNotifications(t, "pay_fail", "declined", func(ns []core.Notification) bool { return len(ns) > 0 })
	if ns[0].Outcome != core.OutcomeDeclined || ns[0].DeclineCode != core.CodeProcessingError || ns[0].DeclineMessage != "balance frozen" {
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
		if _, err := e.Ctl.Pay(ctx, core.ChannelAlipay, "pay_void"); err == nil {
			t.Fatal("the payer paid a closed trade")
		}
		if r, err := e.GW.Void(ctx, core.VoidRequest{Key: core.VoidKey("pay_nope"), PaymentID: "pay_nope"}); err != nil || r.OK {
			t.Fatalf("void of an unknown trade: %+v %v", r, err)
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
		if _, err := e.Ctl.Pay(ctx, core.ChannelAlipay, "pay_exp"); err == nil {
			t.Fatal("the payer paid an expired trade")
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
			lines, err := e.GW.Statement(ctx, core.ChannelAlipay, tc.day)
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
	for _, want := range []string{"alipay: invalid config", "BaseURL is required", "AppID is required", "NotifyURL is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("New(Config{}): %v; want it to say %q", err, want)
		}
	}
}

// A refund whose outcome is unknown and which Alipay did not execute stays unknown: the
// refund query finds nothing, and nothing was refunded.
func TestUnexecutedRefundStaysUnknown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const id = "pay_refund_unknown"
	e.Authorize(t, id, 800)
	e.Pay(t, id)
	if err := e.Ctl.SetFaults(ctx, core.ChannelAlipay, netsim.Faults{Errors: 1}); err != nil {
		t.Fatal(err)
	}
	if r, err := e.GW.Refund(ctx, refundReq(id, "re_unknown", 300)); err == nil || errors.Is(err, core.ErrNotExecuted) || r.OK {
		t.Fatalf("refund answered 500: %+v %v; want an unknown outcome", r, err)
	}
	if c := e.Charges(t, id); c.Refunds != 0 {
		t.Fatalf("refunded: %+v", c)
	}
	if st, err := e.GW.RefundStatus(ctx, id, "re_unknown", "CNY"); err != nil || st.OK {
		t.Fatalf("refund query: %+v %v", st, err)
	}
}

// The bill is unquoted CSV: a subject with commas still parses.
func TestBillWithCommasInTheSubject(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const id = "pay_commas"
	req := authReq(id, 1250)
	req.Reference = "cups, saucers, teapot"
	if res, err := e.GW.Authorize(ctx, req); err != nil || res.Outcome != core.OutcomeActionRequired {
		t.Fatalf("authorize: %+v %v", res, err)
	}
	e.Pay(t, id)
	lines, err := e.GW.Statement(ctx, core.ChannelAlipay, e.Clock.Now())
	if err != nil || len(lines) != 1 || lines[0].PaymentID != id || lines[0].Amount != 1250 || lines[0].Kind != "charge" {
		t.Fatalf("bill: %+v %v", lines, err)
	}
}
