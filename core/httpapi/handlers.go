package httpapi

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
)

// pathID checks the {id} of a route that names one kind of object. A malformed ID names
// nothing: it is resource_missing, and it is not echoed back.
func pathID(r *http.Request, kind string) error {
	if core.ValidateID("id", r.PathValue("id")) != nil {
		return core.ParamError(core.CodeNotFound, "id", "No such %s: the ID in the path is not a valid %s ID.", kind, kind)
	}
	return nil
}

// withPathID runs pathID before validate.
func withPathID(r *http.Request, kind string, validate func() error) func() error {
	return func() error {
		if err := pathID(r, kind); err != nil {
			return err
		}
		return validate()
	}
}

// idempotent builds the idempotent request for a money-moving POST, insisting on a valid key.
func (s *Server) idempotent(r *http.Request) (core.IdempotentRequest, error) {
	keys := r.Header.Values("Idempotency-Key")
	if len(keys) > 1 {
		return core.IdempotentRequest{}, core.ParamError(core.CodeIdempotencyKeyInvalid, "Idempotency-Key",
			"Send one Idempotency-Key header, not %d.", len(keys))
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return core.IdempotentRequest{}, core.ParamError(core.CodeIdempotencyKeyRequired, "Idempotency-Key",
			"This request moves money and needs an Idempotency-Key header: a unique value (such as a UUID) per operation, reused on every retry of it.")
	}
	if len(key) > core.MaxIdempotencyKey || strings.IndexFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) >= 0 {
		return core.IdempotentRequest{}, core.ParamError(core.CodeIdempotencyKeyInvalid, "Idempotency-Key",
			"The Idempotency-Key must be 1 to %d printable ASCII characters without spaces.", core.MaxIdempotencyKey)
	}
	m := merchantFrom(r.Context())
	return core.IdempotentRequest{MerchantID: m.ID, Region: m.HomeRegion, Key: key, Method: r.Method,
		Path: r.URL.Path, Render: s.render(r)}, nil
}

// money runs the common shape of a money-moving POST: key, body (with the fields it
// requires), validation, then op.
func money[P any](s *Server, w http.ResponseWriter, r *http.Request, params *P, validate func() error,
	op func(core.IdempotentRequest) (core.Reply, error), required ...string) {
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
	rep, err := op(req)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if rep.Interim != nil {
		rep = s.interimReply(r, rep.Interim)
	}
	s.writeReply(w, rep)
}

func (s *Server) createPayment(w http.ResponseWriter, r *http.Request) {
	var p core.CreatePaymentParams
	money(s, w, r, &p, p.Validate, func(req core.IdempotentRequest) (core.Reply, error) {
		return s.payments.CreatePayment(r.Context(), req, p)
	}, "amount")
}

func (s *Server) capturePayment(w http.ResponseWriter, r *http.Request) {
	var p core.CaptureParams
	money(s, w, r, &p, withPathID(r, "payment", p.Validate), func(req core.IdempotentRequest) (core.Reply, error) {
		return s.payments.CapturePayment(r.Context(), req, r.PathValue("id"), p)
	})
}

func (s *Server) cancelPayment(w http.ResponseWriter, r *http.Request) {
	var p core.CancelParams
	money(s, w, r, &p, withPathID(r, "payment", p.Validate), func(req core.IdempotentRequest) (core.Reply, error) {
		return s.payments.CancelPayment(r.Context(), req, r.PathValue("id"), p)
	})
}

func (s *Server) createRefund(w http.ResponseWriter, r *http.Request) {
	var p core.CreateRefundParams
	money(s, w, r, &p, p.Validate, func(req core.IdempotentRequest) (core.Reply, error) {
		return s.payments.CreateRefund(r.Context(), req, p)
	})
}

func (s *Server) getPayment(w http.ResponseWriter, r *http.Request) {
	if err := pathID(r, "payment"); err != nil {
		s.writeError(w, r, err)
		return
	}
	p, err := s.payments.Payment(r.Context(), merchantID(r.Context()), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, p)
}

func (s *Server) getRefund(w http.ResponseWriter, r *http.Request) {
	if err := pathID(r, "refund"); err != nil {
		s.writeError(w, r, err)
		return
	}
	ref, err := s.payments.Refund(r.Context(), merchantID(r.Context()), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, ref)
}

func (s *Server) getBalance(w http.ResponseWriter, r *http.Request) {
	b, err := s.payments.Balance(r.Context(), merchantID(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, b)
}

func (s *Server) getMerchant(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, merchantFrom(r.Context()))
}

