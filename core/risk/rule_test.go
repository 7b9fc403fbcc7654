package risk

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
)

func mustCompile(t *testing.T, src string) *Program {
	t.Helper()
	p, err := Compile(src)
	if err != nil {
		t.Fatalf("Compile(%q): %v", src, err)
	}
	return p
}

func TestCompileRefusesWithPosition(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{`amount > `, "line 1, column"},
		{`amount > 100 && card.colour == "red"`, "line 1, column 22: type risk.Card has no field colour"},
		{`amount + 1`, "expected bool"},
		{`currency > 5`, "line 1"},
		{"amount > 1 &&\n  in_list(customer.email, \"x\")", "line 2, column 3: in_list's first argument"},
		{`velocity("card.number", "1h").count > 3`, "unknown velocity key"},
		{`velocity("card.fingerprint", "1y").count > 3`, `window "1y"`},
		{`velocity("card.fingerprint", "90d").count > 3`, "1m to 30d"},
		{`nosuch(1)`, "line 1"},
	} {
		_, err := Compile(tc.src)
		e := core.AsError(err)
		if err == nil || e.Code != core.CodeParameterInvalid || e.Param != "expression" || !strings.Contains(e.Message, tc.want) {
			t.Errorf("Compile(%q) = %v, want parameter_invalid on expression with %q", tc.src, err, tc.want)
		}
	}
	if _, err := Compile("  "); core.ErrorCode(err) != core.CodeParameterMissing {
		t.Errorf("empty expression: %v", err)
	}
}

func TestCompileCollectsReferences(t *testing.T) {
	p := mustCompile(t, `in_list("blocked_cards", card.fingerprint) || in_list("blocked_emails", customer.email) ||
		velocity("card.fingerprint", "10m").count > 3 || velocity("customer.ip", "1h").amount > 100000 ||
		in_list("blocked_cards", metadata["alt_card"])`)
	if strings.Join(p.Lists, ",") != "blocked_cards,blocked_emails" {
		t.Errorf("lists = %v", p.Lists)
	}
	want := []VelocityRef{{"card.fingerprint", 10 * time.Minute}, {"customer.ip", time.Hour}}
	if len(p.Velocities) != 2 || p.Velocities[0] != want[0] || p.Velocities[1] != want[1] {
		t.Errorf("velocities = %v, want %v", p.Velocities, want)
	}
}

func TestEvaluateOrder(t *testing.T) {
	env := Env{Amount: 5000, Currency: "USD", Channel: "card", Merchant: "mer_1",
		Card:     Card{Brand: "visa", Fingerprint: "fp1"},
		Customer: Customer{Email: "a@example.com", IP: "10.0.0.1"}, Metadata: map[string]string{"vip": "yes"}}
	facts := Facts{Lists: map[string]map[string]bool{"blocked_cards": {"fp1": true}},
		Velocities: map[VelocityRef]Velocity{{"card.fingerprint", 10 * time.Minute}: {Count: 4, Amount: 20000}}}
	bound := Bind(env, facts)
	rule := func(id, action, src string) Rule {
		return Rule{ID: id, Action: action, Program: mustCompile(t, src)}
	}
	block := rule("r_block", ActionBlock, `in_list("blocked_cards", card.fingerprint)`)
	vel := rule("r_vel", ActionBlock, `velocity("card.fingerprint", "10m").count > 3`)
	review := rule("r_review", ActionReview, `amount > 1000`)
	allow := rule("r_allow", ActionAllow, `metadata["vip"] == "yes"`)
	never := rule("r_never", ActionBlock, `in_list("blocked_cards", customer.email)`)
	for _, tc := range []struct {
		name    string
		rules   []Rule
		outcome string
		rule    string
	}{
		{"none", nil, core.RiskAllowed, ""},
		{"block list", []Rule{review, block}, core.RiskBlocked, "r_block"},
		{"velocity", []Rule{never, vel}, core.RiskBlocked, "r_vel"},
		{"review", []Rule{never, review}, core.RiskReview, "r_review"},
		{"allow skips the rest", []Rule{block, review, allow}, core.RiskAllowed, "r_allow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := Evaluate(tc.rules, bound)
			if d.Outcome != tc.outcome || d.RuleID != tc.rule || len(d.Errors) != 0 {
				t.Fatalf("decision %+v, want %s by %q", d, tc.outcome, tc.rule)
			}
		})
	}
	// The same rules without the facts: nothing on lists, no counts.
	if d := Evaluate([]Rule{block, vel}, Bind(env, Facts{})); d.Outcome != core.RiskAllowed {
		t.Fatalf("without facts: %+v", d)
	}
}

