package main

import (
	"flag"
	"time"

	"github.com/paycenter/paycenter/core/httpapi"
	"github.com/paycenter/paycenter/core/notify"
	"github.com/paycenter/paycenter/core/postgres"
)

func payerNoticeFlags(fs *flag.FlagSet, c *Config) {
	fs.StringVar(&c.SMTPAddr, "smtp-addr", "", "SMTP server (host:port) payer notices and back-office invitations are emailed through; empty: no e-mail is sent")
	fs.StringVar(&c.SMTPFrom, "smtp-from", "notices@paycenter.local", "the From address of payer notice emails")
	fs.StringVar(&c.SMTPTLS, "smtp-tls", "starttls", `"starttls" (required) or "none" (a local server such as Mailpit)`)
	fs.DurationVar(&c.TopUpReminderInterval, "top-up-reminder-interval", time.Hour, "how often the periodic top-up reminder job runs (one node at a time; each customer is reminded at most once per merchant-set period)")
	fs.StringVar(&c.ConsoleURL, "console-url", "", "the back office's public origin for links in its e-mails (https://pay.example.com); empty: the origin of the request")
	fs.StringVar(&c.SMSURL, "sms-url", "", "HTTP SMS provider URL payer notices are texted through (POST {to, body}, Idempotency-Key); empty: no SMS notices are sent")
}

// payerNotifier is the node's sender of payer notices, by the channels configured.
func (m *Main) payerNotifier() *postgres.PayerNotifier {
	c := &m.Config
	senders := map[string]notify.Sender{}
	if c.SMTPAddr != "" {
		senders[notify.ChannelEmail] = &notify.SMTP{Addr: c.SMTPAddr, From: c.SMTPFrom, TLS: c.SMTPTLS}
	}
	if c.SMSURL != "" {
		senders[notify.ChannelSMS] = &notify.SMS{Provider: &notify.HTTPSMS{URL: c.SMSURL}}
	}
	return postgres.NewPayerNotifier(m.Service, postgres.NotifierConfig{Senders: senders})
}

// The service serves the customer and notification routes: the API finds them by type
// assertion, so a signature drifting apart would silently drop the routes.
var (
	_ httpapi.Customers      = (*postgres.Service)(nil)
	_ httpapi.NoticeSettings = (*postgres.Service)(nil)
)
