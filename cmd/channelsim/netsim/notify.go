package netsim

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/paycenter/paycenter/core"
)

// Notification kinds.
const (
	KindPaid    = "paid"    // the payer paid
	KindFailed  = "failed"  // the payer's payment failed
	KindClosed  = "closed"  // the order expired unpaid (or, stale, claims so)
	KindPending = "pending" // stale only: claims the order still waits for the payer
	KindRefund  = "refund"  // a refund succeeded
)

// NotificationRecord is one notification delivery job, as GET /sim/notifications lists it.
type NotificationRecord struct {
	EventID     string       `json:"event_id"`
	Channel     core.Channel `json:"channel"`
	Kind        string       `json:"kind"`
	OutTradeNo  string       `json:"out_trade_no"`
	OutRefundNo string       `json:"out_refund_no,omitempty"`
	URL         string       `json:"url"`
	// Copy is 0 for the first delivery of an event, 1.. for injected duplicates.
	Copy int `json:"copy"`
	// Stale marks an injected out-of-order notification.
	Stale      bool      `json:"stale"`
	OccurredAt time.Time `json:"occurred_at"`
	Attempts   int       `json:"attempts"`
	Delivered  bool      `json:"delivered"`
	// Finished is set when the job ends: delivered, given up after Config.NotifyAttempts,
	// or stopped by Close. No attempt follows it, so a test can count attempts then.
	Finished   bool   `json:"finished"`
	LastStatus int    `json:"last_status,omitempty"`
	LastError  string `json:"last_error,omitempty"`
}

// event is a notification's content, snapshotted when it happened.
type event struct {
	id     string
	kind   string
	order  order
	refund *refund
	payout *simPayout // for the bank's payout notifications
	at     time.Time
	url    string
	stale  bool
}

// emitLocked queues a notification about o (and rf, for refunds) and delivers it in the
// background, with the channel's duplicate and stale-notification faults. Call with s.mu held.
func (s *Server) emitLocked(kind string, o *order, rf *refund, at time.Time) {
	ev := event{id: s.eventID(o.channel), kind: kind, order: *o, at: at, url: o.notifyURL}
	if rf != nil {
		cp := *rf
		ev.refund = &cp
		if rf.notifyURL != "" {
			ev.url = rf.notifyURL
		}
	}
	if ev.url == "" || s.closed {
		return
	}
	dups, stale := s.notifyFaults(o.channel)
	var staleEv *event
	if (stale == KindPending || stale == KindClosed) && (kind == KindPaid || kind == KindFailed) {
		st := ev
		st.id, st.kind, st.stale, st.at = s.eventID(o.channel), stale, true, o.createdAt
		st.order.state, st.order.paidAt = StatePending, time.Time{}
		if stale == KindClosed {
			st.order.state, st.order.closeReason, st.order.closedAt = StateClosed, CloseExpired, o.createdAt
		}
		staleEv = &st
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.deliver(ev, 0)
		for i := 1; i <= dups; i++ {
			s.deliver(ev, i)
		}
		if staleEv != nil {
			s.deliver(*staleEv, 0)
		}
	}()
}

func (s *Server) eventID(ch core.Channel) string {
	switch ch {
	case core.ChannelWeChatPay:
		return "EV-" + newNonce()[:24]
	case core.ChannelAlipay:
		return "ntf" + newNonce()[:29]
	}
	return "evt_" + newNonce()[:24]
}

// deliver posts one notification until the receiver answers 2xx, with exponential backoff,
// at most Config.NotifyAttempts times. Each attempt is signed afresh (new timestamp and
// nonce), as the real channels do.
func (s *Server) deliver(ev event, copyN int) {
	rec := &NotificationRecord{EventID: ev.id, Channel: ev.order.channel, Kind: ev.kind, OutTradeNo: ev.order.outTradeNo,
		URL: ev.url, Copy: copyN, Stale: ev.stale, OccurredAt: ev.at}
	if ev.refund != nil {
		rec.OutRefundNo = ev.refund.outRefundNo
	}
	s.mu.Lock()
	s.events = append(s.events, rec)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		rec.Finished = true
		s.mu.Unlock()
	}()
	backoff := s.cfg.NotifyBackoff
	for attempt := 1; attempt <= s.cfg.NotifyAttempts; attempt++ {
		status, err := s.post(ev)
		s.mu.Lock()
		rec.Attempts, rec.LastStatus, rec.LastError = attempt, status, ""
		if err != nil {
			rec.LastError = err.Error()
		}
		rec.Delivered = err == nil && status >= 200 && status < 300
		done := rec.Delivered
		s.mu.Unlock()
		s.cfg.Logger.Info("notification", "event", ev.id, "kind", ev.kind, "attempt", attempt, "status", status, "err", err)
		if done {
			return
		}
		if attempt == s.cfg.NotifyAttempts {
			return
		}
		select {
		case <-time.After(backoff):
		case <-s.ctx.Done():
			return
		}
		backoff = min(2*backoff, s.cfg.NotifyMaxBackoff)
	}
}

func (s *Server) post(ev event) (int, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.NotifyTimeout)
	defer cancel()
	var req *http.Request
	var err error
	switch ev.order.channel {
	case core.ChannelWeChatPay:
		req, err = s.wechatNotification(ctx, ev)
	case core.ChannelAlipay:
		req, err = s.alipayNotification(ctx, ev)
	default:
		req, err = s.bankNotification(ctx, ev)
	}
	if err != nil {
		return 0, err
	}
	resp, err := s.notify.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// notifications lists the delivery jobs so far.
func (s *Server) notifications() []NotificationRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]NotificationRecord, len(s.events))
	for i, r := range s.events {
		out[i] = *r
	}
	return out
}
