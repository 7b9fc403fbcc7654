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
	averages map[string]merchantAverage // by merchant ID and currency
	programs map[string]*risk.Program   // by rule ID and version
	once     sync.Once
	hits     metric.Int64Counter
	cases    metric.Int64Counter
}

// merchantAverageTTL is how long a node uses a merchant's average payment amount (the
// risk score's signal) without reading it again. The average of up to 200 recent payments
// moves slowly, and reading it costs the database those 200 rows: read on every payment, it
// was the largest part of a payment's database cost (about 0.9 ms of 2 ms, `paybench
// -statements`).
const merchantAverageTTL = 10 * time.Second

// merchantAverage is a merchant's average amount in a currency as last read, 0 with fewer
// than 10 payments.
type merchantAverage struct {
	amount int64
	at     time.Time
}

// cachedAverage is the merchant's average in currency if it was read less than
// merchantAverageTTL ago.
func (r *riskState) cachedAverage(merchantID, currency string) (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	a, ok := r.averages[merchantID+" "+currency]
	return a.amount, ok && time.Since(a.at) < merchantAverageTTL
}

// keepAverage stores an average just read; entries past their TTL are dropped when the
// map grows large.
func (r *riskState) keepAverage(merchantID, currency string, amount int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.averages == nil {
		r.averages = map[string]merchantAverage{}
	}
	if len(r.averages) >= 10000 {
		for k, a := range r.averages {
			if time.Since(a.at) >= merchantAverageTTL {
				delete(r.averages, k)
			}
		}
	}
	r.averages[merchantID+" "+currency] = merchantAverage{amount: amount, at: time.Now()}
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
// The rules, score signals, list items and verification state were read before the
// transaction (pre: advisory, and a serializable read of a merchant's recent payments would
// make all of them conflict); velocity counters that rules use are read and incremented
// inside it, so that concurrent payments through any node are serialized on the counters
// they share (see velocities).
func (s *Service) screen(ctx context.Context, tx pgx.Tx, w *writeBatch, k *idemKey, pay *core.Payment, pre *riskPrelude) (string, error) {
	r := pay.Risk
	if r == nil || len(pre.vels) > 0 {
		facts := risk.Facts{Lists: pre.members}
		var err error
		if facts.Velocities, err = velocities(ctx, tx, w, pay, s.riskEnv(pay, pre), pre.vels); err != nil {
			return "", err
		}
		r = s.decideRisk(ctx, pay, pre, facts)
		pay.Risk = r
		w.queue(`UPDATE payments SET risk = $2 WHERE id = $1`, pay.ID, *r)
	} // else decided before the INSERT, which wrote it (preScreen)
	if r.Rule != nil {
		s.risk.metrics().hits.Add(ctx, 1, metric.WithAttributes(attribute.String("rule", *r.Rule), attribute.String("outcome", r.Outcome)))
	}
	if r.Outcome != core.RiskBlocked {
		return k.point, nil
	}
	ch, err := pay.Block(*r, s.now())
	if err != nil {
		return "", err
	}
	if err := s.persist(w, ch); err != nil {
		return "", err
	}
	return k.finish(nil, core.BlockedByRisk(pay)), nil
}

// preScreen decides pay's risk before its INSERT, which then writes it, when no rule uses a
// velocity counter (the only facts read inside the transaction): one UPDATE of the payment
// fewer. Otherwise pay.Risk stays nil and screen decides after the INSERT.
func (s *Service) preScreen(ctx context.Context, pay *core.Payment, pre *riskPrelude) {
	if len(pre.vels) == 0 {
		pay.Risk = s.decideRisk(ctx, pay, pre, risk.Facts{Lists: pre.members})
	}
}

// riskEnv is the attributes pay's rules see.
func (s *Service) riskEnv(pay *core.Payment, pre *riskPrelude) risk.Env {
	env := risk.EnvOf(pay)
	env.Customer.PhoneVerified, env.Customer.CardBound = pre.env.Customer.PhoneVerified, pre.env.Customer.CardBound
	env.RiskScore, _ = risk.Score(pay.Amount, pre.sig)
	return env
}

// decideRisk is pay's risk: its score from the prelude's signals, then its rules evaluated
// on facts.
func (s *Service) decideRisk(ctx context.Context, pay *core.Payment, pre *riskPrelude, facts risk.Facts) *core.Risk {
	env := s.riskEnv(pay, pre)
	score, level := risk.Score(pay.Amount, pre.sig)
	d := risk.Evaluate(pre.rules, risk.Bind(env, facts))
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
	}
	return &r
}

