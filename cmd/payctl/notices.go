package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"

	paysdk "github.com/paycenter/paycenter/sdk"
)

// The merchant's notification settings and templates, through the SDK's merchant client.

type noticeOptions struct {
	switches                           noticeSwitches
	thresholds, below                  amounts
	senderName, replyTo, language      string
	reminderDays                       int
	subject, text, html, templLanguage string
}

// noticeSwitches is the repeatable -notice name.channel=on|off flag.
type noticeSwitches map[string]map[string]bool

func (s *noticeSwitches) String() string { return fmt.Sprint(map[string]map[string]bool(*s)) }

func (s *noticeSwitches) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	name, ch, ok2 := strings.Cut(k, ".")
	if !ok || !ok2 || (val != "on" && val != "off") {
		return errors.New("want notice.channel=on|off, such as payment_failed.sms=off")
	}
	if *s == nil {
		*s = noticeSwitches{}
	}
	if (*s)[name] == nil {
		(*s)[name] = map[string]bool{}
	}
	(*s)[name][ch] = val == "on"
	return nil
}

// amounts is a repeatable currency=minor-units flag.
type amounts map[string]int64

func (a *amounts) String() string { return fmt.Sprint(map[string]int64(*a)) }

func (a *amounts) Set(v string) error {
	cur, n, ok := strings.Cut(v, "=")
	amount, err := strconv.ParseInt(n, 10, 64)
	if !ok || cur == "" || err != nil {
		return errors.New("want currency=minor-units, such as cny=5000")
	}
	if *a == nil {
		*a = amounts{}
	}
	(*a)[cur] = amount
	return nil
}

func init() {
	templateFlags := func(fs *flag.FlagSet, o *options) {
		merchantFlags(fs, o)
		fs.StringVar(&o.notices.templLanguage, "language", "", "the template's language: en or zh")
	}
	checkTemplate := func(o *options) error {
		if err := checkSecretKey(o); err != nil {
			return err
		}
		if l := o.notices.templLanguage; l != "en" && l != "zh" {
			return errors.New("-language is required: en or zh")
		}
		return nil
	}
	commands = append(commands, &command{
		name: "notification-settings get", synopsis: "-secret-key SK",
		summary: "show which payer notices are sent by which channel, thresholds, sender and reminder",
		about:   "Prints the merchant's notification settings: each notice per channel, the default low-balance thresholds (minor units), sender name, Reply-To, default language and the periodic top-up reminder.",
		example: "payctl notification-settings get -secret-key sk_test_5z8k2q7m0c1d",
		flags:   merchantFlags,
		check:   checkSecretKey,
		run:     noticeSettingsGet,
	}, &command{
		name:     "notification-settings set",
		synopsis: "-secret-key SK [-notice NAME.CHANNEL=on|off]... [-threshold CUR=N]... [-sender-name S] [-reply-to E] [-default-language en|zh] [-reminder-days N [-reminder-below CUR=N]...]",
		summary:  "change the payer notice settings (absent flags stay as they are)",
		about: "Changes the settings the flags name. Notices: payment_succeeded, payment_failed, refund_succeeded, top_up_receipt, " +
			"low_balance, top_up_reminder; channels email and sms. -threshold replaces the default low-balance thresholds; " +
			"-reminder-days 0 switches the periodic top-up reminder off.",
		example: "payctl notification-settings set -secret-key sk_test_5z8k2q7m0c1d -notice payment_failed.sms=off -threshold cny=5000 -reminder-days 30",
		flags: func(fs *flag.FlagSet, o *options) {
			merchantFlags(fs, o)
			fs.Var(&o.notices.switches, "notice", "switch a notice on or off by a channel: NAME.CHANNEL=on|off (repeatable)")
			fs.Var(&o.notices.thresholds, "threshold", "a default low-balance threshold: CURRENCY=MINOR_UNITS (repeatable; replaces them all)")
			fs.StringVar(&o.notices.senderName, "sender-name", "", "the display name of the emails' From")
			fs.StringVar(&o.notices.replyTo, "reply-to", "", "the emails' Reply-To address")
			fs.StringVar(&o.notices.language, "default-language", "", "the language of new customers who name none: en or zh")
			fs.IntVar(&o.notices.reminderDays, "reminder-days", -1, "the periodic top-up reminder's period in days (0: off)")
			fs.Var(&o.notices.below, "reminder-below", "remind only wallets below CURRENCY=MINOR_UNITS (repeatable)")
		},
		check: func(o *options) error {
			if err := checkSecretKey(o); err != nil {
				return err
			}
			if len(o.notices.below) > 0 && o.notices.reminderDays < 1 {
				return errors.New("-reminder-below needs -reminder-days (1 or more)")
			}
			return nil
		},
		run: noticeSettingsSet,
	}, &command{
		name: "templates show", synopsis: "NAME -secret-key SK -language en|zh", positional: "template",
		summary: "show the template a payer notice is written with (the merchant's own or the shipped one)",
		about:   "Prints the subject, text and HTML template (Go templates) of the notice NAME in the language, and whether it is the platform's.",
		example: "payctl templates show payment_succeeded -secret-key sk_test_5z8k2q7m0c1d -language zh",
		flags:   templateFlags, check: checkTemplate, run: templatesShow,
	}, &command{
		name: "templates set", synopsis: "NAME -secret-key SK -language en|zh -subject S -text T [-html H]", positional: "template",
		summary: "write the merchant's own template of a payer notice in one language",
		about: "Keeps the merchant's version of the notice NAME in the language: -subject and -text are Go text/template, -html html/template " +
			"(empty: the text in the platform's HTML layout). The platform parses and runs them with sample data and refuses one that fails.",
		example: "payctl templates set payment_succeeded -secret-key sk_test_5z8k2q7m0c1d -language en -subject Paid:{{.id}} -text Thanks!",
		flags: func(fs *flag.FlagSet, o *options) {
			templateFlags(fs, o)
			fs.StringVar(&o.notices.subject, "subject", "", "the subject template")
			fs.StringVar(&o.notices.text, "text", "", "the text body template (also the SMS)")
			fs.StringVar(&o.notices.html, "html", "", "the HTML body template")
		},
		check: func(o *options) error {
			if err := checkTemplate(o); err != nil {
				return err
			}
			if o.notices.subject == "" || o.notices.text == "" {
				return errors.New("-subject and -text are required")
			}
			return nil
		},
		run: templatesSet,
	}, &command{
		name: "templates reset", synopsis: "NAME -secret-key SK -language en|zh", positional: "template",
		summary: "drop the merchant's own template: the shipped one applies again",
		about:   "Deletes the merchant's version of the notice NAME in the language and prints the platform's template that applies again.",
		example: "payctl templates reset payment_succeeded -secret-key sk_test_5z8k2q7m0c1d -language en",
		flags:   templateFlags, check: checkTemplate, run: templatesReset,
	})
}

