package chaos

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// PaymentRow is a payment as the database has it.
type PaymentRow struct {
	ID                  string
	MerchantID          string
	Status              core.Status
	Amount              int64
	AmountCapturable    int64
	AmountCaptured      int64
	AmountRefunded      int64
	AmountRefundPending int64
	Currency            string
	Channel             core.Channel
	CaptureMethod       core.CaptureMethod
	Reference           string
	PendingOp           string
}

// RefundRow is a refund as the database has it.
type RefundRow struct {
	ID         string
	MerchantID string
	PaymentID  string
	Amount     int64
	Status     string
}

// KeyRow is an idempotency_keys row.
type KeyRow struct {
	MerchantID     string
	Key            string
	Method, Path   string
	PaymentID      string
	RefundID       string
	ResponseStatus int // 0: not finished
	RecoveryPoint  string
}

// JournalRow is one ledger journal: the sum of its entries.
type JournalRow struct {
	ID        string
	Kind      string
	PaymentID string
	RefundID  string
	Sum       int64
	Entries   int
}

// EventRow is an outbox event.
type EventRow struct {
	ID       string
	Type     string
	ObjectID string
}

// Evidence is everything the checker looks at, for the experiment's merchants.
type Evidence struct {
	// Merchants are the experiment's merchants: the database rows below are theirs.
	Merchants []string
	History   []Op
	Payments  map[string]PaymentRow
	Refunds   map[string]RefundRow
	Keys      []KeyRow
	Journals  []JournalRow
	Events    []EventRow
	// Charges is the channel simulator's record of charges (every payment it ever saw);
	// nil when there is no simulator to ask.
	Charges *netsim.Charges
	// Elsewhere are payments of other merchants that the simulator charged, as the database
	// has them (a charge whose payment is in neither map is lost).
	Elsewhere map[string]PaymentRow
	// Ledger is the admin whole-ledger check's answer; nil if it could not be had.
	Ledger *paysdk.LedgerReport
	// LedgerErr says why there is no ledger report.
	LedgerErr string
	// SettleBound is the bound the platform had to settle in, for messages.
	SettleBound time.Duration
	// Webhooks are the deliveries the chaos receiver got; nil when no receiver ran (the
	// delivery invariant is then not checked).
	Webhooks []Delivery
}

// Invariant names, as violations report them.
const (
	InvAcknowledged = "acknowledged-exists-once"
	InvNoDuplicate  = "no-duplicate"
	InvNotLost      = "channel-charge-has-payment"
	InvLedger       = "ledger-balances"
	InvSettled      = "settles-within-bound"
	InvOutbox       = "outbox-complete"
	InvLinearizable = "linearizable"
	InvDelivered    = "webhooks-delivered"
)

// Violation is one broken invariant.
type Violation struct {
	Invariant string `json:"invariant"`
	Detail    string `json:"detail"`
}

// Verdict is what the checker found.
type Verdict struct {
	Operations   int `json:"operations"`
	Acknowledged int `json:"acknowledged"`
	// AckedPayments is how many payments clients saw created (2xx, or a 402 decline).
	AckedPayments int `json:"acked_payments"`
	Duplicates    int `json:"duplicates"`
	Lost          int `json:"lost"`
	Stuck         int `json:"stuck"`
	// Unresolved counts client operations that never got a definitive answer though their
	// client kept retrying; Abandoned those whose client gave up on purpose.
	Unresolved int `json:"unresolved"`
	Abandoned  int `json:"abandoned"`
	// FinalErrors counts definitive answers that were errors other than the expected ones
	// (declines, invalid state after a race): they are reported, not failures.
	FinalErrors      int                   `json:"final_errors"`
	Journals         int                   `json:"journals"`
	Unbalanced       int                   `json:"unbalanced"`
	OutboxEvents     int                   `json:"outbox_events"`
	OutboxExpected   int                   `json:"outbox_expected"`
	OutboxMissing    int                   `json:"outbox_missing"`
	OutboxDuplicates int                   `json:"outbox_duplicates"`
	ChannelCharges   int                   `json:"channel_charges"`
	Webhooks         WebhookVerdict        `json:"webhooks"`
	Linearizability  LinearizabilityReport `json:"linearizability"`
	Violations       []Violation           `json:"violations,omitempty"`
}

