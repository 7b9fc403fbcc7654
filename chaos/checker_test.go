package chaos

import (
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
	paysdk "github.com/paycenter/paycenter/sdk"
)

const ms = time.Millisecond

// cleanEvidence is a small correct run: a card payment refunded in part, a card payment
// authorised then captured, a wallet payment the payer paid, a declined card.
func cleanEvidence() Evidence {
	op := func(id, client int, kind OpKind, key, pay string, call, ret time.Duration) Op {
		return Op{ID: id, Client: client, Region: "us-east", Kind: kind, Merchant: "mer_1", Key: key, PaymentID: pay,
			Call: call, Return: ret, Final: true, Status: 200, Attempts: 1}
	}
	view := func(st core.Status, amount, captured, refunded int64) *View {
		return &View{Status: st, Amount: amount, AmountCaptured: captured, AmountRefunded: refunded}
	}
	var h []Op
	add := func(o Op) { o.ID = len(h); h = append(h, o) }

	c1 := op(0, 0, OpCreate, "k1", "pay_1", 0, 10*ms)
	c1.Amount, c1.Auto, c1.Reference, c1.Payment, c1.SeenPayments = 1000, true, "ref-1", view(core.StatusSucceeded, 1000, 1000, 0), []string{"pay_1"}
	add(c1)
	g := op(0, 0, OpGet, "", "pay_1", 20*ms, 25*ms)
	g.Payment = view(core.StatusSucceeded, 1000, 1000, 0)
	add(g)
	r := op(0, 0, OpRefund, "k2", "pay_1", 30*ms, 40*ms)
	r.Amount, r.RefundID, r.RefundStatus, r.SeenRefunds = 300, "re_1", core.RefundSucceeded, []string{"re_1"}
	add(r)
	g = op(0, 0, OpGet, "", "pay_1", 50*ms, 55*ms)
	g.Payment = view(core.StatusSucceeded, 1000, 1000, 300)
	add(g)

	c2 := op(0, 1, OpCreate, "k3", "pay_2", 0, 12*ms)
	c2.Amount, c2.Reference, c2.Payment, c2.SeenPayments = 500, "ref-2", view(core.StatusRequiresCapture, 500, 0, 0), []string{"pay_2"}
	add(c2)
	// The capture's first attempt got no answer: two attempts, one logical operation.
	cp := op(0, 1, OpCapture, "k4", "pay_2", 20*ms, 900*ms)
	cp.Amount, cp.Payment, cp.Attempts, cp.Replayed = 500, view(core.StatusSucceeded, 500, 500, 0), 2, true
	add(cp)

	c3 := op(0, 2, OpCreate, "k5", "pay_3", 0, 15*ms)
	c3.Amount, c3.Auto, c3.Reference, c3.Channel, c3.Payment, c3.SeenPayments = 800, true, "ref-3", core.ChannelAlipay,
		view(core.StatusRequiresAction, 800, 0, 0), []string{"pay_3"}
	add(c3)
	g = op(0, 2, OpGet, "", "pay_3", 400*ms, 410*ms)
	g.Payment = view(core.StatusSucceeded, 800, 800, 0) // the payer paid: the notification moved it
	add(g)

	c4 := op(0, 3, OpCreate, "k6", "pay_4", 0, 11*ms)
	c4.Amount, c4.Auto, c4.Reference, c4.Status, c4.ErrCode = 700, true, "ref-4", 402, core.CodeCardDeclined
	c4.Payment, c4.SeenPayments = view(core.StatusFailed, 700, 0, 0), []string{"pay_4"}
	add(c4)

	// The verifier's final reads.
	for _, v := range []*View{view(core.StatusSucceeded, 1000, 1000, 300), view(core.StatusSucceeded, 500, 500, 0),
		view(core.StatusSucceeded, 800, 800, 0), view(core.StatusFailed, 700, 0, 0)} {
		id := map[int64]string{1000: "pay_1", 500: "pay_2", 800: "pay_3", 700: "pay_4"}[v.Amount]
		g := op(0, -1, OpGet, "", id, 2000*ms, 2010*ms)
		g.Payment = v
		add(g)
	}

	pay := func(id string, st core.Status, amount, captured, refunded int64, method core.CaptureMethod, ch core.Channel, ref string) PaymentRow {
		return PaymentRow{ID: id, MerchantID: "mer_1", Status: st, Amount: amount, AmountCaptured: captured, AmountRefunded: refunded,
			Currency: "USD", Channel: ch, CaptureMethod: method, Reference: ref}
	}
	key := func(k, path, pay, refund string) KeyRow {
		return KeyRow{MerchantID: "mer_1", Key: k, Method: "POST", Path: path, PaymentID: pay, RefundID: refund, ResponseStatus: 200, RecoveryPoint: "finished"}
	}
	jnl := func(id, kind, pay, refund string) JournalRow {
		return JournalRow{ID: id, Kind: kind, PaymentID: pay, RefundID: refund, Entries: 2}
	}
	ev := func(id, typ, obj string) EventRow { return EventRow{ID: id, Type: typ, ObjectID: obj} }
	return Evidence{
		Merchants: []string{"mer_1"},
		History:   h,
		Payments: map[string]PaymentRow{
			"pay_1": pay("pay_1", core.StatusSucceeded, 1000, 1000, 300, core.CaptureAutomatic, core.ChannelCard, "ref-1"),
			"pay_2": pay("pay_2", core.StatusSucceeded, 500, 500, 0, core.CaptureManual, core.ChannelCard, "ref-2"),
			"pay_3": pay("pay_3", core.StatusSucceeded, 800, 800, 0, core.CaptureAutomatic, core.ChannelAlipay, "ref-3"),
			"pay_4": pay("pay_4", core.StatusFailed, 700, 0, 0, core.CaptureAutomatic, core.ChannelCard, "ref-4"),
		},
		Refunds: map[string]RefundRow{"re_1": {ID: "re_1", MerchantID: "mer_1", PaymentID: "pay_1", Amount: 300, Status: core.RefundSucceeded}},
		Keys: []KeyRow{key("k1", "/v1/payments", "pay_1", ""), key("k2", "/v1/refunds", "pay_1", "re_1"),
			key("k3", "/v1/payments", "pay_2", ""), key("k4", "/v1/payments/pay_2/capture", "pay_2", ""),
			key("k5", "/v1/payments", "pay_3", ""), key("k6", "/v1/payments", "pay_4", "")},
		Journals: []JournalRow{jnl("j1", "authorize", "pay_1", ""), jnl("j2", "capture", "pay_1", ""), jnl("j3", "refund", "pay_1", "re_1"),
			jnl("j4", "authorize", "pay_2", ""), jnl("j5", "capture", "pay_2", ""),
			jnl("j6", "authorize", "pay_3", ""), jnl("j7", "capture", "pay_3", "")},
		Events: []EventRow{ev("e1", core.EventPaymentSucceeded, "pay_1"), ev("e2", core.EventRefundSucceeded, "re_1"),
			ev("e3", core.EventPaymentRequiresCapture, "pay_2"), ev("e4", core.EventPaymentSucceeded, "pay_2"),
			ev("e5", core.EventPaymentRequiresAction, "pay_3"), ev("e6", core.EventPaymentSucceeded, "pay_3"),
			ev("e7", core.EventPaymentFailed, "pay_4")},
		Charges: &netsim.Charges{Payments: map[string]*netsim.PaymentCharges{
			"pay_1": {Channel: core.ChannelCard, Orders: 1, Charges: 1, Charged: []int64{1000}, AmountCharged: 1000,
				Refunds: 1, Refunded: []int64{300}, AmountRefunded: 300, Keys: map[string]int{"pay_1:authorize": 1, "re_1:refund": 1}},
			"pay_2": {Channel: core.ChannelCard, Orders: 1, Charges: 1, Charged: []int64{500}, AmountCharged: 500,
				Keys: map[string]int{"pay_2:authorize": 1, "pay_2:capture": 1}},
			"pay_3": {Channel: core.ChannelAlipay, Orders: 1, Charges: 1, Charged: []int64{800}, AmountCharged: 800,
				Keys: map[string]int{"pay_3:authorize": 1}},
			"pay_4": {Channel: core.ChannelCard, Orders: 1, Keys: map[string]int{"pay_4:authorize": 1}},
			// Another run's payment, known to the database: not this run's business.
			"pay_other": {Channel: core.ChannelCard, Orders: 1, Charges: 1, AmountCharged: 5},
		}},
		Elsewhere:   map[string]PaymentRow{"pay_other": {ID: "pay_other", MerchantID: "mer_2", Status: core.StatusSucceeded, Amount: 5}},
		Ledger:      &paysdk.LedgerReport{Balanced: true, Journals: 7, Entries: 14},
		SettleBound: 90 * time.Second,
	}
}