// riskPrelude is what a payment's screening reads before its first phase's transaction
// begins: the rules, the score's signals, the list items and the customer's verification
// state. Read outside the transaction, these hold no connection of it while they wait for
// one of their own (a pool of N connections serves N payments at once, not N/2), and take
// no serializable read locks on payments.
type riskPrelude struct {
	rules   []risk.Rule
	vels    []risk.VelocityRef
	sig     risk.Signals
	members map[string]map[string]bool
	env     risk.Env
}

// prelude reads a payment's riskPrelude; probe is the payment as it will be inserted (its
// ID aside). The reads the caller queued on also travel in the same round trip, and their
// results are read before prelude returns.
func (s *Service) prelude(ctx context.Context, probe *core.Payment, also *pgx.Batch) (*riskPrelude, error) {
	rules, err := s.riskRules(ctx, probe.MerchantID)
	if err != nil {
		return nil, err
	}
	pre := &riskPrelude{rules: rules, env: risk.EnvOf(probe)}
	var lists []string
	seenVel := map[risk.VelocityRef]bool{}
	for _, r := range rules {
		lists = append(lists, r.Program.Lists...)
		for _, v := range r.Program.Velocities {
			if !seenVel[v] {
				seenVel[v] = true
				pre.vels = append(pre.vels, v)
			}
		}
	}
	if pre.sig, pre.members, err = s.riskSignals(ctx, probe, &pre.env, lists, also); err != nil {
		return nil, err
	}
	return pre, nil
}

// velocityBucket is the size of the counter buckets a window is summed from: a window
// reaches back to the start of the bucket it began in, so it counts up to one bucket more
// than its length (1 minute for windows up to 2 h, 1 hour up to 3 days, else 1 day).
func velocityBucket(window time.Duration) time.Duration {
	switch {
	case window <= 2*time.Hour:
		return time.Minute
	case window <= 72*time.Hour:
		return time.Hour
	}
	return 24 * time.Hour
}

// velocities reads the counters rules use, and queues the payment's increments of them, in
// tx, the payment's own serializable transaction. A counter is a row per (merchant, key,
// value, bucket size, bucket) in risk_velocity: two payments counting the same value at once
// both read its rows and write the current bucket's row, so one of them fails serialization
// (40001) and is retried, and then counts the other; a limit holds across nodes and regions.
// Each count includes the payment itself.
//
// Counted are payments since a rule first used the counter: counters are kept only for the
// (key, bucket size) pairs that enabled rules use.
func velocities(ctx context.Context, tx pgx.Tx, w *writeBatch, pay *core.Payment, env risk.Env, refs []risk.VelocityRef) (map[risk.VelocityRef]risk.Velocity, error) {
	out := map[risk.VelocityRef]risk.Velocity{}
	args := []any{pay.MerchantID}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	var cols []string
	var used []risk.VelocityRef
	type counter struct {
		key, value string
		bucket     time.Duration
	}
	bumped := map[counter]bool{}
	for _, ref := range refs {
		v := risk.VelocityValue(env, ref.Key)
		if v == "" {
			continue // no such attribute: a zero counter
		}
		b := velocityBucket(ref.Window)
		cols = append(cols, `(SELECT ARRAY[COALESCE(sum(count), 0), COALESCE(sum(amount), 0)]::INT8[] FROM risk_velocity
			WHERE merchant_id = $1 AND key = `+arg(ref.Key)+` AND value = `+arg(v)+` AND bucket_secs = `+arg(int64(b/time.Second))+
			` AND bucket_start >= `+arg(pay.CreatedAt.Add(-ref.Window).Truncate(b))+`)`)
		used = append(used, ref)
		if c := (counter{ref.Key, v, b}); !bumped[c] {
			bumped[c] = true
			w.queue(`INSERT INTO risk_velocity (merchant_id, region, key, value, bucket_secs, bucket_start, count, amount)
				VALUES ($1, $2, $3, $4, $5, $6, 1, $7)
				ON CONFLICT (merchant_id, key, value, bucket_secs, bucket_start)
				DO UPDATE SET count = risk_velocity.count + 1, amount = risk_velocity.amount + EXCLUDED.amount`,
				pay.MerchantID, pay.Region, ref.Key, v, int64(b/time.Second), pay.CreatedAt.Truncate(b), pay.Amount)
		}
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
		out[ref] = risk.Velocity{Count: vals[i][0] + 1, Amount: vals[i][1] + pay.Amount}
	}
	return out, nil
}

// ReapVelocity deletes counter buckets older than the longest window, in batches, and
// returns how many it deleted.
func (s *Service) ReapVelocity(ctx context.Context) (int64, error) {
	cutoff := s.now().Add(-risk.MaxWindow - 24*time.Hour)
	var total int64
	for {
		var n int64
		err := s.db.WriteTx(ctx, "risk.velocity.reap", func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `DELETE FROM risk_velocity WHERE (merchant_id, key, value, bucket_secs, bucket_start) IN (
				SELECT merchant_id, key, value, bucket_secs, bucket_start FROM risk_velocity WHERE bucket_start < $1 LIMIT 1000)`, cutoff)
			n = tag.RowsAffected()
			return err
		})
		if err != nil {
			return total, fmt.Errorf("reap velocity counters: %w", err)
		}
		total += n
		if n < 1000 {
			return total, nil
		}
	}
}

