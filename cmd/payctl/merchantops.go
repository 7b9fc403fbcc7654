package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	paysdk "github.com/paycenter/paycenter/sdk"
)

// merchantOpsOptions are the flags of the KYC, fee and adjustment commands.
type merchantOpsOptions struct {
	approve, reject bool
	reason          string
	percentBps      int64
	fixed           int64
	refundFees      bool
	amount          int64
	currency        string
	allowNegative   bool
}

func requireMerchant(o *options) error {
	if o.merchant == "" {
		return errors.New("-merchant is required")
	}
	return nil
}

func init() {
	commands = append(commands, &command{
		name: "kyc show", synopsis: "-merchant ID",
		summary: "show a merchant's KYC verification",
		about:   "Prints the merchant's KYC status, what is due or being verified, and the decision's reason, if any. The ID and account numbers are shown as last four only.",
		example: "payctl kyc show -merchant mer_us-east_5z8k2q7m0c1d",
		flags: func(fs *flag.FlagSet, o *options) {
			apiFlags(fs, o)
			fs.StringVar(&o.merchant, "merchant", "", "the merchant's ID")
		},
		check: requireMerchant,
		run:   kycShow,
	}, &command{
		name: "kyc review", synopsis: "-merchant ID (-approve | -reject -reason TEXT)",
		summary: "approve or reject a merchant's pending KYC submission (audited)",
		about:   "Decides the merchant's pending KYC submission: -approve verifies it (payouts enabled, no volume limit), -reject refuses it with -reason. The decision is audited and raises kyc.verified or kyc.rejected.",
		example: `payctl kyc review -merchant mer_us-east_5z8k2q7m0c1d -reject -reason "registration number does not match"`,
		flags: func(fs *flag.FlagSet, o *options) {
			apiFlags(fs, o)
			fs.StringVar(&o.merchant, "merchant", "", "the merchant's ID")
			fs.BoolVar(&o.ops.approve, "approve", false, "approve the submission")
			fs.BoolVar(&o.ops.reject, "reject", false, "reject the submission (with -reason)")
			fs.StringVar(&o.ops.reason, "reason", "", "why the submission is rejected")
		},
		check: func(o *options) error {
			if err := requireMerchant(o); err != nil {
				return err
			}
			switch {
			case o.ops.approve == o.ops.reject:
				return errors.New("give one of -approve and -reject")
			case o.ops.reject && o.ops.reason == "":
				return errors.New("-reject needs -reason")
			case o.ops.approve && o.ops.reason != "":
				return errors.New("-reason goes with -reject only")
			}
			return nil
		},
		run: kycReview,
	}, &command{
		name: "fees set", synopsis: "-merchant ID|* [-channel CHANNEL] -percent-bps N [-fixed N] [-refund-fees]",
		summary: "set a merchant's (or, with -merchant '*', the platform's) fee schedule (audited)",
		about:   "Sets the fee taken at capture: -percent-bps basis points of the captured amount, rounded half to even on the minor unit, plus -fixed minor units; -refund-fees gives the fee back in proportion with refunds. Without -channel it applies to every channel without its own schedule. Payments created from then on use it.",
		example: "payctl fees set -merchant mer_us-east_5z8k2q7m0c1d -channel card -percent-bps 290 -fixed 30",
		flags: func(fs *flag.FlagSet, o *options) {
			apiFlags(fs, o)
			fs.StringVar(&o.merchant, "merchant", "", "the merchant's ID, or * for the platform's default")
			fs.StringVar(&o.channel, "channel", "", "the channel (empty: every channel): "+channelNames())
			fs.Int64Var(&o.ops.percentBps, "percent-bps", 0, "basis points of the captured amount, 0..10000")
			fs.Int64Var(&o.ops.fixed, "fixed", 0, "fixed part, minor units")
			fs.BoolVar(&o.ops.refundFees, "refund-fees", false, "refunds give the fee back in proportion")
		},
		check: func(o *options) error {
			if err := requireMerchant(o); err != nil {
				return err
			}
			if o.channel != "" {
				if err := checkChannel(o.channel); err != nil {
					return err
				}
			}
			if o.ops.percentBps < 0 || o.ops.percentBps > 10_000 {
				return fmt.Errorf("-percent-bps %d: want 0 to 10000", o.ops.percentBps)
			}
			if o.ops.fixed < 0 {
				return fmt.Errorf("-fixed %d: want 0 or more minor units", o.ops.fixed)
			}
			return nil
		},
		run: feesSet,
	}, &command{
		name: "balance adjust", synopsis: "-merchant ID -amount N -currency CUR -reason TEXT [-allow-negative]",
		summary: "credit (positive) or debit (negative) a merchant's available balance (audited)",
		about:   "Posts an operator adjustment of the merchant's available balance, in minor units, with a reason. A debit below zero is refused unless -allow-negative.",
		example: `payctl balance adjust -merchant mer_us-east_5z8k2q7m0c1d -amount -1500 -currency USD -reason "chargeback fee"`,
		flags: func(fs *flag.FlagSet, o *options) {
			apiFlags(fs, o)
			fs.StringVar(&o.merchant, "merchant", "", "the merchant's ID")
			fs.Int64Var(&o.ops.amount, "amount", 0, "minor units; positive credits, negative debits")
			fs.StringVar(&o.ops.currency, "currency", "", "ISO 4217 currency, e.g. USD")
			fs.StringVar(&o.ops.reason, "reason", "", "why (kept in the audit log)")
			fs.BoolVar(&o.ops.allowNegative, "allow-negative", false, "let a debit take the balance below zero")
		},
		check: func(o *options) error {
			switch {
			case o.merchant == "":
				return errors.New("-merchant is required")
			case o.ops.amount == 0:
				return errors.New("-amount is required and not 0")
			case o.ops.currency == "":
				return errors.New("-currency is required")
			case o.ops.reason == "":
				return errors.New("-reason is required")
			}
			return nil
		},
		run: balanceAdjust,
	})
}

