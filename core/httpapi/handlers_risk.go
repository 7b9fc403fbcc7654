package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/risk"
)

// RiskOps is what the API needs for risk, fraud and AML operations. The operations
// service (core/postgres.Service) implements it; without it the routes are not served.
type RiskOps interface {
	CreateRiskRule(ctx context.Context, actor string, p risk.RuleParams) (*risk.RuleObject, error)
	UpdateRiskRule(ctx context.Context, actor, id string, p risk.RuleParams) (*risk.RuleObject, error)
	RiskRules(ctx context.Context, scope string) ([]*risk.RuleObject, error)
	TestRiskRule(ctx context.Context, p risk.DryRunParams) (*risk.DryRunResult, error)
	CreateRiskList(ctx context.Context, actor string, p risk.ListParams) (*risk.ListObject, error)
	RiskLists(ctx context.Context) ([]*risk.ListObject, error)
	ChangeRiskListItems(ctx context.Context, actor, id string, add bool, p risk.ItemParams) (*risk.ListObject, error)
	RiskAudit(ctx context.Context, objectID string, limit int) ([]risk.AuditEntry, error)
	Reviews(ctx context.Context, status string, limit int) ([]*risk.Review, error)
	ApproveReview(ctx context.Context, actor, id string) (*core.Payment, error)
	RejectReview(ctx context.Context, actor, id string, p risk.RejectParams) (*core.Payment, error)
	AMLCases(ctx context.Context, status string, limit int) ([]*risk.Case, error)
	UpdateAMLCase(ctx context.Context, actor, id string, p risk.CaseParams) (*risk.Case, error)
}

// riskRoutes registers the operator routes of risk, reviews and AML, when the operations
// service provides them.
func (s *Server) riskRoutes() {
	ro, ok := lookup[RiskOps](s)
	if !ok {
		return
	}
	h := &riskHandlers{s: s, ro: ro}
	s.handle("POST /v1/admin/risk/rules", s.admin(s.noQuery(h.createRule)))
	s.handle("GET /v1/admin/risk/rules", s.admin(h.listRules))
	s.handle("POST /v1/admin/risk/rules/test", s.admin(s.noQuery(h.testRule)))
	s.handle("POST /v1/admin/risk/rules/{id}", s.admin(s.noQuery(h.updateRule)))
	s.handle("POST /v1/admin/risk/rules/{id}/disable", s.admin(s.noQuery(h.disableRule)))
	s.handle("POST /v1/admin/risk/lists", s.admin(s.noQuery(h.createList)))
	s.handle("GET /v1/admin/risk/lists", s.admin(s.noQuery(h.listLists)))
	s.handle("POST /v1/admin/risk/lists/{id}/items", s.admin(s.noQuery(h.addItems)))
	s.handle("POST /v1/admin/risk/lists/{id}/items/remove", s.admin(s.noQuery(h.removeItems)))
	s.handle("GET /v1/admin/risk/audit", s.admin(h.audit))
	s.handle("GET /v1/admin/reviews", s.admin(h.listReviews))
	s.handle("POST /v1/admin/reviews/{id}/approve", s.admin(s.noQuery(h.approve)))
	s.handle("POST /v1/admin/reviews/{id}/reject", s.admin(s.noQuery(h.reject)))
	s.handle("GET /v1/admin/aml/cases", s.admin(h.listCases))
	s.handle("POST /v1/admin/aml/cases/{id}", s.admin(s.noQuery(h.updateCase)))
}

type riskHandlers struct {
	s  *Server
	ro RiskOps
}

var actorRE = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// actor is who an operator request is audited as: "operator", or "operator:<name>" when
// the request names its operator in the Payd-Actor header.
func actor(r *http.Request) (string, error) {
	v := r.Header.Values("Payd-Actor")
	switch {
	case len(v) == 0:
		return "operator", nil
	case len(v) > 1 || !actorRE.MatchString(v[0]):
		return "", core.ParamError(core.CodeParameterInvalid, "Payd-Actor",
			"Payd-Actor must be one header of 1 to 64 letters, digits, '.', '_', '@' or '-'.")
	}
	return "operator:" + v[0], nil
}

// write answers with v, or the error.
func (h *riskHandlers) write(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	h.s.writeJSON(w, r, v)
}

// body decodes the request body into dst and names the actor.
func (h *riskHandlers) body(w http.ResponseWriter, r *http.Request, dst any) (string, bool) {
	a, err := actor(r)
	if err == nil {
		err = h.s.decode(w, r, dst)
	}
	if err != nil {
		h.s.writeError(w, r, err)
		return "", false
	}
	return a, true
}

func (h *riskHandlers) pathID(w http.ResponseWriter, r *http.Request, kind string) bool {
	if err := pathID(r, kind); err != nil {
		h.s.writeError(w, r, err)
		return false
	}
	return true
}

