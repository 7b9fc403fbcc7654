package httpapi

import (
	"context"
	"encoding/csv"
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
	SubmitKYC(ctx context.Context, merchantID string, p core.KYCParams) (*core.KYC, error)
	KYC(ctx context.Context, merchantID string) (*core.KYC, error)
	DecideKYC(ctx context.Context, merchantID string, approve bool, reason string) (*core.KYC, error)
	Settlements(ctx context.Context, merchantID string, limit int) (*core.List[*core.Settlement], error)
	Settlement(ctx context.Context, merchantID, id string) (*core.Settlement, []*core.BalanceTransaction, error)
}

// OperatorReview is what the API needs for operators' queues across merchants: the
// settlement days reconciliation flagged, the KYC submissions to decide, the fee schedules
// that apply to a merchant.
type OperatorReview interface {
	ReviewSettlements(ctx context.Context, f core.SettlementFilter) (*core.List[*core.Settlement], error)
	KYCSubmissions(ctx context.Context, status string, limit int) (*core.List[*core.KYC], error)
	FeeSchedules(ctx context.Context, merchantID string) (*core.List[*core.FeeScheduleSet], error)
}

func (s *Server) operatorReview(w http.ResponseWriter, r *http.Request) (OperatorReview, bool) {
	return need[OperatorReview](s, w, r, "Merchant operations are not configured on this node.")
}

// merchantOpsRoutes registers the merchant operations routes.
func (s *Server) merchantOpsRoutes() {
	s.handle("GET /v1/balance_transactions", s.merchant(s.listBalanceTransactions))
	s.handle("POST /v1/admin/merchants/{id}/fees", s.admin(s.noQuery(s.setFees)))
	s.handle("POST /v1/admin/fees", s.admin(s.noQuery(s.setFees)))
	s.handle("POST /v1/admin/merchants/{id}/settlement_terms", s.admin(s.noQuery(s.setSettlementTerms)))
	s.handle("GET /v1/settlements", s.merchant(s.listSettlements))
	s.handle("GET /v1/admin/settlements", s.admin(s.reviewSettlements))
	s.handle("GET /v1/admin/kyc", s.admin(s.listKYC))
	s.handle("GET /v1/admin/merchants/{id}/fees", s.admin(s.noQuery(s.listFees)))
	s.handle("GET /v1/admin/fees", s.admin(s.noQuery(s.listFees)))
	s.handle("GET /v1/settlements/{id}", s.merchant(s.noQuery(s.getSettlement)))
	s.handle("GET /v1/settlements/{id}/lines.csv", s.merchant(s.noQuery(s.settlementCSV)))
	s.handle("GET /v1/merchant/kyc", s.merchant(s.noQuery(s.getKYC)))
	s.handle("POST /v1/merchant/kyc", s.merchant(s.noQuery(s.submitKYC)))
	s.handle("GET /v1/admin/merchants/{id}/kyc", s.admin(s.noQuery(s.getKYC)))
	s.handle("POST /v1/admin/merchants/{id}/kyc/approve", s.admin(s.noQuery(s.decideKYC(true))))
	s.handle("POST /v1/admin/merchants/{id}/kyc/reject", s.admin(s.noQuery(s.decideKYC(false))))
}

// kycMerchant is the merchant a KYC route is about: the path's for operators, else the caller.
func (s *Server) kycMerchant(r *http.Request) (string, error) {
	if r.PathValue("id") == "" {
		return merchantID(r.Context()), nil
	}
	if err := pathID(r, "merchant"); err != nil {
		return "", err
	}
	return r.PathValue("id"), nil
}

