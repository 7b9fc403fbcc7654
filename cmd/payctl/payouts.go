package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	paysdk "github.com/paycenter/paycenter/sdk"
)

// The review queues of operators (KYC, fees, flagged settlements) and the merchant's
// settlements and payouts.

type payoutOptions struct {
	amount                     int64
	currency, description, key string
	status                     string
	limit                      int
	interval, anchor           string
	delayDays                  int
}

func limitFlag(fs *flag.FlagSet, o *options) {
	fs.IntVar(&o.payouts.limit, "limit", 0, "at most this many, 1..100 (default: the server's, 10)")
}

func checkLimit(o *options) error {
	if o.payouts.limit < 0 || o.payouts.limit > 100 {
		return fmt.Errorf("-limit %d: want 1 to 100", o.payouts.limit)
	}
	return nil
}

func withSecretKey(more func(o *options) error) func(o *options) error {
	return func(o *options) error {
		if err := checkSecretKey(o); err != nil {
			return err
		}
		if more != nil {
			return more(o)
		}
		return nil
	}
}

func init() {
	commands = append(commands, &command{
		name: "kyc pending", synopsis: "[-limit N]",
		summary: "list the KYC submissions waiting for a decision, oldest first",
		about:   "Prints the merchants whose KYC submission is pending, oldest first, with the legal name and country they gave. Decide each with payctl kyc review.",
		example: "payctl kyc pending -limit 20",
		flags: func(fs *flag.FlagSet, o *options) {
			apiFlags(fs, o)
			limitFlag(fs, o)
		},
		check: checkLimit,
		run:   kycPending,
	}, &command{
		name: "fees get", synopsis: "-merchant ID|*",
		summary: "show the fee schedules that apply to a merchant (or, with '*', the platform's)",
		about:   "Prints the merchant's own fee schedules (per channel, * for its default), then the platform's defaults that apply where it has none.",
		example: "payctl fees get -merchant mer_us-east_5z8k2q7m0c1d",
		flags: func(fs *flag.FlagSet, o *options) {
			apiFlags(fs, o)
			fs.StringVar(&o.merchant, "merchant", "", "the merchant's ID, or * for the platform's default")
		},
		check: requireMerchant,
		run:   feesGet,
	}, &command{
		name: "settlements flagged", synopsis: "[-limit N]",
		summary: "list every merchant's settlement days that reconciliation found in disagreement",
		about:   "Prints the settlements whose reconciliation is mismatch (a channel's statement disagreed with one of the merchant's movements that day), newest day first, with what disagreed. payctl reconcile flags them.",
		example: "payctl settlements flagged",
		flags: func(fs *flag.FlagSet, o *options) {
			apiFlags(fs, o)
			limitFlag(fs, o)
		},
		check: checkLimit,
		run:   settlementsFlagged,
	}, &command{
		name: "settlements list", synopsis: "-secret-key SK [-limit N]",
		summary: "list the merchant's settlement days, newest first",
		about:   "Prints the merchant's closed settlement days: date, currency, count, gross, refunds, fees and net in minor units, and the reconciliation state.",
		example: "payctl settlements list -secret-key sk_test_5z8k2q7m0c1d",
		flags: func(fs *flag.FlagSet, o *options) {
			merchantFlags(fs, o)
			limitFlag(fs, o)
		},
		check: withSecretKey(checkLimit),
		run:   settlementsList,
	}, &command{
		name: "settlements show", synopsis: "SETTLEMENT_ID -secret-key SK", positional: "settlement",
		summary: "show one of the merchant's settlements",
		about:   "Prints the settlement's sums (minor units) and its reconciliation state with what disagreed, if anything.",
		example: "payctl settlements show st_us-east_5z8k2q7m0c1d -secret-key sk_test_5z8k2q7m0c1d",
		flags:   merchantFlags,
		check:   withSecretKey(requirePositional("settlement")),
		run:     settlementsShow,
	}, &command{
		name: "settlements lines", synopsis: "SETTLEMENT_ID -secret-key SK", positional: "settlement",
		summary: "print a settlement's lines as CSV",
		about:   "Writes the settlement's lines to standard output as CSV: one row per balance transaction, amounts in minor units and in decimal.",
		example: "payctl settlements lines st_us-east_5z8k2q7m0c1d -secret-key sk_test_5z8k2q7m0c1d",
		flags:   merchantFlags,
		check:   withSecretKey(requirePositional("settlement")),
		run:     settlementsLines,
	}, &command{
		name: "payouts create", synopsis: "-secret-key SK -amount N -currency CUR [-description TEXT] [-idempotency-key KEY]",
		summary: "pay some of the merchant's available balance to its verified bank account",
		about: "Creates a payout to the merchant's verified bank account, in that account's currency, exactly once per " +
			"Idempotency-Key (one is made unless -idempotency-key gives it: give the same key to retry). It needs a verified KYC " +
			"and never exceeds the available balance.",
		example: `payctl payouts create -secret-key sk_test_5z8k2q7m0c1d -amount 50000 -currency EUR -description "November"`,
		flags: func(fs *flag.FlagSet, o *options) {
			merchantFlags(fs, o)
			fs.Int64Var(&o.payouts.amount, "amount", 0, "the amount, in minor units")
			fs.StringVar(&o.payouts.currency, "currency", "", "ISO 4217 currency of the bank account, e.g. EUR")
			fs.StringVar(&o.payouts.description, "description", "", "shown with the payout")
			fs.StringVar(&o.payouts.key, "idempotency-key", "", "the request's Idempotency-Key (default: a new one)")
		},
		check: withSecretKey(func(o *options) error {
			switch {
			case o.payouts.amount <= 0:
				return errors.New("-amount is required: a positive amount in minor units")
			case o.payouts.currency == "":
				return errors.New("-currency is required")
			}
			return nil
		}),
		run: payoutsCreate,
	}, &command{
		name: "payouts list", synopsis: "-secret-key SK [-status pending|in_transit|paid|failed] [-limit N]",
		summary: "list the merchant's payouts, newest first",
		about:   "Prints the merchant's payouts: ID, status, amount (minor units), whether the schedule made it, and the failure code of a failed one.",
		example: "payctl payouts list -secret-key sk_test_5z8k2q7m0c1d -status failed",
		flags: func(fs *flag.FlagSet, o *options) {
			merchantFlags(fs, o)
			fs.StringVar(&o.payouts.status, "status", "", "only payouts in this status: pending, in_transit, paid, failed")
			limitFlag(fs, o)
		},
		check: withSecretKey(func(o *options) error {
			switch o.payouts.status {
			case "", paysdk.PayoutPending, paysdk.PayoutInTransit, paysdk.PayoutPaid, paysdk.PayoutFailed:
			default:
				return fmt.Errorf("-status %q: want pending, in_transit, paid or failed", o.payouts.status)
			}
			return checkLimit(o)
		}),
		run: payoutsList,
	}, &command{
		name: "payouts show", synopsis: "PAYOUT_ID -secret-key SK", positional: "payout",
		summary: "show one of the merchant's payouts",
		about:   "Prints the payout's status, amount, bank account (last four) and bank reference, and why it failed, if it did.",
		example: "payctl payouts show po_us-east_5z8k2q7m0c1d -secret-key sk_test_5z8k2q7m0c1d",
		flags:   merchantFlags,
		check:   withSecretKey(requirePositional("payout")),
		run:     payoutsShow,
	}, &command{
		name: "payouts schedule", synopsis: "-secret-key SK [-interval daily|weekly|manual [-weekly-anchor DAY] [-delay-days N]]",
		summary: "show or set the merchant's automatic payout schedule",
		about: "Without -interval, prints the schedule. With it, sets it: daily or weekly (on -weekly-anchor, default monday) " +
			"automatic payouts of the available balance, holding back what became available less than -delay-days ago; manual: none.",
		example: "payctl payouts schedule -secret-key sk_test_5z8k2q7m0c1d -interval weekly -weekly-anchor friday -delay-days 2",
		flags: func(fs *flag.FlagSet, o *options) {
			merchantFlags(fs, o)
			fs.StringVar(&o.payouts.interval, "interval", "", "daily, weekly or manual (empty: show the schedule)")
			fs.StringVar(&o.payouts.anchor, "weekly-anchor", "", "the weekday of weekly payouts, e.g. friday")
			fs.IntVar(&o.payouts.delayDays, "delay-days", 0, "hold back money available for less than this many days, 0..30")
		},
		check: withSecretKey(func(o *options) error {
			p := o.payouts
			switch {
			case p.interval != "" && p.interval != "daily" && p.interval != "weekly" && p.interval != "manual":
				return fmt.Errorf("-interval %q: want daily, weekly or manual", p.interval)
			case p.anchor != "" && p.interval != "weekly":
				return errors.New("-weekly-anchor goes with -interval weekly")
			case p.delayDays < 0 || p.delayDays > 30:
				return fmt.Errorf("-delay-days %d: want 0 to 30", p.delayDays)
			}
			return nil
		}),
		run: payoutsSchedule,
	})
}

