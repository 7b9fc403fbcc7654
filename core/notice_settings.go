package core

import (
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Notices a merchant's settings switch on or off, per channel: the payment results, the
// top-up receipt, the low-balance reminder and the periodic top-up reminder. The phone
// verification's code is not among them: it is always sent.
const (
	NoticePaymentSucceeded = "payment_succeeded"
	NoticePaymentFailed    = "payment_failed"
	NoticeRefundSucceeded  = "refund_succeeded"
	NoticeTopUpReceipt     = "top_up_receipt"
	NoticeLowBalance       = "low_balance"
	NoticeTopUpReminder    = "top_up_reminder"
)

// SettableNotices lists the notices of NotificationSettings.Notices.
var SettableNotices = []string{NoticePaymentSucceeded, NoticePaymentFailed, NoticeRefundSucceeded, NoticeTopUpReceipt, NoticeLowBalance, NoticeTopUpReminder}

// NoticeChannels are the channels a notice goes by.
var NoticeChannels = []string{"email", "sms"}

// Bounds of the notification settings.
const (
	MaxSenderName       = 100
	MaxReminderInterval = 366 // days
)

// NotificationSettings are a merchant's settings of its payers' notices.
type NotificationSettings struct {
	Object string `json:"object"`
	// Notices says, per notice and channel, whether it is sent. Default: all of them.
	Notices map[string]map[string]bool `json:"notices"`
	// LowBalanceThreshold per currency (minor units) applies to a customer who has none for
	// the currency. Default none.
	LowBalanceThreshold map[string]int64 `json:"low_balance_threshold"`
	// SenderName is the display name of the emails' From; ReplyTo their Reply-To address.
	// Default none.
	SenderName *string `json:"sender_name"`
	ReplyTo    *string `json:"reply_to"`
	// DefaultLanguage is the language of new customers who name none. Default en.
	DefaultLanguage string `json:"default_language"`
	// TopUpReminder, when set, reminds customers with a wallet to top it up once per period.
	// Default none.
	TopUpReminder *TopUpReminder `json:"top_up_reminder"`
	UpdatedAt     *time.Time     `json:"updated_at"`
}

// TopUpReminder is the periodic top-up reminder's setting.
type TopUpReminder struct {
	// IntervalDays is the period: a customer gets at most one reminder per period, the
	// periods counted in whole days from the Unix epoch (UTC).
	IntervalDays int `json:"interval_days"`
	// Below, if set, limits the reminder to wallets below these balances (per currency,
	// minor units); without it every customer with a wallet is reminded.
	Below map[string]int64 `json:"below"`
}

// DefaultNotificationSettings are the settings of a merchant that set none.
func DefaultNotificationSettings() *NotificationSettings {
	s := &NotificationSettings{Object: "notification_settings", Notices: map[string]map[string]bool{},
		LowBalanceThreshold: map[string]int64{}, DefaultLanguage: Languages[0]}
	for _, n := range SettableNotices {
		s.Notices[n] = map[string]bool{}
		for _, ch := range NoticeChannels {
			s.Notices[n][ch] = true
		}
	}
	return s
}

// NotificationSettingsParams change a merchant's notification settings: absent fields stay
// as they are; notices changes only the notices and channels it names; low_balance_threshold
// replaces the thresholds; an empty sender_name or reply_to clears it; a top_up_reminder with
// interval_days 0 switches the reminder off.
type NotificationSettingsParams struct {
	Notices             map[string]map[string]bool `json:"notices"`
	LowBalanceThreshold map[string]int64           `json:"low_balance_threshold"`
	SenderName          *string                    `json:"sender_name"`
	ReplyTo             *string                    `json:"reply_to"`
	DefaultLanguage     *string                    `json:"default_language"`
	TopUpReminder       *TopUpReminder             `json:"top_up_reminder"`
}

// Validate checks p and normalises its currencies.
func (p *NotificationSettingsParams) Validate() error {
	for n, chans := range p.Notices {
		if !slices.Contains(SettableNotices, n) {
			return ParamError(CodeParameterInvalid, "notices", "Unknown notice %q in notices: the notices are %s.", clipText(n), strings.Join(SettableNotices, ", "))
		}
		for ch := range chans {
			if !slices.Contains(NoticeChannels, ch) {
				return ParamError(CodeParameterInvalid, "notices."+n, "Unknown channel %q in notices.%s: the channels are email and sms.", clipText(ch), n)
			}
		}
	}
	if p.LowBalanceThreshold != nil {
		norm, err := minorPerCurrency("low_balance_threshold", p.LowBalanceThreshold)
		if err != nil {
			return err
		}
		p.LowBalanceThreshold = norm
	}
	if p.SenderName != nil {
		if err := ValidateText("sender_name", *p.SenderName, MaxSenderName, SingleLine); err != nil {
			return err
		}
	}
	if p.ReplyTo != nil && *p.ReplyTo != "" {
		e := *p.ReplyTo
		a, err := mail.ParseAddress(e)
		if err != nil || a.Address != e || len(e) > MaxCustomerField {
			return ParamError(CodeParameterInvalid, "reply_to", "reply_to must be an address such as \"support@example.com\" (or \"\" to clear it).")
		}
	}
	if p.DefaultLanguage != nil && !slices.Contains(Languages, *p.DefaultLanguage) {
		return ParamError(CodeParameterInvalid, "default_language", "default_language must be \"en\" or \"zh\".")
	}
	if r := p.TopUpReminder; r != nil {
		if r.IntervalDays < 0 || r.IntervalDays > MaxReminderInterval {
			return ParamError(CodeParameterInvalid, "top_up_reminder.interval_days", "top_up_reminder.interval_days must be 1 to %d days (0 switches the reminder off).", MaxReminderInterval)
		}
		if r.Below != nil {
			norm, err := minorPerCurrency("top_up_reminder.below", r.Below)
			if err != nil {
				return err
			}
			r.Below = norm
		}
	}
	return nil
}

func minorPerCurrency(param string, m map[string]int64) (map[string]int64, error) {
	norm := map[string]int64{}
	for cur, v := range m {
		c, ok := NormalizeCurrency(cur)
		if !ok {
			return nil, ParamError(CodeParameterInvalid, param, "Unsupported currency %q in %s.", clipText(cur), param)
		}
		if v < 0 || v > MaxAmount {
			return nil, ParamError(CodeParameterInvalid, param, "%s amounts are minor units, 0 to %d.", param, int64(MaxAmount))
		}
		norm[c] = v
	}
	return norm, nil
}

// Apply makes the settings s changed by p (validated).
func (p *NotificationSettingsParams) Apply(s *NotificationSettings) {
	for n, chans := range p.Notices {
		if s.Notices[n] == nil {
			s.Notices[n] = map[string]bool{}
		}
		for ch, on := range chans {
			s.Notices[n][ch] = on
		}
	}
	if p.LowBalanceThreshold != nil {
		s.LowBalanceThreshold = p.LowBalanceThreshold
	}
	if p.SenderName != nil {
		s.SenderName = p.SenderName
		if *p.SenderName == "" {
			s.SenderName = nil
		}
	}
	if p.ReplyTo != nil {
		s.ReplyTo = p.ReplyTo
		if *p.ReplyTo == "" {
			s.ReplyTo = nil
		}
	}
	if p.DefaultLanguage != nil {
		s.DefaultLanguage = *p.DefaultLanguage
	}
	if r := p.TopUpReminder; r != nil {
		s.TopUpReminder = r
		if r.IntervalDays == 0 {
			s.TopUpReminder = nil
		} else if r.Below == nil {
			r.Below = map[string]int64{}
		}
	}
}

// ReminderPeriod is the number of the period of intervalDays days that holds t: the periods
// are counted from the Unix epoch, in UTC, so every node computes the same number.
func ReminderPeriod(t time.Time, intervalDays int) int64 {
	days := t.Unix() / 86400
	if t.Unix() < 0 && t.Unix()%86400 != 0 {
		days--
	}
	return days / int64(intervalDays)
}

// NotificationTemplate is a merchant's own version of a shipped template in one language:
// the subject and text body are Go text/template, the HTML body html/template (escaped).
type NotificationTemplate struct {
	Object   string `json:"object"`
	Name     string `json:"name"`
	Language string `json:"language"`
	Subject  string `json:"subject"`
	Text     string `json:"text"`
	// HTML is the HTML part of the email; empty, the text is shown in the HTML layout.
	HTML string `json:"html"`
	// Shipped is true for the platform's template (no override of the merchant's).
	Shipped   bool       `json:"shipped"`
	UpdatedAt *time.Time `json:"updated_at"`
}

// Bounds of a template override.
const (
	MaxTemplateSubject = 500
	MaxTemplateBody    = 20000
)

// NotificationTemplateParams set a merchant's override of a template.
type NotificationTemplateParams struct {
	Language string `json:"language"`
	Subject  string `json:"subject"`
	Text     string `json:"text"`
	HTML     string `json:"html"`
}

// Validate checks the shape of p (the templates are parsed and executed by the renderer).
func (p *NotificationTemplateParams) Validate() error {
	if !slices.Contains(Languages, p.Language) {
		return ParamError(CodeParameterInvalid, "language", "language must be \"en\" or \"zh\".")
	}
	if p.Subject == "" {
		return ParamError(CodeParameterMissing, "subject", "subject is required.")
	}
	if err := ValidateText("subject", p.Subject, MaxTemplateSubject, SingleLine); err != nil {
		return err
	}
	if p.Text == "" {
		return ParamError(CodeParameterMissing, "text", "text is required: the text body (and the SMS).")
	}
	if err := ValidateText("text", p.Text, MaxTemplateBody, Multiline); err != nil {
		return err
	}
	return ValidateText("html", p.HTML, MaxTemplateBody, Multiline)
}
