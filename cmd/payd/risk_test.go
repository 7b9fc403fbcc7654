package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/notify"
	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/core/risk"
)

// Risk rules on the hot path, against a real PostgreSQL and the channel simulator, over
// real HTTP.

func (e *env) admin(method, path string, body any) *resp {
	e.t.Helper()
	return e.call(method, path, testAdminToken, "", body)
}

func (e *env) rule(name, action, expression string) string {
	e.t.Helper()
	r := e.expect(e.admin("POST", "/v1/admin/risk/rules", map[string]any{"name": name, "action": action, "expression": expression}), 200)
	return r.str("id")
}

func withCustomer(p map[string]any, email string) map[string]any {
	p["customer"] = map[string]any{"email": email, "name": "Pat Payer", "ip": "198.51.100.7"}
	return p
}

// A card on a block list is refused with 402 blocked_by_risk before any channel call; a
// replay with the same key gives the same answer; the payment is recorded as blocked; the
// operator's changes are audited.
func TestRiskBlockListRefusesBeforeTheChannel(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Shop")
	first := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("o-1", 1000, visaOK, core.CaptureAutomatic)), 200)
	if first.str("risk.outcome") != core.RiskAllowed || first.str("risk.level") != core.RiskNormal {
		t.Fatalf("risk of an ordinary payment: %s", first.Body)
	}
	fp := first.str("payment_method.fingerprint")
	list := e.expect(e.admin("POST", "/v1/admin/risk/lists", map[string]any{"name": "blocked_cards", "item_type": "card_fingerprint"}), 200)
	e.expect(e.admin("POST", "/v1/admin/risk/lists/"+list.str("id")+"/items", map[string]any{"values": []string{fp}}), 200)
	ruleID := e.rule("block-listed-cards", risk.ActionBlock, `in_list("blocked_cards", card.fingerprint)`)

	calls := e.sim.Calls()
	idem := newKey()
	blocked := e.expect(e.call("POST", "/v1/payments", key, idem, cardPayment("o-2", 1000, visaOK, core.CaptureAutomatic)), 402)
	if blocked.str("error.code") != core.CodeBlockedByRisk || blocked.str("error.type") != "card_error" || blocked.str("error.payment_id") == "" {
		t.Fatalf("blocked answer: %s", blocked.Body)
	}
	if got := e.sim.Calls(); got != calls {
		t.Fatalf("the channel was called %d times for a blocked payment", got-calls)
	}
	replay := e.expect(e.call("POST", "/v1/payments", key, idem, cardPayment("o-2", 1000, visaOK, core.CaptureAutomatic)), 402)
	if replay.Header.Get("Idempotent-Replayed") != "true" || replay.str("error.code") != core.CodeBlockedByRisk ||
		replay.str("error.payment_id") != blocked.str("error.payment_id") {
		t.Fatalf("replay: %s %v", replay.Body, replay.Header)
	}
	if got := e.sim.Calls(); got != calls {
		t.Fatalf("the replay called the channel")
	}
	pay := e.expect(e.call("GET", "/v1/payments/"+blocked.str("error.payment_id"), key, "", nil), 200)
	if pay.str("status") != "failed" || pay.str("failure_code") != core.CodeBlockedByRisk ||
		pay.str("risk.outcome") != core.RiskBlocked || pay.str("risk.rule") != ruleID {
		t.Fatalf("blocked payment: %s", pay.Body)
	}
	// Another card goes through.
	e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("o-3", 1000, "5555555555554444", core.CaptureAutomatic)), 200)
	e.requireBalancedLedger()

	// Removing the card from the list lets it through again.
	e.expect(e.admin("POST", "/v1/admin/risk/lists/"+list.str("id")+"/items/remove", map[string]any{"values": []string{fp}}), 200)
	e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("o-4", 1000, visaOK, core.CaptureAutomatic)), 200)

	// Back on the list, the rule blocks again; disabled (a new version), it does not.
	e.expect(e.admin("POST", "/v1/admin/risk/lists/"+list.str("id")+"/items", map[string]any{"values": []string{fp}}), 200)
	e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("o-5", 1000, visaOK, core.CaptureAutomatic)), 402)
	off := e.expect(e.admin("POST", "/v1/admin/risk/rules/"+ruleID+"/disable", nil), 200)
	if off.JSON["enabled"] != false || off.num("version") != 2 {
		t.Fatalf("disabled rule: %s", off.Body)
	}
	e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("o-6", 1000, visaOK, core.CaptureAutomatic)), 200)
	e.expect(e.admin("POST", "/v1/admin/risk/rules/rr_nosuchrule", map[string]any{"enabled": true}), 404)
	e.expect(e.admin("POST", "/v1/admin/risk/rules/"+ruleID, map[string]any{"scope": "platform"}), 400)

	audit := e.expect(e.admin("GET", "/v1/admin/risk/audit", nil), 200)
	var actions []string
	for _, it := range audit.JSON["data"].([]any) {
		m := it.(map[string]any)
		actions = append(actions, m["action"].(string)+" by "+m["actor"].(string))
	}
	// The test clock stands still: entries of one instant come in no particular order.
	sort.Strings(actions)
	want := "list.created by operator,list.items_added by operator,list.items_added by operator,list.items_removed by operator,rule.created by operator,rule.updated by operator"
	if strings.Join(actions, ",") != want {
		t.Fatalf("audit = %v, want %s", actions, want)
	}
	// The operator can name themselves; bad input changes nothing.
	e.clock.Advance(time.Second)
	req, _ := http.NewRequest("POST", e.srv.URL+"/v1/admin/risk/rules", strings.NewReader(`{"name":"x","action":"block","expression":"amount > 1"}`))
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("Payd-Actor", "alice")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("named operator: %v %v", err, res)
	}
	res.Body.Close()
	if a := e.expect(e.admin("GET", "/v1/admin/risk/audit?limit=1", nil), 200); a.JSON["data"].([]any)[0].(map[string]any)["actor"] != "operator:alice" {
		t.Fatalf("audit actor: %s", a.Body)
	}
	for _, bad := range []struct {
		body  string
		param string
	}{
		{`{"name":"y","action":"explode","expression":"amount > 1"}`, "action"},
		{`{"name":"Bad Name","action":"block","expression":"amount > 1"}`, "name"},
		{`{"name":"y","action":"block","expression":"amount > 1","scope":"mer_nosuch"}`, "scope"},
		{`{"name":"y","action":"block"}`, "expression"},
		{`{"name":"y","action":"block","expression":"amount > 1","colour":1}`, "colour"},
	} {
		r := e.admin("POST", "/v1/admin/risk/rules", bad.body)
		if r.Status/100 != 4 || r.str("error.param") != bad.param {
			t.Errorf("%s: %d %s, want a 4xx naming %s", bad.body, r.Status, r.Body, bad.param)
		}
	}
	if n := e.count("risk_rules"); n != 2 {
		t.Fatalf("%d rules saved, want 2", n)
	}
}

