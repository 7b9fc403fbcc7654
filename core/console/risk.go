package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/risk"
)

// Operator pages for risk: the rules with a dry-run form, and the lists with their entries.
// Every operator role sees them; adding and removing entries and dry-running a rule need
// manage_risk (the risk role), checked on the server. Changes go through the methods the
// admin API uses, with the user as the actor of the risk audit trail.
func (s *Server) riskRoutes() {
	s.mux.HandleFunc("GET /dashboard/ops/rules", s.operator(core.PermViewRisk, s.rulesPage))
	s.mux.HandleFunc("POST /dashboard/ops/rules/dry-run", s.operator(core.PermManageRisk, s.dryRun))
	s.mux.HandleFunc("GET /dashboard/ops/risk-lists", s.operator(core.PermViewRisk, s.riskListsPage))
	s.mux.HandleFunc("GET /dashboard/ops/risk-lists/{id}", s.operator(core.PermViewRisk, s.riskListPage))
	s.mux.HandleFunc("POST /dashboard/ops/risk-lists/{id}/items", s.operator(core.PermManageRisk, s.changeRiskList(true)))
	s.mux.HandleFunc("POST /dashboard/ops/risk-lists/{id}/items/remove", s.operator(core.PermManageRisk, s.changeRiskList(false)))
}

// riskListPageSize is how many entries a list's page shows.
const riskListPageSize = 500

func (s *Server) rulesPage(w http.ResponseWriter, r *http.Request) {
	s.showRules(w, r, http.StatusOK, "", nil)
}

func (s *Server) showRules(w http.ResponseWriter, r *http.Request, status int, msg string, res *risk.DryRunResult) {
	rules, err := s.svc.RiskRules(r.Context(), "")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, status, "rules", map[string]any{"Rules": rules, "Error": msg, "Result": res, "Form": r.PostForm,
		"MaxDays": risk.MaxDryRunDays})
}

// dryRun evaluates an expression over the recent payments in scope: nothing is written.
func (s *Server) dryRun(w http.ResponseWriter, r *http.Request) {
	p := risk.DryRunParams{Expression: r.PostFormValue("expression"), Scope: strings.TrimSpace(r.PostFormValue("scope"))}
	if v := strings.TrimSpace(r.PostFormValue("days")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			s.showRules(w, r, http.StatusBadRequest, "days must be a whole number of days.", nil)
			return
		}
		p.Days = n
	}
	res, err := s.svc.TestRiskRule(r.Context(), p)
	if err != nil {
		s.showRules(w, r, statusOf(err), core.AsError(err).Message, nil)
		return
	}
	s.showRules(w, r, http.StatusOK, "", res)
}

func (s *Server) riskListsPage(w http.ResponseWriter, r *http.Request) {
	s.showRiskLists(w, r, http.StatusOK, "")
}

func (s *Server) riskListPage(w http.ResponseWriter, r *http.Request) {
	s.showRiskList(w, r, http.StatusOK, "")
}

func (s *Server) showRiskList(w http.ResponseWriter, r *http.Request, status int, msg string) {
	id := r.PathValue("id")
	items, err := s.svc.ConsoleRiskListItems(r.Context(), id, riskListPageSize+1)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	lists, err := s.svc.RiskLists(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var list *risk.ListObject
	for _, l := range lists {
		if l.ID == id {
			list = l
		}
	}
	if list == nil {
		s.fail(w, r, core.ParamError(core.CodeNotFound, "id", "No such risk list: '%s'.", id))
		return
	}
	more := len(items) > riskListPageSize
	if more {
		items = items[:riskListPageSize]
	}
	s.render(w, r, status, "risklist", map[string]any{"L": list, "Items": items, "More": more, "Error": msg})
}

// changeRiskList adds the form's values (one a line, or separated by commas) to a list, or
// removes them.
func (s *Server) changeRiskList(add bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := sessionFrom(r)
		id := r.PathValue("id")
		var values []string
		for _, v := range strings.FieldsFunc(r.PostFormValue("values"), func(c rune) bool { return c == '\n' || c == '\r' || c == ',' }) {
			if v = strings.TrimSpace(v); v != "" {
				values = append(values, v)
			}
		}
		l, err := s.svc.ChangeRiskListItems(r.Context(), actor(sess), id, add, risk.ItemParams{Values: values})
		if err != nil {
			if core.ErrorCode(err) == core.CodeNotFound {
				s.fail(w, r, err)
				return
			}
			s.showRiskList(w, r, statusOf(err), core.AsError(err).Message)
			return
		}
		http.Redirect(w, r, "/dashboard/ops/risk-lists/"+url.PathEscape(l.ID), http.StatusSeeOther)
	}
}