func requirePositional(what string) func(o *options) error {
	return func(o *options) error {
		if o.regionArg == "" {
			return fmt.Errorf("the %s ID is required", what)
		}
		return nil
	}
}

func kycPending(ctx context.Context, e *env) error {
	a, err := e.admin()
	if err != nil {
		return err
	}
	list, err := a.KYCSubmissions(ctx, "pending", e.opts.payouts.limit)
	if err != nil {
		return err
	}
	if e.opts.json {
		return e.printJSON(list)
	}
	if len(list.Data) == 0 {
		fmt.Fprintln(e.out, "no KYC submission is pending")
	}
	for _, k := range list.Data {
		at := ""
		if k.SubmittedAt != nil {
			at = k.SubmittedAt.UTC().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(e.out, "%s  submitted %s  %v (%v)\n", k.Merchant, at, k.Details["legal_name"], k.Details["country"])
	}
	if list.HasMore {
		fmt.Fprintln(e.out, "… more: raise -limit")
	}
	return nil
}

func feesGet(ctx context.Context, e *env) error {
	a, err := e.admin()
	if err != nil {
		return err
	}
	list, err := a.Fees(ctx, e.opts.merchant)
	if err != nil {
		return err
	}
	if e.opts.json {
		return e.printJSON(list)
	}
	if len(list.Data) == 0 {
		fmt.Fprintln(e.out, "no fee schedule: payments pay no fee")
	}
	for _, f := range list.Data {
		fmt.Fprintf(e.out, "%s on %s: %d.%02d%% + %d minor units, refund_fees=%v\n", f.Merchant, f.Channel,
			f.PercentBps/100, f.PercentBps%100, f.Fixed, f.RefundFees)
	}
	return nil
}

func printSettlement(e *env, st *paysdk.Settlement) {
	fmt.Fprintf(e.out, "%s  %s %s  count %d  gross %d  refunds %d  fees %d  net %d  %s\n", st.ID, st.Date, st.Currency,
		st.Count, st.Gross, st.Refunds, st.Fees, st.Net, st.Reconciliation)
}

func settlementsFlagged(ctx context.Context, e *env) error {
	a, err := e.admin()
	if err != nil {
		return err
	}
	list, err := a.ReviewSettlements(ctx, paysdk.SettlementFilter{Reconciliation: "mismatch", Limit: e.opts.payouts.limit})
	if err != nil {
		return err
	}
	if e.opts.json {
		return e.printJSON(list)
	}
	if len(list.Data) == 0 {
		fmt.Fprintln(e.out, "no settlement day is flagged")
	}
	for _, st := range list.Data {
		fmt.Fprintf(e.out, "%s  ", st.Merchant)
		printSettlement(e, st)
		for _, d := range st.ReconciliationDetail {
			fmt.Fprintln(e.out, "    ", d)
		}
	}
	return nil
}

func settlementsList(ctx context.Context, e *env) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	list, err := c.ListSettlements(ctx, e.opts.payouts.limit)
	if err != nil {
		return err
	}
	if e.opts.json {
		return e.printJSON(list)
	}
	for _, st := range list.Data {
		printSettlement(e, st)
	}
	return nil
}