// Passed reports whether every invariant held.
func (v *Verdict) Passed() bool { return len(v.Violations) == 0 }

func (v *Verdict) violate(inv, format string, args ...any) {
	v.Violations = append(v.Violations, Violation{Invariant: inv, Detail: fmt.Sprintf(format, args...)})
}

// settledStatus are the states a payment may rest in once faults have healed.
func settledStatus(s core.Status) bool {
	switch s {
	case core.StatusSucceeded, core.StatusFailed, core.StatusCanceled, core.StatusRequiresCapture, core.StatusRequiresAction:
		return true
	}
	return false
}

// expectedErr are definitive errors a correct run produces: declines, and refusals a flow
// can meet when the platform moved the payment on first.
var expectedErr = map[string]bool{
	core.CodeCardDeclined: true, core.CodeInsufficientFunds: true, core.CodeInvalidState: true,
	core.CodeAmountTooLarge: true,
}

// Check checks the invariants on e. It reads nothing but e.
func Check(e Evidence) Verdict {
	var v Verdict
	checkHistory(&e, &v)
	checkDatabase(&e, &v)
	checkChannel(&e, &v)
	checkLedger(&e, &v)
	checkSettled(&e, &v)
	checkOutbox(&e, &v)
	checkDelivered(&e, &v)
	v.Linearizability = CheckLinearizable(e.History, 5*time.Second)
	for _, id := range v.Linearizability.Illegal {
		v.violate(InvLinearizable, "payment %s: its history is not linearizable (%s)", id, describeHistory(e.History, id))
	}
	for _, id := range v.Linearizability.Unknown {
		v.violate(InvLinearizable, "payment %s: the checker could not decide in time", id)
	}
	return v
}

// checkHistory: every acknowledged payment exists once with its amount, every key named at
// most one object, acknowledged captures and refunds are in the database.
func checkHistory(e *Evidence, v *Verdict) {
	for i := range e.History {
		op := &e.History[i]
		if op.Client < 0 {
			continue // the verifier's own reads
		}
		v.Operations++
		if op.Acked() {
			v.Acknowledged++
		}
		if op.Abandoned {
			v.Abandoned++
		}
		if op.Kind.Moves() && !op.Final && !op.Abandoned {
			v.Unresolved++
			v.violate(InvSettled, "%s with key %s (client %d) got no definitive answer within the bound (last: %d %s)",
				op.Kind, op.Key, op.Client, op.Status, op.ErrCode)
		}
		if op.Final && !op.Acked() && op.Kind.Moves() && !expectedErr[op.ErrCode] {
			v.FinalErrors++
		}
		if len(op.SeenPayments) > 1 && op.Kind == OpCreate {
			v.Duplicates++
			v.violate(InvNoDuplicate, "key %s of merchant %s named %d payments: %s", op.Key, op.Merchant, len(op.SeenPayments), strings.Join(op.SeenPayments, ", "))
		}
		if len(op.SeenRefunds) > 1 {
			v.Duplicates++
			v.violate(InvNoDuplicate, "key %s of merchant %s named %d refunds: %s", op.Key, op.Merchant, len(op.SeenRefunds), strings.Join(op.SeenRefunds, ", "))
		}
		switch {
		case op.Kind == OpCreate && op.Final && op.Payment != nil:
			v.AckedPayments++
			p, ok := e.Payments[op.PaymentID]
			switch {
			case !ok:
				v.Lost++
				v.violate(InvAcknowledged, "payment %s (key %s) was acknowledged %d but is not in the database", op.PaymentID, op.Key, op.Status)
			case p.MerchantID != op.Merchant || p.Amount != op.Amount || p.Reference != op.Reference:
				v.Lost++
				v.violate(InvAcknowledged, "payment %s (key %s) was acknowledged for %s/%d/%s but the database has %s/%d/%s",
					op.PaymentID, op.Key, op.Merchant, op.Amount, op.Reference, p.MerchantID, p.Amount, p.Reference)
			}
		case op.Kind == OpCapture && op.Acked() && op.Payment != nil:
			if p, ok := e.Payments[op.PaymentID]; !ok || p.AmountCaptured != op.Amount {
				v.Lost++
				v.violate(InvAcknowledged, "capture of %d on %s (key %s) was acknowledged but the database has captured %d",
					op.Amount, op.PaymentID, op.Key, p.AmountCaptured)
			}
		case op.Kind == OpRefund && op.Acked() && op.RefundStatus == core.RefundSucceeded:
			if r, ok := e.Refunds[op.RefundID]; !ok || r.Status != core.RefundSucceeded || r.Amount != op.Amount || r.PaymentID != op.PaymentID {
				v.Lost++
				v.violate(InvAcknowledged, "refund %s of %d on %s (key %s) was acknowledged but the database has %+v",
					op.RefundID, op.Amount, op.PaymentID, op.Key, r)
			}
		}
	}
}

