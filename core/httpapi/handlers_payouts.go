package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/paycenter/paycenter/core"
)

// Payouts is what the API needs for payouts to merchants' bank accounts and their
// schedules. The Payments service implements it when it has them.
type Payouts interface {
	CreatePayout(ctx context.Context, req core.IdempotentRequest, p core.CreatePayoutParams) (core.Reply, error)
	Payout(ctx context.Context, merchantID, id string) (*core.Payout, error)
	Payouts(ctx context.Context, merchantID string, f core.PayoutFilter) (*core.List[*core.Payout], error)
	SetPayoutSchedule(ctx context.Context, merchantID string, byOperator bool, p core.PayoutScheduleParams) (*core.PayoutSchedule, error)
	PayoutSchedule(ctx context.Context, merchantID string) (*core.PayoutSchedule, error)
}

// payoutRoutes registers the payout routes: the merchant's payouts and its schedule, which
// the merchant or an operator sets.
func (s *Server) payoutRoutes() {
	s.handle("POST /v1/payouts", s.merchant(s.noQuery(s.createPayout)))
	s.handle("GET /v1/payouts", s.merchant(s.listPayouts))
	s.handle("GET /v1/payouts/{id}", s.merchant(s.noQuery(s.getPayout)))
	s.handle("GET /v1/merchant/payout_schedule", s.merchant(s.noQuery(s.getPayoutSchedule)))
	s.handle("POST /v1/merchant/payout_schedule", s.merchant(s.noQuery(s.setPayoutSchedule)))
	s.handle("GET /v1/admin/merchants/{id}/payout_schedule", s.admin(s.noQuery(s.getPayoutSchedule)))
	s.handle("POST /v1/admin/merchants/{id}/payout_schedule", s.admin(s.noQuery(s.setPayoutSchedule)))
}

func (s *Server) payoutSvc(w http.ResponseWriter, r *http.Request) (Payouts, bool) {
	return need[Payouts](s, w, r, "Payouts are not configured on this node.")
}

func (s *Server) createPayout(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.payoutSvc(w, r)
	if !ok {
		return
	}
	var p core.CreatePayoutParams
	money(s, w, r, &p, p.Validate, func(req core.IdempotentRequest) (core.Reply, error) {
		return svc.CreatePayout(r.Context(), req, p)
	}, "amount", "currency")
}

func (s *Server) getPayout(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.payoutSvc(w, r)
	if !ok {
		return
	}
	if err := pathID(r, "payout"); err != nil {
		s.writeError(w, r, err)
		return
	}
	po, err := svc.Payout(r.Context(), merchantID(r.Context()), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, po)
}

func (s *Server) listPayouts(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.payoutSvc(w, r)
	if !ok {
		return
	}
	f, err := parsePayoutFilter(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := svc.Payouts(r.Context(), merchantID(r.Context()), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, list)
}

func parsePayoutFilter(q url.Values) (core.PayoutFilter, error) {
	var f core.PayoutFilter
	err := parseListQuery(q, &f.Limit, &f.StartingAfter, func(k, val string) (bool, error) {
		if k != "status" {
			return false, nil
		}
		switch val {
		case core.PayoutPending, core.PayoutInTransit, core.PayoutPaid, core.PayoutFailed:
		default:
			return true, core.ParamError(core.CodeParameterInvalid, k, "status must be pending, in_transit, paid or failed.")
		}
		f.Status = val
		return true, nil
	})
	return f, err
}

func (s *Server) getPayoutSchedule(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.payoutSvc(w, r)
	if !ok {
		return
	}
	id, err := s.kycMerchant(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sc, err := svc.PayoutSchedule(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, sc)
}

// setPayoutSchedule sets the schedule of the calling merchant, or, on the admin route, of
// the merchant in the path (audited as the operator's).
func (s *Server) setPayoutSchedule(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.payoutSvc(w, r)
	if !ok {
		return
	}
	id, err := s.kycMerchant(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var p core.PayoutScheduleParams
	if err := s.decodeRequiring(w, r, &p, "interval"); err != nil {
		s.writeError(w, r, err)
		return
	}
	sc, err := svc.SetPayoutSchedule(r.Context(), id, r.PathValue("id") != "", p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, sc)
}