func settlementsShow(ctx context.Context, e *env) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	st, err := c.GetSettlement(ctx, e.opts.regionArg)
	if err != nil {
		return err
	}
	if e.opts.json {
		return e.printJSON(st)
	}
	printSettlement(e, st)
	for _, d := range st.ReconciliationDetail {
		fmt.Fprintln(e.out, "  disagrees:", d)
	}
	return nil
}

func settlementsLines(ctx context.Context, e *env) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	csv, err := c.SettlementLinesCSV(ctx, e.opts.regionArg)
	if err != nil {
		return err
	}
	_, err = e.out.Write(csv)
	return err
}

func payoutLine(po *paysdk.Payout) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %-10s %d %s to …%s", po.ID, po.Status, po.Amount, po.Currency, po.Destination.Last4)
	if po.Automatic {
		b.WriteString("  (schedule)")
	}
	if po.FailureCode != nil {
		fmt.Fprintf(&b, "  failure %s", *po.FailureCode)
	}
	return b.String()
}

func payoutsCreate(ctx context.Context, e *env) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	p := e.opts.payouts
	var opts []paysdk.CallOption
	if p.key != "" {
		opts = append(opts, paysdk.WithIdempotencyKey(p.key))
	}
	po, err := c.CreatePayout(ctx, paysdk.CreatePayoutParams{Amount: p.amount, Currency: p.currency, Description: p.description}, opts...)
	if err != nil {
		return err
	}
	return e.print(po, payoutLine(po))
}

