package notify

import (
	"errors"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	data := map[string]any{"id": "pay_1", "amount": 12345.0, "currency": "CNY", "failure_message": "The wallet holds 10 CNY."}
	for _, tc := range []struct{ name, lang, subject, body string }{
		{TemplatePaymentFailed, "en", "Payment failed: 123.45 CNY", "Your payment pay_1 of 123.45 CNY failed: The wallet holds 10 CNY."},
		{TemplatePaymentFailed, "zh", "支付失败：123.45 CNY", "您的支付 pay_1（123.45 CNY）未成功：The wallet holds 10 CNY。"},
		{TemplateTopUpReceipt, "zh", "充值成功：123.45 CNY", "您的钱包已充值 123.45 CNY（支付 pay_1）。"},
	} {
		subject, body, err := Render(tc.name, tc.lang, data)
		if err != nil || subject != tc.subject || body != tc.body {
			t.Errorf("%s %s: %q %q %v, want %q %q", tc.name, tc.lang, subject, body, err, tc.subject, tc.body)
		}
	}
	if _, _, err := Render(TemplateLowBalance, "fr", data); !errors.Is(err, ErrUnknownTemplate) {
		t.Errorf("an unshipped language: %v", err)
	}
	if got := MessageID("evt_1:payment_succeeded:email"); got != "<evt_1.payment_succeeded.email@notices.paycenter>" {
		t.Errorf("MessageID = %s", got)
	}
}

// The HTML part escapes what the data holds; a merchant's template is checked before it is
// kept; the subject stays one line.
func TestRenderHTMLAndCheck(t *testing.T) {
	tm, err := Shipped(TemplatePaymentSucceeded, "en")
	if err != nil {
		t.Fatal(err)
	}
	data := SampleData(TemplatePaymentSucceeded)
	data["customer_name"] = `<script>alert(1)</script>`
	r, err := tm.Render(data)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.HTML, "<script>") || !strings.Contains(r.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") ||
		!strings.Contains(r.HTML, "<p>Your payment pay_us-east_example of 123.45 CNY succeeded.</p>") {
		t.Fatalf("html: %s", r.HTML)
	}
	own := Template{Name: TemplateTopUpReceipt, Language: "zh", Subject: "到账 {{money .amount .currency}}\nBcc: x@example.com",
		Text: "{{.customer_name}}：{{money .amount .currency}}", HTML: `<b>{{.customer_name}}</b>`}
	if r, err = own.Render(data); err != nil || r.Subject != "到账 123.45 CNY Bcc: x@example.com" || r.HTML != "<b>&lt;script&gt;alert(1)&lt;/script&gt;</b>" {
		t.Fatalf("own template: %+v %v", r, err)
	}
	for _, bad := range []Template{
		{Name: TemplateLowBalance, Language: "en", Subject: "{{.balance", Text: "x"},
		{Name: TemplateLowBalance, Language: "en", Subject: "x", Text: "{{nope .balance}}"},
		{Name: TemplateLowBalance, Language: "en", Subject: "x", Text: "x", HTML: "{{template \"missing\"}}"},
		{Name: TemplateLowBalance, Language: "en", Subject: "x", Text: "{{index .balance 3}}"},
	} {
		if err := Check(bad); err == nil {
			t.Errorf("Check(%+v) passed", bad)
		}
	}
	if err := Check(own); err != nil {
		t.Errorf("Check(own): %v", err)
	}
}
