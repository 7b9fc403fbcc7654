package risk

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/paycenter/paycenter/core"
)

// Actions a rule takes when its expression is true.
const (
	ActionAllow  = "allow"
	ActionBlock  = "block"
	ActionReview = "review"
)

// Actions lists the actions in evaluation order.
var Actions = []string{ActionAllow, ActionBlock, ActionReview}

// ScopePlatform is the scope of a rule that applies to every merchant; any other scope is a
// merchant ID.
const ScopePlatform = "platform"

// Limits on rules.
const (
	MaxExpressionLen = 2000
	MaxRuleNameLen   = 100
	// maxNodes bounds a rule's syntax tree, and so its evaluation time.
	maxNodes = 500
	// MaxWindow is the longest velocity window.
	MaxWindow = 30 * 24 * time.Hour
)

// Card is a payment's card, as rules see it.
type Card struct {
	Brand       string `expr:"brand"`
	Country     string `expr:"country"`
	Fingerprint string `expr:"fingerprint"`
}

// Customer is a payment's customer, as rules see it.
type Customer struct {
	ID    string `expr:"id"`
	Email string `expr:"email"`
	Phone string `expr:"phone"`
	IP    string `expr:"ip"`
	// PhoneVerified: the customer (by ID) verified this phone (or, with no phone on the
	// payment, any phone) with a one-time code. CardBound: the card is bound to the customer.
	PhoneVerified bool `expr:"phone_verified"`
	CardBound     bool `expr:"card_bound"`
}

// Velocity is what a velocity counter counts over its window: payments, and their amount in
// minor units (of any currency).
type Velocity struct {
	Count  int64 `expr:"count"`
	Amount int64 `expr:"amount"`
}

// Env is everything a rule's expression can refer to. Amounts are in minor units.
type Env struct {
	Amount    int64             `expr:"amount"`
	Currency  string            `expr:"currency"`
	Channel   string            `expr:"channel"`
	Card      Card              `expr:"card"`
	Customer  Customer          `expr:"customer"`
	Merchant  string            `expr:"merchant"`
	Metadata  map[string]string `expr:"metadata"`
	RiskScore int               `expr:"risk_score"`
	// InList reports whether value is an item of the named list.
	InList func(list, value string) bool `expr:"in_list"`
	// Velocity counts the payments sharing the attribute key (see VelocityKeys) with this
	// one over the window before it ("10m", "1h", "7d").
	Velocity func(key, window string) Velocity `expr:"velocity"`
}

// VelocityKeys are the attributes a velocity counter can group payments by.
var VelocityKeys = []string{"card.fingerprint", "customer.email", "customer.phone", "customer.ip", "customer.id", "merchant"}

// VelocityRef is one velocity counter a rule uses.
type VelocityRef struct {
	Key    string
	Window time.Duration
}

// Program is a compiled rule expression and the facts it needs gathered before it runs.
type Program struct {
	prog       *vm.Program
	Lists      []string
	Velocities []VelocityRef
}

// Compile checks a rule's expression against Env and compiles it: an expression that does
// not parse, names an unknown attribute, is not a boolean, or calls in_list or velocity with
// anything but literal names and windows is refused, with its line and column.
func Compile(src string) (*Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, core.ParamError(core.CodeParameterMissing, "expression", "expression is required.")
	}
	if err := core.ValidateText("expression", src, MaxExpressionLen, core.Multiline); err != nil {
		return nil, err
	}
	prog, err := expr.Compile(src, expr.Env(Env{}), expr.AsBool(), expr.MaxNodes(maxNodes))
	if err != nil {
		return nil, positioned(err)
	}
	p := &Program{prog: prog}
	v := &refs{src: src, p: p, lists: map[string]bool{}, vel: map[VelocityRef]bool{}}
	node := prog.Node()
	ast.Walk(&node, v)
	if v.err != nil {
		return nil, v.err
	}
	sort.Strings(p.Lists)
	return p, nil
}

func positioned(err error) error {
	var fe *file.Error
	if errors.As(err, &fe) {
		return core.ParamError(core.CodeParameterInvalid, "expression", "expression does not compile at line %d, column %d: %s",
			fe.Line, fe.Column+1, fe.Message)
	}
	return core.ParamError(core.CodeParameterInvalid, "expression", "expression does not compile: %s", err)
}

// refs collects the lists and velocity counters an expression refers to.
type refs struct {
	src   string
	p     *Program
	lists map[string]bool
	vel   map[VelocityRef]bool
	err   error
}