func TestCandidatesHoldMetadataValues(t *testing.T) {
	c := Candidates(Env{Card: Card{Fingerprint: "fp"}, Customer: Customer{Email: "A@x.io"}, Metadata: map[string]string{"k": "v"}})
	got := strings.Join(c, ",")
	if got != "fp,A@x.io,a@x.io,v" {
		t.Fatalf("candidates = %s", got)
	}
}

func TestScore(t *testing.T) {
	for _, tc := range []struct {
		name   string
		amount int64
		s      Signals
		score  int
		level  string
	}{
		{"quiet", 1000, Signals{CardPaymentsLastHour: 1, MerchantAverage: 1000}, 5, core.RiskNormal},
		{"velocity", 1000, Signals{CardPaymentsLastHour: 4}, 5 + 24, core.RiskNormal},
		{"velocity capped", 1000, Signals{CardPaymentsLastHour: 40}, 5 + 32, core.RiskNormal},
		{"large amount, new card", 30000, Signals{MerchantAverage: 1000, NewCardForCustomer: true}, 5 + 30 + 10, core.RiskNormal},
		{"declines and velocity", 5000, Signals{CardPaymentsLastHour: 4, DeclinesInARow: 3, MerchantAverage: 1000}, 5 + 24 + 36 + 15, core.RiskHighest},
		{"elevated", 3000, Signals{CardPaymentsLastHour: 3, DeclinesInARow: 2, MerchantAverage: 1000, NewCardForCustomer: true}, 5 + 16 + 24 + 15 + 10, core.RiskElevated},
		{"capped at 99", 1 << 40, Signals{CardPaymentsLastHour: 9, NewCardForCustomer: true, MerchantAverage: 1, CountryMismatch: true, DeclinesInARow: 9}, 99, core.RiskHighest},
	} {
		score, level := Score(tc.amount, tc.s)
		if score != tc.score || level != tc.level {
			t.Errorf("%s: score %d %s, want %d %s", tc.name, score, level, tc.score, tc.level)
		}
	}
}

func TestDryRunCountsOnHistory(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	pay := func(id, fp string, at time.Duration, amount int64) *core.Payment {
		return &core.Payment{ID: id, MerchantID: "mer_1", Amount: amount, Currency: "USD", Channel: core.ChannelCard,
			PaymentMethod: &core.PaymentMethod{Type: "card", Fingerprint: fp}, CreatedAt: t0.Add(at)}
	}
	// Card a: 5 payments 1 minute apart (the 4th and 5th exceed 3 in 10 minutes); card b: 4
	// payments 5 minutes apart (at most 2 in any 10 minutes); card c: on the block list.
	var ps []*core.Payment
	for i := 0; i < 5; i++ {
		ps = append(ps, pay(fmt.Sprintf("a%d", i), "fpa", time.Duration(i)*time.Minute, 100))
	}
	for i := 0; i < 4; i++ {
		ps = append(ps, pay(fmt.Sprintf("b%d", i), "fpb", time.Hour+time.Duration(i)*5*time.Minute, 100))
	}
	ps = append(ps, pay("c0", "fpc", 2*time.Hour, 100))
	lists := map[string]map[string]bool{"blocked_cards": {"fpc": true}}
	for _, tc := range []struct {
		src     string
		matched int
		first   string
	}{
		{`velocity("card.fingerprint", "10m").count > 3`, 2, "a4"},
		{`velocity("card.fingerprint", "10m").amount >= 300`, 3, "a4"},
		{`in_list("blocked_cards", card.fingerprint)`, 1, "c0"},
		{`amount > 100`, 0, ""},
	} {
		res := DryRun(mustCompile(t, tc.src), ps, lists)
		if res.Evaluated != len(ps) || res.Matched != tc.matched || (tc.first != "" && res.Matches[0] != tc.first) {
			t.Errorf("%s: %+v, want %d matched, newest %s", tc.src, res, tc.matched, tc.first)
		}
	}
}