// A rule that does not compile is refused with its position and nothing is saved; a dry run
// counts what a rule would have matched on seeded history.
func TestRiskRuleCompileErrorsAndDryRun(t *testing.T) {
	e := newEnv(t)
	mid, key := e.merchant("Shop")
	for _, tc := range []struct{ expr, want string }{
		{`amount >`, "line 1, column"},
		{`amount > 10 && card.colour == "red"`, "line 1, column 21: type risk.Card has no field colour"},
		{"amount > 10 ||\n velocity(\"card.pan\", \"1h\").count > 1", "line 2, column 2: unknown velocity key"},
		{`currency`, "expected bool"},
	} {
		r := e.expect(e.admin("POST", "/v1/admin/risk/rules", map[string]any{"name": "bad", "action": "block", "expression": tc.expr}), 400)
		if r.str("error.param") != "expression" || !strings.Contains(r.str("error.message"), tc.want) {
			t.Errorf("%q: %s, want %q", tc.expr, r.Body, tc.want)
		}
	}
	if n := e.count("risk_rules"); n != 0 {
		t.Fatalf("refused rules were saved: %d", n)
	}
	// History: card A 5 payments at once, card B 2 payments, then 11 minutes later card A
	// twice more (the window has moved on).
	pay := func(ref, number string, amount int64) {
		e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment(ref, amount, number, core.CaptureAutomatic)), 200)
	}
	for i := 0; i < 5; i++ {
		pay(fmt.Sprintf("a-%d", i), visaOK, 1000)
	}
	pay("b-0", "5555555555554444", 90000)
	pay("b-1", "5555555555554444", 1000)
	e.clock.Advance(11 * time.Minute)
	pay("a-5", visaOK, 1000)
	pay("a-6", visaOK, 1000)
	for _, tc := range []struct {
		body    map[string]any
		matched int64
	}{
		{map[string]any{"expression": `velocity("card.fingerprint", "10m").count > 3`}, 2},
		{map[string]any{"expression": `velocity("card.fingerprint", "1h").count > 3`}, 4},
		{map[string]any{"expression": `amount > 50000`, "scope": mid}, 1},
		{map[string]any{"expression": `amount > 50000`, "scope": "mer_us-east_other"}, 0},
		{map[string]any{"expression": `card.brand == "mastercard"`, "days": 1}, 2},
	} {
		r := e.expect(e.admin("POST", "/v1/admin/risk/rules/test", tc.body), 200)
		if r.num("evaluated") != 9 && tc.body["scope"] != "mer_us-east_other" || r.num("matched") != tc.matched {
			t.Errorf("dry run %v: %s, want %d matched", tc.body, r.Body, tc.matched)
		}
	}
	e.expect(e.admin("POST", "/v1/admin/risk/rules/test", map[string]any{"expression": `amount > 1`, "days": 91}), 400)
}