// checkDatabase: one create key per payment and one payment per create key; one refund key
// per refund; the keys the clients used name what the clients saw; one journal of each kind
// per payment, one per refund.
func checkDatabase(e *Evidence, v *Verdict) {
	createKeys := map[string][]string{} // payment → keys that created it
	refundKeys := map[string][]string{}
	byKey := map[string]KeyRow{}
	for _, k := range e.Keys {
		byKey[k.MerchantID+"\x00"+k.Key] = k
		switch {
		case k.Method == "POST" && k.Path == "/v1/payments" && k.PaymentID != "":
			createKeys[k.PaymentID] = append(createKeys[k.PaymentID], k.Key)
		case k.Method == "POST" && k.Path == "/v1/refunds" && k.RefundID != "":
			refundKeys[k.RefundID] = append(refundKeys[k.RefundID], k.Key)
		}
	}
	for _, id := range sortedKeys(e.Payments) {
		if n := len(createKeys[id]); n != 1 {
			v.Duplicates++
			v.violate(InvNoDuplicate, "payment %s was created by %d idempotency keys (%s), want exactly 1", id, n, strings.Join(createKeys[id], ", "))
		}
	}
	for _, id := range sortedKeys(e.Refunds) {
		if n := len(refundKeys[id]); n != 1 {
			v.Duplicates++
			v.violate(InvNoDuplicate, "refund %s was created by %d idempotency keys (%s), want exactly 1", id, n, strings.Join(refundKeys[id], ", "))
		}
	}
	refs := map[string][]string{}
	for _, p := range e.Payments {
		refs[p.MerchantID+"\x00"+p.Reference] = append(refs[p.MerchantID+"\x00"+p.Reference], p.ID)
	}
	for _, r := range sortedKeys(refs) {
		if ids := refs[r]; len(ids) > 1 {
			v.Duplicates++
			v.violate(InvNoDuplicate, "merchant reference %q has %d payments: %s", strings.Split(r, "\x00")[1], len(ids), strings.Join(ids, ", "))
		}
	}
	for _, op := range e.History {
		if op.Client < 0 || !op.Kind.Moves() || op.Key == "" {
			continue
		}
		k, ok := byKey[op.Merchant+"\x00"+op.Key]
		if !ok {
			continue // never reached the database (every attempt failed before it)
		}
		switch {
		case op.Kind == OpCreate && op.PaymentID != "" && k.PaymentID != "" && k.PaymentID != op.PaymentID:
			v.Duplicates++
			v.violate(InvNoDuplicate, "key %s: the client saw payment %s, the key names %s", op.Key, op.PaymentID, k.PaymentID)
		case op.Kind == OpRefund && op.RefundID != "" && k.RefundID != "" && k.RefundID != op.RefundID:
			v.Duplicates++
			v.violate(InvNoDuplicate, "key %s: the client saw refund %s, the key names %s", op.Key, op.RefundID, k.RefundID)
		}
	}
	// One journal of each kind per payment; one refund journal per succeeded refund.
	kinds := map[string]int{}
	refundJournals := map[string]int{}
	for _, j := range e.Journals {
		if j.Kind == "refund" {
			refundJournals[j.RefundID]++
			continue
		}
		kinds[j.PaymentID+"\x00"+j.Kind]++
	}
	for _, pk := range sortedKeys(kinds) {
		if n := kinds[pk]; n > 1 {
			parts := strings.Split(pk, "\x00")
			v.Duplicates++
			v.violate(InvNoDuplicate, "payment %s has %d %s journals, want at most 1", parts[0], n, parts[1])
		}
	}
	for _, id := range sortedKeys(e.Refunds) {
		r := e.Refunds[id]
		want := 0
		if r.Status == core.RefundSucceeded {
			want = 1
		}
		if n := refundJournals[id]; n != want {
			if n > want {
				v.Duplicates++
			} else {
				v.Lost++
			}
			v.violate(InvLedger, "refund %s (%s) has %d refund journals, want %d", id, r.Status, n, want)
		}
	}
	// Refunded amounts agree with the refunds.
	refunded := map[string]int64{}
	for _, r := range e.Refunds {
		if r.Status == core.RefundSucceeded {
			refunded[r.PaymentID] += r.Amount
		}
	}
	for _, id := range sortedKeys(e.Payments) {
		if p := e.Payments[id]; p.AmountRefunded != refunded[id] {
			v.violate(InvLedger, "payment %s says %d refunded, its succeeded refunds sum to %d", id, p.AmountRefunded, refunded[id])
		}
	}
}