func TestCheckPassesACleanRun(t *testing.T) {
	v := Check(cleanEvidence())
	if !v.Passed() {
		for _, x := range v.Violations {
			t.Errorf("%s: %s", x.Invariant, x.Detail)
		}
	}
	if v.Operations != 9 || v.Acknowledged != 8 || v.AckedPayments != 4 || v.Duplicates != 0 || v.Lost != 0 || v.Stuck != 0 {
		t.Errorf("figures: %+v", v)
	}
	if v.Linearizability.Checked != 4 || v.OutboxExpected != 6 || v.OutboxEvents != 7 || v.ChannelCharges != 3 {
		t.Errorf("coverage: linearizability %+v, outbox %d/%d, charges %d", v.Linearizability, v.OutboxEvents, v.OutboxExpected, v.ChannelCharges)
	}
}

// TestCheckDetects injects one fault at a time into the clean evidence: each must be caught,
// by the right invariant, and counted.
func TestCheckDetects(t *testing.T) {
	cases := []struct {
		name   string
		break_ func(e *Evidence)
		inv    string
		count  func(v Verdict) int
	}{
		{"a key that named two payments", func(e *Evidence) {
			e.History[0].SeenPayments = []string{"pay_1", "pay_9"}
		}, InvNoDuplicate, func(v Verdict) int { return v.Duplicates }},
		{"a payment created twice for one logical payment", func(e *Evidence) {
			p := e.Payments["pay_1"]
			p.ID = "pay_1b"
			e.Payments["pay_1b"] = p // same merchant reference, no key of its own
		}, InvNoDuplicate, func(v Verdict) int { return v.Duplicates }},
		{"a key whose row names another payment than the client saw", func(e *Evidence) {
			e.Keys[0].PaymentID = "pay_2"
		}, InvNoDuplicate, func(v Verdict) int { return v.Duplicates }},
		{"a double charge at the channel", func(e *Evidence) {
			c := e.Charges.Payments["pay_1"]
			c.Charges, c.Charged, c.AmountCharged = 2, []int64{1000, 1000}, 2000
		}, InvNoDuplicate, func(v Verdict) int { return v.Duplicates }},
		{"a channel key executed twice", func(e *Evidence) {
			e.Charges.Payments["pay_2"].Keys["pay_2:capture"] = 2
		}, InvNoDuplicate, func(v Verdict) int { return v.Duplicates }},
		{"two authorisation journals for one payment", func(e *Evidence) {
			e.Journals = append(e.Journals, JournalRow{ID: "j9", Kind: "authorize", PaymentID: "pay_1", Entries: 2})
		}, InvNoDuplicate, func(v Verdict) int { return v.Duplicates }},
		{"an acknowledged payment missing from the database", func(e *Evidence) {
			delete(e.Payments, "pay_2")
		}, InvAcknowledged, func(v Verdict) int { return v.Lost }},
		{"an acknowledged payment with another amount", func(e *Evidence) {
			p := e.Payments["pay_4"]
			p.Amount = 701
			e.Payments["pay_4"] = p
		}, InvAcknowledged, func(v Verdict) int { return v.Lost }},
		{"an acknowledged refund missing", func(e *Evidence) {
			delete(e.Refunds, "re_1")
		}, InvAcknowledged, func(v Verdict) int { return v.Lost }},
		{"a channel charge without a payment", func(e *Evidence) {
			e.Charges.Payments["pay_ghost"] = &netsim.PaymentCharges{Orders: 1, Charges: 1, AmountCharged: 4200}
		}, InvNotLost, func(v Verdict) int { return v.Lost }},
		{"a charged payment the database says failed", func(e *Evidence) {
			e.Charges.Payments["pay_4"].Charges, e.Charges.Payments["pay_4"].AmountCharged = 1, 700
		}, InvNotLost, func(v Verdict) int { return v.Lost }},
		{"an unbalanced journal", func(e *Evidence) {
			e.Journals[1].Sum = 5
		}, InvLedger, func(v Verdict) int { return v.Unbalanced }},
		{"the admin ledger check disagreeing", func(e *Evidence) {
			e.Ledger = &paysdk.LedgerReport{Balanced: false, PaymentMismatches: []string{"pay_1: captured-refunded 700 vs posted 1000"}}
		}, InvLedger, func(v Verdict) int { return v.Unbalanced }},
		{"a payment stuck processing", func(e *Evidence) {
			p := e.Payments["pay_2"]
			p.Status = core.StatusProcessing
			e.Payments["pay_2"] = p
		}, InvSettled, func(v Verdict) int { return v.Stuck }},
		{"a capture still reserved", func(e *Evidence) {
			p := e.Payments["pay_2"]
			p.PendingOp = "capture"
			e.Payments["pay_2"] = p
		}, InvSettled, func(v Verdict) int { return v.Stuck }},
		{"a refund left pending", func(e *Evidence) {
			r := e.Refunds["re_1"]
			r.Status = core.RefundPending
			e.Refunds["re_1"] = r
		}, InvSettled, func(v Verdict) int { return v.Stuck }},
		{"a client operation that never got an answer", func(e *Evidence) {
			e.History[5].Final = false
		}, InvSettled, func(v Verdict) int { return v.Unresolved }},
		{"a missing outbox event", func(e *Evidence) {
			e.Events = e.Events[1:]
		}, InvOutbox, func(v Verdict) int { return v.OutboxMissing }},
		{"an outbox event written twice", func(e *Evidence) {
			e.Events = append(e.Events, EventRow{ID: "e9", Type: core.EventPaymentSucceeded, ObjectID: "pay_1"})
		}, InvOutbox, func(v Verdict) int { return v.OutboxDuplicates }},
		{"a read that does not show an acknowledged refund", func(e *Evidence) {
			e.History[3].Payment.AmountRefunded = 0
		}, InvLinearizable, func(v Verdict) int { return len(v.Linearizability.Illegal) }},
		{"a payment seen to move backwards", func(e *Evidence) {
			e.History[1].Payment.Status, e.History[1].Payment.AmountCaptured = core.StatusProcessing, 0
		}, InvLinearizable, func(v Verdict) int { return len(v.Linearizability.Illegal) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := cleanEvidence()
			tc.break_(&e)
			v := Check(e)
			if v.Passed() {
				t.Fatal("passed")
			}
			found := false
			for _, x := range v.Violations {
				if x.Invariant == tc.inv {
					found = true
				}
			}
			if !found {
				t.Errorf("no %s violation in %+v", tc.inv, v.Violations)
			}
			if tc.count(v) == 0 {
				t.Errorf("not counted: %+v", v)
			}
		})
	}
}

