// Package notify renders and sends notices to payers: payment results, top-up receipts and
// low-balance reminders, by email (SMTP, through github.com/wneessen/go-mail) and by SMS
// (a provider behind the SMSProvider interface; HTTPSMS is a generic HTTP adapter).
//
// Every message carries its notice's ID as its idempotency at the provider: the email's
// Message-ID is derived from it, and the SMS request sends it as Idempotency-Key. A notice
// sent again after a node died between the send and its record is therefore dropped by a
// provider that de-duplicates on those (Mailpit with --ignore-duplicate-ids, the channel
// simulator's SMS endpoint, most SMS gateways).
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"text/template"
	"time"

	htmltemplate "html/template"

	mail "github.com/wneessen/go-mail"
)

// Channels a notice goes by.
const (
	ChannelEmail = "email"
	ChannelSMS   = "sms"
)

// Templates shipped with the platform.
const (
	TemplatePaymentSucceeded = "payment_succeeded"
	TemplatePaymentFailed    = "payment_failed"
	TemplateRefundSucceeded  = "refund_succeeded"
	TemplateTopUpReceipt     = "top_up_receipt"
	TemplateLowBalance       = "low_balance"
	TemplateVerification     = "verification_code"
	TemplateTopUpReminder    = "top_up_reminder"
)

// Templates lists the template names.
var Templates = []string{TemplatePaymentSucceeded, TemplatePaymentFailed, TemplateRefundSucceeded, TemplateTopUpReceipt, TemplateLowBalance, TemplateTopUpReminder, TemplateVerification}

// Message is one notice, rendered, for one recipient.
type Message struct {
	NoticeID string
	Channel  string
	To       string
	Subject  string
	Body     string
	// HTML is the email's HTML part (empty: plain text only); FromName the display name of
	// its From and ReplyTo its Reply-To (the merchant's settings; empty: none).
	HTML     string
	FromName string
	ReplyTo  string
}

// MessageID is the email Message-ID of a notice: the same on every attempt.
func MessageID(noticeID string) string {
	return "<" + strings.ReplaceAll(noticeID, ":", ".") + "@notices.paycenter>"
}

type text struct{ subject, body string }

// The shipped templates, per name and language. Data is the event's object (a payment or a
// refund, as the API renders it) or, for low_balance, {balance, threshold, currency}, for
// top_up_reminder {balance, currency, interval_days}; the notifier adds customer_name.
var shipped = map[string]map[string]text{
	TemplatePaymentSucceeded: {
		"en": {"Payment received: {{money .amount .currency}}", "Your payment {{.id}} of {{money .amount .currency}} succeeded."},
		"zh": {"支付成功：{{money .amount .currency}}", "您的支付 {{.id}}（{{money .amount .currency}}）已成功。"},
	},
	TemplatePaymentFailed: {
		"en": {"Payment failed: {{money .amount .currency}}", "Your payment {{.id}} of {{money .amount .currency}} failed{{with .failure_message}}: {{clause .}}{{end}}."},
		"zh": {"支付失败：{{money .amount .currency}}", "您的支付 {{.id}}（{{money .amount .currency}}）未成功{{with .failure_message}}：{{clause .}}{{end}}。"},
	},
	TemplateRefundSucceeded: {
		"en": {"Refund of {{money .amount .currency}}", "A refund {{.id}} of {{money .amount .currency}} for payment {{.payment}} succeeded."},
		"zh": {"退款 {{money .amount .currency}}", "支付 {{.payment}} 的退款 {{.id}}（{{money .amount .currency}}）已成功。"},
	},
	TemplateTopUpReceipt: {
		"en": {"Top-up received: {{money .amount .currency}}", "Your wallet was topped up with {{money .amount .currency}} (payment {{.id}})."},
		"zh": {"充值成功：{{money .amount .currency}}", "您的钱包已充值 {{money .amount .currency}}（支付 {{.id}}）。"},
	},
	TemplateVerification: {
		"en": {"Your verification code", "Your verification code is {{.code}}. It expires in 10 minutes."},
		"zh": {"验证码", "您的验证码是 {{.code}}，10 分钟内有效。"},
	},
	TemplateTopUpReminder: {
		"en": {"Time to top up your wallet", "Your wallet holds {{money .balance .currency}}. Top it up now to keep paying from it."},
		"zh": {"充值提醒", "您的钱包余额为 {{money .balance .currency}}。请及时充值，以便继续使用余额支付。"},
	},
	TemplateLowBalance: {
		"en": {"Your balance is low: {{money .balance .currency}}", "Your wallet holds {{money .balance .currency}}, below {{money .threshold .currency}}. Top it up to keep paying from it."},
		"zh": {"余额不足提醒：{{money .balance .currency}}", "您的钱包余额为 {{money .balance .currency}}，低于 {{money .threshold .currency}}。请及时充值。"},
	},
}

