package httpapi

import (
	"context"
	"net/http"

	"github.com/paycenter/paycenter/core"
)

// Transfers is what the API needs for transfers between merchants and operator adjustments.
// The Payments service implements it when it has them.
type Transfers interface {
	CreateTransfer(ctx context.Context, req core.IdempotentRequest, p core.CreateTransferParams) (*core.Transfer, error)
	Transfer(ctx context.Context, merchantID, id string) (*core.Transfer, error)
	ReverseTransfer(ctx context.Context, req core.IdempotentRequest, transferID string, p core.CreateReversalParams) (*core.TransferReversal, error)
	SetTransfersAllowed(ctx context.Context, merchantID string, allowed bool) error
	CreateAdjustment(ctx context.Context, p core.AdjustmentParams) (*core.Adjustment, error)
}

// transferRoutes registers the transfer and adjustment routes.
func (s *Server) transferRoutes() {
	s.handle("POST /v1/transfers", s.merchant(s.noQuery(s.createTransfer)))
	s.handle("GET /v1/transfers/{id}", s.merchant(s.noQuery(s.getTransfer)))
	s.handle("POST /v1/transfers/{id}/reversals", s.merchant(s.noQuery(s.reverseTransfer)))
	s.handle("POST /v1/admin/merchants/{id}/transfers_allowed", s.admin(s.noQuery(s.setTransfersAllowed)))
	s.handle("POST /v1/admin/adjustments", s.admin(s.noQuery(s.createAdjustment)))
}

func (s *Server) transfers(w http.ResponseWriter, r *http.Request) (Transfers, bool) {
	return need[Transfers](s, w, r, "Transfers are not configured on this node.")
}

// ledgerMove is the common shape of the idempotent transfer routes: the service, the key,
// the body (with the fields it requires), validation, then op, answered as JSON.
func ledgerMove[P any](s *Server, w http.ResponseWriter, r *http.Request, params *P, validate func() error,
	op func(Transfers, core.IdempotentRequest) (any, error), required ...string) {
	svc, ok := s.transfers(w, r)
	if !ok {
		return
	}
	req, err := s.idempotent(r)
	if err == nil {
		err = s.decodeRequiring(w, r, params, required...)
	}
	if err == nil {
		err = validate()
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out, err := op(svc, req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, out)
}

func (s *Server) createTransfer(w http.ResponseWriter, r *http.Request) {
	var p core.CreateTransferParams
	ledgerMove(s, w, r, &p, p.Validate, func(t Transfers, req core.IdempotentRequest) (any, error) {
		return t.CreateTransfer(r.Context(), req, p)
	}, "amount", "currency", "destination")
}

func (s *Server) reverseTransfer(w http.ResponseWriter, r *http.Request) {
	var p core.CreateReversalParams
	ledgerMove(s, w, r, &p, func() error { return pathID(r, "transfer") }, func(t Transfers, req core.IdempotentRequest) (any, error) {
		return t.ReverseTransfer(r.Context(), req, r.PathValue("id"), p)
	})
}

func (s *Server) getTransfer(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.transfers(w, r)
	if !ok {
		return
	}
	if err := pathID(r, "transfer"); err != nil {
		s.writeError(w, r, err)
		return
	}
	t, err := svc.Transfer(r.Context(), merchantID(r.Context()), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, t)
}

func (s *Server) setTransfersAllowed(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.transfers(w, r)
	if !ok {
		return
	}
	if err := pathID(r, "merchant"); err != nil {
		s.writeError(w, r, err)
		return
	}
	var in struct {
		Allowed *bool `json:"allowed"`
	}
	if err := s.decodeRequiring(w, r, &in, "allowed"); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := svc.SetTransfersAllowed(r.Context(), r.PathValue("id"), *in.Allowed); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, map[string]any{"object": "transfer_permission", "merchant": r.PathValue("id"), "allowed": *in.Allowed})
}

func (s *Server) createAdjustment(w http.ResponseWriter, r *http.Request) {
	svc, ok := s.transfers(w, r)
	if !ok {
		return
	}
	var p core.AdjustmentParams
	if err := s.decodeRequiring(w, r, &p, "merchant", "amount", "currency", "reason"); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := p.Validate(); err != nil {
		s.writeError(w, r, err)
		return
	}
	a, err := svc.CreateAdjustment(r.Context(), p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, a)
}
