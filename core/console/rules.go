package console

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/risk"
)

// Operator pages for writing risk rules and lists (the risk role, manage_risk): a new rule,
// a rule's edit page with its disable (or enable) switch, and a new list. Saving a rule's
// expression takes two steps: "Dry run" shows what the expression would have matched over
// the recent payments (TestRiskRule, nothing written) and only then offers "Save", whose form
// carries the digest of what was dry-run; a save of anything else is refused. An expression
// that does not compile is shown with a marker at the error's line and column. Changes go
// through the admin API's methods with the user as the actor, audited in their transaction.
func (s *Server) ruleAuthoringRoutes() {
	s.mux.HandleFunc("GET /dashboard/ops/rules/new", s.operator(core.PermManageRisk, s.newRulePage))
	s.mux.HandleFunc("POST /dashboard/ops/rules", s.operator(core.PermManageRisk, s.createRule))
	s.mux.HandleFunc("GET /dashboard/ops/rules/{id}", s.operator(core.PermViewRisk, s.rulePage))
	s.mux.HandleFunc("POST /dashboard/ops/rules/{id}", s.operator(core.PermManageRisk, s.updateRule))
	s.mux.HandleFunc("POST /dashboard/ops/rules/{id}/disable", s.operator(core.PermManageRisk, s.switchRule(false)))
	s.mux.HandleFunc("POST /dashboard/ops/rules/{id}/enable", s.operator(core.PermManageRisk, s.switchRule(true)))
	s.mux.HandleFunc("POST /dashboard/ops/risk-lists", s.operator(core.PermManageRisk, s.createRiskList))
}

// ruleForm is what the rule form shows: the values entered, the dry run's result and its
// digest once there is one, and the error with its position.
type ruleForm struct {
	ID, Name, Action, Expression, Scope string
	Days                                int
	Rule                                *risk.RuleObject
	Result                              *risk.DryRunResult
	Previewed                           string
	Error                               string
	// ErrorLine is the expression's line the compile error is on, ErrorMarker the spaces and
	// caret that put a mark under its column.
	ErrorLine, ErrorMarker string
}

// previewDigest binds a save to the dry run the user saw: the scope and expression it ran.
func previewDigest(scope, expression string) string {
	h := sha256.Sum256([]byte("rule-preview\x00" + scope + "\x00" + expression))
	return hex.EncodeToString(h[:16])
}

var compilePosRE = regexp.MustCompile(`at line (\d+), column (\d+)`)

// withError sets the form's error and, for an expression that does not compile, the line
// and the marker under the column.
func (f *ruleForm) withError(msg string) *ruleForm {
	f.Error = msg
	m := compilePosRE.FindStringSubmatch(msg)
	if m == nil {
		return f
	}
	line, _ := strconv.Atoi(m[1])
	col, _ := strconv.Atoi(m[2])
	lines := strings.Split(f.Expression, "\n")
	if line < 1 || line > len(lines) || col < 1 {
		return f
	}
	f.ErrorLine = lines[line-1]
	if col > len([]rune(f.ErrorLine))+1 {
		col = len([]rune(f.ErrorLine)) + 1
	}
	f.ErrorMarker = strings.Repeat(" ", col-1) + "^"
	return f
}

func (s *Server) renderRuleForm(w http.ResponseWriter, r *http.Request, status int, f *ruleForm) {
	if f.Days == 0 {
		f.Days = 7
	}
	s.render(w, r, status, "rule_form", map[string]any{"F": f, "Actions": risk.Actions, "MaxDays": risk.MaxDryRunDays})
}

func (s *Server) newRulePage(w http.ResponseWriter, r *http.Request) {
	s.renderRuleForm(w, r, http.StatusOK, &ruleForm{Action: risk.ActionReview, Scope: risk.ScopePlatform})
}