func TestLinearizabilityModel(t *testing.T) {
	view := func(st core.Status, amount, captured, refunded int64) *View {
		return &View{Status: st, Amount: amount, AmountCaptured: captured, AmountRefunded: refunded}
	}
	create := Op{Kind: OpCreate, PaymentID: "p", Amount: 100, Call: 0, Return: 10, Final: true, Status: 200,
		Payment: view(core.StatusRequiresCapture, 100, 0, 0)}
	get := func(call, ret time.Duration, v *View) Op {
		return Op{Kind: OpGet, PaymentID: "p", Call: call, Return: ret, Final: true, Status: 200, Payment: v}
	}
	cases := []struct {
		name string
		ops  []Op
		ok   bool
	}{
		{"a capture with no answer that took effect", []Op{create,
			{Kind: OpCapture, PaymentID: "p", Amount: 60, Call: 20, Final: false},
			get(100, 110, view(core.StatusSucceeded, 100, 60, 0))}, true},
		{"a capture with no answer that did not take effect", []Op{create,
			{Kind: OpCapture, PaymentID: "p", Amount: 60, Call: 20, Final: false},
			get(100, 110, view(core.StatusRequiresCapture, 100, 0, 0))}, true},
		{"a read concurrent with a capture may see either side", []Op{create,
			{Kind: OpCapture, PaymentID: "p", Amount: 100, Call: 20, Return: 80, Final: true, Status: 200, Payment: view(core.StatusSucceeded, 100, 100, 0)},
			get(30, 40, view(core.StatusRequiresCapture, 100, 0, 0)),
			get(50, 60, view(core.StatusSucceeded, 100, 100, 0))}, true},
		{"a read after an acknowledged capture must see it", []Op{create,
			{Kind: OpCapture, PaymentID: "p", Amount: 100, Call: 20, Return: 30, Final: true, Status: 200, Payment: view(core.StatusSucceeded, 100, 100, 0)},
			get(40, 50, view(core.StatusRequiresCapture, 100, 0, 0))}, false},
		{"a capture answered with another amount than asked", []Op{create,
			{Kind: OpCapture, PaymentID: "p", Amount: 50, Call: 20, Return: 30, Final: true, Status: 200, Payment: view(core.StatusSucceeded, 100, 100, 0)}}, false},
		{"a payment that succeeded without a capture", []Op{create, get(40, 50, view(core.StatusSucceeded, 100, 100, 0))}, false},
		{"an invalid-state answer while capturable", []Op{create,
			{Kind: OpCapture, PaymentID: "p", Amount: 100, Call: 20, Return: 30, Final: true, Status: 422, ErrCode: core.CodeInvalidState}}, false},
		{"a refund beyond the captured amount", []Op{
			{Kind: OpCreate, PaymentID: "p", Amount: 100, Auto: true, Call: 0, Return: 10, Final: true, Status: 200, Payment: view(core.StatusSucceeded, 100, 100, 0)},
			{Kind: OpRefund, PaymentID: "p", Amount: 80, Call: 20, Return: 30, Final: true, Status: 200, RefundStatus: core.RefundSucceeded},
			{Kind: OpRefund, PaymentID: "p", Amount: 80, Call: 40, Return: 50, Final: true, Status: 200, RefundStatus: core.RefundSucceeded}}, false},
		{"a wallet payment the payer paid, then refunded", []Op{
			{Kind: OpCreate, PaymentID: "p", Amount: 100, Auto: true, Call: 0, Return: 10, Final: true, Status: 200, Payment: view(core.StatusRequiresAction, 100, 0, 0)},
			get(20, 30, view(core.StatusSucceeded, 100, 100, 0)),
			{Kind: OpRefund, PaymentID: "p", Amount: 100, Call: 40, Return: 50, Final: true, Status: 200, RefundStatus: core.RefundSucceeded},
			get(60, 70, view(core.StatusSucceeded, 100, 100, 100))}, true},
		{"a canceled payment seen succeeded later", []Op{create,
			{Kind: OpCancel, PaymentID: "p", Call: 20, Return: 30, Final: true, Status: 200, Payment: view(core.StatusCanceled, 100, 0, 0)},
			get(40, 50, view(core.StatusSucceeded, 100, 100, 0))}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := CheckLinearizable(tc.ops, time.Second)
			if rep.Checked != 1 || len(rep.Unknown) != 0 {
				t.Fatalf("report %+v", rep)
			}
			if ok := len(rep.Illegal) == 0; ok != tc.ok {
				t.Errorf("linearizable = %v, want %v", ok, tc.ok)
			}
		})
	}
}