// A velocity rule (more than 3 payments per card in 10 minutes) blocks the 4th, also when the
// payments arrive at once through two nodes of two regions on one database.
func TestRiskVelocityHoldsAcrossNodes(t *testing.T) {
	e := newEnv(t)
	other := e.secondNode(func(c *postgres.Config) { c.Region = "eu-west" })
	if err := other.svc.RegisterRegion(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, key := e.merchant("Shop")
	e.rule("card-velocity", risk.ActionBlock, `velocity("card.fingerprint", "10m").count > 3`)
	for round, card := range []string{visaOK, "5555555555554444"} {
		const n = 6
		statuses := make([]int, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				node := e
				if i%2 == 1 {
					node = other
				}
				statuses[i] = node.call("POST", "/v1/payments", key, newKey(), cardPayment(fmt.Sprintf("r%d-%d", round, i), 1000, card, core.CaptureAutomatic)).Status
			}(i)
		}
		wg.Wait()
		ok, blocked := 0, 0
		for _, s := range statuses {
			switch s {
			case 200:
				ok++
			case 402:
				blocked++
			}
		}
		if ok != 3 || blocked != n-3 {
			t.Fatalf("round %d: %d allowed, %d blocked (%v), want 3 and %d", round, ok, blocked, statuses, n-3)
		}
	}
	// The window moves on: 11 minutes later the first card passes again, once more 3 times.
	e.clock.Advance(11 * time.Minute)
	for i := 0; i < 4; i++ {
		want := 200
		if i == 3 {
			want = 402
		}
		e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment(fmt.Sprintf("later-%d", i), 1000, visaOK, core.CaptureAutomatic)), want)
	}
	e.requireBalancedLedger()
	t.Logf("serialization retries: %d", e.db.SerializationRetries())
}

