package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"

	paysdk "github.com/paycenter/paycenter/sdk"
)

// The merchant's customers and their wallets, through the SDK's merchant client.

type customerOptions struct {
	email, phone, name, language string
	amount                       int64
	currency, channel            string
}

func init() {
	commands = append(commands, &command{
		name: "customers create", synopsis: "-secret-key SK [-email E] [-phone +E164] [-name N] [-language en|zh]",
		summary: "create a customer (a payer who can hold a wallet balance and get notices)",
		about:   "Creates a customer of the merchant and prints its ID. Email needs an @, phone is E.164 (+8613800138000).",
		example: "payctl customers create -secret-key sk_test_5z8k2q7m0c1d -email payer@example.com -language zh",
		flags: func(fs *flag.FlagSet, o *options) {
			merchantFlags(fs, o)
			fs.StringVar(&o.customers.email, "email", "", "the customer's email address")
			fs.StringVar(&o.customers.phone, "phone", "", "the customer's phone, E.164")
			fs.StringVar(&o.customers.name, "name", "", "the customer's name")
			fs.StringVar(&o.customers.language, "language", "", "the language of the customer's notices: en or zh")
		},
		check: checkSecretKey,
		run:   customersCreate,
	}, &command{
		name: "customers show", synopsis: "CUSTOMER_ID -secret-key SK", positional: "customer",
		summary: "show a customer's wallet balances, balance transactions and notices",
		about:   "Prints the customer's balances (minor units), its latest balance transactions and its notices (channel, template, status, attempts, last error).",
		example: "payctl customers show cus_us-east_5z8k2q7m0c1d -secret-key sk_test_5z8k2q7m0c1d",
		flags:   merchantFlags,
		check:   checkSecretKey,
		run:     customersShow,
	}, &command{
		name: "customers top-up", synopsis: "CUSTOMER_ID -secret-key SK -amount N -currency C -channel CH", positional: "customer",
		summary: "top a customer's wallet up through a channel",
		about: "Creates a top-up payment (an Idempotency-Key is made for it); the wallet is credited when the payment succeeds " +
			"(for WeChat Pay and Alipay, when the channel's notification arrives).",
		example: "payctl customers top-up cus_us-east_5z8k2q7m0c1d -secret-key sk_test_5z8k2q7m0c1d -amount 10000 -currency cny -channel wechat_pay",
		flags: func(fs *flag.FlagSet, o *options) {
			merchantFlags(fs, o)
			fs.Int64Var(&o.customers.amount, "amount", 0, "the amount, in minor units (fen, cents)")
			fs.StringVar(&o.customers.currency, "currency", "cny", "the currency, ISO 4217")
			fs.StringVar(&o.customers.channel, "channel", "wechat_pay", "the channel paying for it: wechat_pay, alipay, bank_transfer (cards need card details: use the API)")
		},
		check: func(o *options) error {
			if err := checkSecretKey(o); err != nil {
				return err
			}
			if o.customers.amount <= 0 {
				return errors.New("-amount is required: a positive amount in minor units")
			}
			return nil
		},
		run: customersTopUp,
	})
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (e *env) print(v any, summary string) error {
	if e.opts.json {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		fmt.Fprintln(e.out, string(b))
		return nil
	}
	fmt.Fprintln(e.out, summary)
	return nil
}

func customersCreate(ctx context.Context, e *env) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	o := e.opts.customers
	cus, err := c.CreateCustomer(ctx, paysdk.CustomerParams{Email: opt(o.email), Phone: opt(o.phone), Name: opt(o.name), Language: opt(o.language)})
	if err != nil {
		return err
	}
	return e.print(cus, fmt.Sprintf("created %s (language %s)", cus.ID, cus.Language))
}

func customersShow(ctx context.Context, e *env) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	id := e.opts.regionArg
	cus, err := c.GetCustomer(ctx, id)
	if err != nil {
		return err
	}
	txs, err := c.ListCustomerBalanceTransactions(ctx, id)
	if err != nil {
		return err
	}
	ns, err := c.ListNotifications(ctx, id)
	if err != nil {
		return err
	}
	if e.opts.json {
		return e.print(map[string]any{"customer": cus, "balance_transactions": txs.Data, "notifications": ns.Data}, "")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (language %s)\nbalances (minor units):", cus.ID, cus.Language)
	if len(cus.Balances) == 0 {
		b.WriteString(" none")
	}
	for cur, v := range cus.Balances {
		fmt.Fprintf(&b, " %d %s", v, cur)
	}
	b.WriteString("\nbalance transactions:\n")
	for _, t := range txs.Data {
		fmt.Fprintf(&b, "  %s  %-7s %+d %s -> %d\n", t.CreatedAt.Format("2006-01-02 15:04:05"), t.Type, t.Amount, t.Currency, t.BalanceAfter)
	}
	b.WriteString("notifications:\n")
	for _, n := range ns.Data {
		last := ""
		if n.LastError != nil {
			last = "  last error: " + *n.LastError
		}
		fmt.Fprintf(&b, "  %s  %-5s %-17s %-8s attempts %d%s\n", n.CreatedAt.Format("2006-01-02 15:04:05"), n.Channel, n.Template, n.Status, n.Attempts, last)
	}
	fmt.Fprint(e.out, b.String())
	return nil
}

func customersTopUp(ctx context.Context, e *env) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	o := e.opts.customers
	p, err := c.TopUp(ctx, e.opts.regionArg, paysdk.TopUpParams{Amount: o.amount, Currency: o.currency, Channel: paysdk.Channel(o.channel)})
	if err != nil {
		return err
	}
	return e.print(p, fmt.Sprintf("top-up %s: %s (%d %s)", p.ID, p.Status, p.Amount, p.Currency))
}
