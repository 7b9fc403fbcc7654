package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/risk"
)

// riskRulesTTL is how long a node uses a merchant's rules without reading them again: a
// rule saved through another node applies here within it (through this node: at once).
const riskRulesTTL = time.Second

// riskState is the service's risk evaluation state: compiled rules per merchant, and the
// metrics. Its zero value is ready.
type riskState struct {
	mu       sync.Mutex
	sets     map[string]ruleSet
	programs map[string]*risk.Program // by rule ID and version
	once     sync.Once
	hits     metric.Int64Counter
	cases    metric.Int64Counter
}

type ruleSet struct {
	rules []risk.Rule
	at    time.Time
}

func (r *riskState) metrics() *riskState {
	r.once.Do(func() {
		m := otel.Meter("github.com/paycenter/paycenter/core/postgres")
		r.hits, _ = m.Int64Counter("paycenter.risk.rule_hits", metric.WithDescription("Payments a risk rule decided, by rule and action."))
		r.cases, _ = m.Int64Counter("paycenter.aml.cases_opened", metric.WithDescription("AML cases opened, by detector."))
	})
	return r
}

// invalidate drops the cached rules after a change through this node.
func (r *riskState) invalidate() {
	r.mu.Lock()
	r.sets = nil
	r.mu.Unlock()
}