// A review rule holds a payment in requires_review (authorised, not captured); approval
// captures it once; rejection voids it; approve and reject sent at once: one wins.
func TestRiskReviewQueue(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Shop")
	ruleID := e.rule("review-large", risk.ActionReview, `amount >= 50000`)
	hold := func(ref string, capture core.CaptureMethod) *resp {
		t.Helper()
		r := e.expect(e.call("POST", "/v1/payments", key, newKey(), withCustomer(cardPayment(ref, 60000, visaOK, capture), "pat@example.com")), 200)
		if r.str("status") != string(core.StatusRequiresReview) || r.str("risk.outcome") != core.RiskReview ||
			r.str("risk.rule") != ruleID || r.num("amount_capturable") != 60000 || r.num("amount_captured") != 0 {
			t.Fatalf("held payment: %s", r.Body)
		}
		return r
	}
	a := hold("rev-approve", core.CaptureAutomatic)
	id := a.str("id")
	// The merchant cannot capture it meanwhile.
	e.expect(e.call("POST", "/v1/payments/"+id+"/capture", key, newKey(), nil), 422)
	open := e.expect(e.admin("GET", "/v1/admin/reviews?status=open", nil), 200)
	if rows := open.JSON["data"].([]any); len(rows) != 1 || rows[0].(map[string]any)["payment"] != id {
		t.Fatalf("open reviews: %s", open.Body)
	}
	ap := e.expect(e.admin("POST", "/v1/admin/reviews/"+id+"/approve", nil), 200)
	if ap.str("status") != "succeeded" || ap.num("amount_captured") != 60000 {
		t.Fatalf("approved: %s", ap.Body)
	}
	// Approving again changes nothing; rejecting now is refused.
	e.expect(e.admin("POST", "/v1/admin/reviews/"+id+"/approve", nil), 200)
	rej := e.expect(e.admin("POST", "/v1/admin/reviews/"+id+"/reject", map[string]any{"reason": "late"}), 409)
	if rej.str("error.code") != core.CodeReviewClosed {
		t.Fatalf("reject after approve: %s", rej.Body)
	}
	if got := e.sim.Calls(); got != 2 { // the authorisation, and one capture for two approvals
		t.Fatalf("%d channel calls, want 2", got)
	}
	evs, err := e.svc.Events(context.Background(), mustMerchant(t, e, key), id)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range evs {
		types = append(types, ev.Type)
	}
	sort.Strings(types)
	if strings.Join(types, ",") != "payment.succeeded,review.closed,review.opened" {
		t.Fatalf("events = %v", types)
	}

	b := hold("rev-reject", core.CaptureAutomatic)
	rj := e.expect(e.admin("POST", "/v1/admin/reviews/"+b.str("id")+"/reject", map[string]any{"reason": "stolen card"}), 200)
	if rj.str("status") != "canceled" || rj.str("cancellation_reason") != "fraudulent" || rj.num("amount_capturable") != 0 {
		t.Fatalf("rejected: %s", rj.Body)
	}
	e.expect(e.admin("POST", "/v1/admin/reviews/"+b.str("id")+"/approve", nil), 409)

	m := hold("rev-manual", core.CaptureManual)
	mp := e.expect(e.admin("POST", "/v1/admin/reviews/"+m.str("id")+"/approve", nil), 200)
	if mp.str("status") != "requires_capture" {
		t.Fatalf("approved manual-capture payment: %s", mp.Body)
	}
	e.expect(e.call("POST", "/v1/payments/"+m.str("id")+"/capture", key, newKey(), nil), 200)

	// Approve and reject at once, through two nodes: exactly one wins.
	other := e.secondNode()
	for i := 0; i < 3; i++ {
		p := hold(fmt.Sprintf("rev-race-%d", i), core.CaptureAutomatic)
		var wg sync.WaitGroup
		var approve, reject *resp
		wg.Add(2)
		go func() { defer wg.Done(); approve = e.admin("POST", "/v1/admin/reviews/"+p.str("id")+"/approve", nil) }()
		go func() {
			defer wg.Done()
			reject = other.admin("POST", "/v1/admin/reviews/"+p.str("id")+"/reject", map[string]any{"reason": "race"})
		}()
		wg.Wait()
		final := e.expect(e.call("GET", "/v1/payments/"+p.str("id"), key, "", nil), 200)
		switch {
		case approve.Status == 200 && reject.Status == 409:
			if final.str("status") != "succeeded" {
				t.Fatalf("approve won, payment %s", final.Body)
			}
		case reject.Status == 200 && approve.Status == 409:
			if final.str("status") != "canceled" {
				t.Fatalf("reject won, payment %s", final.Body)
			}
		default:
			t.Fatalf("approve %d %s / reject %d %s: want one 200 and one 409", approve.Status, approve.Body, reject.Status, reject.Body)
		}
		if c := e.sim.Charges(p.str("id")); c != 1 {
			t.Fatalf("payment charged %d times", c)
		}
	}
	e.requireBalancedLedger()
	if n := e.count("risk_audit WHERE action LIKE 'review.%'"); n != 6 {
		t.Fatalf("%d review decisions audited, want 6", n)
	}
}