var funcs = template.FuncMap{
	// clause drops a sentence's final punctuation, for quoting it inside another.
	"clause": func(s any) string { return strings.TrimRight(fmt.Sprint(s), ".。!！ ") },
	// money shows minor units with two decimals and the currency: "12.34 CNY".
	"money": func(amount any, currency any) string {
		var n int64
		switch v := amount.(type) {
		case float64:
			n = int64(v)
		case int64:
			n = v
		case json.Number:
			n, _ = v.Int64()
		}
		sign := ""
		if n < 0 {
			sign, n = "-", -n
		}
		return fmt.Sprintf("%s%d.%02d %v", sign, n/100, n%100, currency)
	},
}

// ErrUnknownTemplate is returned for a template name or language that is not shipped.
var ErrUnknownTemplate = errors.New("unknown template or language")

// Render renders the shipped template name in lang ("en" or "zh") with data: the subject and
// the text body.
func Render(name, lang string, data map[string]any) (subject, body string, err error) {
	t, err := Shipped(name, lang)
	if err != nil {
		return "", "", err
	}
	r, err := t.Render(data)
	return r.Subject, r.Text, err
}

// Template is a notice's template in one language: Subject and Text are text/template, HTML
// is html/template (so whatever the data holds is escaped in it). An empty HTML shows the
// rendered text in the language's HTML layout.
type Template struct {
	Name, Language      string
	Subject, Text, HTML string
}

// Rendered is a rendered template.
type Rendered struct {
	Subject, Text, HTML string
}

// Shipped returns the platform's template name in lang.
func Shipped(name, lang string) (Template, error) {
	t, ok := shipped[name][lang]
	if !ok {
		return Template{}, ErrUnknownTemplate
	}
	return Template{Name: name, Language: lang, Subject: t.subject, Text: t.body}, nil
}

// layouts wrap a template's text in HTML when it has no HTML body of its own: a greeting by
// the customer's name (data customer_name, escaped) and the text as paragraphs.
var layouts = map[string]string{
	"en": `<!doctype html><html><body>{{with .customer_name}}<p>Dear {{.}},</p>{{end}}{{range .paragraphs}}<p>{{.}}</p>{{end}}</body></html>`,
	"zh": `<!doctype html><html><body>{{with .customer_name}}<p>{{.}}，您好：</p>{{end}}{{range .paragraphs}}<p>{{.}}</p>{{end}}</body></html>`,
}

// TemplateError is a template that does not parse or execute: Part is subject, text or html.
type TemplateError struct {
	Part string
	Err  error
}

func (e *TemplateError) Error() string { return e.Part + ": " + e.Err.Error() }
func (e *TemplateError) Unwrap() error { return e.Err }

// Render renders t with data; a template that fails is a *TemplateError.
func (t Template) Render(data map[string]any) (Rendered, error) {
	var r Rendered
	var err error
	if r.Subject, err = runText(t.Name, t.Subject, data); err != nil {
		return Rendered{}, &TemplateError{"subject", err}
	}
	r.Subject = strings.Join(strings.Fields(r.Subject), " ") // one line, whatever the data held
	if r.Text, err = runText(t.Name, t.Text, data); err != nil {
		return Rendered{}, &TemplateError{"text", err}
	}
	src, d := t.HTML, data
	if src == "" {
		layout, ok := layouts[t.Language]
		if !ok {
			layout = layouts["en"]
		}
		d = map[string]any{}
		for k, v := range data {
			d[k] = v
		}
		var paras []string
		for _, p := range strings.Split(r.Text, "\n\n") {
			if p = strings.TrimSpace(p); p != "" {
				paras = append(paras, p)
			}
		}
		d["paragraphs"] = paras
		src = layout
	}
	if r.HTML, err = runHTML(t.Name, src, d); err != nil {
		return Rendered{}, &TemplateError{"html", err}
	}
	return r, nil
}