func (r *refs) Visit(n *ast.Node) {
	call, ok := (*n).(*ast.CallNode)
	if !ok || r.err != nil {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	lit := func(i int) (string, bool) {
		s, ok := call.Arguments[i].(*ast.StringNode)
		if !ok {
			return "", false
		}
		return s.Value, true
	}
	at := func(format string, args ...any) {
		line, col := lineCol(r.src, call.Location().From)
		r.err = core.ParamError(core.CodeParameterInvalid, "expression", "expression does not compile at line %d, column %d: %s",
			line, col, fmt.Sprintf(format, args...))
	}
	switch id.Value {
	case "in_list":
		name, ok := lit(0)
		if !ok {
			at("in_list's first argument must be a list name in quotes")
			return
		}
		if !r.lists[name] {
			r.lists[name] = true
			r.p.Lists = append(r.p.Lists, name)
		}
	case "velocity":
		key, ok1 := lit(0)
		win, ok2 := lit(1)
		if !ok1 || !ok2 {
			at("velocity takes a key and a window in quotes, such as velocity(\"card.fingerprint\", \"1h\")")
			return
		}
		if !validKey(key) {
			at("unknown velocity key %q: use one of %s", key, strings.Join(VelocityKeys, ", "))
			return
		}
		d, err := ParseWindow(win)
		if err != nil {
			at("%v", err)
			return
		}
		ref := VelocityRef{Key: key, Window: d}
		if !r.vel[ref] {
			r.vel[ref] = true
			r.p.Velocities = append(r.p.Velocities, ref)
		}
	}
}

// lineCol is the 1-based line and column (in characters) of byte offset off of src.
func lineCol(src string, off int) (int, int) {
	line, col := 1, 1
	for i, c := range src {
		if i >= off {
			break
		}
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

func validKey(k string) bool {
	for _, v := range VelocityKeys {
		if v == k {
			return true
		}
	}
	return false
}

// ParseWindow parses a velocity window: a number and a unit, s, m, h or d ("10m", "7d"),
// from one minute to MaxWindow.
func ParseWindow(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("window %q: use a number and a unit (s, m, h, d), such as \"10m\"", s)
	}
	n, err := strconv.Atoi(s[:len(s)-1])
	units := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour}
	u, ok := units[s[len(s)-1]]
	if err != nil || !ok || n <= 0 {
		return 0, fmt.Errorf("window %q: use a number and a unit (s, m, h, d), such as \"10m\"", s)
	}
	d := time.Duration(n) * u
	if d < time.Minute || d > MaxWindow {
		return 0, fmt.Errorf("window %q: must be from 1m to 30d", s)
	}
	return d, nil
}

// Facts are what the adapter gathered for one payment before its rules run: the items of
// each referenced list that the payment's attributes hold, and each referenced counter.
type Facts struct {
	// Lists maps a list name to the set of the payment's values on it.
	Lists      map[string]map[string]bool
	Velocities map[VelocityRef]Velocity
}

// Bind makes the Env a payment's rules see, with in_list and velocity answering from facts.
func Bind(env Env, facts Facts) Env {
	env.InList = func(list, value string) bool { return facts.Lists[list][value] }
	env.Velocity = func(key, window string) Velocity {
		d, err := ParseWindow(window)
		if err != nil {
			return Velocity{}
		}
		return facts.Velocities[VelocityRef{Key: key, Window: d}]
	}
	if env.Metadata == nil {
		env.Metadata = map[string]string{}
	}
	return env
}

// Match runs the program against a bound Env.
func (p *Program) Match(env Env) (bool, error) {
	out, err := expr.Run(p.prog, env)
	if err != nil {
		return false, err
	}
	b, _ := out.(bool)
	return b, nil
}

// Rule is a compiled rule, as evaluation needs it.
type Rule struct {
	ID      string
	Name    string
	Action  string
	Program *Program
}

// Decision is the outcome of a payment's rules: allowed, blocked or review, and the rule
// that decided (empty when none matched).
type Decision struct {
	Outcome string
	RuleID  string
	// Errors are the rules whose evaluation failed: they count as not matched.
	Errors []error
}

// Evaluate runs rules in Radar's order: the first matching allow rule allows (skipping every
// block and review rule), else the first matching block rule blocks, else the first matching
// review rule sends the payment to review; within an action, rules run in the order given.
func Evaluate(rules []Rule, env Env) Decision {
	d := Decision{Outcome: core.RiskAllowed}
	for _, action := range Actions {
		for _, r := range rules {
			if r.Action != action {
				continue
			}
			ok, err := r.Program.Match(env)
			if err != nil {
				d.Errors = append(d.Errors, fmt.Errorf("rule %s: %w", r.ID, err))
				continue
			}
			if !ok {
				continue
			}
			d.RuleID = r.ID
			switch action {
			case ActionAllow:
				d.Outcome = core.RiskAllowed
			case ActionBlock:
				d.Outcome = core.RiskBlocked
			case ActionReview:
				d.Outcome = core.RiskReview
			}
			return d
		}
	}
	return d
}

// Candidates are the values of a payment's attributes that a list could hold: in_list is
// answered from the list items equal to one of them.
func Candidates(env Env) []string {
	seen := map[string]bool{}
	var out []string
	add := func(v string) {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, v := range []string{env.Card.Fingerprint, env.Card.Country, env.Card.Brand, env.Customer.ID,
		env.Customer.Email, strings.ToLower(env.Customer.Email), env.Customer.Phone, env.Customer.IP, env.Currency, env.Channel} {
		add(v)
	}
	keys := make([]string, 0, len(env.Metadata))
	for k := range env.Metadata {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add(env.Metadata[k])
	}
	return out
}

// EnvOf is the Env of a payment (without lists and counters: see Bind).
func EnvOf(p *core.Payment) Env {
	env := Env{Amount: p.Amount, Currency: p.Currency, Channel: string(p.Channel), Merchant: p.MerchantID, Metadata: p.Metadata}
	if pm := p.PaymentMethod; pm != nil {
		env.Card = Card{Brand: pm.Brand, Fingerprint: pm.Fingerprint}
	}
	if c := p.Customer; c != nil {
		env.Customer = Customer{ID: c.ID, Email: c.Email, Phone: c.Phone, IP: c.IP}
	}
	return env
}

// VelocityValue is the value of a payment's attribute a velocity key groups by, or "".
func VelocityValue(env Env, key string) string {
	switch key {
	case "card.fingerprint":
		return env.Card.Fingerprint
	case "customer.email":
		return env.Customer.Email
	case "customer.phone":
		return env.Customer.Phone
	case "customer.ip":
		return env.Customer.IP
	case "customer.id":
		return env.Customer.ID
	case "merchant":
		return env.Merchant
	}
	return ""
}