func list[T any](data []T) *core.List[T] {
	if data == nil {
		data = []T{}
	}
	return &core.List[T]{Object: "list", Data: data}
}

func (h *riskHandlers) createRule(w http.ResponseWriter, r *http.Request) {
	var p risk.RuleParams
	if a, ok := h.body(w, r, &p); ok {
		rule, err := h.ro.CreateRiskRule(r.Context(), a, p)
		h.write(w, r, rule, err)
	}
}

func (h *riskHandlers) updateRule(w http.ResponseWriter, r *http.Request) {
	if !h.pathID(w, r, "risk rule") {
		return
	}
	var p risk.RuleParams
	if a, ok := h.body(w, r, &p); ok {
		rule, err := h.ro.UpdateRiskRule(r.Context(), a, r.PathValue("id"), p)
		h.write(w, r, rule, err)
	}
}

func (h *riskHandlers) disableRule(w http.ResponseWriter, r *http.Request) {
	if !h.pathID(w, r, "risk rule") {
		return
	}
	var none struct{}
	if a, ok := h.body(w, r, &none); ok {
		off := false
		rule, err := h.ro.UpdateRiskRule(r.Context(), a, r.PathValue("id"), risk.RuleParams{Enabled: &off})
		h.write(w, r, rule, err)
	}
}

func (h *riskHandlers) testRule(w http.ResponseWriter, r *http.Request) {
	var p risk.DryRunParams
	if err := h.s.decodeRequiring(w, r, &p, "expression"); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	res, err := h.ro.TestRiskRule(r.Context(), p)
	h.write(w, r, res, err)
}

// query checks a list route's query: only the named parameters, each at most once, and
// limit 1..100 (default 100).
func query(q url.Values, allowed ...string) (map[string]string, int, error) {
	out := map[string]string{}
	limit := core.MaxListLimit
	for k, v := range q {
		k = clip(k)
		if len(v) != 1 {
			return nil, 0, core.ParamError(core.CodeParameterInvalid, k, "%s may be given once.", k)
		}
		if k == "limit" {
			n, err := strconv.Atoi(v[0])
			if err != nil || n < 1 || n > core.MaxListLimit {
				return nil, 0, core.ParamError(core.CodeParameterInvalid, k, "limit must be an integer from 1 to %d.", core.MaxListLimit)
			}
			limit = n
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return nil, 0, core.ParamError(core.CodeParameterUnknown, k, "Received unknown parameter: %s.", k)
		}
		if err := core.ValidateText(k, v[0], 100, core.SingleLine); err != nil {
			return nil, 0, err
		}
		out[k] = v[0]
	}
	return out, limit, nil
}

