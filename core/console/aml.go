package console

import (
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/risk"
)

// Operator pages for AML cases: the list (filtered by status), a case with its facts (the
// merchant, the payer, the payments involved, the detector's kind and findings) and its
// history, and the status change (open, escalated, closed, with a note) that the admin API's
// POST /v1/admin/aml/cases/{id} makes. Every operator role sees them; changing a case needs
// manage_aml (the risk role), checked on the server, and is audited with the user in the
// change's transaction.
func (s *Server) amlRoutes() {
	s.mux.HandleFunc("GET /dashboard/ops/aml", s.operator(core.PermViewRisk, s.amlCasesPage))
	s.mux.HandleFunc("GET /dashboard/ops/aml/{id}", s.operator(core.PermViewRisk, s.amlCasePage))
	s.mux.HandleFunc("POST /dashboard/ops/aml/{id}", s.operator(core.PermManageAML, s.updateAMLCase))
}

var caseStatuses = []string{risk.CaseOpen, risk.CaseEscalated, risk.CaseClosed}

func (s *Server) amlCasesPage(w http.ResponseWriter, r *http.Request) {
	status := r.URL.Query().Get("status")
	if status != "" && !contains(caseStatuses, status) {
		s.fail(w, r, core.ParamError(core.CodeParameterInvalid, "status", "status must be open, escalated or closed."))
		return
	}
	cases, err := s.svc.AMLCases(r.Context(), status, 200)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "aml_cases", map[string]any{"Cases": cases, "Status": status, "Statuses": caseStatuses})
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// caseFact is one of a case's findings, as a label and a value.
type caseFact struct{ Name, Value string }

// casePayment is a payment a case is about, with what the platform knows of it (nil when
// it cannot be read).
type casePayment struct {
	ID string
	P  *core.Payment
}

func (s *Server) amlCasePage(w http.ResponseWriter, r *http.Request) {
	s.showAMLCase(w, r, http.StatusOK, "")
}

func (s *Server) showAMLCase(w http.ResponseWriter, r *http.Request, status int, msg string) {
	id := r.PathValue("id")
	c, err := s.svc.AMLCase(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The payments involved: a structuring case lists them, a rapid-movement case has one.
	var ids []string
	switch v := c.Detail["payments"].(type) {
	case []any:
		for _, p := range v {
			if s, ok := p.(string); ok {
				ids = append(ids, s)
			}
		}
	}
	if p, ok := c.Detail["payment"].(string); ok {
		ids = append(ids, p)
	}
	var pays []casePayment
	for i, pid := range ids {
		cp := casePayment{ID: pid}
		if c.Merchant != nil && i < 50 {
			if p, err := s.svc.Payment(r.Context(), *c.Merchant, pid); err == nil {
				cp.P = p
			}
		}
		pays = append(pays, cp)
	}
	var facts []caseFact
	for k, v := range c.Detail {
		if k == "payments" {
			if _, isList := v.([]any); isList {
				continue
			}
		}
		if k == "payment" {
			continue
		}
		val := factValue(v)
		// Amounts are in minor units of the case's currency.
		if n, isNum := v.(float64); isNum && amountFacts[k] {
			if cur, ok := c.Detail["currency"].(string); ok && cur != "" {
				val = core.FormatAmount(int64(n), cur)
			}
		}
		facts = append(facts, caseFact{Name: strings.ReplaceAll(k, "_", " "), Value: val})
	}
	sort.Slice(facts, func(i, j int) bool { return facts[i].Name < facts[j].Name })
	history, err := s.svc.RiskAudit(r.Context(), c.ID, 50)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "aml_case", map[string]any{"C": c, "Facts": facts, "Payments": pays, "History": history,
		"Statuses": caseStatuses, "Error": msg, "Form": r.PostForm})
}

// amountFacts are the findings that are amounts in minor units.
var amountFacts = map[string]bool{"total": true, "threshold": true, "amount": true, "refunded": true}

func factValue(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return formatFloat(x)
	case nil:
		return ""
	default:
		return strings.Trim(strings.ReplaceAll(jsonText(x), `"`, ""), "[]")
	}
}

// updateAMLCase moves a case to another status with the analyst's note.
func (s *Server) updateAMLCase(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	id := r.PathValue("id")
	p := risk.CaseParams{Status: r.PostFormValue("status"), Note: strings.TrimSpace(r.PostFormValue("note"))}
	if err := p.Validate(); err != nil {
		s.showAMLCase(w, r, http.StatusBadRequest, core.AsError(err).Message)
		return
	}
	if _, err := s.svc.ConsoleUpdateAMLCase(r.Context(), sess.User, id, p); err != nil {
		if core.ErrorCode(err) == core.CodeNotFound {
			s.fail(w, r, err)
			return
		}
		s.showAMLCase(w, r, statusOf(err), core.AsError(err).Message)
		return
	}
	http.Redirect(w, r, "/dashboard/ops/aml/"+url.PathEscape(id), http.StatusSeeOther)
}
