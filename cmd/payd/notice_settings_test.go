package main

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core/notify"
	"github.com/paycenter/paycenter/core/postgres"
	waitfor "github.com/paycenter/paycenter/internal/eventually"
	"github.com/paycenter/paycenter/internal/mailpittest"
)

// sendEmails runs one notifier round that emails through mp and returns how many it sent.
func (e *env) sendEmails(mp *mailpittest.Server) int {
	e.t.Helper()
	n := postgres.NewPayerNotifier(e.svc, postgres.NotifierConfig{Senders: map[string]notify.Sender{
		notify.ChannelEmail: &notify.SMTP{Addr: mp.SMTPAddr, From: "notices@paycenter.test", TLS: "none"}}})
	sent, err := n.Round(e.t.Context())
	if err != nil {
		e.t.Fatal(err)
	}
	return sent
}

// messageBySubject finds the one message of mp whose subject holds s, whole.
func messageBySubject(t *testing.T, mp *mailpittest.Server, s string) *mailpittest.Detail {
	t.Helper()
	msgs, err := mp.Messages(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var found []mailpittest.Message
	for _, m := range msgs {
		if strings.Contains(m.Subject, s) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d messages with %q in the subject, want 1: %+v", len(found), s, msgs)
	}
	d, err := mp.Message(t.Context(), found[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// A merchant's notification settings: validated (400 naming the field, nothing written),
// audited, and obeyed: a notice switched off is not made (nor sent if switched off after it
// was made), the merchant's default threshold and language apply to customers without their
// own, the emails carry its sender name and Reply-To. The email is multipart/alternative and
// the HTML part escapes the customer's name.
func TestNotificationSettingsObeyed(t *testing.T) {
	mp := mailpittest.Start(t)
	e := newEnv(t)
	_, key := e.merchant("Acme")
	r := e.expect(e.call("GET", "/v1/notification_settings", key, "", nil), 200)
	if r.get("notices.payment_succeeded.email") != true || r.get("notices.top_up_reminder.sms") != true ||
		r.str("default_language") != "en" || r.get("top_up_reminder") != nil {
		t.Fatalf("defaults: %s", r.Body)
	}
	for _, tc := range []struct {
		body  map[string]any
		param string
	}{
		{map[string]any{"notices": map[string]any{"verification_code": map[string]any{"sms": false}}}, "notices"},
		{map[string]any{"notices": map[string]any{"low_balance": map[string]any{"fax": true}}}, "notices.low_balance"},
		{map[string]any{"low_balance_threshold": map[string]any{"cny": -1}}, "low_balance_threshold"},
		{map[string]any{"reply_to": "help.acme.example"}, "reply_to"},
		{map[string]any{"sender_name": "Acme\r\nBcc: all@example.com"}, "sender_name"},
		{map[string]any{"default_language": "fr"}, "default_language"},
		{map[string]any{"top_up_reminder": map[string]any{"interval_days": -1}}, "top_up_reminder.interval_days"},
		{map[string]any{"top_up_reminder": map[string]any{"interval_days": 7, "below": map[string]any{"zzz": 1}}}, "top_up_reminder.below"},
		{map[string]any{"sender": "Acme"}, "sender"},
	} {
		r := e.call("POST", "/v1/notification_settings", key, "", tc.body)
		if r.Status != 400 || r.str("error.param") != tc.param {
			t.Errorf("%v: %d %s, want 400 on %s", tc.body, r.Status, r.Body, tc.param)
		}
	}
	if n := e.count("notification_settings"); n != 0 {
		t.Fatalf("bad settings wrote %d rows", n)
	}
	r = e.expect(e.call("POST", "/v1/notification_settings", key, "", map[string]any{
		"notices":               map[string]any{"payment_succeeded": map[string]any{"email": false}},
		"low_balance_threshold": map[string]any{"cny": 5000}, "sender_name": "Acme Shop", "reply_to": "help@acme.example",
		"default_language": "zh"}), 200)
	if r.get("notices.payment_succeeded.email") != false || r.get("notices.payment_succeeded.sms") != true || r.num("low_balance_threshold.CNY") != 5000 {
		t.Fatalf("settings: %s", r.Body)
	}
	if n := e.count("merchant_ops_events WHERE action = 'notification_settings.set'"); n != 1 {
		t.Fatalf("%d audit entries, want 1", n)
	}
	name := `<script>alert("x")</script>`
	cr := e.expect(e.call("POST", "/v1/customers", key, "", map[string]any{"email": "payer@example.com", "name": name}), 200)
	cus := cr.str("id")
	if cr.str("language") != "zh" {
		t.Fatalf("a customer without a language: %s, want the merchant's default zh", cr.Body)
	}
	e.expect(e.call("POST", "/v1/customers/"+cus+"/top_ups", key, newKey(), cardTopUp(6000)), 200)
	e.expect(e.call("POST", "/v1/payments", key, newKey(), walletPayment(cus, "w-1", 2000)), 200) // 4000: below 5000
	e.fanOut()
	for tmpl, want := range map[string]int{"top_up_receipt": 1, "payment_succeeded": 0, "low_balance": 1} {
		if n := e.notices(`customer_id = $1 AND template = $2`, cus, tmpl); n != want {
			t.Errorf("%d %s notices, want %d", n, tmpl, want)
		}
	}
	// Switched off after the notice was made: not sent, shown as skipped.
	e.expect(e.call("POST", "/v1/notification_settings", key, "", map[string]any{
		"notices": map[string]any{"low_balance": map[string]any{"email": false}}}), 200)
	if n := e.sendEmails(mp); n != 1 {
		t.Fatalf("%d emails sent, want 1 (the top-up receipt)", n)
	}
	if n := e.notices(`customer_id = $1 AND template = 'low_balance' AND status = 'skipped'`, cus); n != 1 {
		t.Fatalf("the low-balance notice switched off is not skipped")
	}
	d := messageBySubject(t, mp, "充值成功")
	if d.From.Name != "Acme Shop" || d.From.Address != "notices@paycenter.test" || len(d.ReplyTo) != 1 || d.ReplyTo[0].Address != "help@acme.example" {
		t.Fatalf("sender %+v, reply-to %+v", d.From, d.ReplyTo)
	}
	if !strings.Contains(d.Text, "您的钱包已充值 60.00 CNY") || !strings.Contains(d.HTML, "<p>您的钱包已充值 60.00 CNY") ||
		!strings.Contains(d.HTML, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;，您好") || strings.Contains(d.HTML, "<script") {
		t.Fatalf("text %q\nhtml %q", d.Text, d.HTML)
	}
	raw, err := mp.Raw(t.Context(), d.ID)
	if err != nil || !strings.Contains(raw, "multipart/alternative") || !strings.Contains(raw, "text/plain") || !strings.Contains(raw, "text/html") {
		t.Fatalf("raw message (err %v): %s", err, raw)
	}
}

// A merchant's own template: checked at save (400 with the template's error, nothing kept),
// used by preview and by the emails, its HTML escaping what the data holds; DELETE returns to
// the shipped one. Other merchants and languages keep the shipped templates.
func TestNotificationTemplateOverride(t *testing.T) {
	mp := mailpittest.Start(t)
	e := newEnv(t)
	_, key := e.merchant("Acme")
	_, other := e.merchant("Other")
	path := "/v1/notification_templates/payment_succeeded"
	for _, tc := range []struct {
		path  string
		body  map[string]any
		code  int
		param string
		says  string
	}{
		{path, map[string]any{"language": "en", "subject": "Paid {{money .amount .currency", "text": "x"}, 400, "subject", "unclosed action"},
		{path, map[string]any{"language": "en", "subject": "Paid", "text": "{{nope .id}}"}, 400, "text", `function "nope" not defined`},
		{path, map[string]any{"language": "en", "subject": "Paid", "text": "x", "html": "<p>{{.id}</p>"}, 400, "html", "html"},
		{path, map[string]any{"language": "de", "subject": "Paid", "text": "x"}, 400, "language", ""},
		{path, map[string]any{"language": "en", "text": "x"}, 400, "subject", ""},
		{"/v1/notification_templates/nope", map[string]any{"language": "en", "subject": "s", "text": "x"}, 404, "name", ""},
	} {
		r := e.call("PUT", tc.path, key, "", tc.body)
		if r.Status != tc.code || r.str("error.param") != tc.param || !strings.Contains(r.str("error.message"), tc.says) {
			t.Errorf("%v: %d %s, want %d on %s saying %q", tc.body, r.Status, r.Body, tc.code, tc.param, tc.says)
		}
	}
	if n := e.count("notification_templates"); n != 0 {
		t.Fatalf("bad templates kept: %d", n)
	}
	r := e.expect(e.call("PUT", path, key, "", map[string]any{"language": "en",
		"subject": "Thanks, {{.customer_name}}: {{money .amount .currency}}", "text": "Paid {{.id}}.",
		"html": "<h1>Thanks, {{.customer_name}}</h1><p>{{money .amount .currency}}</p>"}), 200)
	if r.get("shipped") != false {
		t.Fatalf("put: %s", r.Body)
	}
	if r := e.expect(e.call("GET", path+"?language=en", key, "", nil), 200); r.str("text") != "Paid {{.id}}." || r.get("shipped") != false {
		t.Fatalf("get: %s", r.Body)
	}
	if r := e.call("GET", path, key, "", nil); r.Status != 400 || r.str("error.param") != "language" {
		t.Fatalf("get without a language: %d %s", r.Status, r.Body)
	}
	preview := func(k, lang string) *resp {
		return e.expect(e.call("POST", path+"/preview", k, "", map[string]any{"language": lang}), 200)
	}
	if p := preview(key, "en"); p.str("subject") != "Thanks, Li Wei: 123.45 CNY" || p.str("html") != "<h1>Thanks, Li Wei</h1><p>123.45 CNY</p>" {
		t.Fatalf("preview of the merchant's template: %s", p.Body)
	}
	if p := preview(key, "zh"); !strings.HasPrefix(p.str("subject"), "支付成功") {
		t.Fatalf("preview in the other language: %s", p.Body)
	}
	if p := preview(other, "en"); !strings.HasPrefix(p.str("subject"), "Payment received") {
		t.Fatalf("another merchant's preview: %s", p.Body)
	}
	cus := e.customer(key, map[string]any{"email": "payer@example.com", "name": "<b>Bob</b> & <script>x()</script>"})
	pay := e.expect(e.call("POST", "/v1/payments", key, newKey(), customerPayment("o-1", cus, 12345)), 200)
	e.fanOut()
	if n := e.sendEmails(mp); n != 1 {
		t.Fatalf("%d emails sent, want 1", n)
	}
	d := messageBySubject(t, mp, "Thanks,")
	if d.Text != "Paid "+pay.str("id")+"." || d.HTML != "<h1>Thanks, &lt;b&gt;Bob&lt;/b&gt; &amp; &lt;script&gt;x()&lt;/script&gt;</h1><p>123.45 USD</p>" {
		t.Fatalf("text %q\nhtml %q", d.Text, d.HTML)
	}
	r = e.expect(e.call("DELETE", path+"?language=en", key, "", nil), 200)
	if r.get("shipped") != true || !strings.HasPrefix(r.str("subject"), "Payment received") {
		t.Fatalf("delete: %s", r.Body)
	}
	if p := preview(key, "en"); !strings.HasPrefix(p.str("subject"), "Payment received") {
		t.Fatalf("preview after delete: %s", p.Body)
	}
	if n := e.count("merchant_ops_events WHERE action LIKE 'notification_template.%'"); n != 2 {
		t.Fatalf("%d template audit entries, want 2 (set, deleted)", n)
	}
}

// The periodic top-up reminder reaches the customers with a wallet below the merchant's
// limit, once per customer and period, however many nodes run the job at once, honouring
// opt-outs and the settings; the next period reminds again.
func TestTopUpReminderOncePerPeriod(t *testing.T) {
	mp := mailpittest.Start(t)
	e := newEnv(t)
	_, key := e.merchant("Acme")
	low := e.customer(key, map[string]any{"email": "low@example.com", "phone": "+8613800138000"})
	rich := e.customer(key, map[string]any{"email": "rich@example.com"})
	optedOut := e.customer(key, map[string]any{"email": "out@example.com", "email_opt_out": true})
	e.customer(key, map[string]any{"email": "nowallet@example.com"})
	for c, amount := range map[string]int64{low: 1000, rich: 10000, optedOut: 1000} {
		e.expect(e.call("POST", "/v1/customers/"+c+"/top_ups", key, newKey(), cardTopUp(amount)), 200)
	}
	reminders := func() int { return e.notices(`template = 'top_up_reminder'`) }
	if n, err := e.svc.RunTopUpReminders(t.Context()); err != nil || n != 0 || reminders() != 0 {
		t.Fatalf("reminders without the setting: %d %v", n, err)
	}
	e.expect(e.call("POST", "/v1/notification_settings", key, "", map[string]any{
		"top_up_reminder": map[string]any{"interval_days": 7, "below": map[string]any{"cny": 5000}},
		"notices":         map[string]any{"top_up_reminder": map[string]any{"sms": false}}}), 200)
	nodes := []*env{e, e.secondNode(), e.secondNode()}
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if _, err := n.svc.RunTopUpReminders(t.Context()); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if n := reminders(); n != 1 || e.notices(`template = 'top_up_reminder' AND customer_id = $1 AND channel = 'email'`, low) != 1 {
		t.Fatalf("%d reminders after 9 runs on 3 nodes, want 1 (the low wallet's email; SMS switched off)", n)
	}
	if n := e.sendEmails(mp); n != 1 {
		t.Fatalf("%d emails sent, want 1", n)
	}
	d := messageBySubject(t, mp, "Time to top up")
	if d.To[0].Address != "low@example.com" || !strings.Contains(d.Text, "10.00 CNY") {
		t.Fatalf("reminder: %+v", d)
	}
	e.clock.Advance(7 * 24 * time.Hour)
	if n, err := e.svc.RunTopUpReminders(t.Context()); err != nil || n != 1 || reminders() != 2 {
		t.Fatalf("next period: %d made (err %v), %d in all, want 1 and 2", n, err, reminders())
	}
	e.expect(e.call("POST", "/v1/notification_settings", key, "", map[string]any{"top_up_reminder": map[string]any{"interval_days": 0}}), 200)
	e.clock.Advance(7 * 24 * time.Hour)
	if n, err := e.svc.RunTopUpReminders(t.Context()); err != nil || n != 0 {
		t.Fatalf("reminder switched off: %d made (err %v)", n, err)
	}
}

// The reminder job's workers: one node holds the lease and runs it; when that node stops,
// another takes the lease over once it has run out and reminds in the next period.
func TestTopUpReminderWorkerLease(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	cus := e.customer(key, map[string]any{"email": "low@example.com"})
	e.expect(e.call("POST", "/v1/customers/"+cus+"/top_ups", key, newKey(), cardTopUp(1000)), 200)
	e.expect(e.call("POST", "/v1/notification_settings", key, "", map[string]any{"top_up_reminder": map[string]any{"interval_days": 7}}), 200)
	other := e.secondNode()
	cfg := postgres.TopUpReminderConfig{Interval: 20 * time.Millisecond}
	a, b := postgres.NewTopUpReminderWorker(e.svc, cfg), postgres.NewTopUpReminderWorker(other.svc, cfg)
	a.Start(t.Context())
	defer a.Stop()
	holder := func() (string, bool) {
		var h string
		err := e.db.Pool.QueryRow(t.Context(), `SELECT holder FROM risk_jobs WHERE name = 'top_up_reminders'`).Scan(&h)
		return h, err == nil
	}
	reminders := func(want int) func() bool {
		return func() bool { return e.notices(`template = 'top_up_reminder' AND customer_id = $1`, cus) == want }
	}
	waitfor.True(t, eventuallyWithin, "the first node's reminder", reminders(1))
	first := waitfor.Value(t, eventuallyWithin, "the lease's holder", holder)
	b.Start(t.Context())
	defer b.Stop()
	a.Stop()
	e.clock.Advance(7 * 24 * time.Hour) // the lease has run out, and a new period begins
	waitfor.True(t, eventuallyWithin, "the second node's reminder in the next period", reminders(2))
	if h, _ := holder(); h == first {
		t.Fatalf("the lease is still %s's after it stopped", first)
	}
}