func TestFinal(t *testing.T) {
	cases := []struct {
		status   int
		code     string
		replayed bool
		final    bool
	}{
		{200, "", false, true},
		{201, "", true, true},
		{202, "", false, false},
		{0, "no_answer", false, false},
		{402, core.CodeCardDeclined, false, true},
		{409, core.CodeIdempotencyKeyInUse, false, false},
		{409, core.CodeOperationInProgress, false, false},
		{409, core.CodeDuplicateReference, false, true},
		{422, core.CodeInvalidState, true, true},
		{429, core.CodeRateLimited, false, false},
		{503, core.CodeChannelUnavailable, false, false},
		{500, core.CodeInternal, true, true},
	}
	for _, c := range cases {
		if got := Final(c.status, c.code, c.replayed); got != c.final {
			t.Errorf("Final(%d, %s, replayed %v) = %v, want %v", c.status, c.code, c.replayed, got, c.final)
		}
	}
}

func TestFigures(t *testing.T) {
	acked := func(region string, call, ret time.Duration) Op {
		return Op{Client: 0, Region: region, Kind: OpCreate, Call: call, Return: ret, Final: true, Status: 200}
	}
	ops := []Op{
		acked("us-east", 0, 100*ms),
		acked("eu-west", 0, 100*ms),
		acked("us-east", 900*ms, 1050*ms), // in flight at the fault: its work may predate it
		{Client: 1, Region: "us-east", Kind: OpCreate, Call: 950 * ms, Return: 5000 * ms, Final: true, Status: 200},
		acked("eu-west", 1100*ms, 1200*ms),
		acked("us-east", 1500*ms, 2500*ms),
		{Client: 1, Region: "us-east", Kind: OpGet, Call: 1100 * ms, Return: 1110 * ms, Final: true, Status: 200},     // reads do not count
		{Client: -1, Region: "us-east", Kind: OpCreate, Call: 1100 * ms, Return: 1110 * ms, Final: true, Status: 200}, // nor the verifier's
		{Client: 2, Region: "us-east", Kind: OpCreate, Call: 1200 * ms, Return: 1300 * ms, Final: false},              // no answer
	}
	f := Figures(ops, 1000*ms, 2000*ms, 6000*ms, "us-east")
	if f.Gap != 1500*ms {
		t.Errorf("gap %s, want 1.5s", f.Gap)
	}
	if f.ByRegion["eu-west"].GapMS != 200 || f.ByRegion["us-east"].Operations != 6 || f.ByRegion["us-east"].Acknowledged != 5 {
		t.Errorf("by region %+v", f.ByRegion)
	}
	if f.P99 != 1000*ms || f.P50 != 100*ms {
		t.Errorf("p50 %s, p99 %s", f.P50, f.P99)
	}
	if g := Figures(ops, 5500*ms, 5600*ms, 6000*ms, "us-east").Gap; g != 500*ms {
		t.Errorf("gap with no success after the fault %s, want the rest of the experiment", g)
	}
}

