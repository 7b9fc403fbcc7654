package core

import (
	"testing"
)

func payoutIn(st string) *Payout {
	return &Payout{Object: "payout", ID: "po_us-east_1", MerchantID: "mer_us-east_1", Region: "us-east",
		Amount: 700, Currency: "EUR", Status: st, CreatedAt: t0, UpdatedAt: t0}
}

// sums adds the postings of journals per account.
func sums(js []Journal) map[string]int64 {
	out := map[string]int64{}
	for _, j := range js {
		for _, p := range j.Postings {
			out[p.Account] += p.Amount
		}
	}
	return out
}

// Every (status, bank outcome) pair: the status reached, the money moved (available is the
// negated sum of merchant_available postings) and the event raised; a pair that does not
// apply changes nothing or is refused.
func TestPayoutApplyEveryStatusAndOutcome(t *testing.T) {
	const a = 700
	type want struct {
		status    string // "" : no change
		available int64  // what the merchant's available balance moved by
		event     string
		err       bool
	}
	cases := map[string]map[PayoutOutcome]want{
		PayoutPending: {
			PayoutOutcomeInTransit: {status: PayoutInTransit},
			PayoutOutcomePaid:      {status: PayoutPaid, event: EventPayoutPaid},
			PayoutOutcomeFailed:    {status: PayoutFailed, available: a, event: EventPayoutFailed},
			PayoutOutcomeReturned:  {status: PayoutFailed, available: a, event: EventPayoutFailed},
		},
		PayoutInTransit: {
			PayoutOutcomeInTransit: {},
			PayoutOutcomePaid:      {status: PayoutPaid, event: EventPayoutPaid},
			PayoutOutcomeFailed:    {status: PayoutFailed, available: a, event: EventPayoutFailed},
			PayoutOutcomeReturned:  {status: PayoutFailed, available: a, event: EventPayoutFailed},
		},
		PayoutPaid: {
			PayoutOutcomeInTransit: {},
			PayoutOutcomePaid:      {},
			PayoutOutcomeFailed:    {err: true},
			PayoutOutcomeReturned:  {status: PayoutFailed, available: a, event: EventPayoutFailed},
		},
		PayoutFailed: {
			PayoutOutcomeInTransit: {},
			PayoutOutcomePaid:      {},
			PayoutOutcomeFailed:    {},
			PayoutOutcomeReturned:  {},
		},
	}
	for from, outcomes := range cases {
		for outcome, w := range outcomes {
			t.Run(from+"+"+string(outcome), func(t *testing.T) {
				po := payoutIn(from)
				ch, err := po.Apply(PayoutResult{Found: true, Outcome: outcome, Reference: "bk_1"}, t0)
				if w.err {
					if err == nil {
						t.Fatalf("want an error, got %+v", ch)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if w.status == "" {
					if !ch.Empty() {
						t.Fatalf("want no change, got %+v", ch.Payout)
					}
					return
				}
				if ch.Payout.Status != w.status || ch.From != from {
					t.Fatalf("status %s from %s, want %s from %s", ch.Payout.Status, ch.From, w.status, from)
				}
				if po.Status != from {
					t.Errorf("Apply changed its receiver")
				}
				for _, j := range ch.Journals {
					if err := j.Balanced(); err != nil {
						t.Error(err)
					}
					if j.SourceID != po.ID || j.MerchantID != po.MerchantID {
						t.Errorf("journal %+v not of the payout", j)
					}
				}
				if got := -sums(ch.Journals)[AccountMerchantAvailable]; got != w.available {
					t.Errorf("available moved by %d, want %d", got, w.available)
				}
				var events []string
				for _, e := range ch.Events {
					events = append(events, e.Type)
				}
				if (w.event == "" && len(events) != 0) || (w.event != "" && (len(events) != 1 || events[0] != w.event)) {
					t.Errorf("events %v, want %q", events, w.event)
				}
				if w.status == PayoutFailed && (ch.Payout.FailureCode == nil || ch.Journals[0].Kind != JournalPayoutFailure) {
					t.Errorf("a failed payout needs a failure code and a payout_failure journal: %+v", ch)
				}
			})
		}
	}
}

// The money of a payout: reserved when made, out when paid, back once when returned; the
// transit account is empty at the end of either path.
func TestPayoutJournalsNetOut(t *testing.T) {
	acct := PayoutAccount{KYCStatus: KYCVerified, Currency: "EUR", AccountNumber: "0532013000", BankCode: "37040044", HolderName: "Acme"}
	po, created, err := NewPayout("po_us-east_1", "mer_us-east_1", "us-east", CreatePayoutParams{Amount: 700, Currency: "EUR"}, acct, 700, false, t0)
	if err != nil {
		t.Fatal(err)
	}
	if po.Destination.Last4 != "3000" || created.Events[0].Type != EventPayoutCreated {
		t.Fatalf("payout %+v, events %+v", po, created.Events)
	}
	paid, _ := po.Apply(PayoutResult{Found: true, Outcome: PayoutOutcomePaid}, t0)
	returned, _ := paid.Payout.Apply(PayoutResult{Found: true, Outcome: PayoutOutcomeReturned}, t0)
	all := sums(append(append(created.Journals, paid.Journals...), returned.Journals...))
	if all[AccountMerchantAvailable] != 0 || all[AccountPayoutsInTransit] != 0 || all[AccountPayoutsPaid] != 0 {
		t.Errorf("after a returned payout the accounts hold %v, want all zero", all)
	}
	kept := sums(append(created.Journals, paid.Journals...))
	if kept[AccountMerchantAvailable] != 700 || kept[AccountPayoutsPaid] != -700 || kept[AccountPayoutsInTransit] != 0 {
		t.Errorf("after a paid payout the accounts hold %v", kept)
	}
}

// A payout is refused, naming what is wrong, for a merchant not verified, a currency other
// than the bank account's, or more than is available.
func TestNewPayoutRefusals(t *testing.T) {
	ok := PayoutAccount{KYCStatus: KYCVerified, Currency: "EUR", AccountNumber: "0532013000"}
	for _, c := range []struct {
		name      string
		acct      PayoutAccount
		p         CreatePayoutParams
		available int64
		code      string
		param     string
	}{
		{"unverified", PayoutAccount{KYCStatus: KYCPending, Currency: "EUR"}, CreatePayoutParams{Amount: 1, Currency: "EUR"}, 10, CodeKYCRequired, ""},
		{"other currency", ok, CreatePayoutParams{Amount: 1, Currency: "USD"}, 10, CodeParameterInvalid, "currency"},
		{"above available", ok, CreatePayoutParams{Amount: 11, Currency: "EUR"}, 10, CodeBalanceInsufficient, "amount"},
		{"negative available", ok, CreatePayoutParams{Amount: 1, Currency: "EUR"}, -5, CodeBalanceInsufficient, "amount"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := NewPayout("po_1", "mer_1", "us-east", c.p, c.acct, c.available, false, t0)
			if e := AsError(err); err == nil || e.Code != c.code || e.Param != c.param {
				t.Errorf("got %v, want %s naming %q", err, c.code, c.param)
			}
		})
	}
	for _, p := range []CreatePayoutParams{{Amount: -1, Currency: "EUR"}, {Amount: 0, Currency: "EUR"}, {Amount: MaxAmount + 1, Currency: "EUR"}} {
		if err := p.Validate(); AsError(err).Param != "amount" {
			t.Errorf("%+v: %v, want an error naming amount", p, err)
		}
	}
}