func oneOf(param, v string, allowed ...string) error {
	if v == "" {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return core.ParamError(core.CodeParameterInvalid, param, "%s must be one of %v.", param, allowed)
}

func (h *riskHandlers) listRules(w http.ResponseWriter, r *http.Request) {
	q, _, err := query(r.URL.Query(), "scope")
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	rules, err := h.ro.RiskRules(r.Context(), q["scope"])
	h.write(w, r, list(rules), err)
}

func (h *riskHandlers) createList(w http.ResponseWriter, r *http.Request) {
	var p risk.ListParams
	if a, ok := h.body(w, r, &p); ok {
		l, err := h.ro.CreateRiskList(r.Context(), a, p)
		h.write(w, r, l, err)
	}
}

func (h *riskHandlers) listLists(w http.ResponseWriter, r *http.Request) {
	lists, err := h.ro.RiskLists(r.Context())
	h.write(w, r, list(lists), err)
}

func (h *riskHandlers) items(w http.ResponseWriter, r *http.Request, add bool) {
	if !h.pathID(w, r, "risk list") {
		return
	}
	var p risk.ItemParams
	if a, ok := h.body(w, r, &p); ok {
		l, err := h.ro.ChangeRiskListItems(r.Context(), a, r.PathValue("id"), add, p)
		h.write(w, r, l, err)
	}
}

func (h *riskHandlers) addItems(w http.ResponseWriter, r *http.Request)    { h.items(w, r, true) }
func (h *riskHandlers) removeItems(w http.ResponseWriter, r *http.Request) { h.items(w, r, false) }

func (h *riskHandlers) audit(w http.ResponseWriter, r *http.Request) {
	q, limit, err := query(r.URL.Query(), "object")
	if err == nil && q["object"] != "" {
		err = core.ValidateID("object", q["object"])
	}
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	entries, err := h.ro.RiskAudit(r.Context(), q["object"], limit)
	h.write(w, r, list(entries), err)
}

func (h *riskHandlers) listReviews(w http.ResponseWriter, r *http.Request) {
	q, limit, err := query(r.URL.Query(), "status")
	if err == nil {
		err = oneOf("status", q["status"], risk.ReviewOpen, risk.ReviewApproved, risk.ReviewRejected)
	}
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	reviews, err := h.ro.Reviews(r.Context(), q["status"], limit)
	h.write(w, r, list(reviews), err)
}

func (h *riskHandlers) approve(w http.ResponseWriter, r *http.Request) {
	if !h.pathID(w, r, "payment") {
		return
	}
	var none struct{}
	if a, ok := h.body(w, r, &none); ok {
		p, err := h.ro.ApproveReview(r.Context(), a, r.PathValue("id"))
		h.write(w, r, p, err)
	}
}

func (h *riskHandlers) reject(w http.ResponseWriter, r *http.Request) {
	if !h.pathID(w, r, "payment") {
		return
	}
	var p risk.RejectParams
	a, ok := h.body(w, r, &p)
	if !ok {
		return
	}
	if err := p.Validate(); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	pay, err := h.ro.RejectReview(r.Context(), a, r.PathValue("id"), p)
	h.write(w, r, pay, err)
}

func (h *riskHandlers) listCases(w http.ResponseWriter, r *http.Request) {
	q, limit, err := query(r.URL.Query(), "status")
	if err == nil {
		err = oneOf("status", q["status"], risk.CaseOpen, risk.CaseEscalated, risk.CaseClosed)
	}
	if err != nil {
		h.s.writeError(w, r, err)
		return
	}
	cases, err := h.ro.AMLCases(r.Context(), q["status"], limit)
	h.write(w, r, list(cases), err)
}

func (h *riskHandlers) updateCase(w http.ResponseWriter, r *http.Request) {
	if !h.pathID(w, r, "AML case") {
		return
	}
	var p risk.CaseParams
	if a, ok := h.body(w, r, &p); ok {
		c, err := h.ro.UpdateAMLCase(r.Context(), a, r.PathValue("id"), p)
		h.write(w, r, c, err)
	}
}

// Verifications is what the API needs for payer verification; the operations service
// implements it.
type Verifications interface {
	RequestPhoneVerification(ctx context.Context, m *core.Merchant, customerID string, p risk.PhoneParams) (*risk.PhoneVerification, error)
	ConfirmPhoneVerification(ctx context.Context, m *core.Merchant, customerID string, p risk.ConfirmParams) (*risk.PhoneVerification, error)
	BindCard(ctx context.Context, m *core.Merchant, customerID string, p risk.BindParams) (*risk.Verification, error)
	CustomerVerification(ctx context.Context, m *core.Merchant, customerID string) (*risk.Verification, error)
}

// verificationRoutes registers the merchant's payer verification routes, when the
// operations service provides them. {id} is the merchant's own customer ID.
func (s *Server) verificationRoutes() {
	vo, ok := lookup[Verifications](s)
	if !ok {
		return
	}
	customer := func(w http.ResponseWriter, r *http.Request) (string, bool) {
		id := r.PathValue("id")
		if err := core.ValidateReference("id", id); err != nil {
			s.writeError(w, r, core.ParamError(core.CodeParameterInvalid, "id", "The customer ID in the path must be 1 to %d printable ASCII characters without spaces.", core.MaxReferenceLen))
			return "", false
		}
		return id, true
	}
	s.handle("GET /v1/customers/{id}/verification", s.merchant(s.noQuery(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := customer(w, r); ok {
			v, err := vo.CustomerVerification(r.Context(), merchantFrom(r.Context()), id)
			s.answer(w, r, v, err)
		}
	})))
	s.handle("POST /v1/customers/{id}/phone_verifications", s.merchant(s.noQuery(func(w http.ResponseWriter, r *http.Request) {
		var p risk.PhoneParams
		if id, ok := customer(w, r); ok && s.decodeOK(w, r, &p) {
			v, err := vo.RequestPhoneVerification(r.Context(), merchantFrom(r.Context()), id, p)
			s.answer(w, r, v, err)
		}
	})))
	s.handle("POST /v1/customers/{id}/phone_verifications/confirm", s.merchant(s.noQuery(func(w http.ResponseWriter, r *http.Request) {
		var p risk.ConfirmParams
		if id, ok := customer(w, r); ok && s.decodeOK(w, r, &p) {
			v, err := vo.ConfirmPhoneVerification(r.Context(), merchantFrom(r.Context()), id, p)
			s.answer(w, r, v, err)
		}
	})))
	s.handle("POST /v1/customers/{id}/cards", s.merchant(s.noQuery(func(w http.ResponseWriter, r *http.Request) {
		var p risk.BindParams
		if id, ok := customer(w, r); ok && s.decodeOK(w, r, &p) {
			v, err := vo.BindCard(r.Context(), merchantFrom(r.Context()), id, p)
			s.answer(w, r, v, err)
		}
	})))
}

func (s *Server) decodeOK(w http.ResponseWriter, r *http.Request, dst any) bool {
	if err := s.decode(w, r, dst); err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, v)
}