func TestSummaryLine(t *testing.T) {
	s := Summarize([]Result{
		{Name: "a", Passed: true, MaxGapMS: 10},
		{Name: "b", Passed: false, Duplicates: 1, Lost: 2, Stuck: 3, MaxGapMS: 30},
		{Name: "c", Skipped: "needs local platform"},
	})
	if got, want := s.Line(), "chaos: experiments=2 passed=1 duplicates=1 lost=2 stuck=3 max_gap_ms=30"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if s.OK() {
		t.Error("a failed experiment: not OK")
	}
	var b strings.Builder
	WriteTable(&b, []Result{{Name: "b", Verdict: Verdict{Violations: []Violation{{InvLedger, "journal j sums to 5"}}}}})
	if !strings.Contains(b.String(), "FAIL") || !strings.Contains(b.String(), "VIOLATION ledger-balances: journal j sums to 5") {
		t.Errorf("table:\n%s", b.String())
	}
}

func TestSelect(t *testing.T) {
	all, err := Select("all")
	if err != nil || len(all) != 13 {
		t.Fatalf("all: %d %v", len(all), err)
	}
	for _, x := range all {
		if x.Name == "external" {
			t.Error("all includes external")
		}
	}
	two, err := Select("node-kill, channel-lost-responses")
	if err != nil || len(two) != 2 || two[1].Name != "channel-lost-responses" {
		t.Fatalf("%v %v", two, err)
	}
	if _, err := Select("node-kill,nope"); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("unknown name: %v", err)
	}
}