func (s *Server) listPayments(w http.ResponseWriter, r *http.Request) {
	f, err := parsePaymentFilter(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.payments.Payments(r.Context(), merchantID(r.Context()), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, list)
}

func parsePaymentFilter(q url.Values) (core.PaymentFilter, error) {
	var f core.PaymentFilter
	err := parseListQuery(q, &f.Limit, &f.StartingAfter, func(k, val string) (bool, error) {
		switch k {
		case "status":
			if !core.Status(val).Valid() {
				return true, core.ParamError(core.CodeParameterInvalid, k, "Unknown status %q.", val)
			}
			f.Status = core.Status(val)
		case "merchant_reference":
			if err := core.ValidateReference(k, val); err != nil {
				return true, err
			}
			f.MerchantReference = val
		case "created[gte]", "created[lte]":
			t, err := parseTime(val)
			if err != nil {
				return true, core.ParamError(core.CodeParameterInvalid, k, "%s must be a Unix time in seconds or an RFC 3339 time.", k)
			}
			if k == "created[gte]" {
				f.CreatedGTE = &t
			} else {
				f.CreatedLTE = &t
			}
		case "channel":
			if !core.Channel(val).Valid() {
				return true, core.ParamError(core.CodeParameterInvalid, k, "Unknown channel %q.", val)
			}
			f.Channel = core.Channel(val)
		case "amount[gte]", "amount[lte]":
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 || n > core.MaxAmount {
				return true, core.ParamError(core.CodeParameterInvalid, k, "%s must be a whole number of minor units from 0 to %d.", k, core.MaxAmount)
			}
			if k == "amount[gte]" {
				f.AmountGTE = &n
			} else {
				f.AmountLTE = &n
			}
		case "customer":
			if val == "" || len(val) > core.MaxCustomerFilterLen {
				return true, core.ParamError(core.CodeParameterInvalid, k, "customer must be a customer ID or an e-mail address, 1 to %d characters.", core.MaxCustomerFilterLen)
			}
			f.Customer = val
		default:
			return false, nil
		}
		return true, nil
	})
	if err == nil && f.AmountGTE != nil && f.AmountLTE != nil && *f.AmountGTE > *f.AmountLTE {
		err = core.ParamError(core.CodeParameterInvalid, "amount[lte]", "amount[lte] must not be less than amount[gte].")
	}
	if err == nil && f.CreatedGTE != nil && f.CreatedLTE != nil && f.CreatedGTE.After(*f.CreatedLTE) {
		err = core.ParamError(core.CodeParameterInvalid, "created[lte]", "created[lte] must not be before created[gte].")
	}
	return f, err
}

func (s *Server) listRefunds(w http.ResponseWriter, r *http.Request) {
	f, err := parseRefundFilter(r.URL.Query())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := s.payments.Refunds(r.Context(), merchantID(r.Context()), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, list)
}

func parseRefundFilter(q url.Values) (core.RefundFilter, error) {
	var f core.RefundFilter
	err := parseListQuery(q, &f.Limit, &f.StartingAfter, func(k, val string) (bool, error) {
		if k != "payment" {
			return false, nil
		}
		f.Payment = val
		return true, core.ValidateID(k, val)
	})
	return f, err
}

func parseTime(v string) (time.Time, error) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Parse(time.RFC3339Nano, v)
}

func (s *Server) createMerchant(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name       string `json:"name"`
		HomeRegion string `json:"home_region"`
	}
	if err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.merchants.CreateMerchant(r.Context(), in.Name, in.HomeRegion)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	noStore(w)
	s.writeJSON(w, r, m)
}

func (s *Server) rollKey(w http.ResponseWriter, r *http.Request) {
	var in struct {
		ExpireCurrentIn int64 `json:"expire_current_in"`
	}
	if err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.merchants.RollKey(r.Context(), merchantID(r.Context()), info(r.Context()).secret, time.Duration(in.ExpireCurrentIn)*time.Second)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	noStore(w)
	s.writeJSON(w, r, m)
}

// noStore keeps an answer that carries (or describes) secret keys out of every cache.
func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.merchants.APIKeys(r.Context(), merchantID(r.Context()), info(r.Context()).secret)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	noStore(w)
	s.writeJSON(w, r, core.List[core.APIKey]{Object: "list", Data: keys})
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) {
	if err := pathID(r, "API key"); err != nil {
		s.writeError(w, r, err)
		return
	}
	var in struct{}
	if err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	k, err := s.merchants.RevokeKey(r.Context(), merchantID(r.Context()), r.PathValue("id"), info(r.Context()).secret)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	noStore(w)
	s.writeJSON(w, r, k)
}

func (s *Server) revokeAllKeys(w http.ResponseWriter, r *http.Request) {
	if err := pathID(r, "merchant"); err != nil {
		s.writeError(w, r, err)
		return
	}
	var in struct{}
	if err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	m, err := s.merchants.RevokeAllKeys(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	noStore(w)
	s.writeJSON(w, r, m)
}

func (s *Server) checkLedger(w http.ResponseWriter, r *http.Request) {
	rep, err := s.ops.CheckLedger(r.Context())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, rep)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	for _, check := range []func() error{s.cfg.Ready, s.cfg.Serving} {
		if check == nil {
			continue
		}
		if err := check(); err != nil {
			s.writeError(w, r, core.Errorf(core.CodeUnavailable, "This node is not taking traffic: %v.", err))
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if err := s.ops.Ping(ctx); err != nil {
		s.log.WarnContext(r.Context(), "not ready: database unreachable", "err", err)
		s.writeError(w, r, core.Errorf(core.CodeUnavailable, "This node cannot reach its database."))
		return
	}
	s.writeJSON(w, r, map[string]string{"status": "ready"})
}