// cardPaymentsCounted bounds the count of a card's payments in the last hour that the risk
// score reads: the score's velocity part is full from 5 (risk.ScoreVelocityMax), so counting
// on would only make a busy card's every payment read all of that card's recent payments.
const cardPaymentsCounted = 2 + risk.ScoreVelocityMax/risk.ScorePerCardPayment

// riskSignals reads the score's signals, the items of lists that the payment's attributes
// hold, and the customer's verification state (into env), in one query outside the phase's
// transaction. The merchant's average amount is read at most every merchantAverageTTL.
func (s *Service) riskSignals(ctx context.Context, pay *core.Payment, env *risk.Env, lists []string, b *pgx.Batch) (risk.Signals, map[string]map[string]bool, error) {
	var (
		verified []int64
		sig      risk.Signals
		items    []string
		card     int64
		statuses []string
		avg      []int64
		known    []int64
	)
	average, cached := s.risk.cachedAverage(pay.MerchantID, pay.Currency)
	averageSQL := `(SELECT ARRAY[count(*), COALESCE(avg(amount), 0)::INT8] FROM (SELECT amount FROM payments
				WHERE merchant_id = $3 AND currency = $6 AND created_at > $7 ORDER BY created_at DESC LIMIT 200) x)`
	if cached { // NULL; $6 and $7 stay referenced, so that their types are known
		averageSQL = `CASE WHEN $6::TEXT <> '' AND $7::TIMESTAMPTZ IS NOT NULL THEN NULL::INT8[] END`
	}
	customerKey, customerCol := env.Customer.Email, "customer->>'email'"
	if customerKey == "" {
		customerKey, customerCol = env.Customer.ID, "customer->>'id'"
	}
	b.Queue(`
		SELECT
			(SELECT COALESCE(array_agg(l.name || ' ' || i.value), '{}') FROM risk_list_items i
				JOIN risk_lists l ON l.id = i.list_id WHERE l.name = ANY($1) AND i.value = ANY($2)),
			(SELECT count(*) FROM (SELECT 1 FROM payments WHERE merchant_id = $3 AND payment_method->>'fingerprint' = $4
				AND created_at > $5 LIMIT `+fmt.Sprint(cardPaymentsCounted)+`) x),
			(SELECT COALESCE(array_agg(status), '{}') FROM (SELECT status FROM payments WHERE merchant_id = $3
				AND payment_method->>'fingerprint' = $4 ORDER BY created_at DESC LIMIT 5) x),
			`+averageSQL+`,
			(SELECT ARRAY[count(*), count(*) FILTER (WHERE fp = $4)] FROM (SELECT payment_method->>'fingerprint' AS fp
				FROM payments WHERE merchant_id = $3 AND `+customerCol+` = $8 ORDER BY created_at DESC LIMIT 50) x),
			ARRAY[(SELECT count(*) FROM customer_verifications v WHERE v.merchant_id = $3 AND v.customer_id = $9
					AND v.phone_verified_at IS NOT NULL AND ($10 = '' OR v.phone = $10)),
				(SELECT count(*) FROM customer_cards c WHERE c.merchant_id = $3 AND c.customer_id = $9 AND c.fingerprint = $4)]`,
		lists, risk.Candidates(*env), pay.MerchantID, env.Card.Fingerprint, pay.CreatedAt.Add(-time.Hour),
		pay.Currency, pay.CreatedAt.Add(-30*24*time.Hour), customerKey, env.Customer.ID, env.Customer.Phone).
		QueryRow(func(row pgx.Row) error {
			if err := row.Scan(&items, &card, &statuses, &avg, &known, &verified); err != nil {
				return fmt.Errorf("read risk signals: %w", err)
			}
			return nil
		})
	// One round trip for the signals and what the caller queued before them.
	if err := s.db.Pool.SendBatch(ctx, b).Close(); err != nil {
		return sig, nil, err
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
	if !cached {
		if avg[0] >= 10 {
			average = avg[1]
		}
		s.risk.keepAverage(pay.MerchantID, pay.Currency, average)
	}
	sig.MerchantAverage = average
	sig.NewCardForCustomer = customerKey != "" && env.Card.Fingerprint != "" && known[0] > 0 && known[1] == 0
	env.Customer.PhoneVerified = env.Customer.ID != "" && verified[0] > 0
	env.Customer.CardBound = env.Customer.ID != "" && env.Card.Fingerprint != "" && verified[1] > 0
	return sig, members, nil
}
