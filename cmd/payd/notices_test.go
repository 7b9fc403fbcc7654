package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/notify"
	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/core/webhook"
	"github.com/paycenter/paycenter/internal/mailpittest"
)

// fanOut runs the webhook fan-out once, which makes the payer notices of new events.
func (e *env) fanOut() {
	e.t.Helper()
	sender := webhook.NewSender(webhook.SenderConfig{AllowPrivate: true})
	e.t.Cleanup(sender.Close)
	d, err := postgres.NewWebhookDeliverer(e.svc, postgres.WebhookConfig{Sender: sender})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := d.Round(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	d.Wait()
}

func (e *env) notices(where string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM payer_notices WHERE `+where, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func customerPayment(ref, cus string, amount int64) map[string]any {
	p := cardPayment(ref, amount, visaOK, core.CaptureAutomatic)
	p["customer"] = map[string]any{"id": cus}
	return p
}

// A payment-result email arrives at the SMTP server once per event, in the customer's
// language; a node that dies between the send and its record does not lose it, and the
// send repeated by another node after the claim's lease is not a second email: the notice's
// Message-ID is the same, and the server drops duplicates.
func TestPaymentResultEmailOnceAcrossNodeDeath(t *testing.T) {
	mp := mailpittest.Start(t)
	e := newEnv(t)
	_, key := e.merchant("Acme")
	cus := e.customer(key, map[string]any{"email": "payer@example.com", "language": "zh"})
	pay := e.expect(e.call("POST", "/v1/payments", key, newKey(), customerPayment("o-1", cus, 12345)), 200)
	e.fanOut()
	e.fanOut() // a second fan-out finds nothing new: one notice per event and channel
	if n := e.notices(`customer_id = $1`, cus); n != 1 {
		t.Fatalf("%d notices, want 1 (email; the customer has no phone)", n)
	}
	smtp := &notify.SMTP{Addr: mp.SMTPAddr, From: "notices@paycenter.test", TLS: "none"}
	dies := postgres.NewPayerNotifier(e.svc, postgres.NotifierConfig{Senders: map[string]notify.Sender{notify.ChannelEmail: smtp},
		Claim: time.Minute, AfterSend: func(string) error { return errors.New("node killed after the send") }})
	if _, err := dies.Round(t.Context()); err == nil {
		t.Fatal("the dying round reported no error")
	}
	msgs, err := mp.Messages(t.Context())
	if err != nil || len(msgs) != 1 {
		t.Fatalf("%d messages after the first send (err %v), want 1", len(msgs), err)
	}
	if !strings.Contains(msgs[0].Subject, "支付成功") || !strings.Contains(msgs[0].Subject, "123.45 USD") || msgs[0].To[0].Address != "payer@example.com" {
		t.Fatalf("message: %+v", msgs[0])
	}
	// Still claimed: another node does not send it before the lease ends.
	other := e.secondNode()
	survivor := postgres.NewPayerNotifier(other.svc, postgres.NotifierConfig{Senders: map[string]notify.Sender{notify.ChannelEmail: smtp}, Claim: time.Minute})
	if n, err := survivor.Round(t.Context()); err != nil || n != 0 {
		t.Fatalf("round within the lease sent %d (err %v), want 0", n, err)
	}
	e.clock.Advance(61 * time.Second)
	if n, err := survivor.Round(t.Context()); err != nil || n != 1 {
		t.Fatalf("round after the lease sent %d (err %v), want 1", n, err)
	}
	// The SMTP transaction has ended: the server has kept or dropped the message.
	msgs, err = mp.Messages(t.Context())
	if err != nil || len(msgs) != 1 {
		t.Fatalf("%d messages after the repeated send (err %v), want 1", len(msgs), err)
	}
	if !strings.Contains(msgs[0].Snippet, pay.str("id")) || !strings.HasSuffix(msgs[0].MessageID, ".payment_succeeded.email@notices.paycenter") {
		t.Fatalf("message %+v: want the payment's ID in it and the notice's Message-ID", msgs[0])
	}
	list := e.expect(e.call("GET", "/v1/customers/"+cus+"/notifications", key, "", nil), 200)
	data, _ := list.get("data").([]any)
	if len(data) != 1 {
		t.Fatalf("notifications: %s", list.Body)
	}
	n := data[0].(map[string]any)
	if n["status"] != "sent" || n["attempts"].(float64) != 2 || n["channel"] != "email" || n["template"] != "payment_succeeded" {
		t.Fatalf("notification: %s", list.Body)
	}
}

// A balance crossing the threshold sends one reminder; oscillating around it sends no more
// until it has risen back to the threshold; then the next crossing reminds again. SMS goes
// through the HTTP provider, once per notice (its Idempotency-Key), and an opt-out is honoured.
func TestLowBalanceReminderRearms(t *testing.T) {
	var mu sync.Mutex
	sms := map[string]string{} // Idempotency-Key → body
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m struct{ To, Body string }
		if err := json.Unmarshal(b, &m); err != nil || m.To == "" {
			http.Error(w, "bad message", 400)
			return
		}
		mu.Lock()
		sms[r.Header.Get("Idempotency-Key")] = m.Body
		mu.Unlock()
	}))
	t.Cleanup(provider.Close)
	e := newEnv(t)
	_, key := e.merchant("Acme")
	cus := e.customer(key, map[string]any{"phone": "+8613800138000", "language": "en", "low_balance_threshold": map[string]any{"cny": 50}})
	optedOut := e.customer(key, map[string]any{"phone": "+8613800138001", "sms_opt_out": true, "low_balance_threshold": map[string]any{"cny": 50}})
	for _, c := range []string{cus, optedOut} {
		e.expect(e.call("POST", "/v1/customers/"+c+"/top_ups", key, newKey(), cardTopUp(100)), 200)
	}
	i := 0
	pay := func(c string, amount int64) {
		i++
		e.expect(e.call("POST", "/v1/payments", key, newKey(), walletPayment(c, "lb-"+string(rune('a'+i)), amount)), 200)
	}
	topUp := func(c string, amount int64) {
		e.expect(e.call("POST", "/v1/customers/"+c+"/top_ups", key, newKey(), cardTopUp(amount)), 200)
	}
	reminders := func() int { return e.notices(`customer_id = $1 AND template = 'low_balance'`, cus) }
	pay(cus, 30) // 70
	if n := reminders(); n != 0 {
		t.Fatalf("%d reminders at 70 (threshold 50)", n)
	}
	pay(cus, 30) // 40: crosses
	pay(cus, 10) // 30
	topUp(cus, 10)
	pay(cus, 5) // 35: still below, not re-armed
	if n := reminders(); n != 1 {
		t.Fatalf("%d reminders after oscillating below the threshold, want 1", n)
	}
	topUp(cus, 20) // 55: re-armed
	pay(cus, 10)   // 45: crosses again
	if n := reminders(); n != 2 {
		t.Fatalf("%d reminders after rising above and crossing again, want 2", n)
	}
	pay(optedOut, 60) // 40, but no SMS for a customer who opted out
	if n := e.notices(`customer_id = $1`, optedOut); n != 0 {
		t.Fatalf("%d notices for the opted-out customer, want 0", n)
	}
	e.fanOut() // top-up receipts and payment results by SMS too
	notifier := postgres.NewPayerNotifier(e.svc, postgres.NotifierConfig{
		Senders: map[string]notify.Sender{notify.ChannelSMS: &notify.SMS{Provider: &notify.HTTPSMS{URL: provider.URL}}}})
	if _, err := notifier.Round(t.Context()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	low := 0
	for _, body := range sms {
		if strings.Contains(body, "below 0.50 CNY") {
			low++
		}
	}
	if want := e.notices(`customer_id = $1 AND status = 'sent'`, cus); len(sms) != want || low != 2 {
		t.Fatalf("%d SMS (%d low-balance reminders) for %d sent notices, want equal and 2: %v", len(sms), low, want, sms)
	}
	if n := e.notices(`customer_id = $1 AND status <> 'sent'`, cus); n != 0 {
		t.Fatalf("%d notices not sent", n)
	}
}

// Templates preview in both languages; an unknown one is 404 naming the param.
func TestNoticeTemplatePreview(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	r := e.expect(e.call("POST", "/v1/notification_templates/top_up_receipt/preview", key, "", map[string]any{"language": "zh"}), 200)
	if !strings.Contains(r.str("subject"), "充值成功") || !strings.Contains(r.str("body"), "123.45 CNY") {
		t.Fatalf("preview: %s", r.Body)
	}
	r = e.call("POST", "/v1/notification_templates/nope/preview", key, "", map[string]any{})
	if r.Status != 404 || r.str("error.param") != "name" {
		t.Fatalf("unknown template: %d %s", r.Status, r.Body)
	}
}