// A review left open past its time is rejected by the review worker.
func TestRiskReviewExpiry(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Shop")
	e.rule("review-all", risk.ActionReview, `amount > 0`)
	p := e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment("exp-1", 5000, visaOK, core.CaptureAutomatic)), 200)
	if n, err := e.svc.SweepReviews(context.Background(), time.Hour); err != nil || n != 0 {
		t.Fatalf("a fresh review was swept: %d %v", n, err)
	}
	e.clock.Advance(2 * time.Hour)
	if n, err := e.svc.SweepReviews(context.Background(), time.Hour); err != nil || n != 1 {
		t.Fatalf("sweep: %d %v", n, err)
	}
	got := e.expect(e.call("GET", "/v1/payments/"+p.str("id"), key, "", nil), 200)
	if got.str("status") != "canceled" || got.str("cancellation_reason") != "fraudulent" {
		t.Fatalf("expired review: %s", got.Body)
	}
	r := e.expect(e.admin("GET", "/v1/admin/reviews?status=rejected", nil), 200)
	if rows := r.JSON["data"].([]any); len(rows) != 1 || rows[0].(map[string]any)["closed_by"] != "system:review-worker" {
		t.Fatalf("rejected reviews: %s", r.Body)
	}
	e.expect(e.admin("GET", "/v1/admin/reviews?status=pending", nil), 400)
}

func mustMerchant(t *testing.T, e *env, key string) string {
	t.Helper()
	return e.expect(e.call("GET", "/v1/merchant", key, "", nil), 200).str("id")
}

