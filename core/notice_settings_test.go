package core_test

import (
	"errors"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
)

func ptr[T any](v T) *T { return &v }

func TestNotificationSettingsParams(t *testing.T) {
	for _, tc := range []struct {
		name  string
		p     core.NotificationSettingsParams
		param string // "" valid
	}{
		{"valid", core.NotificationSettingsParams{Notices: map[string]map[string]bool{"payment_failed": {"sms": false}},
			LowBalanceThreshold: map[string]int64{"cny": 1000}, SenderName: ptr("Acme"), ReplyTo: ptr("help@acme.example"),
			DefaultLanguage: ptr("zh"), TopUpReminder: &core.TopUpReminder{IntervalDays: 30, Below: map[string]int64{"usd": 500}}}, ""},
		{"unknown notice", core.NotificationSettingsParams{Notices: map[string]map[string]bool{"verification_code": {"sms": false}}}, "notices"},
		{"unknown channel", core.NotificationSettingsParams{Notices: map[string]map[string]bool{"low_balance": {"fax": true}}}, "notices.low_balance"},
		{"bad currency", core.NotificationSettingsParams{LowBalanceThreshold: map[string]int64{"xxx": 1}}, "low_balance_threshold"},
		{"negative threshold", core.NotificationSettingsParams{LowBalanceThreshold: map[string]int64{"cny": -1}}, "low_balance_threshold"},
		{"reply-to without @", core.NotificationSettingsParams{ReplyTo: ptr("help.acme.example")}, "reply_to"},
		{"sender name with a newline", core.NotificationSettingsParams{SenderName: ptr("Acme\nBcc: x@y.z")}, "sender_name"},
		{"language", core.NotificationSettingsParams{DefaultLanguage: ptr("fr")}, "default_language"},
		{"interval", core.NotificationSettingsParams{TopUpReminder: &core.TopUpReminder{IntervalDays: 400}}, "top_up_reminder.interval_days"},
		{"below", core.NotificationSettingsParams{TopUpReminder: &core.TopUpReminder{IntervalDays: 7, Below: map[string]int64{"cny": -5}}}, "top_up_reminder.below"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			var ce *core.Error
			switch {
			case tc.param == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.param != "" && (!errors.As(err, &ce) || ce.Param != tc.param):
				t.Fatalf("error %v, want one on %s", err, tc.param)
			}
		})
	}
}

func TestNotificationSettingsApply(t *testing.T) {
	s := core.DefaultNotificationSettings()
	if !s.Notices["top_up_receipt"]["sms"] || s.DefaultLanguage != "en" || s.TopUpReminder != nil {
		t.Fatalf("defaults: %+v", s)
	}
	p := core.NotificationSettingsParams{Notices: map[string]map[string]bool{"top_up_receipt": {"sms": false}},
		LowBalanceThreshold: map[string]int64{"cny": 100}, SenderName: ptr("Acme"), TopUpReminder: &core.TopUpReminder{IntervalDays: 30}}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	p.Apply(s)
	if s.Notices["top_up_receipt"]["sms"] || !s.Notices["top_up_receipt"]["email"] || s.LowBalanceThreshold["CNY"] != 100 ||
		*s.SenderName != "Acme" || s.TopUpReminder.IntervalDays != 30 || s.TopUpReminder.Below == nil {
		t.Fatalf("applied: %+v", s)
	}
	off := core.NotificationSettingsParams{SenderName: ptr(""), TopUpReminder: &core.TopUpReminder{}}
	off.Apply(s)
	if s.SenderName != nil || s.TopUpReminder != nil || s.LowBalanceThreshold["CNY"] != 100 {
		t.Fatalf("cleared: %+v", s)
	}
}

func TestReminderPeriod(t *testing.T) {
	day := func(d int) time.Time { return time.Unix(int64(d)*86400, 0).UTC() }
	for _, tc := range []struct {
		at       time.Time
		interval int
		want     int64
	}{
		{day(0), 30, 0},
		{day(29).Add(23 * time.Hour), 30, 0},
		{day(30), 30, 1},
		{day(20000).Add(time.Hour), 7, 2857},
		{day(0).Add(-time.Second), 1, -1},
	} {
		if got := core.ReminderPeriod(tc.at, tc.interval); got != tc.want {
			t.Errorf("ReminderPeriod(%v, %d) = %d, want %d", tc.at, tc.interval, got, tc.want)
		}
	}
}

func TestNotificationTemplateParams(t *testing.T) {
	ok := core.NotificationTemplateParams{Language: "zh", Subject: "s", Text: "t"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for param, p := range map[string]core.NotificationTemplateParams{
		"language": {Language: "de", Subject: "s", Text: "t"},
		"subject":  {Language: "en", Text: "t"},
		"text":     {Language: "en", Subject: "s"},
	} {
		var ce *core.Error
		if err := p.Validate(); !errors.As(err, &ce) || ce.Param != param {
			t.Errorf("%+v: %v, want an error on %s", p, err, param)
		}
	}
}
