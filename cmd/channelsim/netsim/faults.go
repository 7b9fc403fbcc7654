package netsim

import (
	"math/rand/v2"
	"time"

	"github.com/paycenter/paycenter/core"
)

// Faults are one channel's injected misbehaviour, set with POST /sim/faults. They apply to
// the channel's protocol calls (never to the /sim control API). Rates are probabilities in
// [0, 1] drawn per call; counts apply to the next N calls of their kind and are used up.
type Faults struct {
	// LatencyMS delays every call by this many milliseconds, plus a uniform random
	// 0..JitterMS.
	LatencyMS int `json:"latency_ms,omitempty"`
	JitterMS  int `json:"jitter_ms,omitempty"`
	// Outage refuses every call at once with 503 and executes nothing.
	Outage bool `json:"outage,omitempty"`
	// ErrorRate and Errors answer 500 without executing.
	ErrorRate float64 `json:"error_rate,omitempty"`
	Errors    int     `json:"errors,omitempty"`
	// TimeoutRate and Timeouts hang the call, without executing, until the client gives up
	// (or Config.MaxHang passes).
	TimeoutRate float64 `json:"timeout_rate,omitempty"`
	Timeouts    int     `json:"timeouts,omitempty"`
	// LostResponseRate and LostResponses apply to calls that change something (create,
	// close, refund): the call executes, then its answer is lost as LostResponseMode says.
	LostResponseRate float64 `json:"lost_response_rate,omitempty"`
	LostResponses    int     `json:"lost_responses,omitempty"`
	// LostResponseMode is LoseByDrop (default: the connection is closed without an answer)
	// or LoseWith502 (a 502 from a "proxy" in front of the channel).
	LostResponseMode string `json:"lost_response_mode,omitempty"`
	// DuplicateNotifications delivers every notification this many extra times (same event
	// ID, freshly signed), after the first delivery.
	DuplicateNotifications int `json:"duplicate_notifications,omitempty"`
	// StaleNotification, "pending" or "closed", follows every paid or failed notification
	// with an out-of-order one claiming that older state (a new event ID, the order's
	// creation time as its time).
	StaleNotification string `json:"stale_notification,omitempty"`
	// Payout (the bank only) is what the bank does with new payouts: "" pays at once,
	// PayoutDelayed keeps them in_transit for PayoutDelayMS then pays them, PayoutFail
	// fails them, PayoutReturn pays them and after PayoutDelayMS returns them (a
	// payout.returned notification). Each change is notified.
	Payout        string `json:"payout,omitempty"`
	PayoutDelayMS int    `json:"payout_delay_ms,omitempty"`
}

// Payout behaviours (Faults.Payout).
const (
	PayoutDelayed = "delayed"
	PayoutFail    = "failed"
	PayoutReturn  = "returned"
)

// Lost-response modes.
const (
	LoseByDrop  = "drop"
	LoseWith502 = "502"
)

// action is what the faults make of one call.
type action struct {
	outage, err, hang, lose bool
	loseMode                string
	delay                   time.Duration
}

// decide draws one call's faults and uses up counters.
func (s *Server) decide(ch core.Channel, mutating bool) action {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faults[ch]
	if f == nil {
		return action{}
	}
	var a action
	if f.Outage {
		a.outage = true
		return a
	}
	a.delay = time.Duration(f.LatencyMS) * time.Millisecond
	if f.JitterMS > 0 {
		a.delay += time.Duration(rand.Int64N(int64(f.JitterMS) * int64(time.Millisecond)))
	}
	switch {
	case f.Errors > 0:
		f.Errors--
		a.err = true
	case f.ErrorRate > 0 && rand.Float64() < f.ErrorRate:
		a.err = true
	case f.Timeouts > 0:
		f.Timeouts--
		a.hang = true
	case f.TimeoutRate > 0 && rand.Float64() < f.TimeoutRate:
		a.hang = true
	case mutating && f.LostResponses > 0:
		f.LostResponses--
		a.lose = true
	case mutating && f.LostResponseRate > 0 && rand.Float64() < f.LostResponseRate:
		a.lose = true
	}
	a.loseMode = f.LostResponseMode
	return a
}

// notifyFaults returns the notification faults of a channel. Call with s.mu held.
func (s *Server) notifyFaults(ch core.Channel) (dups int, stale string) {
	if f := s.faults[ch]; f != nil {
		return f.DuplicateNotifications, f.StaleNotification
	}
	return 0, ""
}