// The AML detectors open cases on seeded structuring and on a sanctioned merchant name, once
// however often they run, and none on a clean set.
func TestAMLDetectorsOpenCases(t *testing.T) {
	sanctions, err := postgres.LoadSanctions("../../core/risk/testdata/sdn_sample.csv")
	if err != nil {
		t.Fatal(err)
	}
	cfg := postgres.AMLWorkerConfig{}
	pay := func(e *env, key, ref string, amount int64, email string) {
		e.expect(e.call("POST", "/v1/payments", key, newKey(), withCustomer(cardPayment(ref, amount, visaOK, core.CaptureAutomatic), email)), 200)
	}

	clean := newEnv(t)
	_, ck := clean.merchant("Corner Bakery")
	pay(clean, ck, "c-1", 950_000, "one@example.com") // one payment just below: not a pattern
	pay(clean, ck, "c-2", 120_000, "two@example.com")
	pay(clean, ck, "c-3", 1_500_000, "two@example.com")
	if cases, err := clean.svc.RunAML(context.Background(), cfg, sanctions); err != nil || len(cases) != 0 {
		t.Fatalf("clean set: %+v %v", cases, err)
	}

	e := newEnv(t)
	_, key := e.merchant("Shop")
	for i := 0; i < 3; i++ {
		pay(e, key, fmt.Sprintf("s-%d", i), 960_000+int64(i)*1000, "smurf@example.com")
		e.clock.Advance(time.Hour)
	}
	sanctionedID, _ := e.merchant("Korvania General Trading FZE")
	cases, err := e.svc.RunAML(context.Background(), cfg, sanctions)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, c := range cases {
		kinds[c.Kind] = c.Subject
	}
	if len(cases) != 2 || kinds[risk.CaseStructuring] != "email:smurf@example.com" || kinds[risk.CaseSanctions] != sanctionedID {
		t.Fatalf("cases = %+v", cases)
	}
	if again, err := e.svc.RunAML(context.Background(), cfg, sanctions); err != nil || len(again) != 0 {
		t.Fatalf("a second run opened %+v %v", again, err)
	}
	// A merchant whose own name is clean but whose KYC names a listed representative.
	repID, repKey := e.merchant("Harbour Books")
	e.expect(e.call("POST", "/v1/merchant/kyc", repKey, "", map[string]any{"legal_name": "Harbour Books GmbH",
		"registration_number": "HRB 54321", "country": "DE",
		"address":        map[string]any{"line1": "Am Hafen 2", "city": "Hamburg", "postal_code": "20457"},
		"representative": map[string]any{"name": "Delphine Marlowe-Quintero", "id_number": "T22000130", "date_of_birth": "1979-02-11", "phone": "+4940123456"},
		"bank_account":   map[string]any{"holder_name": "Harbour Books GmbH", "account_number": "0532013001", "bank_code": "37040044", "currency": "EUR"}}), 200)
	rep, err := e.svc.RunAML(context.Background(), cfg, sanctions)
	if err != nil || len(rep) != 1 || rep[0].Kind != risk.CaseSanctions || rep[0].Subject != repID+":representative" {
		t.Fatalf("representative screening: %+v %v", rep, err)
	}
	e.expect(e.admin("POST", "/v1/admin/aml/cases/"+rep[0].ID, map[string]any{"status": "closed", "note": "a different person"}), 200)
	list := e.expect(e.admin("GET", "/v1/admin/aml/cases?status=open", nil), 200)
	rows := list.JSON["data"].([]any)
	if len(rows) != 2 {
		t.Fatalf("open cases: %s", list.Body)
	}
	caseID := rows[0].(map[string]any)["id"].(string)
	e.clock.Advance(time.Second)
	up := e.expect(e.admin("POST", "/v1/admin/aml/cases/"+caseID, map[string]any{"status": "escalated", "note": "filed with compliance"}), 200)
	if up.str("status") != "escalated" {
		t.Fatalf("escalated: %s", up.Body)
	}
	e.expect(e.admin("POST", "/v1/admin/aml/cases/"+caseID, map[string]any{"status": "archived"}), 400)
	trail := e.expect(e.admin("GET", "/v1/admin/risk/audit?object="+caseID, nil), 200)
	if rows := trail.JSON["data"].([]any); len(rows) != 2 || rows[0].(map[string]any)["action"] != "case.escalated" ||
		rows[1].(map[string]any)["actor"] != "system:aml" {
		t.Fatalf("case audit trail: %s", trail.Body)
	}
}

