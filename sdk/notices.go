package paysdk

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"time"
)

// NotificationSettings are the merchant's settings of its payers' notices.
type NotificationSettings struct {
	Object string `json:"object"`
	// Notices says, per notice (payment_succeeded, payment_failed, refund_succeeded,
	// top_up_receipt, low_balance, top_up_reminder) and channel (email, sms), whether it is sent.
	Notices map[string]map[string]bool `json:"notices"`
	// LowBalanceThreshold per currency (minor units) for customers without their own.
	LowBalanceThreshold map[string]int64 `json:"low_balance_threshold"`
	SenderName          *string          `json:"sender_name"`
	ReplyTo             *string          `json:"reply_to"`
	DefaultLanguage     string           `json:"default_language"`
	TopUpReminder       *TopUpReminder   `json:"top_up_reminder"`
	UpdatedAt           *time.Time       `json:"updated_at"`
}

// TopUpReminder is the periodic top-up reminder: once per customer every IntervalDays, to
// wallets below Below (per currency, minor units) or, without it, to every wallet.
type TopUpReminder struct {
	IntervalDays int              `json:"interval_days"`
	Below        map[string]int64 `json:"below"`
}

// NotificationSettingsParams change the settings; nil fields stay as they are. An empty
// SenderName or ReplyTo clears it; a TopUpReminder with IntervalDays 0 switches it off.
type NotificationSettingsParams struct {
	Notices             map[string]map[string]bool `json:"notices,omitempty"`
	LowBalanceThreshold map[string]int64           `json:"low_balance_threshold,omitempty"`
	SenderName          *string                    `json:"sender_name,omitempty"`
	ReplyTo             *string                    `json:"reply_to,omitempty"`
	DefaultLanguage     *string                    `json:"default_language,omitempty"`
	TopUpReminder       *TopUpReminder             `json:"top_up_reminder,omitempty"`
}

// NotificationTemplate is the template of a notice in one language the merchant's notices
// use: its own (Shipped false) or the platform's.
type NotificationTemplate struct {
	Object    string     `json:"object"`
	Name      string     `json:"name"`
	Language  string     `json:"language"`
	Subject   string     `json:"subject"`
	Text      string     `json:"text"`
	HTML      string     `json:"html"`
	Shipped   bool       `json:"shipped"`
	UpdatedAt *time.Time `json:"updated_at"`
}

// NotificationTemplateParams set the merchant's own template: Subject and Text are Go
// text/template, HTML html/template (empty: the text in the platform's HTML layout).
type NotificationTemplateParams struct {
	Language string `json:"language"`
	Subject  string `json:"subject"`
	Text     string `json:"text"`
	HTML     string `json:"html,omitempty"`
}

// NotificationSettings reads the settings (GET /v1/notification_settings).
func (c *Client) NotificationSettings(ctx context.Context) (*NotificationSettings, error) {
	var out NotificationSettings
	if err := c.get(ctx, "/v1/notification_settings", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdateNotificationSettings changes the settings (POST /v1/notification_settings).
func (c *Client) UpdateNotificationSettings(ctx context.Context, p NotificationSettingsParams) (*NotificationSettings, error) {
	var out NotificationSettings
	if err := c.post(ctx, "/v1/notification_settings", p, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

func templatePath(name string) string { return "/v1/notification_templates/" + url.PathEscape(name) }

// NotificationTemplate reads the template name in language the notices use
// (GET /v1/notification_templates/{name}?language=).
func (c *Client) NotificationTemplate(ctx context.Context, name, language string) (*NotificationTemplate, error) {
	if name == "" {
		return nil, localError(CodeParameterMissing, "name", "A template name is required.")
	}
	var out NotificationTemplate
	if err := c.get(ctx, templatePath(name), url.Values{"language": {language}}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetNotificationTemplate keeps the merchant's own template (PUT
// /v1/notification_templates/{name}); a template that does not parse or run is refused.
func (c *Client) SetNotificationTemplate(ctx context.Context, name string, p NotificationTemplateParams) (*NotificationTemplate, error) {
	if name == "" {
		return nil, localError(CodeParameterMissing, "name", "A template name is required.")
	}
	body, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	var out NotificationTemplate
	if err := c.do(ctx, request{method: http.MethodPut, path: templatePath(name), body: body}, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteNotificationTemplate returns to the platform's template (DELETE
// /v1/notification_templates/{name}?language=) and reads it.
func (c *Client) DeleteNotificationTemplate(ctx context.Context, name, language string) (*NotificationTemplate, error) {
	if name == "" {
		return nil, localError(CodeParameterMissing, "name", "A template name is required.")
	}
	var out NotificationTemplate
	if err := c.do(ctx, request{method: http.MethodDelete, path: templatePath(name), query: url.Values{"language": {language}}}, &out, nil); err != nil {
		return nil, err
	}
	return &out, nil
}