func runText(name, src string, data map[string]any) (string, error) {
	tm, err := template.New(name).Funcs(funcs).Option("missingkey=zero").Parse(src)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := tm.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

func runHTML(name, src string, data map[string]any) (string, error) {
	tm, err := htmltemplate.New(name).Funcs(htmltemplate.FuncMap(funcs)).Option("missingkey=zero").Parse(src)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	if err := tm.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Check parses t and executes it with the sample data of its notice, as a merchant's
// template is checked before it is saved: an error says what is wrong (the part, the line).
func Check(t Template) error {
	_, err := t.Render(SampleData(t.Name))
	return err
}

// SampleData is data a template of name is rendered with in a preview or a check: a
// payment, a refund, a balance below a threshold, a code, a customer's name.
func SampleData(name string) map[string]any {
	return map[string]any{"id": "pay_us-east_example", "payment": "pay_us-east_example", "amount": 12345.0,
		"currency": "CNY", "balance": 800.0, "threshold": 1000.0, "failure_message": "The card was declined.", "code": "123456",
		"customer": "cus_us-east_example", "customer_name": "Li Wei", "interval_days": 30.0}
}

// Sender delivers a message by one channel. An error means it may or may not have arrived;
// a retry sends it again under the same notice ID.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// SMTP sends email through an SMTP server.
type SMTP struct {
	Addr     string // host:port
	From     string
	Username string // optional
	Password string
	// TLS: "none" (plain, for a local server such as Mailpit), or "" / "starttls"
	// (STARTTLS required).
	TLS string
}

// Send sends m as an email whose Message-ID is MessageID(m.NoticeID): multipart/alternative
// with a text and an HTML part when m has HTML, plain text otherwise.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	host, port, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("smtp address %q: %w", s.Addr, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return fmt.Errorf("smtp port %q: %w", port, err)
	}
	msg := mail.NewMsg()
	if m.FromName != "" {
		if err := msg.FromFormat(m.FromName, s.From); err != nil {
			return err
		}
	} else if err := msg.From(s.From); err != nil {
		return err
	}
	if err := msg.To(m.To); err != nil {
		return err
	}
	if m.ReplyTo != "" {
		if err := msg.ReplyTo(m.ReplyTo); err != nil {
			return err
		}
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(strings.Trim(MessageID(m.NoticeID), "<>"))
	msg.SetDate()
	msg.SetBodyString(mail.TypeTextPlain, m.Body)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	opts := []mail.Option{mail.WithPort(p), mail.WithTimeout(10 * time.Second)}
	if s.TLS == "none" {
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	} else {
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if s.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthPlain), mail.WithUsername(s.Username), mail.WithPassword(s.Password))
	}
	c, err := mail.NewClient(host, opts...)
	if err != nil {
		return err
	}
	return c.DialAndSendWithContext(ctx, msg)
}

// SMSProvider sends text messages. key is the notice's ID: a provider that has seen it
// must not send again.
type SMSProvider interface {
	SendSMS(ctx context.Context, to, body, key string) error
}

// SMS is the Sender of the SMS channel over a provider.
type SMS struct{ Provider SMSProvider }

// Send sends m's body by SMS.
func (s *SMS) Send(ctx context.Context, m Message) error {
	return s.Provider.SendSMS(ctx, m.To, m.Body, m.NoticeID)
}

// HTTPSMS is a generic HTTP SMS provider: POST URL with {"to", "body"} as JSON, the key as
// Idempotency-Key and Token (if set) as a bearer token; a 2xx is sent.
type HTTPSMS struct {
	URL    string
	Token  string
	Client *http.Client // default: one with a 10 s timeout
}

// SendSMS implements SMSProvider.
func (h *HTTPSMS) SendSMS(ctx context.Context, to, body, key string) error {
	b, _ := json.Marshal(map[string]string{"to": to, "body": body})
	req, err := http.NewRequestWithContext(ctx, "POST", h.URL, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	if h.Token != "" {
		req.Header.Set("Authorization", "Bearer "+h.Token)
	}
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 10 * time.Second}
	}
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("sms provider: %s: %s", res.Status, bytes.TrimSpace(msg))
	}
	return nil
}
