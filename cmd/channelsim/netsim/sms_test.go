package netsim

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/paycenter/paycenter/core/notify"
)

// The SMS endpoint records a message once per Idempotency-Key, and refuses a message
// without a recipient.
func TestSMSEndpointRecordsOncePerKey(t *testing.T) {
	s, _ := testSim(t)
	p := &notify.HTTPSMS{URL: s.URL() + "/sms/messages"}
	for range 2 {
		if err := p.SendSMS(t.Context(), "+8613800138000", "您的钱包已充值 10.00 CNY", "evt_1:top_up_receipt:sms"); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.SendSMS(t.Context(), "", "no recipient", "k2"); err == nil {
		t.Fatal("a message without a recipient was accepted")
	}
	res, err := http.Get(s.URL() + "/sms/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got []SMSMessage
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].To != "+8613800138000" || got[0].Key != "evt_1:top_up_receipt:sms" {
		t.Fatalf("recorded %+v, want the one message", got)
	}
}