func TestCheckDelivered(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e := Evidence{Events: []EventRow{{ID: "evt_1", Type: "payment.requires_capture", ObjectID: "pay_1"},
		{ID: "evt_2", Type: "payment.succeeded", ObjectID: "pay_1"}, {ID: "evt_3", Type: "payment.succeeded", ObjectID: "pay_2"}}}
	e.Webhooks = []Delivery{
		{EventID: "evt_2", ObjectID: "pay_1", UpdatedAt: at.Add(time.Second), Valid: true, Accepted: true, At: at},
		{EventID: "evt_1", ObjectID: "pay_1", UpdatedAt: at, Valid: true, Accepted: false, At: at.Add(time.Second)},
		{EventID: "evt_1", ObjectID: "pay_1", UpdatedAt: at, Valid: true, Accepted: true, At: at.Add(2 * time.Second)},
		{EventID: "evt_3", ObjectID: "pay_2", UpdatedAt: at, Valid: false, At: at},
	}
	var v Verdict
	checkDelivered(&e, &v)
	w := v.Webhooks
	if !w.Checked || w.Events != 3 || w.Delivered != 2 || w.Undelivered != 1 || w.BadSignatures != 1 || w.OutOfOrder != 1 || w.Attempts != 4 {
		t.Fatalf("verdict %+v", w)
	}
	if len(v.Violations) != 2 || v.Violations[0].Invariant != InvDelivered {
		t.Fatalf("violations %+v", v.Violations)
	}
	e.Webhooks = nil
	v = Verdict{}
	checkDelivered(&e, &v)
	if v.Webhooks.Checked || len(v.Violations) != 0 {
		t.Fatal("checked without a receiver")
	}
}
