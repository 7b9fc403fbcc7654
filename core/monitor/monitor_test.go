package monitor

import (
	"strings"
	"testing"
	"time"
)

func TestSuccessRate(t *testing.T) {
	ch := map[string]string{"channel": "card"}
	for _, tc := range []struct {
		name   string
		s      SuccessSample
		want   int
		severe Severity
	}{
		{"normal day", SuccessSample{ch, Window{100, 93}, Window{1200, 1130}}, 0, ""},
		{"small drop", SuccessSample{ch, Window{100, 80}, Window{1200, 1130}}, 0, ""},
		{"drop", SuccessSample{ch, Window{100, 60}, Window{1200, 1130}}, 1, Warning},
		{"outage", SuccessSample{ch, Window{100, 5}, Window{1200, 1130}}, 1, Critical},
		{"too few recent", SuccessSample{ch, Window{19, 0}, Window{1200, 1130}}, 0, ""},
		{"too few baseline", SuccessSample{ch, Window{100, 0}, Window{10, 10}}, 0, ""},
		{"always poor merchant", SuccessSample{ch, Window{100, 55}, Window{1200, 700}}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DetectSuccessRate(SuccessRateConfig{}, []SuccessSample{tc.s})
			if len(got) != tc.want {
				t.Fatalf("findings %v, want %d", got, tc.want)
			}
			if tc.want == 1 && got[0].Severity != tc.severe {
				t.Errorf("severity %s, want %s", got[0].Severity, tc.severe)
			}
		})
	}
}

func TestDeclineBurst(t *testing.T) {
	cvc := map[string]string{"merchant": "m1", "decline_code": "incorrect_cvc"}
	generic := map[string]string{"merchant": "m1", "decline_code": "card_declined"}
	for _, tc := range []struct {
		name   string
		s      CountSample
		want   int
		severe Severity
	}{
		{"normal day: 2 an hour", CountSample{cvc, 1, 48}, 0, ""},
		{"card testing", CountSample{cvc, 40, 48}, 1, Critical},
		{"under the minimum", CountSample{cvc, 9, 0}, 0, ""},
		{"busy merchant, usual rate", CountSample{generic, 30, 24 * 12 * 25}, 0, ""},
		{"busy merchant, burst", CountSample{generic, 200, 24 * 12 * 25}, 1, Warning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DetectDeclineBurst(BurstConfig{}, []CountSample{tc.s})
			if len(got) != tc.want {
				t.Fatalf("findings %v, want %d", got, tc.want)
			}
			if tc.want == 1 && got[0].Severity != tc.severe {
				t.Errorf("severity %s, want %s", got[0].Severity, tc.severe)
			}
		})
	}
}

func TestRefundRate(t *testing.T) {
	m := map[string]string{"merchant": "m1"}
	for _, tc := range []struct {
		name string
		s    RefundSample
		want int
	}{
		{"normal", RefundSample{m, 100, 5, 16800, 840}, 0},
		{"spike", RefundSample{m, 100, 30, 16800, 840}, 1},
		{"few refunds", RefundSample{m, 10, 4, 16800, 840}, 0},
		{"new merchant refunding everything", RefundSample{m, 10, 10, 0, 0}, 1},
		{"merchant that always refunds a lot", RefundSample{m, 100, 40, 1000, 350}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DetectRefundRate(RefundConfig{}, []RefundSample{tc.s}); len(got) != tc.want {
				t.Fatalf("findings %v, want %d", got, tc.want)
			}
		})
	}
}

func TestVolume(t *testing.T) {
	ch := map[string]string{"channel": "alipay"}
	week := []int64{100, 110, 90, 105, 95, 0, 100}
	for _, tc := range []struct {
		name      string
		s         VolumeSample
		direction string
	}{
		{"normal", VolumeSample{ch, 97, week}, ""},
		{"spike", VolumeSample{ch, 400, week}, "spike"},
		{"drop", VolumeSample{ch, 10, week}, "drop"},
		{"too little history", VolumeSample{ch, 0, []int64{100, 0, 0, 0, 0, 0, 0}}, ""},
		{"quiet channel", VolumeSample{ch, 0, []int64{5, 6, 4, 5, 5, 5, 5}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DetectVolume(VolumeConfig{}, []VolumeSample{tc.s})
			switch {
			case tc.direction == "" && len(got) != 0:
				t.Fatalf("findings %v, want none", got)
			case tc.direction != "" && (len(got) != 1 || got[0].Labels["direction"] != tc.direction):
				t.Fatalf("findings %v, want one %s", got, tc.direction)
			}
		})
	}
	if _, ok := ch["direction"]; ok {
		t.Errorf("the sample's labels were changed")
	}
}

