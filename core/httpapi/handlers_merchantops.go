package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/paycenter/paycenter/core"
)

// MerchantOps is what the API needs for merchant operations: fees, settlement terms and
// balance transactions. The Payments service implements it when it has them.
type MerchantOps interface {
	SetFeeSchedule(ctx context.Context, merchantID string, p core.FeeScheduleParams) (*core.FeeScheduleSet, error)
	SetSettlementTerms(ctx context.Context, merchantID string, delayDays int, zone string) error
	BalanceTransactions(ctx context.Context, merchantID string, f core.BalanceTransactionFilter) (*core.List[*core.BalanceTransaction], error)
}

// merchantOpsRoutes registers the merchant operations routes.
func (s *Server) merchantOpsRoutes() {
	s.handle("GET /v1/balance_transactions", s.merchant(s.listBalanceTransactions))
	s.handle("POST /v1/admin/merchants/{id}/fees", s.admin(s.noQuery(s.setFees)))
	s.handle("POST /v1/admin/fees", s.admin(s.noQuery(s.setFees)))
	s.handle("POST /v1/admin/merchants/{id}/settlement_terms", s.admin(s.noQuery(s.setSettlementTerms)))
}

func (s *Server) merchantOps(w http.ResponseWriter, r *http.Request) (MerchantOps, bool) {
	mo, ok := s.payments.(MerchantOps)
	if !ok {
		s.writeError(w, r, core.Errorf(core.CodeUnavailable, "Merchant operations are not configured on this node."))
	}
	return mo, ok
}

func (s *Server) setFees(w http.ResponseWriter, r *http.Request) {
	mo, ok := s.merchantOps(w, r)
	if !ok {
		return
	}
	id := "*" // POST /v1/admin/fees: the platform's default
	if r.PathValue("id") != "" {
		if err := pathID(r, "merchant"); err != nil {
			s.writeError(w, r, err)
			return
		}
		id = r.PathValue("id")
	}
	var in core.FeeScheduleParams
	if err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := mo.SetFeeSchedule(r.Context(), id, in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, out)
}

func (s *Server) setSettlementTerms(w http.ResponseWriter, r *http.Request) {
	mo, ok := s.merchantOps(w, r)
	if !ok {
		return
	}
	if err := pathID(r, "merchant"); err != nil {
		s.writeError(w, r, err)
		return
	}
	in := struct {
		DelayDays *int   `json:"delay_days"`
		TimeZone  string `json:"time_zone"`
	}{TimeZone: "UTC"}
	if err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	days := core.DefaultDelayDays
	if in.DelayDays != nil {
		days = *in.DelayDays
	}
	if err := mo.SetSettlementTerms(r.Context(), r.PathValue("id"), days, in.TimeZone); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, map[string]any{"object": "settlement_terms", "merchant": r.PathValue("id"),
		"delay_days": days, "time_zone": in.TimeZone})
}

func (s *Server) listBalanceTransactions(w http.ResponseWriter, r *http.Request) {
	mo, ok := s.merchantOps(w, r)
	if !ok {
		return
	}
	f, err := parseBalanceTransactionFilter(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := mo.BalanceTransactions(r.Context(), merchantID(r.Context()), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, list)
}

func parseBalanceTransactionFilter(q url.Values) (core.BalanceTransactionFilter, error) {
	var f core.BalanceTransactionFilter
	for k, v := range q {
		k = clip(k)
		if len(v) != 1 {
			return f, core.ParamError(core.CodeParameterInvalid, k, "%s may be given once.", k)
		}
		val := v[0]
		switch k {
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > core.MaxListLimit {
				return f, core.ParamError(core.CodeParameterInvalid, k, "limit must be an integer from 1 to %d.", core.MaxListLimit)
			}
			f.Limit = n
		case "starting_after":
			if err := core.ValidateID(k, val); err != nil {
				return f, err
			}
			f.StartingAfter = val
		case "type":
			if val != core.TxnPayment && val != core.TxnRefund {
				return f, core.ParamError(core.CodeParameterInvalid, k, "Unknown balance transaction type %q.", val)
			}
			f.Type = val
		case "available_on[gte]", "available_on[lte]":
			t, err := parseTime(val)
			if err != nil {
				return f, core.ParamError(core.CodeParameterInvalid, k, "%s must be a Unix time in seconds or an RFC 3339 time.", k)
			}
			if k == "available_on[gte]" {
				f.AvailableOnGTE = &t
			} else {
				f.AvailableOnLTE = &t
			}
		default:
			return f, core.ParamError(core.CodeParameterUnknown, k, "Received unknown parameter: %s.", k)
		}
	}
	return f, nil
}
