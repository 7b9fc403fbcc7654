package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/cardacq"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/channelauth/channeltest"
	"github.com/paycenter/paycenter/core/httpapi"
	"github.com/paycenter/paycenter/core/wechatpay"
)

// simEnv is a node whose WeChat Pay and card channels are the real adapters talking to a
// channel simulator over HTTP, with notifications arriving at the node's endpoint.
type simEnv struct {
	*env
	ctl  netsim.Control
	key  string // a merchant's secret key
	hits atomic.Int64
}

func newSimEnv(t *testing.T) *simEnv {
	t.Helper()
	priv := channeltest.MerchantKey()
	sim, err := netsim.NewServer(netsim.Config{PrivateKey: channeltest.ChannelKey(), Clients: map[string]*rsa.PublicKey{"*": &priv.PublicKey},
		APIv3Keys: map[string]string{"*": channeltest.APIv3Key}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	se := &simEnv{ctl: netsim.Control{BaseURL: sim.URL()}}
	// Notifications reach the node through this forwarder: the node's address is known only
	// once it runs, and the adapters need their notify URL before.
	var target atomic.Value
	fwd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		se.hits.Add(1)
		target.Load().(http.Handler).ServeHTTP(w, r)
	}))
	t.Cleanup(fwd.Close)
	wx, err := wechatpay.New(wechatpay.Config{MerchantID: "1900000109", MerchantSerialNo: "3775B6A45ACD588826D15E583A95F5DD2C0AF9EC",
		APIv3Key: channeltest.APIv3Key, BaseConfig: channelauth.BaseConfig{BaseURL: sim.URL(), PrivateKey: priv,
			NotifyURL: fwd.URL + "/v1/notifications/wechat_pay"}})
	if err != nil {
		t.Fatal(err)
	}
	card, err := cardacq.New(cardacq.Config{APIKey: "sk_test_sim", BackendURL: sim.URL(), TrustSearchMisses: true, MaxNetworkRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	se.env = newEnvWith(t, envOptions{
		gateway: func(*inprocsim.Channel) core.Gateway {
			return byChannel{core.ChannelWeChatPay: wx, core.ChannelCard: card, core.ChannelDebitCard: card}
		},
		notifications: map[core.Channel]httpapi.NotificationParser{core.ChannelWeChatPay: wx.ParseNotification},
	})
	target.Store(se.srv.Config.Handler)
	_, se.key = se.merchant("Acme")
	return se
}

func (se *simEnv) payment(t *testing.T, id string) *resp {
	t.Helper()
	return se.expect(se.call("GET", "/v1/payments/"+id, se.key, "", nil), 200)
}

// eventuallyWithin bounds eventually: generous, for -race on a busy 2-core machine; it
// costs nothing when the condition holds sooner.
const eventuallyWithin = 30 * time.Second

// eventually polls cond until it holds, for up to eventuallyWithin.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(eventuallyWithin)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, eventuallyWithin)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WeChat Pay end to end: the payer pays, the channel's signed notification reaches the node,
// duplicates and a stale out-of-order "closed" follow; the payment ends succeeded, once.
func TestWalletNotificationsEndToEnd(t *testing.T) {
	se := newSimEnv(t)
	ctx := context.Background()
	if err := se.ctl.SetFaults(ctx, core.ChannelWeChatPay, netsim.Faults{DuplicateNotifications: 2, StaleNotification: "closed"}); err != nil {
		t.Fatal(err)
	}
	p := se.expect(se.call("POST", "/v1/payments", se.key, newKey(), map[string]any{
		"amount": 6600, "currency": "cny", "channel": "wechat_pay", "merchant_reference": "wx-e2e"}), 200)
	id := p.str("id")
	if p.str("status") != "requires_action" || !strings.HasPrefix(p.str("next_action.qr_code"), "weixin://") {
		t.Fatalf("created: %s", p.Body)
	}
	if _, err := se.ctl.Pay(ctx, core.ChannelWeChatPay, id); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the payment succeeds through the notification", func() bool { return se.payment(t, id).str("status") == "succeeded" })
	// The simulator sends the original, then the two duplicates, then the stale "closed", one
	// after the other, each until the node acknowledges it. Once all four are acknowledged
	// none is left to land late.
	eventually(t, "the duplicates and the stale notification are delivered", func() bool {
		recs, err := se.ctl.Notifications(ctx)
		if err != nil {
			return false
		}
		acked := 0
		for _, r := range recs {
			if r.OutTradeNo != id {
				continue
			}
			if !r.Delivered {
				return false
			}
			acked++
		}
		return acked >= 4
	})
	got := se.payment(t, id)
	if got.str("status") != "succeeded" || got.num("amount_captured") != 6600 {
		t.Fatalf("final state: %s", got.Body)
	}
	var events, applied int
	if err := se.db.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox_events WHERE object_id = $1 AND type = 'payment.succeeded'`, id).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if err := se.db.Pool.QueryRow(ctx, `SELECT count(*) FROM channel_events WHERE payment_id = $1 AND applied`, id).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	if events != 1 || applied != 1 {
		t.Fatalf("%d payment.succeeded events and %d applied notifications, want 1 and 1", events, applied)
	}
	se.requireBalancedLedger()
}

// A forged notification (not signed by the channel) is refused and changes nothing.
func TestForgedNotificationIsRefused(t *testing.T) {
	se := newSimEnv(t)
	p := se.expect(se.call("POST", "/v1/payments", se.key, newKey(), map[string]any{
		"amount": 500, "currency": "cny", "channel": "wechat_pay", "merchant_reference": "wx-forged"}), 200)
	body := `{"id":"evt-forged","event_type":"TRANSACTION.SUCCESS","resource":{"out_trade_no":"` + p.str("id") + `","trade_state":"SUCCESS","amount":{"total":500,"currency":"CNY"}}}`
	req, _ := http.NewRequest("POST", se.srv.URL+"/v1/notifications/wechat_pay", strings.NewReader(body))
	req.Header.Set("Wechatpay-Timestamp", time.Now().Format("20060102150405"))
	req.Header.Set("Wechatpay-Nonce", "n0nce")
	req.Header.Set("Wechatpay-Serial", "FAKE")
	req.Header.Set("Wechatpay-Signature", "Zm9yZ2Vk")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("forged notification answered %d, want 401", res.StatusCode)
	}
	if got := se.payment(t, p.str("id")); got.str("status") != "requires_action" {
		t.Fatalf("a forged notification changed the payment: %s", got.Body)
	}
	if n := se.count("channel_events"); n != 0 {
		t.Fatalf("a forged notification was recorded (%d rows)", n)
	}
}

// "Charged, but the response was lost" at a real channel protocol: the payment waits in
// processing (202); the recovery worker asks the channel and finishes it; the merchant's
// retry gets the same result; the channel charged exactly once.
func TestLostCardResponseRecoveredAtTheChannel(t *testing.T) {
	se := newSimEnv(t)
	ctx := context.Background()
	// The charge executes, then a proxy in front of the channel answers 502.
	if err := se.ctl.SetFaults(ctx, core.ChannelCard, netsim.Faults{LostResponses: 1, LostResponseMode: netsim.LoseWith502}); err != nil {
		t.Fatal(err)
	}
	idem := newKey()
	body := cardPayment("lost-card", 2500, visaOK, core.CaptureAutomatic)
	first := se.expect(se.call("POST", "/v1/payments", se.key, idem, body), 202)
	id := first.str("id")
	if first.str("status") != "processing" {
		t.Fatalf("after a lost response: %s", first.Body)
	}
	se.clock.Advance(2 * time.Minute)
	st, err := se.svc.Recover(ctx, se.svc.Gateway().(core.Querier), recovery)
	if err != nil || st.Resolved != 1 {
		t.Fatalf("recovery: %+v %v", st, err)
	}
	done := se.payment(t, id)
	if done.str("status") != "succeeded" || done.num("amount_captured") != 2500 {
		t.Fatalf("after recovery: %s", done.Body)
	}
	retry := se.expect(se.call("POST", "/v1/payments", se.key, idem, body), 200)
	again := se.expect(se.call("POST", "/v1/payments", se.key, idem, body), 200)
	if retry.str("id") != id || retry.str("status") != "succeeded" || again.Header.Get("Idempotent-Replayed") != "true" || string(again.Body) != string(retry.Body) {
		t.Fatalf("retries: %s / %s", retry.Body, again.Body)
	}
	charges, err := se.ctl.Charges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pc := charges.Payments[id]; pc == nil || pc.Charges != 1 || pc.AmountCharged != 2500 {
		t.Fatalf("channel charges: %+v, want one of 2500", pc)
	}
	se.requireBalancedLedger()
}

// A second card acquirer takes cards once the first's breaker is open (the first certainly
// does nothing then); until then the first's failures are unknown outcomes, never failed
// over. Later calls for a payment go to the acquirer that authorised it.
func TestCardFailoverToSecondAcquirer(t *testing.T) {
	ctx := context.Background()
	start := func() *netsim.Server {
		sim, err := netsim.NewServer(netsim.Config{PrivateKey: channeltest.ChannelKey()})
		if err != nil {
			t.Fatal(err)
		}
		if err := sim.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sim.Close() })
		return sim
	}
	first, second := start(), start()
	if err := (netsim.Control{BaseURL: first.URL()}).SetFaults(ctx, core.ChannelCard, netsim.Faults{Outage: true}); err != nil {
		t.Fatal(err)
	}
	m := &Main{Config: Config{Region: testRegion, Channels: ChannelsLive, CardAcquirerKey: "sk_test_1", CardAcquirerURL: first.URL(),
		CardAcquirer2Key: "sk_test_2", CardAcquirer2URL: second.URL()}, Log: quietLog()}
	routes, _, err := m.channelGateways()
	if err != nil {
		t.Fatal(err)
	}
	// Without -channel-config, WeChat Pay serves only merchants with accounts of their own;
	// the bank, which has no default URL, nobody.
	if wx, ok := routes[core.ChannelWeChatPay].(*merchantChannel); !ok || wx.platform != nil {
		t.Fatalf("-channels live routed WeChat Pay to %T, want merchants' own accounts only", routes[core.ChannelWeChatPay])
	}
	if _, ok := routes[core.ChannelBankTransfer]; ok {
		t.Fatal("-channels live routed the bank without a bank URL")
	}
	card := routes[core.ChannelCard]
	req := func(i int) core.AuthorizeRequest {
		id := fmt.Sprintf("pay_us-east_failover%02d", i)
		return core.AuthorizeRequest{Key: core.AuthorizeKey(id), PaymentID: id, Channel: core.ChannelCard, Amount: 1000, Currency: "USD",
			Capture: false, Card: &core.CardData{Number: visaOK, ExpMonth: 12, ExpYear: time.Now().Year() + 2}}
	}
	var moved int
	var res core.AuthorizeResult
	for i := 0; i < 30; i++ {
		res, err = card.Authorize(ctx, req(i))
		if err == nil {
			moved = i
			break
		}
		if errors.Is(err, core.ErrNotExecuted) {
			t.Fatalf("call %d: the failover itself refused: %v", i, err)
		}
	}
	if err != nil || res.Outcome != core.OutcomeAuthorized || !strings.HasPrefix(res.Reference, "acq2") {
		t.Fatalf("after the breaker opened: %+v %v", res, err)
	}
	t.Logf("the first %d authorisations failed at the first acquirer (unknown outcome); then cards moved to the second", moved)
	cap, err := card.Capture(ctx, core.CaptureRequest{Key: core.CaptureKey(req(moved).PaymentID), PaymentID: req(moved).PaymentID,
		Channel: core.ChannelCard, Reference: res.Reference, Amount: 600, Currency: "USD"})
	if err != nil || !cap.OK {
		t.Fatalf("capture at the acquirer that authorised: %+v %v", cap, err)
	}
	charges, _ := netsim.Control{BaseURL: second.URL()}.Charges(ctx)
	if pc := charges.Payments[req(moved).PaymentID]; pc == nil || pc.Charges != 1 {
		t.Fatalf("second acquirer's charges: %+v", pc)
	}
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// payd serves no payment without an explicit channel configuration, and refuses the
// combinations that would send money somewhere other than the operator meant.
func TestChannelsMustBeExplicit(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"none", Config{}, "-channels is required"},
		{"unknown", Config{Channels: "stripe"}, `-channels "stripe"`},
		{"sim with a simulator URL", Config{Channels: ChannelsSim, ChannelSimURL: "http://127.0.0.1:1"}, "takes no -channelsim-url"},
		{"channelsim without its URL", Config{Channels: ChannelsChannelSim}, "needs -channelsim-url"},
		{"live without an adapter", Config{Channels: ChannelsLive}, "needs at least one real adapter"},
		{"live with a simulator URL", Config{Channels: ChannelsLive, ChannelSimURL: "http://127.0.0.1:1", CardAcquirerKey: "sk"}, "takes no -channelsim-url"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &Main{Config: tc.cfg, Log: quietLog()}
			if _, _, err := m.channelGateways(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
			if m.Channel != nil {
				t.Fatal("an in-process simulator was made")
			}
		})
	}
	m := &Main{Config: Config{Channels: ChannelsSim}, Log: quietLog()}
	routes, _, err := m.channelGateways()
	if err != nil || m.Channel == nil || len(routes) != len(core.Channels) {
		t.Fatalf("-channels sim: %d routes, simulator %v, %v", len(routes), m.Channel != nil, err)
	}
}

// Notifications that are tampered with, signed under a wrong serial, too old, or replayed
// are refused with 401 at the node and change nothing; the same notification, genuine, is
// applied once.
func TestBadWeChatPayNotificationsChangeNothing(t *testing.T) {
	se := newSimEnv(t)
	p := se.expect(se.call("POST", "/v1/payments", se.key, newKey(), map[string]any{
		"amount": 700, "currency": "cny", "channel": "wechat_pay", "merchant_reference": "wx-bad"}), 200)
	id := p.str("id")
	var info netsim.PublicKeyInfo
	res, err := http.Get(se.ctl.BaseURL + "/sim/public-key")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(res.Body).Decode(&info)
	res.Body.Close()

	block, _ := aes.NewCipher([]byte(channeltest.APIv3Key))
	gcm, _ := cipher.NewGCM(block)
	data := `{"mchid":"1900000109","out_trade_no":"` + id + `","transaction_id":"4200000001","trade_type":"NATIVE","trade_state":"SUCCESS",` +
		`"success_time":"` + time.Now().Format(time.RFC3339) + `","amount":{"total":700,"payer_total":700,"currency":"CNY"}}`
	body := `{"id":"EV-bad-1","create_time":"` + time.Now().Format(time.RFC3339) + `","event_type":"TRANSACTION.SUCCESS","resource_type":"encrypt-resource",` +
		`"resource":{"algorithm":"AEAD_AES_256_GCM","ciphertext":"` + base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte("b4dn0t1f1c4t"), []byte(data), []byte("transaction"))) +
		`","associated_data":"transaction","nonce":"b4dn0t1f1c4t","original_type":"transaction"}}`
	send := func(ts time.Time, nonce, serial, signed, sent string) int {
		tss := fmt.Sprint(ts.Unix())
		sig, err := channelauth.SignRSA(channeltest.ChannelKey(), channelauth.ResponseMessage(tss, nonce, []byte(signed)))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", se.srv.URL+"/v1/notifications/wechat_pay", strings.NewReader(sent))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Wechatpay-Timestamp", tss)
		req.Header.Set("Wechatpay-Nonce", nonce)
		req.Header.Set("Wechatpay-Serial", serial)
		req.Header.Set("Wechatpay-Signature", sig)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	tampered := strings.Replace(body, `"EV-bad-1"`, `"EV-bad-2"`, 1)
	for name, status := range map[string]int{
		"tampered":          send(time.Now(), channelauth.NewNonce(), info.CertificateSerial, body, tampered),
		"wrong serial":      send(time.Now(), channelauth.NewNonce(), "5157F09EFDC096DE15EBE81A47057A7232F1B8E1", body, body),
		"expired timestamp": send(time.Now().Add(-6*time.Minute), channelauth.NewNonce(), info.CertificateSerial, body, body),
	} {
		if status != 401 {
			t.Errorf("%s: answered %d, want 401", name, status)
		}
	}
	if got := se.payment(t, id); got.str("status") != "requires_action" || se.count("channel_events") != 0 {
		t.Fatalf("refused notifications changed something: %s, %d events", got.Body, se.count("channel_events"))
	}
	nonce := channelauth.NewNonce()
	if status := send(time.Now(), nonce, info.CertificateSerial, body, body); status != 200 {
		t.Fatalf("the genuine notification answered %d", status)
	}
	if status := send(time.Now(), nonce, info.CertificateSerial, body, body); status != 401 {
		t.Fatalf("its replay answered %d, want 401", status)
	}
	if got := se.payment(t, id); got.str("status") != "succeeded" || se.count("channel_events") != 1 {
		t.Fatalf("after the genuine notification and its replay: %s, %d events", got.Body, se.count("channel_events"))
	}
	se.requireBalancedLedger()
}