func printKYC(e *env, k *paysdk.KYC) error {
	if e.opts.json {
		return e.printJSON(k)
	}
	fmt.Fprintf(e.out, "merchant %s: kyc %s, charges_enabled=%v payouts_enabled=%v\n", k.Merchant, k.Status, k.ChargesEnabled, k.PayoutsEnabled)
	if len(k.Requirements.CurrentlyDue) > 0 {
		fmt.Fprintf(e.out, "currently due: %v\n", k.Requirements.CurrentlyDue)
	}
	if len(k.Requirements.PendingVerification) > 0 {
		fmt.Fprintf(e.out, "pending verification: %v\n", k.Requirements.PendingVerification)
	}
	if k.RejectedReason != nil {
		fmt.Fprintf(e.out, "rejected: %s\n", *k.RejectedReason)
	}
	return nil
}

func kycShow(ctx context.Context, e *env) error {
	a, err := e.admin()
	if err != nil {
		return err
	}
	k, err := a.MerchantKYC(ctx, e.opts.merchant)
	if err != nil {
		return err
	}
	return printKYC(e, k)
}

func kycReview(ctx context.Context, e *env) error {
	a, err := e.admin()
	if err != nil {
		return err
	}
	k, err := a.DecideKYC(ctx, e.opts.merchant, e.opts.ops.approve, e.opts.ops.reason)
	if err != nil {
		return err
	}
	return printKYC(e, k)
}

func feesSet(ctx context.Context, e *env) error {
	a, err := e.admin()
	if err != nil {
		return err
	}
	o := e.opts
	f, err := a.SetFees(ctx, o.merchant, paysdk.FeeScheduleParams{Channel: paysdk.Channel(o.channel),
		PercentBps: o.ops.percentBps, Fixed: o.ops.fixed, RefundFees: o.ops.refundFees})
	if err != nil {
		return err
	}
	if o.json {
		return e.printJSON(f)
	}
	fmt.Fprintf(e.out, "fees for %s on %s: %d.%02d%% + %d minor units, refund_fees=%v\n", f.Merchant, f.Channel,
		f.PercentBps/100, f.PercentBps%100, f.Fixed, f.RefundFees)
	return nil
}

func balanceAdjust(ctx context.Context, e *env) error {
	a, err := e.admin()
	if err != nil {
		return err
	}
	o := e.opts
	adj, err := a.CreateAdjustment(ctx, paysdk.AdjustmentParams{Merchant: o.merchant, Amount: o.ops.amount,
		Currency: o.ops.currency, Reason: o.ops.reason, AllowNegative: o.ops.allowNegative})
	if err != nil {
		return err
	}
	if o.json {
		return e.printJSON(adj)
	}
	fmt.Fprintf(e.out, "adjustment %s: %d minor units of %s to %s (%s)\n", adj.ID, adj.Amount, adj.Currency, adj.Merchant, adj.Reason)
	return nil
}