func TestStuckAndLagAndLedger(t *testing.T) {
	got := DetectStuck(StuckConfig{}, []StuckSample{
		{map[string]string{"status": "processing", "channel": "card"}, 3, 25 * time.Minute},
		{map[string]string{"status": "requires_action", "channel": "alipay"}, 1, 30 * time.Hour},
		{map[string]string{"status": "processing", "channel": "alipay"}, 0, 0},
	})
	if len(got) != 2 || got[0].Severity != Critical || got[1].Severity != Warning {
		t.Fatalf("stuck: %v", got)
	}
	fast := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second, 10 * time.Second}
	slow := []time.Duration{time.Second, 3 * time.Minute, 4 * time.Minute, 5 * time.Minute, 6 * time.Minute}
	if got := DetectNotificationLag(LagConfig{}, []LagSample{{map[string]string{"channel": "wechat_pay"}, fast}}); len(got) != 0 {
		t.Errorf("lag on a normal day: %v", got)
	}
	if got := DetectNotificationLag(LagConfig{}, []LagSample{{map[string]string{"channel": "wechat_pay"}, slow}}); len(got) != 1 || got[0].Value != 360 {
		t.Errorf("lag: %v", got)
	}
	if got := DetectNotificationLag(LagConfig{}, []LagSample{{map[string]string{"channel": "wechat_pay"}, slow[:4]}}); len(got) != 0 {
		t.Errorf("lag below the minimum count: %v", got)
	}
	webhooks := []WebhookSample{
		{map[string]string{"endpoint": "we_ok"}, 40, 1},
		{map[string]string{"endpoint": "we_retrying"}, 3, 3},
		{map[string]string{"endpoint": "we_flaky"}, 20, 12},
		{map[string]string{"endpoint": "we_down"}, 12, 12},
		{map[string]string{"endpoint": "we_half"}, 20, 10},
	}
	if got := DetectWebhookFailures(WebhookConfig{}, webhooks); len(got) != 2 ||
		got[0].Labels["endpoint"] != "we_flaky" || got[0].Severity != Warning || got[0].Value != 0.6 ||
		got[1].Labels["endpoint"] != "we_down" || got[1].Severity != Critical {
		t.Errorf("webhook failures: %v", got)
	}
	if DetectLedger(LedgerResult{Balanced: true}) != nil {
		t.Errorf("a balanced ledger fired")
	}
	if got := DetectLedger(LedgerResult{UnbalancedJournals: 1}); len(got) != 1 || got[0].Severity != Critical {
		t.Errorf("ledger: %v", got)
	}
}

func TestFingerprint(t *testing.T) {
	a := Fingerprint("x", map[string]string{"merchant": "m1", "channel": "card"})
	b := Fingerprint("x", map[string]string{"channel": "card", "merchant": "m1"})
	c := Fingerprint("x", map[string]string{"channel": "card", "merchant": "m2"})
	d := Fingerprint("y", map[string]string{"channel": "card", "merchant": "m1"})
	if a != b || a == c || a == d || len(a) != 24 {
		t.Errorf("fingerprints %s %s %s %s", a, b, c, d)
	}
	f := DetectSuccessRate(SuccessRateConfig{}, []SuccessSample{{map[string]string{"channel": "card"}, Window{100, 10}, Window{100, 95}}})
	if len(f) != 1 || !strings.Contains(f[0].Summary, "10.0 %") || !strings.Contains(f[0].Summary, "channel=card") {
		t.Errorf("summary: %v", f)
	}
}
