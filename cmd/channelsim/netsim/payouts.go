package netsim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/paycenter/paycenter/core"
)

// The bank's payout API ("Simbank" payouts: see the package documentation). The platform
// asks the bank to pay a beneficiary's account from its own; the bank answers with the
// payout in_transit, paid or failed, and notifies each later change (payout.paid,
// payout.failed, payout.returned) to the payout's notify_url.

// simPayout is the bank's payout, as its API shows it.
type simPayout struct {
	PayoutID    string        `json:"payout_id"`
	OutPayoutNo string        `json:"out_payout_no"`
	Status      string        `json:"status"` // in_transit, paid, failed, returned
	Amount      int64         `json:"amount"`
	Currency    string        `json:"currency"`
	Beneficiary payoutAccount `json:"beneficiary"`
	Description string        `json:"description,omitempty"`
	FailureCode string        `json:"failure_code,omitempty"`
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
	client      string        // the platform client that made it
	notifyURL   string        // where its changes are notified
	hmacSecret  string        // the client's HMAC secret, if it signs so
}

type payoutAccount struct {
	Name     string `json:"name"`
	Account  string `json:"account"`
	BankCode string `json:"bank_code"`
}

// Payouts lists the bank's payouts by out_payout_no, as they stand (tests count them: one
// per payout however often it was sent).
func (s *Server) Payouts() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for no, po := range s.payouts {
		out[no] = po.Status
	}
	return out
}

func (s *Server) payoutRoutes(p *protocol) {
	mutating := func(*http.Request, []byte) bool { return true }
	reading := func(*http.Request, []byte) bool { return false }
	s.mux.Handle("POST /bank/v1/payouts", s.endpoint(p, mutating, s.bankPayout(p)))
	s.mux.Handle("GET /bank/v1/payouts/{out_payout_no}", s.endpoint(p, reading, func(r *http.Request, _ []byte, client string) reply {
		s.mu.Lock()
		defer s.mu.Unlock()
		po := s.payouts[r.PathValue("out_payout_no")]
		if po == nil || po.client != client {
			return p.fail(404, "payout_not_found", "no such payout")
		}
		return jsonReply(200, po)
	}))
}

func (s *Server) bankPayout(p *protocol) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		var req struct {
			OutPayoutNo string        `json:"out_payout_no"`
			Amount      int64         `json:"amount"`
			Currency    string        `json:"currency"`
			Beneficiary payoutAccount `json:"beneficiary"`
			Description string        `json:"description"`
			NotifyURL   string        `json:"notify_url"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return p.fail(400, "parameter_invalid", "body is not valid JSON: "+err.Error())
		}
		switch {
		case !validNo(req.OutPayoutNo):
			return p.fail(400, "parameter_invalid", "out_payout_no must be 1 to 64 letters, digits, _ - | * : .")
		case req.Amount < 1:
			return p.fail(400, "parameter_invalid", "amount must be at least 1 (minor units)")
		case !validCurrency(req.Currency):
			return p.fail(400, "parameter_invalid", "currency must be an upper-case ISO 4217 code")
		case req.Beneficiary.Account == "" || req.Beneficiary.Name == "":
			return p.fail(400, "parameter_invalid", "beneficiary.name and beneficiary.account are required")
		case req.NotifyURL != "" && !validURL(req.NotifyURL):
			return p.fail(400, "parameter_invalid", "notify_url must be an absolute http(s) URL")
		}
		fp := fmt.Sprint(req.OutPayoutNo, "|", req.Amount, "|", req.Currency, "|", req.Beneficiary.Account)
		secret := s.requestSecret(r)
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.once(core.ChannelBankTransfer, idempotencyKey(r, "payout/"+req.OutPayoutNo), "", fp, keyConflict(p), func() reply {
			if po := s.payouts[req.OutPayoutNo]; po != nil {
				if po.client != client || po.Amount != req.Amount {
					return p.fail(409, "out_payout_no_in_use", "out_payout_no is already used by another payout")
				}
				return jsonReply(200, po)
			}
			now := s.now().UTC()
			po := &simPayout{PayoutID: s.nextID("PO", 24), OutPayoutNo: req.OutPayoutNo, Status: "paid", Amount: req.Amount,
				Currency: req.Currency, Beneficiary: req.Beneficiary, Description: req.Description, CreatedAt: now, UpdatedAt: now,
				client: client, notifyURL: req.NotifyURL, hmacSecret: secret}
			var f Faults
			if ff := s.faults[core.ChannelBankTransfer]; ff != nil {
				f = *ff
			}
			delay := time.Duration(f.PayoutDelayMS) * time.Millisecond
			switch f.Payout {
			case PayoutDelayed:
				po.Status = "in_transit"
				s.afterFunc(delay, func() { s.movePayout(po.OutPayoutNo, "paid", "") })
			case PayoutFail:
				po.Status, po.FailureCode = "failed", "account_invalid"
			case PayoutReturn:
				s.afterFunc(delay, func() { s.movePayout(po.OutPayoutNo, "returned", "account_closed") })
			}
			s.payouts[po.OutPayoutNo] = po
			return jsonReply(201, po)
		})
	}
}

// movePayout changes a payout's status (paid from in_transit, returned from paid, or as the
// control API says) and notifies it. It reports whether the payout moved.
func (s *Server) movePayout(no, status, code string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	po := s.payouts[no]
	if po == nil || po.Status == status || po.Status == "failed" || po.Status == "returned" ||
		(status == "returned" && po.Status != "paid") {
		return false
	}
	po.Status, po.FailureCode, po.UpdatedAt = status, code, s.now().UTC()
	s.emitPayoutLocked(po)
	return true
}

// emitPayoutLocked notifies a payout's change, with the bank's duplicate-notification fault.
// Call with s.mu held.
func (s *Server) emitPayoutLocked(po *simPayout) {
	if po.notifyURL == "" || s.closed {
		return
	}
	cp := *po
	ev := event{id: s.eventID(core.ChannelBankTransfer), kind: "payout_" + po.Status, payout: &cp, at: po.UpdatedAt, url: po.notifyURL,
		order: order{channel: core.ChannelBankTransfer, outTradeNo: po.OutPayoutNo, notifyURL: po.notifyURL, hmacSecret: po.hmacSecret}}
	dups, _ := s.notifyFaults(core.ChannelBankTransfer)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for i := 0; i <= dups; i++ {
			s.deliver(ev, i)
		}
	}()
}

// payoutControlRoutes: POST /sim/payouts/{out_payout_no}/{paid|failed|returned} moves a
// payout by hand (and notifies it): a delayed one paid now, a paid one returned.
func (s *Server) payoutControlRoutes() {
	s.mux.HandleFunc("POST /sim/payouts/{out_payout_no}/{status}", func(w http.ResponseWriter, r *http.Request) {
		status := r.PathValue("status")
		code := map[string]string{"paid": "", "failed": "account_invalid", "returned": "account_closed"}
		c, ok := code[status]
		if !ok {
			writeControlError(w, 400, "status must be paid, failed or returned")
			return
		}
		no := r.PathValue("out_payout_no")
		s.mu.Lock()
		_, found := s.payouts[no]
		s.mu.Unlock()
		if !found {
			writeControlError(w, 404, "no payout %q", no)
			return
		}
		if !s.movePayout(no, status, c) {
			writeControlError(w, 409, "payout %q cannot become %s from where it is", no, status)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		writeJSON(w, 200, s.payouts[no])
	})
}
