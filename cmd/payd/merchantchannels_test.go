package main

import (
	"context"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/inprocsim"
	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/channelauth/channeltest"
	"github.com/paycenter/paycenter/core/httpapi"
)

// A merchant with its own WeChat Pay account: its credentials are checked when stored (400
// naming the field, nothing stored), its orders are signed with its key under its mchid,
// its notifications come to ?merchant=<id> and decrypt only with its APIv3 key, and its
// refunds go to its account; a merchant without credentials stays on the platform's; a
// sub-merchant (sub_mchid alone) is served by the platform's account as its service
// provider, over the partner endpoints.
func TestMerchantsOwnWeChatPayAccount(t *testing.T) {
	ctx := context.Background()
	const (
		platformMchID = "1900000109"
		ownMchID      = "1230000109"
		ownAPIv3Key   = "merchantOwnAPIv3Key32bytes000000"
	)
	platformKey, ownKey := channeltest.MerchantKey(), channeltest.OtherKey()
	// No "*": each mchid is accepted with its own key and APIv3 key only.
	sim, err := netsim.NewServer(netsim.Config{PrivateKey: channeltest.ChannelKey(),
		Clients:   map[string]*rsa.PublicKey{platformMchID: &platformKey.PublicKey, ownMchID: &ownKey.PublicKey},
		APIv3Keys: map[string]string{platformMchID: channeltest.APIv3Key, ownMchID: ownAPIv3Key}})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	ctl := netsim.Control{BaseURL: sim.URL()}
	var target atomic.Value
	fwd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { target.Load().(http.Handler).ServeHTTP(w, r) }))
	t.Cleanup(fwd.Close)

	pemOf := func(k *rsa.PrivateKey) string {
		b, _ := channelauth.MarshalPrivateKeyPEM(k)
		return string(b)
	}
	notify := fwd.URL + "/v1/notifications/wechat_pay"
	platformCreds := map[string]string{"mchid": platformMchID, "serial_no": "3775B6A45ACD588826D15E583A95F5DD2C0AF9EC",
		"private_key": pemOf(platformKey), "apiv3_key": channeltest.APIv3Key}
	platform, err := buildAdapter(core.ChannelWeChatPay, channelAccount{BaseURL: sim.URL(), Credentials: platformCreds}, notify)
	if err != nil {
		t.Fatal(err)
	}
	var e *env
	router := newMerchantChannel(core.ChannelWeChatPay, platform, sim.URL(), notify, func() merchantStore { return e.svc })
	router.platformAccount = &channelAccount{BaseURL: sim.URL(), Credentials: platformCreds}
	var later atomic.Int64 // moves the router's clock past its credentials cache
	router.now = func() time.Time { return time.Now().Add(time.Duration(later.Load())) }
	e = newEnvWith(t, envOptions{
		gateway:       func(*inprocsim.Channel) core.Gateway { return byChannel{core.ChannelWeChatPay: router} },
		notifications: map[core.Channel]httpapi.NotificationParser{core.ChannelWeChatPay: router.ParseNotification},
		api:           func(c *httpapi.Config) { c.Gateway = checkedChannels{c.Gateway} },
	})
	target.Store(e.srv.Config.Handler)
	ownID, ownSecret := e.merchant("Own account")
	_, platformSecret := e.merchant("Platform account")
	subID, subSecret := e.merchant("Sub-merchant")
	// A sub-merchant of the platform as service provider (服务商): its sub_mchid alone.
	e.expect(e.call("POST", "/v1/admin/merchants/"+subID+"/channels/wechat_pay", testAdminToken, "",
		map[string]any{"enabled": true, "credentials": map[string]string{"sub_mchid": "1900000201"}}), 200)
	requireError(t, e.call("POST", "/v1/admin/merchants/"+subID+"/channels/wechat_pay", testAdminToken, "",
		map[string]any{"enabled": true, "credentials": map[string]string{"sub_mchid": "12x"}}), 400, core.CodeParameterInvalid, "credentials[sub_mchid]")

	creds := map[string]string{"mchid": ownMchID, "serial_no": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
		"private_key": pemOf(ownKey), "apiv3_key": ownAPIv3Key}
	t.Run("malformed credentials are refused, naming the field", func(t *testing.T) {
		for field, bad := range map[string]map[string]string{
			"credentials[apiv3_key]":   with(creds, "apiv3_key", "too short"),
			"credentials[private_key]": with(creds, "private_key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
			"credentials[mchid]":       with(creds, "mchid", ""),
			"credentials[environment]": with(creds, "environment", "sandbox"),
			"credentials[api_key]":     with(creds, "api_key", "v2 keys are not v3"),
		} {
			r := e.call("POST", "/v1/admin/merchants/"+ownID+"/channels/wechat_pay", testAdminToken, "", map[string]any{"enabled": true, "credentials": bad})
			code := core.CodeParameterInvalid
			if field == "credentials[mchid]" {
				code = core.CodeParameterMissing
			}
			requireError(t, r, 400, code, field)
		}
		if got, err := e.svc.ChannelCredentials(ctx, ownID, core.ChannelWeChatPay); err != nil || got != nil {
			t.Fatalf("refused credentials were stored: %v %v", got, err)
		}
	})
	e.expect(e.call("POST", "/v1/admin/merchants/"+ownID+"/channels/wechat_pay", testAdminToken, "", map[string]any{"enabled": true, "credentials": creds}), 200)

	pay := func(secret, ref string) string {
		p := e.expect(e.call("POST", "/v1/payments", secret, newKey(), map[string]any{
			"amount": 4200, "currency": "cny", "channel": "wechat_pay", "merchant_reference": ref}), 200)
		if p.str("status") != "requires_action" {
			t.Fatalf("created: %s", p.Body)
		}
		id := p.str("id")
		if _, err := ctl.Pay(ctx, core.ChannelWeChatPay, id); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the payment succeeds through the notification", func() bool {
			return e.expect(e.call("GET", "/v1/payments/"+id, secret, "", nil), 200).str("status") == "succeeded"
		})
		return id
	}
	ownPay, platformPay, subPay := pay(ownSecret, "own-1"), pay(platformSecret, "platform-1"), pay(subSecret, "sub-1")
	for id, want := range map[string][2]string{ownPay: {ownMchID, ""}, platformPay: {platformMchID, ""}, subPay: {platformMchID, "1900000201"}} {
		o, err := ctl.Order(ctx, core.ChannelWeChatPay, id)
		if err != nil || o.Client != want[0] || o.SubMerchant != want[1] {
			t.Fatalf("order %s: %+v %v, want mchid %s sub_mchid %q", id, o, err, want[0], want[1])
		}
	}
	recs, err := ctl.Notifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		wantMerchant := r.OutTradeNo == ownPay || r.OutTradeNo == subPay
		if strings.Contains(r.URL, "?merchant=") != wantMerchant || (r.OutTradeNo == ownPay && !strings.Contains(r.URL, ownID)) {
			t.Errorf("notification of %s went to %s", r.OutTradeNo, r.URL)
		}
	}
	// The merchant moves to another account: its payment's refund still goes to the account
	// the payment was made on (the new mchid is unknown to the channel and would be refused).
	e.expect(e.call("POST", "/v1/admin/merchants/"+ownID+"/channels/wechat_pay", testAdminToken, "",
		map[string]any{"enabled": true, "credentials": with(creds, "mchid", "1230000999")}), 200)
	later.Store(int64(2 * credentialsTTL))
	r := e.expect(e.call("POST", "/v1/refunds", ownSecret, newKey(), map[string]any{"payment": ownPay, "amount": 1200}), 200)
	if r.str("status") != "succeeded" {
		t.Fatalf("refund on the account the payment was made on: %s", r.Body)
	}
	if n := e.count("payment_channel_accounts"); n != 3 {
		t.Fatalf("%d payments' channel accounts recorded, want 3", n)
	}
	charges, err := ctl.Charges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := charges.Payments[ownPay]; c == nil || c.Charges != 1 || c.AmountRefunded != 1200 {
		t.Fatalf("charges of the own-account payment: %+v", c)
	}
	if c := charges.Payments[platformPay]; c == nil || c.Charges != 1 {
		t.Fatalf("charges of the platform-account payment: %+v", c)
	}
	e.requireBalancedLedger()
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{}
	for a, b := range m {
		out[a] = b
	}
	if v == "" {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}