// riskRules returns the enabled rules that apply to a merchant's payments (its own and the
// platform's), compiled, oldest first.
func (s *Service) riskRules(ctx context.Context, merchantID string) ([]risk.Rule, error) {
	st := &s.risk
	st.mu.Lock()
	set, ok := st.sets[merchantID]
	st.mu.Unlock()
	if ok && time.Since(set.at) < riskRulesTTL {
		return set.rules, nil
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT id, name, action, expression, version FROM risk_rules
		WHERE enabled AND scope IN ('platform', $1) ORDER BY created_at, id`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("read risk rules: %w", err)
	}
	defer rows.Close()
	var rules []risk.Rule
	for rows.Next() {
		var (
			r       risk.Rule
			src     string
			version int64
		)
		if err := rows.Scan(&r.ID, &r.Name, &r.Action, &src, &version); err != nil {
			return nil, fmt.Errorf("read risk rules: %w", err)
		}
		key := fmt.Sprintf("%s@%d", r.ID, version)
		st.mu.Lock()
		prog := st.programs[key]
		st.mu.Unlock()
		if prog == nil {
			if prog, err = risk.Compile(src); err != nil {
				// Compiled when saved: only a change of the attributes could make it fail.
				s.log.ErrorContext(ctx, "stored risk rule does not compile; skipped", "rule", r.ID, "err", err)
				continue
			}
			st.mu.Lock()
			if st.programs == nil {
				st.programs = map[string]*risk.Program{}
			}
			st.programs[key] = prog
			st.mu.Unlock()
		}
		r.Program = prog
		rules = append(rules, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read risk rules: %w", err)
	}
	st.mu.Lock()
	if st.sets == nil {
		st.sets = map[string]ruleSet{}
	}
	st.sets[merchantID] = ruleSet{rules: rules, at: time.Now()}
	st.mu.Unlock()
	return rules, nil
}

// screen is the risk evaluation of a payment just inserted, in create's first phase, before
// any channel call: the score from its signals, then its rules. A blocked payment fails
// there, and the request finishes with 402 blocked_by_risk stored with its key; a payment
// sent to review is only authorised (core's UnderReview). Either way the payment's risk is
// written with it.
//
// Score signals and list items are read outside the phase's transaction (advisory, and a
// serializable read of a merchant's recent payments would make all of them conflict);
// velocity counters that rules use are read inside it, so that concurrent payments through
// any node are serialized on the payments they count (see velocities).
func (s *Service) screen(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey, pay *core.Payment) (string, error) {
	rules, err := s.riskRules(ctx, pay.MerchantID)
	if err != nil {
		return "", err
	}
	env := risk.EnvOf(pay)
	var lists []string
	var vels []risk.VelocityRef
	seenVel := map[risk.VelocityRef]bool{}
	for _, r := range rules {
		lists = append(lists, r.Program.Lists...)
		for _, v := range r.Program.Velocities {
			if !seenVel[v] {
				seenVel[v] = true
				vels = append(vels, v)
			}
		}
	}
	sig, members, err := s.riskSignals(ctx, pay, env, lists)
	if err != nil {
		return "", err
	}
	score, level := risk.Score(pay.Amount, sig)
	env.RiskScore = score
	facts := risk.Facts{Lists: members}
	if facts.Velocities, err = velocities(ctx, tx, pay, env, vels); err != nil {
		return "", err
	}
	d := risk.Evaluate(rules, risk.Bind(env, facts))
	for _, e := range d.Errors {
		s.log.WarnContext(ctx, "risk rule failed to evaluate; counted as not matched", "payment", pay.ID, "err", e)
	}
	if d.Outcome == core.RiskReview && !pay.Channel.IsCard() {
		// Only a card authorisation can be held: other channels capture as they authorise.
		s.log.InfoContext(ctx, "review rule matched a payment that cannot be held; allowed", "payment", pay.ID, "rule", d.RuleID)
		d = risk.Decision{Outcome: core.RiskAllowed}
	}
	r := core.Risk{Score: score, Level: level, Outcome: d.Outcome}
	if d.RuleID != "" {
		id := d.RuleID
		r.Rule = &id
		s.risk.metrics().hits.Add(ctx, 1, metric.WithAttributes(attribute.String("rule", id), attribute.String("outcome", d.Outcome)))
	}
	pay.Risk = &r
	w.queue(`UPDATE payments SET risk = $2 WHERE id = $1`, pay.ID, r)
	if d.Outcome != core.RiskBlocked {
		return k.point, nil
	}
	ch, err := pay.Block(r, s.now())
	if err != nil {
		return "", err
	}
	if err := s.persist(w, ch); err != nil {
		return "", err
	}
	return k.finish(nil, core.BlockedByRisk(pay)), nil
}

// velocityColumn is the SQL a velocity key groups payments by (indexed: 00010_risk.sql).
var velocityColumn = map[string]string{
	"card.fingerprint": "payment_method->>'fingerprint'",
	"customer.email":   "customer->>'email'",
	"customer.phone":   "customer->>'phone'",
	"customer.ip":      "customer->>'ip'",
	"customer.id":      "customer->>'id'",
}

// velocities reads each counter in tx, the payment's own serializable transaction, which
// has inserted the payment: each counts it too. Two payments counting the same key at once
// each read the window the other writes into, so one of them fails serialization and is
// retried, and sees the other: a limit holds across nodes and regions.
func velocities(ctx context.Context, tx pgx.Tx, pay *core.Payment, env risk.Env, refs []risk.VelocityRef) (map[risk.VelocityRef]risk.Velocity, error) {
	out := map[risk.VelocityRef]risk.Velocity{}
	if len(refs) == 0 {
		return out, nil
	}
	args := []any{pay.MerchantID, pay.CreatedAt}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	var cols []string
	var used []risk.VelocityRef
	for _, ref := range refs {
		v := risk.VelocityValue(env, ref.Key)
		if v == "" {
			continue // no such attribute: a zero counter
		}
		cond := ""
		if col, ok := velocityColumn[ref.Key]; ok {
			cond = " AND " + col + " = " + arg(v)
		}
		cols = append(cols, `(SELECT ARRAY[count(*), COALESCE(sum(amount), 0)]::INT8[] FROM payments
			WHERE merchant_id = $1`+cond+` AND created_at > `+arg(pay.CreatedAt.Add(-ref.Window))+` AND created_at <= $2)`)
		used = append(used, ref)
	}
	if len(cols) == 0 {
		return out, nil
	}
	vals := make([][]int64, len(cols))
	dst := make([]any, len(cols))
	for i := range vals {
		dst[i] = &vals[i]
	}
	if err := tx.QueryRow(ctx, `SELECT `+strings.Join(cols, ", "), args...).Scan(dst...); err != nil {
		return nil, fmt.Errorf("read velocity counters: %w", err)
	}
	for i, ref := range used {
		out[ref] = risk.Velocity{Count: vals[i][0], Amount: vals[i][1]}
	}
	return out, nil
}

// riskSignals reads the score's signals and the items of lists that the payment's
// attributes hold, in one query outside the phase's transaction.
func (s *Service) riskSignals(ctx context.Context, pay *core.Payment, env risk.Env, lists []string) (risk.Signals, map[string]map[string]bool, error) {
	var (
		sig      risk.Signals
		items    []string
		card     int64
		statuses []string
		avg      []int64
		known    []int64
	)
	customerKey, customerCol := env.Customer.Email, "customer->>'email'"
	if customerKey == "" {
		customerKey, customerCol = env.Customer.ID, "customer->>'id'"
	}
	err := s.db.Pool.QueryRow(ctx, `
		SELECT
			(SELECT COALESCE(array_agg(l.name || ' ' || i.value), '{}') FROM risk_list_items i
				JOIN risk_lists l ON l.id = i.list_id WHERE l.name = ANY($1) AND i.value = ANY($2)),
			(SELECT count(*) FROM payments WHERE merchant_id = $3 AND payment_method->>'fingerprint' = $4
				AND created_at > $5),
			(SELECT COALESCE(array_agg(status), '{}') FROM (SELECT status FROM payments WHERE merchant_id = $3
				AND payment_method->>'fingerprint' = $4 ORDER BY created_at DESC LIMIT 5) x),
			(SELECT ARRAY[count(*), COALESCE(avg(amount), 0)::INT8] FROM (SELECT amount FROM payments
				WHERE merchant_id = $3 AND currency = $6 AND created_at > $7 ORDER BY created_at DESC LIMIT 200) x),
			(SELECT ARRAY[count(*), count(*) FILTER (WHERE fp = $4)] FROM (SELECT payment_method->>'fingerprint' AS fp
				FROM payments WHERE merchant_id = $3 AND `+customerCol+` = $8 ORDER BY created_at DESC LIMIT 50) x)`,
		lists, risk.Candidates(env), pay.MerchantID, env.Card.Fingerprint, pay.CreatedAt.Add(-time.Hour),
		pay.Currency, pay.CreatedAt.Add(-30*24*time.Hour), customerKey).Scan(&items, &card, &statuses, &avg, &known)
	if err != nil {
		return sig, nil, fmt.Errorf("read risk signals: %w", err)
	}
	members := map[string]map[string]bool{}
	for _, it := range items {
		name, value, _ := strings.Cut(it, " ")
		if members[name] == nil {
			members[name] = map[string]bool{}
		}
		members[name][value] = true
	}
	// This payment is not visible outside its transaction: count it.
	sig.CardPaymentsLastHour = card + 1
	for _, st := range statuses {
		if st != string(core.StatusFailed) {
			break
		}
		sig.DeclinesInARow++
	}
	if avg[0] >= 10 {
		sig.MerchantAverage = avg[1]
	}
	sig.NewCardForCustomer = customerKey != "" && env.Card.Fingerprint != "" && known[0] > 0 && known[1] == 0
	return sig, members, nil
}