func (s *Server) getKYC(w http.ResponseWriter, r *http.Request) {
	mo, ok := s.merchantOps(w, r)
	if !ok {
		return
	}
	id, err := s.kycMerchant(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	k, err := mo.KYC(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	noStore(w)
	s.writeJSON(w, r, k)
}

func (s *Server) submitKYC(w http.ResponseWriter, r *http.Request) {
	mo, ok := s.merchantOps(w, r)
	if !ok {
		return
	}
	var in core.KYCParams
	if err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.Representative.IDLast4 != "" || in.BankAccount.Last4 != "" {
		s.writeError(w, r, core.ParamError(core.CodeParameterUnknown, "last4", "last4 fields are shown, not submitted."))
		return
	}
	k, err := mo.SubmitKYC(r.Context(), merchantID(r.Context()), in)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	noStore(w)
	s.writeJSON(w, r, k)
}

func (s *Server) decideKYC(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		mo, ok := s.merchantOps(w, r)
		if !ok {
			return
		}
		if err := pathID(r, "merchant"); err != nil {
			s.writeError(w, r, err)
			return
		}
		var in struct {
			Reason string `json:"reason"`
		}
		if err := s.decode(w, r, &in); err != nil {
			s.writeError(w, r, err)
			return
		}
		if approve && in.Reason != "" {
			s.writeError(w, r, core.ParamError(core.CodeParameterUnknown, "reason", "An approval takes no reason."))
			return
		}
		k, err := mo.DecideKYC(r.Context(), r.PathValue("id"), approve, in.Reason)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		noStore(w)
		s.writeJSON(w, r, k)
	}
}

func (s *Server) merchantOps(w http.ResponseWriter, r *http.Request) (MerchantOps, bool) {
	return need[MerchantOps](s, w, r, "Merchant operations are not configured on this node.")
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
	err := parseListQuery(q, &f.Limit, &f.StartingAfter, func(k, val string) (bool, error) {
		switch k {
		case "type":
			switch val {
			case core.TxnPayment, core.TxnRefund, core.TxnTransfer, core.TxnTransferReversal, core.TxnAdjustment, core.TxnPayout, core.TxnPayoutFailure:
			default:
				return true, core.ParamError(core.CodeParameterInvalid, k, "Unknown balance transaction type %q.", val)
			}
			f.Type = val
		case "available_on[gte]", "available_on[lte]":
			t, err := parseTime(val)
			if err != nil {
				return true, core.ParamError(core.CodeParameterInvalid, k, "%s must be a Unix time in seconds or an RFC 3339 time.", k)
			}
			if k == "available_on[gte]" {
				f.AvailableOnGTE = &t
			} else {
				f.AvailableOnLTE = &t
			}
		default:
			return false, nil
		}
		return true, nil
	})
	return f, err
}

func (s *Server) listSettlements(w http.ResponseWriter, r *http.Request) {
	mo, ok := s.merchantOps(w, r)
	if !ok {
		return
	}
	limit := 0
	for k, v := range r.URL.Query() {
		k = clip(k)
		n, err := strconv.Atoi(v[0])
		if k != "limit" {
			s.writeError(w, r, core.ParamError(core.CodeParameterUnknown, k, "Received unknown parameter: %s.", k))
			return
		}
		if len(v) != 1 || err != nil || n < 1 || n > core.MaxListLimit {
			s.writeError(w, r, core.ParamError(core.CodeParameterInvalid, k, "limit must be an integer from 1 to %d.", core.MaxListLimit))
			return
		}
		limit = n
	}
	list, err := mo.Settlements(r.Context(), merchantID(r.Context()), limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, list)
}

func (s *Server) settlement(w http.ResponseWriter, r *http.Request) (*core.Settlement, []*core.BalanceTransaction, bool) {
	mo, ok := s.merchantOps(w, r)
	if !ok {
		return nil, nil, false
	}
	if err := pathID(r, "settlement"); err != nil {
		s.writeError(w, r, err)
		return nil, nil, false
	}
	st, lines, err := mo.Settlement(r.Context(), merchantID(r.Context()), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return nil, nil, false
	}
	return st, lines, true
}

func (s *Server) getSettlement(w http.ResponseWriter, r *http.Request) {
	if st, _, ok := s.settlement(w, r); ok {
		s.writeJSON(w, r, st)
	}
}

// settlementCSV answers a settlement's lines as CSV: one row per balance transaction, amounts
// in minor units and in decimal.
func (s *Server) settlementCSV(w http.ResponseWriter, r *http.Request) {
	st, lines, ok := s.settlement(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+st.ID+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(core.SettlementCSVHeader)
	for _, l := range lines {
		_ = cw.Write(core.SettlementCSVRow(l))
	}
	cw.Flush()
}

func (s *Server) reviewSettlements(w http.ResponseWriter, r *http.Request) {
	sr, ok := s.operatorReview(w, r)
	if !ok {
		return
	}
	var f core.SettlementFilter
	var after string
	err := parseListQuery(r.URL.Query(), &f.Limit, &after, func(k, val string) (bool, error) {
		if k != "reconciliation" {
			return false, nil
		}
		switch val {
		case core.SettlementUnchecked, core.SettlementMatched, core.SettlementMismatch:
		default:
			return true, core.ParamError(core.CodeParameterInvalid, k, "reconciliation must be unchecked, matched or mismatch.")
		}
		f.Reconciliation = val
		return true, nil
	})
	if err == nil && after != "" {
		err = core.ParamError(core.CodeParameterUnknown, "starting_after", "Received unknown parameter: starting_after.")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := sr.ReviewSettlements(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, list)
}

// listKYC lists KYC submissions by status, oldest first: ?status=pending is the review queue.
func (s *Server) listKYC(w http.ResponseWriter, r *http.Request) {
	or, ok := s.operatorReview(w, r)
	if !ok {
		return
	}
	var (
		limit         int
		after, status string
	)
	err := parseListQuery(r.URL.Query(), &limit, &after, func(k, val string) (bool, error) {
		if k != "status" {
			return false, nil
		}
		switch val {
		case core.KYCPending, core.KYCVerified, core.KYCRejected:
		default:
			return true, core.ParamError(core.CodeParameterInvalid, k, "status must be pending, verified or rejected.")
		}
		status = val
		return true, nil
	})
	if err == nil && after != "" {
		err = core.ParamError(core.CodeParameterUnknown, "starting_after", "Received unknown parameter: starting_after.")
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := or.KYCSubmissions(r.Context(), status, limit)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	noStore(w)
	s.writeJSON(w, r, list)
}

// listFees lists the fee schedules that apply to the merchant in the path (the platform's
// on /v1/admin/fees).
func (s *Server) listFees(w http.ResponseWriter, r *http.Request) {
	or, ok := s.operatorReview(w, r)
	if !ok {
		return
	}
	id := "*"
	if r.PathValue("id") != "" {
		if err := pathID(r, "merchant"); err != nil {
			s.writeError(w, r, err)
			return
		}
		id = r.PathValue("id")
	}
	list, err := or.FeeSchedules(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, list)
}
