package notify

import (
	"errors"
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