// chargedStatus: the channel took (or holds) the payer's money.
func chargedStatus(s core.Status) bool {
	return s == core.StatusSucceeded || s == core.StatusRequiresCapture || s == core.StatusCanceled
}

// checkChannel: nothing charged twice; every channel charge has its payment, in a state that
// says money moved, for the amount charged; refunds agree.
func checkChannel(e *Evidence, v *Verdict) {
	if e.Charges == nil {
		return
	}
	ids := make([]string, 0, len(e.Charges.Payments))
	for id := range e.Charges.Payments {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		c := e.Charges.Payments[id]
		p, mine := e.Payments[id]
		if !mine {
			if _, known := e.Elsewhere[id]; c.Charges > 0 && !known {
				v.Lost++
				v.violate(InvNotLost, "the channel charged %d for %s, which is not in the database", c.AmountCharged, id)
			}
			continue // another run's payment (checked by its own run), or lost
		}
		v.ChannelCharges += c.Charges
		if c.Charges > 1 {
			v.Duplicates++
			v.violate(InvNoDuplicate, "payment %s was charged %d times at the channel (%v)", id, c.Charges, c.Charged)
		}
		if c.Orders > 1 {
			v.Duplicates++
			v.violate(InvNoDuplicate, "payment %s has %d channel orders", id, c.Orders)
		}
		for _, k := range sortedKeys(c.Keys) {
			if c.Keys[k] > 1 {
				v.Duplicates++
				v.violate(InvNoDuplicate, "channel key %s of payment %s ran %d times", k, id, c.Keys[k])
			}
		}
		switch {
		case c.Charges > 0 && !chargedStatus(p.Status):
			v.Lost++
			v.violate(InvNotLost, "the channel charged %d for %s, which the database says is %s", c.AmountCharged, id, p.Status)
		case c.Charges == 1 && c.AmountCharged != p.Amount:
			v.violate(InvNotLost, "the channel charged %d for %s, whose amount is %d", c.AmountCharged, id, p.Amount)
		}
		if c.AmountRefunded != p.AmountRefunded {
			v.violate(InvNotLost, "the channel refunded %d of %s, the database says %d", c.AmountRefunded, id, p.AmountRefunded)
		}
	}
	// The other way round: money the platform says moved that the channel never took.
	for _, id := range sortedKeys(e.Payments) {
		p := e.Payments[id]
		if p.Status == core.StatusSucceeded || p.Status == core.StatusRequiresCapture {
			if c := e.Charges.Payments[id]; c == nil || c.Charges == 0 {
				v.violate(InvNotLost, "payment %s is %s but the channel never charged it", id, p.Status)
			}
		}
	}
}

// checkLedger: every journal sums to zero, and the admin check agrees.
func checkLedger(e *Evidence, v *Verdict) {
	v.Journals = len(e.Journals)
	for _, j := range e.Journals {
		if j.Sum != 0 {
			v.Unbalanced++
			v.violate(InvLedger, "journal %s (%s of %s) sums to %d", j.ID, j.Kind, j.PaymentID, j.Sum)
		}
	}
	switch {
	case e.Ledger == nil:
		v.violate(InvLedger, "the admin ledger check could not be run: %s", e.LedgerErr)
	case !e.Ledger.Balanced:
		v.Unbalanced += len(e.Ledger.UnbalancedJournals) + len(e.Ledger.PaymentMismatches)
		v.violate(InvLedger, "GET /v1/admin/ledger/check: not balanced: journals %v, payments %v", e.Ledger.UnbalancedJournals, e.Ledger.PaymentMismatches)
	}
}