func payoutsList(ctx context.Context, e *env) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	list, err := c.ListPayouts(ctx, paysdk.PayoutFilter{Status: e.opts.payouts.status, Limit: e.opts.payouts.limit})
	if err != nil {
		return err
	}
	if e.opts.json {
		return e.printJSON(list)
	}
	for _, po := range list.Data {
		fmt.Fprintln(e.out, payoutLine(po))
	}
	return nil
}

func payoutsShow(ctx context.Context, e *env) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	po, err := c.GetPayout(ctx, e.opts.regionArg)
	if err != nil {
		return err
	}
	if e.opts.json {
		return e.printJSON(po)
	}
	fmt.Fprintln(e.out, payoutLine(po))
	if po.ChannelReference != nil {
		fmt.Fprintln(e.out, "bank reference:", *po.ChannelReference)
	}
	if po.FailureMessage != nil {
		fmt.Fprintln(e.out, "failure:", *po.FailureMessage)
	}
	return nil
}

func payoutsSchedule(ctx context.Context, e *env) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	p := e.opts.payouts
	var sc *paysdk.PayoutSchedule
	if p.interval == "" {
		sc, err = c.PayoutSchedule(ctx)
	} else {
		days := p.delayDays
		sc, err = c.SetPayoutSchedule(ctx, paysdk.PayoutScheduleParams{Interval: p.interval, WeeklyAnchor: p.anchor, DelayDays: &days})
	}
	if err != nil {
		return err
	}
	line := fmt.Sprintf("payout schedule: %s", sc.Interval)
	if sc.WeeklyAnchor != "" {
		line += " on " + sc.WeeklyAnchor
	}
	return e.print(sc, fmt.Sprintf("%s, delay_days %d", line, sc.DelayDays))
}