func (s *Server) rulePage(w http.ResponseWriter, r *http.Request) {
	rule, err := s.findRule(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderRuleForm(w, r, http.StatusOK, &ruleForm{ID: rule.ID, Name: rule.Name, Action: rule.Action,
		Expression: rule.Expression, Scope: rule.Scope, Rule: rule})
}

func (s *Server) findRule(r *http.Request) (*risk.RuleObject, error) {
	id := r.PathValue("id")
	rules, err := s.svc.RiskRules(r.Context(), "")
	if err != nil {
		return nil, err
	}
	for _, rule := range rules {
		if rule.ID == id {
			return rule, nil
		}
	}
	return nil, core.ParamError(core.CodeNotFound, "id", "No such risk rule: '%s'.", id)
}

// formOf reads the rule form. days is checked here; the rest by the service.
func formOf(r *http.Request) (*ruleForm, error) {
	f := &ruleForm{Name: strings.TrimSpace(r.PostFormValue("name")), Action: r.PostFormValue("action"),
		Expression: strings.ReplaceAll(r.PostFormValue("expression"), "\r\n", "\n"), Scope: strings.TrimSpace(r.PostFormValue("scope"))}
	if f.Scope == "" {
		f.Scope = risk.ScopePlatform
	}
	if v := strings.TrimSpace(r.PostFormValue("days")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > risk.MaxDryRunDays {
			return f, core.ParamError(core.CodeParameterInvalid, "days", "days must be a whole number from 1 to %d.", risk.MaxDryRunDays)
		}
		f.Days = n
	}
	return f, nil
}

// step runs the form's step: "dry_run" (the default) shows the dry run and the save
// button; "save" saves through save if the form carries the digest of a dry run of what it
// saves.
func (s *Server) step(w http.ResponseWriter, r *http.Request, f *ruleForm, save func() (*risk.RuleObject, error)) {
	if r.PostFormValue("step") != "save" {
		res, err := s.svc.TestRiskRule(r.Context(), risk.DryRunParams{Expression: f.Expression, Scope: f.Scope, Days: f.Days})
		if err != nil {
			s.renderRuleForm(w, r, statusOf(err), f.withError(core.AsError(err).Message))
			return
		}
		f.Result, f.Previewed = res, previewDigest(f.Scope, f.Expression)
		s.renderRuleForm(w, r, http.StatusOK, f)
		return
	}
	if r.PostFormValue("previewed") != previewDigest(f.Scope, f.Expression) {
		s.renderRuleForm(w, r, http.StatusBadRequest, f.withError("expression: dry-run this expression (and scope) before saving it; it changed since its dry run, or had none."))
		return
	}
	rule, err := save()
	if err != nil {
		if core.ErrorCode(err) == core.CodeNotFound && f.ID != "" {
			s.fail(w, r, err)
			return
		}
		s.renderRuleForm(w, r, statusOf(err), f.withError(core.AsError(err).Message))
		return
	}
	http.Redirect(w, r, "/dashboard/ops/rules/"+url.PathEscape(rule.ID), http.StatusSeeOther)
}

func (s *Server) createRule(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	f, err := formOf(r)
	if err != nil {
		s.renderRuleForm(w, r, http.StatusBadRequest, f.withError(core.AsError(err).Message))
		return
	}
	p := risk.RuleParams{Name: &f.Name, Action: &f.Action, Expression: &f.Expression, Scope: &f.Scope}
	// The name and action are checked before the dry run, so the error names them at once.
	if _, err := (&risk.RuleParams{Name: p.Name, Action: p.Action}).Validate(false); err != nil {
		s.renderRuleForm(w, r, http.StatusBadRequest, f.withError(core.AsError(err).Message))
		return
	}
	s.step(w, r, f, func() (*risk.RuleObject, error) { return s.svc.ConsoleCreateRiskRule(r.Context(), sess.User, p) })
}

func (s *Server) updateRule(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	rule, err := s.findRule(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := formOf(r)
	f.ID, f.Scope, f.Rule = rule.ID, rule.Scope, rule
	if err != nil {
		s.renderRuleForm(w, r, http.StatusBadRequest, f.withError(core.AsError(err).Message))
		return
	}
	p := risk.RuleParams{Name: &f.Name, Action: &f.Action, Expression: &f.Expression}
	if _, err := (&risk.RuleParams{Name: p.Name, Action: p.Action}).Validate(false); err != nil {
		s.renderRuleForm(w, r, http.StatusBadRequest, f.withError(core.AsError(err).Message))
		return
	}
	s.step(w, r, f, func() (*risk.RuleObject, error) {
		return s.svc.ConsoleUpdateRiskRule(r.Context(), sess.User, rule.ID, p)
	})
}

// switchRule disables (or enables) a rule; nothing else of it changes.
func (s *Server) switchRule(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := sessionFrom(r)
		id := r.PathValue("id")
		if _, err := s.svc.ConsoleUpdateRiskRule(r.Context(), sess.User, id, risk.RuleParams{Enabled: &enabled}); err != nil {
			s.fail(w, r, err)
			return
		}
		http.Redirect(w, r, "/dashboard/ops/rules/"+url.PathEscape(id), http.StatusSeeOther)
	}
}

// createRiskList makes an empty list and opens its page.
func (s *Server) createRiskList(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	p := risk.ListParams{Name: strings.TrimSpace(r.PostFormValue("name")), ItemType: r.PostFormValue("item_type")}
	if err := p.Validate(); err != nil {
		s.showRiskLists(w, r, http.StatusBadRequest, core.AsError(err).Message)
		return
	}
	l, err := s.svc.ConsoleCreateRiskList(r.Context(), sess.User, p)
	if err != nil {
		s.showRiskLists(w, r, statusOf(err), core.AsError(err).Message)
		return
	}
	http.Redirect(w, r, "/dashboard/ops/risk-lists/"+url.PathEscape(l.ID), http.StatusSeeOther)
}

// showRiskLists renders the lists page, with an error message if msg is not empty.
func (s *Server) showRiskLists(w http.ResponseWriter, r *http.Request, status int, msg string) {
	lists, err := s.svc.RiskLists(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "risklists", map[string]any{"Lists": lists, "Error": msg, "ItemTypes": risk.ItemTypes, "Form": r.PostForm})
}
