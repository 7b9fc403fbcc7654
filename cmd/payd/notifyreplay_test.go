package main

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/channelauth/channeltest"
	"github.com/paycenter/paycenter/core/httpapi"
	"github.com/paycenter/paycenter/core/wechatpay"
)

// TestReplayedNotificationRefusedOnEveryNode: a genuine notification re-sent within the skew
// window is refused as a replay by the node that took it and by a node that never saw it (its
// own nonce cache is empty; the shared database remembers).
func TestReplayedNotificationRefusedOnEveryNode(t *testing.T) {
	channelKey := channeltest.ChannelKey()
	const keyID = "PUB_KEY_ID_0114232134912410000000000000000001"
	parser := func() httpapi.NotificationParser {
		wx, err := wechatpay.New(wechatpay.Config{MerchantID: "1900000109", MerchantSerialNo: "3775B6A45ACD588826D15E583A95F5DD2C0AF9EC",
			APIv3Key: channeltest.APIv3Key, PublicKeyID: keyID, BaseConfig: channelauth.BaseConfig{BaseURL: "http://127.0.0.1:1",
				PrivateKey: channeltest.MerchantKey(), ChannelPublicKey: &channelKey.PublicKey, NotifyURL: "http://127.0.0.1:1/v1/notifications/wechat_pay"}})
		if err != nil {
			t.Fatal(err)
		}
		return wx.ParseNotification
	}
	a := newEnvWith(t, envOptions{notifications: map[core.Channel]httpapi.NotificationParser{core.ChannelWeChatPay: parser()}})
	b := &env{t: t, db: a.db, sim: a.sim, clock: a.clock}
	b.start(envOptions{notifications: map[core.Channel]httpapi.NotificationParser{core.ChannelWeChatPay: parser()}})

	block, _ := aes.NewCipher([]byte(channeltest.APIv3Key))
	gcm, _ := cipher.NewGCM(block)
	data := `{"out_trade_no":"pay_us-east_nonexistent","transaction_id":"42","amount":{"total":100,"currency":"CNY"}}`
	ct := base64.StdEncoding.EncodeToString(gcm.Seal(nil, []byte("r3pl4yn0nc3x"), []byte(data), []byte("transaction")))
	body := `{"id":"evt-replay-1","event_type":"TRANSACTION.SUCCESS","resource_type":"encrypt-resource","resource":{"algorithm":"AEAD_AES_256_GCM",` +
		`"ciphertext":"` + ct + `","associated_data":"transaction","nonce":"r3pl4yn0nc3x","original_type":"transaction"}}`
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	nonce := channelauth.NewNonce()
	sig, err := channelauth.SignRSA(channelKey, channelauth.ResponseMessage(ts, nonce, []byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	header := http.Header{
		"Content-Type":        {"application/json"},
		"Wechatpay-Timestamp": {ts},
		"Wechatpay-Nonce":     {nonce},
		"Wechatpay-Serial":    {keyID},
		"Wechatpay-Signature": {sig},
	}
	a.expect(a.send("POST", "/v1/notifications/wechat_pay", header.Clone(), body), 200)
	for name, node := range map[string]*env{"another node": b, "the same node": a} {
		r := node.send("POST", "/v1/notifications/wechat_pay", header.Clone(), body)
		requireError(t, r, 401, core.CodeUnauthenticated, "")
		if !strings.Contains(r.str("error.message"), "replay") {
			t.Errorf("%s: the replay is refused for another reason: %s", name, r.Body)
		}
	}
	var n int
	if err := a.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM notification_nonces WHERE nonce = $1`, nonce).Scan(&n); err != nil || n != 1 {
		t.Fatalf("nonce rows: %d %v", n, err)
	}

	// Once past its expiry the nonce is reaped; the notification is then stale anyway.
	a.clock.Advance(11 * time.Minute)
	if got, err := a.svc.ReapNotificationNonces(t.Context()); err != nil || got != 1 {
		t.Fatalf("reaped %d, %v; want 1", got, err)
	}
}
