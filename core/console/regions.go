package console

import (
	"context"
	"net/http"

	"github.com/paycenter/paycenter/core"
)

// Regions is what the regions page needs: each region's nodes and health, and its drain
// switch (payd gives it Consul's view through the regions package).
type Regions interface {
	RegionHealth(ctx context.Context) ([]RegionView, error)
	Drain(ctx context.Context, region string) error
	Undrain(ctx context.Context, region string) error
}

// RegionView is one region as the regions page shows it.
type RegionView struct {
	Region  string
	Drained bool
	Nodes   []NodeView
}

// NodeView is one node of a region: its checks' aggregate status (passing, warning,
// critical) and the first failing check's output.
type NodeView struct {
	ID, Address string
	Port        int
	Health      string
	Output      string
}

func (s *Server) regionRoutes() {
	s.mux.HandleFunc("GET /dashboard/ops/regions", s.operator(core.PermViewMerchants, s.regionsPage))
	s.mux.HandleFunc("POST /dashboard/ops/regions/{region}/drain", s.operator(core.PermManageRegions, s.switchRegion(true)))
	s.mux.HandleFunc("POST /dashboard/ops/regions/{region}/undrain", s.operator(core.PermManageRegions, s.switchRegion(false)))
}

func (s *Server) regionsPage(w http.ResponseWriter, r *http.Request) {
	s.showRegions(w, r, http.StatusOK, "")
}

func (s *Server) showRegions(w http.ResponseWriter, r *http.Request, status int, msg string) {
	data := map[string]any{"Error": msg}
	if s.cfg.Regions == nil {
		data["NoConsul"] = true
		s.render(w, r, status, "regions", data)
		return
	}
	rs, err := s.cfg.Regions.RegionHealth(r.Context())
	if err != nil {
		s.log.WarnContext(r.Context(), "console regions", "err", err)
		data["Error"] = "Consul did not answer: " + err.Error()
		s.render(w, r, http.StatusServiceUnavailable, "regions", data)
		return
	}
	data["Regions"] = rs
	s.render(w, r, status, "regions", data)
}

// switchRegion drains or undrains a region in two steps: the first POST shows what will
// happen and asks for confirmation; the POST that carries confirm=<region> does it, audited.
func (s *Server) switchRegion(drain bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := sessionFrom(r)
		region := r.PathValue("region")
		if s.cfg.Regions == nil {
			s.showRegions(w, r, http.StatusServiceUnavailable, "This node has no Consul: regions cannot be switched here.")
			return
		}
		known := false
		rs, err := s.cfg.Regions.RegionHealth(r.Context())
		if err != nil {
			s.showRegions(w, r, http.StatusServiceUnavailable, "")
			return
		}
		var view RegionView
		for _, rv := range rs {
			if rv.Region == region {
				known, view = true, rv
			}
		}
		if !known {
			s.errorPage(w, r, http.StatusNotFound, "No such region.")
			return
		}
		if r.PostFormValue("confirm") != region {
			s.render(w, r, http.StatusOK, "region_confirm", map[string]any{"R": view, "Drain": drain})
			return
		}
		verb, do := "undrain", s.cfg.Regions.Undrain
		if drain {
			verb, do = "drain", s.cfg.Regions.Drain
		}
		// The switch is in Consul, not in this database, so no transaction holds both: the
		// request is audited BEFORE it is tried (no audit entry, no switch), and its outcome
		// after. A process that dies in between leaves the request in the log without an
		// outcome, never a switch without a trace.
		if err := s.svc.RecordConsoleAudit(r.Context(), sess.User.ID, "", "region."+verb+"_requested", region, ""); err != nil {
			s.fail(w, r, err)
			return
		}
		if err := do(r.Context(), region); err != nil {
			s.log.WarnContext(r.Context(), "console region switch", "region", region, "err", err)
			s.recordOutcome(r, sess, "region."+verb+"_failed", region, err.Error())
			s.showRegions(w, r, http.StatusServiceUnavailable, "The switch was not set: "+err.Error())
			return
		}
		s.recordOutcome(r, sess, "region."+verb+"ed", region, "")
		http.Redirect(w, r, "/dashboard/ops/regions", http.StatusSeeOther)
	}
}

// recordOutcome audits the outcome of a region switch whose request is audited already; a
// failure to record it is logged (the request's entry stays).
func (s *Server) recordOutcome(r *http.Request, sess *core.Session, action, region, detail string) {
	if err := s.svc.RecordConsoleAudit(r.Context(), sess.User.ID, "", action, region, detail); err != nil {
		s.log.ErrorContext(r.Context(), "console audit", "action", action, "err", err)
	}
}
