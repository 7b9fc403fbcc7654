package httpapi

import (
	"context"
	"time"

	"github.com/paycenter/paycenter/core"
)

// The notification settings and templates of the document's checks: the fake answers every
// field set, and refuses the template names and templates the real service refuses.

func oaNoticeSettings() *core.NotificationSettings {
	s := core.DefaultNotificationSettings()
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	s.LowBalanceThreshold = map[string]int64{"CNY": 5000}
	s.SenderName, s.ReplyTo, s.UpdatedAt = oaPtr("Acme Shop"), oaPtr("help@acme.example"), &at
	s.TopUpReminder = &core.TopUpReminder{IntervalDays: 30, Below: map[string]int64{"CNY": 2000}}
	return s
}

func oaTemplate(name, lang string, shipped bool) (*core.NotificationTemplate, error) {
	if name == "nope" {
		return nil, core.ParamError(core.CodeNotFound, "name", "No such template.")
	}
	at := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	t := &core.NotificationTemplate{Object: "notification_template", Name: name, Language: lang, Subject: "Paid {{.id}}",
		Text: "Thanks.", HTML: "<p>Thanks.</p>", Shipped: shipped, UpdatedAt: &at}
	if shipped {
		t.HTML, t.UpdatedAt = "", nil
	}
	return t, nil
}

func (oaOps) NotificationSettings(context.Context, string) (*core.NotificationSettings, error) {
	return oaNoticeSettings(), nil
}

func (oaOps) SetNotificationSettings(_ context.Context, _ string, p core.NotificationSettingsParams) (*core.NotificationSettings, error) {
	s := oaNoticeSettings()
	p.Apply(s)
	return s, nil
}

func (oaOps) NotificationTemplate(_ context.Context, _, name, lang string) (*core.NotificationTemplate, error) {
	return oaTemplate(name, lang, true)
}

func (oaOps) SetNotificationTemplate(_ context.Context, _, name string, p core.NotificationTemplateParams) (*core.NotificationTemplate, error) {
	if p.Subject == "{{" {
		return nil, core.ParamError(core.CodeParameterInvalid, "subject", "The subject template does not work: unclosed action.")
	}
	return oaTemplate(name, p.Language, false)
}

func (oaOps) DeleteNotificationTemplate(_ context.Context, _, name, lang string) (*core.NotificationTemplate, error) {
	return oaTemplate(name, lang, true)
}