func printSettings(e *env, s *paysdk.NotificationSettings) error {
	if e.opts.json {
		return e.print(s, "")
	}
	var b strings.Builder
	names := make([]string, 0, len(s.Notices))
	for n := range s.Notices {
		names = append(names, n)
	}
	sort.Strings(names)
	b.WriteString("notices:\n")
	for _, n := range names {
		onOff := func(ch string) string {
			if s.Notices[n][ch] {
				return "on"
			}
			return "off"
		}
		fmt.Fprintf(&b, "  %-18s email %-3s  sms %s\n", n, onOff("email"), onOff("sms"))
	}
	fmt.Fprintf(&b, "low-balance thresholds (minor units): %v\n", s.LowBalanceThreshold)
	str := func(p *string) string {
		if p == nil {
			return "-"
		}
		return *p
	}
	fmt.Fprintf(&b, "sender name: %s  reply-to: %s  default language: %s\n", str(s.SenderName), str(s.ReplyTo), s.DefaultLanguage)
	if r := s.TopUpReminder; r != nil {
		fmt.Fprintf(&b, "top-up reminder: every %d days, wallets below %v", r.IntervalDays, r.Below)
	} else {
		b.WriteString("top-up reminder: off")
	}
	return e.print(s, b.String())
}

func noticeSettingsGet(ctx context.Context, e *env) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	s, err := c.NotificationSettings(ctx)
	if err != nil {
		return err
	}
	return printSettings(e, s)
}

func noticeSettingsSet(ctx context.Context, e *env) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	o := e.opts.notices
	p := paysdk.NotificationSettingsParams{Notices: o.switches, LowBalanceThreshold: o.thresholds,
		SenderName: opt(o.senderName), ReplyTo: opt(o.replyTo), DefaultLanguage: opt(o.language)}
	if o.reminderDays >= 0 {
		p.TopUpReminder = &paysdk.TopUpReminder{IntervalDays: o.reminderDays, Below: o.below}
	}
	s, err := c.UpdateNotificationSettings(ctx, p)
	if err != nil {
		return err
	}
	return printSettings(e, s)
}

func printTemplate(e *env, t *paysdk.NotificationTemplate) error {
	whose := "the merchant's own"
	if t.Shipped {
		whose = "shipped"
	}
	return e.print(t, fmt.Sprintf("%s (%s, %s)\nsubject: %s\ntext: %s\nhtml: %s", t.Name, t.Language, whose, t.Subject, t.Text, t.HTML))
}

func templatesShow(ctx context.Context, e *env) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	t, err := c.NotificationTemplate(ctx, e.opts.regionArg, e.opts.notices.templLanguage)
	if err != nil {
		return err
	}
	return printTemplate(e, t)
}

func templatesSet(ctx context.Context, e *env) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	o := e.opts.notices
	t, err := c.SetNotificationTemplate(ctx, e.opts.regionArg, paysdk.NotificationTemplateParams{Language: o.templLanguage,
		Subject: o.subject, Text: o.text, HTML: o.html})
	if err != nil {
		return err
	}
	return printTemplate(e, t)
}

func templatesReset(ctx context.Context, e *env) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	t, err := c.DeleteNotificationTemplate(ctx, e.opts.regionArg, e.opts.notices.templLanguage)
	if err != nil {
		return err
	}
	return printTemplate(e, t)
}