// checkSettled: nothing in doubt once the bound has passed.
func checkSettled(e *Evidence, v *Verdict) {
	seen := map[string]bool{}
	stuck := func(id, format string, args ...any) {
		if !seen[id] {
			seen[id] = true
			v.Stuck++
		}
		v.violate(InvSettled, format, args...)
	}
	for _, id := range sortedKeys(e.Payments) {
		p := e.Payments[id]
		switch {
		case !settledStatus(p.Status):
			stuck(id, "payment %s is still %s %s", id, p.Status, afterHealing(e.SettleBound))
		case p.PendingOp != "":
			stuck(id, "payment %s still has a %s reserved %s", id, p.PendingOp, afterHealing(e.SettleBound))
		case p.AmountRefundPending != 0:
			stuck(id, "payment %s still has %d of refunds pending %s", id, p.AmountRefundPending, afterHealing(e.SettleBound))
		}
	}
	for _, id := range sortedKeys(e.Refunds) {
		if r := e.Refunds[id]; r.Status == core.RefundPending {
			stuck(r.PaymentID, "refund %s of %s is still pending %s", id, r.PaymentID, afterHealing(e.SettleBound))
		}
	}
}

func afterHealing(bound time.Duration) string {
	if bound == 0 {
		return "after healing"
	}
	return bound.String() + " after healing"
}

// eventFor is the outbox event type a payment status is announced with.
var eventFor = map[core.Status]string{
	core.StatusRequiresAction:  core.EventPaymentRequiresAction,
	core.StatusRequiresCapture: core.EventPaymentRequiresCapture,
	core.StatusSucceeded:       core.EventPaymentSucceeded,
	core.StatusFailed:          core.EventPaymentFailed,
	core.StatusCanceled:        core.EventPaymentCanceled,
}

// checkOutbox: every settled payment has the event of its status (and a manually captured
// one its requires_capture event too); every settled refund its event; no event twice.
// Events are written exactly once, in the same transaction as the change; that each reached
// the chaos receiver, signed, is checked from the receiver's record (checker_webhooks.go).
func checkOutbox(e *Evidence, v *Verdict) {
	have := map[string]int{}
	for _, ev := range e.Events {
		have[ev.ObjectID+"\x00"+ev.Type]++
	}
	v.OutboxEvents = len(e.Events)
	want := func(object, typ string) {
		v.OutboxExpected++
		if have[object+"\x00"+typ] == 0 {
			v.OutboxMissing++
			v.violate(InvOutbox, "%s has no %s event in the outbox", object, typ)
		}
	}
	for _, id := range sortedKeys(e.Payments) {
		p := e.Payments[id]
		if typ, ok := eventFor[p.Status]; ok {
			want(id, typ)
		}
		if p.Status == core.StatusSucceeded && p.CaptureMethod == core.CaptureManual {
			want(id, core.EventPaymentRequiresCapture)
		}
	}
	for _, id := range sortedKeys(e.Refunds) {
		switch r := e.Refunds[id]; r.Status {
		case core.RefundSucceeded:
			want(id, core.EventRefundSucceeded)
		case core.RefundFailed:
			want(id, core.EventRefundFailed)
		}
	}
	for _, k := range sortedKeys(have) {
		if n := have[k]; n > 1 {
			parts := strings.Split(k, "\x00")
			v.OutboxDuplicates++
			v.violate(InvOutbox, "%s has %d %s events, want 1", parts[0], n, parts[1])
		}
	}
}

// describeHistory prints one payment's operations, for a linearizability violation.
func describeHistory(ops []Op, id string) string {
	var parts []string
	for _, op := range ops {
		if op.PaymentID != id {
			continue
		}
		s := fmt.Sprintf("%s@%dms", op.Kind, op.Call.Milliseconds())
		switch {
		case !op.Final:
			s += "→?"
		case op.Payment != nil:
			s += fmt.Sprintf("→%s/c%d/r%d", op.Payment.Status, op.Payment.AmountCaptured, op.Payment.AmountRefunded)
		case op.RefundStatus != "":
			s += "→refund " + op.RefundStatus
		default:
			s += "→" + op.ErrCode
		}
		parts = append(parts, s+fmt.Sprintf("@%dms", op.Return.Milliseconds()))
	}
	return strings.Join(parts, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
