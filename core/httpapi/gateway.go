package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/paycenter/paycenter/core"
)

func (s *Server) gateway(w http.ResponseWriter, r *http.Request) (GatewayOps, bool) {
	if s.cfg.Gateway == nil {
		s.writeError(w, r, core.Errorf(core.CodeUnavailable, "Channel operations are not configured on this node."))
		return nil, false
	}
	return s.cfg.Gateway, true
}

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request) {
	g, ok := s.gateway(w, r)
	if !ok {
		return
	}
	if err := pathID(r, "merchant"); err != nil {
		s.writeError(w, r, err)
		return
	}
	list, err := g.Channels(r.Context(), r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, core.List[core.ChannelAuthorization]{Object: "list", Data: list})
}

func (s *Server) setChannel(w http.ResponseWriter, r *http.Request) {
	g, ok := s.gateway(w, r)
	if !ok {
		return
	}
	if err := pathID(r, "merchant"); err != nil {
		s.writeError(w, r, err)
		return
	}
	var in struct {
		Enabled     *bool             `json:"enabled"`
		Credentials map[string]string `json:"credentials"`
	}
	if err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := core.ValidateCredentials(in.Credentials); err != nil {
		s.writeError(w, r, err)
		return
	}
	if in.Enabled == nil {
		s.writeError(w, r, core.ParamError(core.CodeParameterMissing, "enabled", "enabled is required: true to authorise the channel, false to forbid it."))
		return
	}
	ch := core.Channel(r.PathValue("channel"))
	if !ch.Valid() {
		s.writeError(w, r, core.ParamError(core.CodeParameterInvalid, "channel", "Unknown channel %q.", clip(string(ch))))
		return
	}
	a, err := g.SetChannel(r.Context(), r.PathValue("id"), ch, *in.Enabled, in.Credentials)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, a)
}

func (s *Server) reconcile(w http.ResponseWriter, r *http.Request) {
	g, ok := s.gateway(w, r)
	if !ok {
		return
	}
	var in struct {
		Channel core.Channel `json:"channel"`
		Date    string       `json:"date"`
	}
	if err := s.decode(w, r, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	if !in.Channel.Valid() {
		s.writeError(w, r, core.ParamError(core.CodeParameterInvalid, "channel", "channel must be one of the platform's channels."))
		return
	}
	day, err := time.Parse("2006-01-02", in.Date)
	if err != nil {
		s.writeError(w, r, core.ParamError(core.CodeParameterInvalid, "date", "date must be a day as YYYY-MM-DD (UTC)."))
		return
	}
	rep, err := g.ReconcileDay(r.Context(), in.Channel, day)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeJSON(w, r, rep)
}

// notification receives a channel's asynchronous notification. Its signature is the
// authentication: a bad one is refused and changes nothing. A notification already seen is
// acknowledged again, so the channel stops resending it.
func (s *Server) notification(w http.ResponseWriter, r *http.Request) {
	ch := core.Channel(r.PathValue("channel"))
	parse, ok := s.cfg.Notifications[ch]
	if !ok {
		s.writeError(w, r, core.Errorf(core.CodeNotFound, "No notifications are taken for channel %q.", clip(string(ch))))
		return
	}
	g, ok := s.gateway(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	n, err := parse(r)
	if err != nil {
		if errors.Is(err, core.ErrReplayedNotification) {
			s.refuseReplay(w, r, ch, err)
			return
		}
		if errors.Is(err, core.ErrBadSignature) {
			s.log.WarnContext(r.Context(), "notification refused: bad signature", "channel", ch, "err", err)
			s.writeError(w, r, core.Errorf(core.CodeUnauthenticated, "The notification's signature does not verify."))
			return
		}
		// The cause can quote the body: it goes to the log, not back to the sender.
		s.log.WarnContext(r.Context(), "notification refused: unreadable", "channel", ch, "err", err)
		s.writeError(w, r, core.Errorf(core.CodeParameterInvalid, "The notification could not be read."))
		return
	}
	n.Channel = ch
	// A channel that hangs up (its own delivery timeout) must not cancel the transaction
	// halfway: the notification is applied to its end, bounded on its own.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 30*time.Second)
	defer cancel()
	applied, err := g.ApplyNotification(ctx, n)
	if errors.Is(err, core.ErrReplayedNotification) {
		s.refuseReplay(w, r, ch, err)
		return
	}
	if err != nil {
		s.writeError(w, r, err) // a 5xx: the channel sends it again
		return
	}
	s.writeJSON(w, r, map[string]any{"received": true, "applied": applied})
}

// refuseReplay answers a notification whose nonce was used before, on this node or another:
// authenticated once, it does not authenticate again.
func (s *Server) refuseReplay(w http.ResponseWriter, r *http.Request, ch core.Channel, err error) {
	s.log.WarnContext(r.Context(), "notification refused: replayed", "channel", ch, "err", err)
	s.writeError(w, r, core.Errorf(core.CodeUnauthenticated, "The notification is a replay: its nonce was already used."))
}
