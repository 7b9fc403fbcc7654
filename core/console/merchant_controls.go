package console

import (
	"net/http"
	"net/url"

	"github.com/paycenter/paycenter/core"
)

// Operator controls on a merchant's page: switching a channel on or off for the merchant
// (switching off asks for a confirmation first: the first POST shows what will happen, the
// second carries confirm=<channel>), the merchant's limits (transfers to other merchants on
// or off; the volume it may take before its KYC is verified, which is the platform's setting
// and shown only), and its payouts and payout schedule. Channel credentials stay API-only
// (POST /v1/admin/merchants/{id}/channels/{channel} with credentials): they never go through
// a web form. Every change needs manage_merchants (the operator role) and is audited with the
// user in the change's transaction.
func (s *Server) merchantControlRoutes() {
	s.mux.HandleFunc("POST /dashboard/ops/merchants/{id}/channels/{channel}", s.operator(core.PermManageMerchants, s.switchChannel))
	s.mux.HandleFunc("POST /dashboard/ops/merchants/{id}/transfers", s.operator(core.PermManageMerchants, s.setTransfers))
	s.mux.HandleFunc("POST /dashboard/ops/merchants/{id}/payout_schedule", s.operator(core.PermManageMerchants, s.setMerchantPayoutSchedule))
	s.mux.HandleFunc("GET /dashboard/ops/merchants/{id}/payouts/{payout}", s.operator(core.PermViewMerchants, s.merchantPayoutPage))
}

// merchantControls adds the limits, payouts and payout schedule to the merchant page's data.
func (s *Server) merchantControls(r *http.Request, id string, data map[string]any) error {
	limits, err := s.svc.ConsoleMerchantLimits(r.Context(), id)
	if err != nil {
		return err
	}
	f := core.PayoutFilter{Limit: 25, StartingAfter: r.URL.Query().Get("payouts_after")}
	if v := r.URL.Query().Get("payout_status"); v != "" {
		if !contains(payoutStatuses, v) {
			return core.ParamError(core.CodeParameterInvalid, "payout_status", "payout_status must be pending, in_transit, paid or failed.")
		}
		f.Status = v
	}
	payouts, err := s.svc.Payouts(r.Context(), id, f)
	if err != nil {
		return err
	}
	sched, err := s.svc.PayoutSchedule(r.Context(), id)
	if err != nil {
		return err
	}
	next := ""
	if payouts.HasMore && len(payouts.Data) > 0 {
		q := r.URL.Query()
		q.Set("payouts_after", payouts.Data[len(payouts.Data)-1].ID)
		next = "/dashboard/ops/merchants/" + url.PathEscape(id) + "?" + q.Encode() + "#payouts"
	}
	data["Limits"], data["Payouts"], data["PayoutsNext"], data["Schedule"] = limits, payouts.Data, next, sched
	data["PayoutStatus"], data["PayoutStatuses"], data["Weekdays"] = f.Status, payoutStatuses, weekdayNames
	return nil
}

// switchChannel switches a channel on at once, or off once confirmed.
func (s *Server) switchChannel(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	id, ch := r.PathValue("id"), core.Channel(r.PathValue("channel"))
	if !ch.Valid() {
		s.showMerchant(w, r, http.StatusBadRequest, "channel: there is no channel '"+string(ch)+"'.")
		return
	}
	var enabled bool
	switch r.PostFormValue("enabled") {
	case "true":
		enabled = true
	case "false":
	default:
		s.showMerchant(w, r, http.StatusBadRequest, "enabled must be true or false.")
		return
	}
	if !enabled && r.PostFormValue("confirm") != string(ch) {
		if v := r.PostFormValue("confirm"); v != "" {
			s.showMerchant(w, r, http.StatusBadRequest, "confirm must name the channel switched off ("+string(ch)+").")
			return
		}
		// The first step: say what switching off means, and ask.
		chans, err := s.svc.Channels(r.Context(), id)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for _, a := range chans {
			if a.Channel == ch && !a.Enabled {
				http.Redirect(w, r, "/dashboard/ops/merchants/"+url.PathEscape(id), http.StatusSeeOther)
				return
			}
		}
		s.render(w, r, http.StatusOK, "channel_confirm", map[string]any{"ID": id, "Channel": ch})
		return
	}
	if _, err := s.svc.ConsoleSetChannel(r.Context(), sess.User, id, ch, enabled); err != nil {
		if core.ErrorCode(err) == core.CodeNotFound {
			s.fail(w, r, err)
			return
		}
		s.showMerchant(w, r, statusOf(err), core.AsError(err).Message)
		return
	}
	http.Redirect(w, r, "/dashboard/ops/merchants/"+url.PathEscape(id)+"#channels", http.StatusSeeOther)
}

func (s *Server) setTransfers(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	id := r.PathValue("id")
	var allowed bool
	switch r.PostFormValue("allowed") {
	case "true":
		allowed = true
	case "false":
	default:
		s.showMerchant(w, r, http.StatusBadRequest, "allowed must be true or false.")
		return
	}
	if err := s.svc.ConsoleSetTransfersAllowed(r.Context(), sess.User, id, allowed); err != nil {
		if core.ErrorCode(err) == core.CodeNotFound {
			s.fail(w, r, err)
			return
		}
		s.showMerchant(w, r, statusOf(err), core.AsError(err).Message)
		return
	}
	http.Redirect(w, r, "/dashboard/ops/merchants/"+url.PathEscape(id)+"#limits", http.StatusSeeOther)
}

// setMerchantPayoutSchedule sets a merchant's payout schedule as an operator (the admin API's
// POST /v1/admin/merchants/{id}/payout_schedule).
func (s *Server) setMerchantPayoutSchedule(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	id := r.PathValue("id")
	p, err := scheduleForm(r)
	if err != nil {
		s.showMerchant(w, r, http.StatusBadRequest, core.AsError(err).Message)
		return
	}
	if _, err := s.svc.ConsoleSetPayoutSchedule(r.Context(), sess.User, id, p); err != nil {
		if core.ErrorCode(err) == core.CodeNotFound {
			s.fail(w, r, err)
			return
		}
		s.showMerchant(w, r, statusOf(err), core.AsError(err).Message)
		return
	}
	http.Redirect(w, r, "/dashboard/ops/merchants/"+url.PathEscape(id)+"#payouts", http.StatusSeeOther)
}

func (s *Server) merchantPayoutPage(w http.ResponseWriter, r *http.Request) {
	mid, id := r.PathValue("id"), r.PathValue("payout")
	po, err := s.svc.Payout(r.Context(), mid, id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	txns, err := s.svc.BalanceTransactions(r.Context(), mid, core.BalanceTransactionFilter{Source: po.ID, Limit: core.MaxListLimit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// The merchant's payout page, with the way back to the operator's merchant page.
	s.render(w, r, http.StatusOK, "payout", map[string]any{"Merchant": mid, "P": po, "Transactions": txns.Data})
}
