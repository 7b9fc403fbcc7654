package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/paycenter/paycenter/core"
)

// Operator pages for reconciliation: the stored runs (every run of a channel's day, from
// here or the admin API, is kept with who ran it, when, its counts and its differences), a
// run with its differences, and the form that starts one. The form carries an idempotency
// key made when the page was rendered, so a double click starts one run. Starting a run needs
// manage_merchants (the operator role); it is audited with the user in the transaction that
// records the run.
func (s *Server) reconRoutes() {
	s.mux.HandleFunc("GET /dashboard/ops/reconciliation", s.operator(core.PermViewMerchants, s.reconcilePage))
	s.mux.HandleFunc("POST /dashboard/ops/reconciliation", s.operator(core.PermManageMerchants, s.reconcile))
	s.mux.HandleFunc("GET /dashboard/ops/reconciliation/runs/{id}", s.operator(core.PermViewMerchants, s.reconRunPage))
}

func (s *Server) reconcilePage(w http.ResponseWriter, r *http.Request) {
	s.showReconcile(w, r, http.StatusOK, "")
}

func (s *Server) showReconcile(w http.ResponseWriter, r *http.Request, status int, msg string) {
	runs, err := s.svc.ReconciliationRuns(r.Context(), 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	day, ch := s.cfg.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly), ""
	if r.Method == http.MethodPost {
		day, ch = r.PostFormValue("date"), r.PostFormValue("channel")
	}
	s.render(w, r, status, "reconcile", map[string]any{"Channels": core.Channels, "Day": day, "Channel": ch,
		"Runs": runs, "RunKey": randomKey(), "Error": msg})
}

// reconcile starts (or, for a key already used, finds) a run and opens its page.
func (s *Server) reconcile(w http.ResponseWriter, r *http.Request) {
	sess := sessionFrom(r)
	ch := core.Channel(r.PostFormValue("channel"))
	if !ch.Valid() {
		s.showReconcile(w, r, http.StatusBadRequest, "channel must be one of the platform's channels.")
		return
	}
	day, err := time.Parse(time.DateOnly, r.PostFormValue("date"))
	if err != nil {
		s.showReconcile(w, r, http.StatusBadRequest, "date must be a day such as 2026-12-01 (UTC).")
		return
	}
	key := r.PostFormValue("idempotency_key")
	if key == "" || len(key) > 255 {
		s.showReconcile(w, r, http.StatusBadRequest, "The form has no idempotency key (idempotency_key); reload the page.")
		return
	}
	run, _, err := s.svc.ConsoleReconcile(r.Context(), sess.User, key, ch, day)
	if err != nil && run == nil {
		s.showReconcile(w, r, statusOf(err), core.AsError(err).Message)
		return
	}
	// A failed run (the statement could not be had) is stored too: its page says why.
	http.Redirect(w, r, "/dashboard/ops/reconciliation/runs/"+url.PathEscape(run.ID), http.StatusSeeOther)
}

func (s *Server) reconRunPage(w http.ResponseWriter, r *http.Request) {
	run, diffs, err := s.svc.ReconciliationRun(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var missingPlatform, missingChannel, mismatched []core.ReconciliationDifference
	for _, d := range diffs {
		switch d.Kind {
		case core.DiffMissingOnPlatform:
			missingPlatform = append(missingPlatform, d)
		case core.DiffMissingOnChannel:
			missingChannel = append(missingChannel, d)
		default:
			mismatched = append(mismatched, d)
		}
	}
	s.render(w, r, http.StatusOK, "recon_run", map[string]any{"Run": run, "MissingOnPlatform": missingPlatform,
		"MissingOnChannel": missingChannel, "Mismatched": mismatched, "Refresh": run.Status == core.RunRunning})
}