// A merchant requires a verified phone for wallet payments and a bound card for large card
// payments, with rules of its own scope over the customer's verification state; the phone is
// verified with a one-time code that expires and allows 5 attempts.
func TestPayerVerificationHooks(t *testing.T) {
	e := newEnv(t)
	mid, key := e.merchant("Shop")
	e.expect(e.admin("POST", "/v1/admin/risk/rules", map[string]any{"name": "wallet-needs-phone", "action": "block", "scope": mid,
		"expression": `channel in ["wechat_pay", "alipay"] && !customer.phone_verified`}), 200)
	e.expect(e.admin("POST", "/v1/admin/risk/rules", map[string]any{"name": "large-needs-bound-card", "action": "block", "scope": mid,
		"expression": `channel == "card" && amount >= 100000 && !customer.card_bound`}), 200)
	wallet := func(ref string) map[string]any {
		return map[string]any{"amount": 2000, "currency": "cny", "channel": "wechat_pay", "merchant_reference": ref,
			"customer": map[string]any{"id": "cus-9", "phone": "+86 138 0000 0000"}}
	}
	card := func(ref string, amount int64) map[string]any {
		p := cardPayment(ref, amount, visaOK, core.CaptureAutomatic)
		p["customer"] = map[string]any{"id": "cus-9"}
		return p
	}
	e.expect(e.call("POST", "/v1/payments", key, newKey(), wallet("w-1")), 402)
	e.expect(e.call("POST", "/v1/payments", key, newKey(), card("c-1", 150000)), 402)

	// Phone verification: the code goes to the phone by SMS (the payer notifier, an SMS
	// provider on loopback), never in the answer nor in the outbox event.
	texts := make(chan [2]string, 10) // phone, body
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct{ To, Body string }
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		texts <- [2]string{m.To, m.Body}
	}))
	t.Cleanup(provider.Close)
	notifier := postgres.NewPayerNotifier(e.svc, postgres.NotifierConfig{
		Senders: map[string]notify.Sender{notify.ChannelSMS: &notify.SMS{Provider: &notify.HTTPSMS{URL: provider.URL}}}})
	codeRE := regexp.MustCompile(`\b[0-9]{6}\b`)
	issue := func() (string, string) {
		t.Helper()
		v := e.expect(e.call("POST", "/v1/customers/cus-9/phone_verifications", key, "", map[string]any{"phone": "+86 138 0000 0000"}), 200)
		if v.str("status") != "pending" || strings.Contains(string(v.Body), `"code"`) {
			t.Fatalf("issued: %s", v.Body)
		}
		evs, err := e.svc.Events(context.Background(), mid, v.str("id"))
		if err != nil || len(evs) != 1 || evs[0].Type != risk.EventCodeIssued || strings.Contains(string(evs[0].Data.Object), `"code"`) {
			t.Fatalf("code event: %+v %v", evs, err)
		}
		if n, err := notifier.Round(context.Background()); err != nil || n != 1 {
			t.Fatalf("notifier sent %d (err %v), want the code's SMS", n, err)
		}
		sms := <-texts
		code := codeRE.FindString(sms[1])
		if code == "" {
			t.Fatalf("SMS %q carries no code", sms)
		}
		return v.str("id"), code
	}
	wrong := func(code string) string {
		if code == "000000" {
			return "000001"
		}
		return "000000"
	}
	_, code := issue()
	e.clock.Advance(11 * time.Minute) // expired
	e.expect(e.call("POST", "/v1/customers/cus-9/phone_verifications/confirm", key, "", map[string]any{"code": code}), 400)
	_, code = issue()
	for i := 0; i < 5; i++ {
		r := e.expect(e.call("POST", "/v1/customers/cus-9/phone_verifications/confirm", key, "", map[string]any{"code": wrong(code)}), 400)
		if r.str("error.param") != "code" {
			t.Fatalf("wrong code: %s", r.Body)
		}
	}
	// Attempts used up: even the right code is refused now.
	e.expect(e.call("POST", "/v1/customers/cus-9/phone_verifications/confirm", key, "", map[string]any{"code": code}), 400)
	_, code = issue()
	ok := e.expect(e.call("POST", "/v1/customers/cus-9/phone_verifications/confirm", key, "", map[string]any{"code": code}), 200)
	if ok.str("status") != "verified" {
		t.Fatalf("confirm: %s", ok.Body)
	}
	e.expect(e.call("POST", "/v1/payments", key, newKey(), wallet("w-2")), 200)

	// Card binding: bind the card of a small payment, then a large one passes.
	small := e.expect(e.call("POST", "/v1/payments", key, newKey(), card("c-2", 1000)), 200)
	e.expect(e.call("POST", "/v1/customers/cus-8/cards", key, "", map[string]any{"payment": small.str("id")}), 400)
	v := e.expect(e.call("POST", "/v1/customers/cus-9/cards", key, "", map[string]any{"payment": small.str("id")}), 200)
	if v.JSON["cards"].([]any)[0] != small.str("payment_method.fingerprint") || v.JSON["phone_verified"] != true {
		t.Fatalf("verification state: %s", v.Body)
	}
	e.expect(e.call("POST", "/v1/payments", key, newKey(), card("c-3", 150000)), 200)
	for i := 0; i < 2; i++ {
		e.call("POST", "/v1/customers/cus-9/phone_verifications", key, "", map[string]any{"phone": "+86 138 0000 0000"})
	}
	// Five codes an hour at most (three were issued above in this hour, two more now).
	e.expect(e.call("POST", "/v1/customers/cus-9/phone_verifications", key, "", map[string]any{"phone": "+86 138 0000 0000"}), 429)
	e.expect(e.call("POST", "/v1/customers/cus-9/phone_verifications", key, "", map[string]any{"phone": "call me"}), 400)
}
