package netsim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
)

// The bank's transfer API ("Simbank"): see the package documentation.

func (s *Server) bankProtocol() *protocol {
	return &protocol{
		channel:      core.ChannelBankTransfer,
		authenticate: s.headerAuth(bankScheme, "signature_invalid"),
		fail: func(status int, code, msg string) reply {
			return jsonReply(status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
		},
		sign: func(r *http.Request, h http.Header, body []byte) {
			s.signHeaders(bankScheme, h, body, s.requestSecret(r))
		},
	}
}

type bankBeneficiary struct {
	Name    string `json:"name"`
	Account string `json:"account"`
}

type bankTransfer struct {
	TransferID    string          `json:"transfer_id"`
	OutTradeNo    string          `json:"out_trade_no"`
	Status        string          `json:"status"`
	Amount        int64           `json:"amount"`
	Currency      string          `json:"currency"`
	Beneficiary   bankBeneficiary `json:"beneficiary"`
	Reference     string          `json:"reference"`
	CreatedAt     time.Time       `json:"created_at"`
	ExpiresAt     time.Time       `json:"expires_at"`
	ReceivedAt    *time.Time      `json:"received_at,omitempty"`
	ClosedAt      *time.Time      `json:"closed_at,omitempty"`
	FailureReason string          `json:"failure_reason,omitempty"`
	Refunded      int64           `json:"refunded"`
}

type bankRefund struct {
	RefundID    string    `json:"refund_id"`
	OutRefundNo string    `json:"out_refund_no"`
	OutTradeNo  string    `json:"out_trade_no"`
	Amount      int64     `json:"amount"`
	Currency    string    `json:"currency"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
}

func bankStatus(o *order) string {
	switch o.state {
	case StatePaid:
		return "received"
	case StateFailed:
		return "rejected"
	case StateClosed:
		if o.closeReason == CloseExpired {
			return "expired"
		}
		return "canceled"
	}
	return "pending"
}

func (s *Server) bankTransferOf(o *order) bankTransfer {
	t := bankTransfer{TransferID: o.tradeNo, OutTradeNo: o.outTradeNo, Status: bankStatus(o), Amount: o.amount,
		Currency: o.currency, Beneficiary: bankBeneficiary{Name: "PAYCENTER SIM MERCHANT ACCOUNT", Account: s.cfg.BankAccount},
		Reference: o.token, CreatedAt: o.createdAt.UTC(), ExpiresAt: o.expiresAt.UTC(), FailureReason: o.failReason, Refunded: o.refunded}
	if !o.paidAt.IsZero() {
		at := o.paidAt.UTC()
		t.ReceivedAt = &at
	}
	if !o.closedAt.IsZero() {
		at := o.closedAt.UTC()
		t.ClosedAt = &at
	}
	return t
}

func bankRefundOf(rf *refund) bankRefund {
	return bankRefund{RefundID: rf.refundID, OutRefundNo: rf.outRefundNo, OutTradeNo: rf.outTradeNo, Amount: rf.amount,
		Currency: rf.currency, Status: "succeeded", CreatedAt: rf.createdAt.UTC()}
}

func (s *Server) bankRoutes() {
	p := s.bankProtocol()
	mutating := func(*http.Request, []byte) bool { return true }
	reading := func(*http.Request, []byte) bool { return false }
	s.mux.Handle("POST /bank/v1/transfers", s.endpoint(p, mutating, s.bankCreate(p)))
	s.mux.Handle("GET /bank/v1/transfers/{out_trade_no}", s.endpoint(p, reading, func(r *http.Request, _ []byte, client string) reply {
		s.mu.Lock()
		defer s.mu.Unlock()
		o := s.lookup(core.ChannelBankTransfer, r.PathValue("out_trade_no"))
		if o == nil || o.client != client {
			return p.fail(404, "transfer_not_found", "no such transfer")
		}
		return jsonReply(200, s.bankTransferOf(o))
	}))
	s.mux.Handle("POST /bank/v1/transfers/{out_trade_no}/cancel", s.endpoint(p, mutating, func(r *http.Request, _ []byte, client string) reply {
		otn := r.PathValue("out_trade_no")
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.once(core.ChannelBankTransfer, idempotencyKey(r, "cancel/"+otn), otn, otn, keyConflict(p), func() reply {
			o := s.lookup(core.ChannelBankTransfer, otn)
			if o == nil || o.client != client {
				return p.fail(404, "transfer_not_found", "no such transfer")
			}
			if err := s.closeLocked(o); err != nil {
				return p.fail(409, "transfer_received", "the transfer was received and cannot be canceled")
			}
			return jsonReply(200, s.bankTransferOf(o))
		})
	}))
	s.mux.Handle("POST /bank/v1/refunds", s.endpoint(p, mutating, s.bankRefund(p)))
	s.mux.Handle("GET /bank/v1/refunds/{out_refund_no}", s.endpoint(p, reading, func(r *http.Request, _ []byte, client string) reply {
		s.mu.Lock()
		defer s.mu.Unlock()
		rf := s.refunds[orderKey(core.ChannelBankTransfer, r.PathValue("out_refund_no"))]
		if rf == nil || rf.client != client {
			return p.fail(404, "refund_not_found", "no such refund")
		}
		return jsonReply(200, bankRefundOf(rf))
	}))
	s.payoutRoutes(p)
	s.mux.Handle("GET /bank_transfer/statements", s.endpoint(p, reading, s.statementHandler(p, jsonStatement)))
}

func (s *Server) bankCreate(p *protocol) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		var req struct {
			OutTradeNo  string `json:"out_trade_no"`
			Amount      int64  `json:"amount"`
			Currency    string `json:"currency"`
			Description string `json:"description"`
			NotifyURL   string `json:"notify_url"`
			ExpiresAt   string `json:"expires_at"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return p.fail(400, "parameter_invalid", "body is not valid JSON: "+err.Error())
		}
		expires := s.now().Add(s.cfg.OrderTTL)
		switch {
		case !validNo(req.OutTradeNo):
			return p.fail(400, "parameter_invalid", "out_trade_no must be 1 to 64 letters, digits, _ - | * : .")
		case req.Amount < 1:
			return p.fail(400, "parameter_invalid", "amount must be at least 1 (minor units)")
		case !validCurrency(req.Currency):
			return p.fail(400, "parameter_invalid", "currency must be an upper-case ISO 4217 code")
		case req.NotifyURL != "" && !validURL(req.NotifyURL):
			return p.fail(400, "parameter_invalid", "notify_url must be an absolute http(s) URL")
		case req.ExpiresAt != "":
			t, err := time.Parse(time.RFC3339, req.ExpiresAt)
			if err != nil || !t.After(s.now()) {
				return p.fail(400, "parameter_invalid", "expires_at must be an RFC 3339 time in the future")
			}
			expires = t
		}
		fp := fmt.Sprint(req.OutTradeNo, "|", req.Amount, "|", req.Currency, "|", req.NotifyURL, "|", req.Description)
		secret := s.requestSecret(r)
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.once(core.ChannelBankTransfer, idempotencyKey(r, "transfer/"+req.OutTradeNo), req.OutTradeNo, fp, keyConflict(p), func() reply {
			o := s.lookup(core.ChannelBankTransfer, req.OutTradeNo)
			if o != nil {
				if o.client != client || o.amount != req.Amount || o.currency != req.Currency {
					return p.fail(409, "out_trade_no_in_use", "out_trade_no is already used by another transfer")
				}
				return jsonReply(200, s.bankTransferOf(o))
			}
			o = &order{channel: core.ChannelBankTransfer, client: client, outTradeNo: req.OutTradeNo, tradeNo: s.nextID("TRF", 24),
				amount: req.Amount, currency: req.Currency, description: req.Description, notifyURL: req.NotifyURL,
				token: "SIM-" + newNonce()[:10], createdAt: s.now(), expiresAt: expires, hmacSecret: secret}
			s.addOrder(o)
			return jsonReply(201, s.bankTransferOf(o))
		})
	}
}

func (s *Server) bankRefund(p *protocol) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		var req struct {
			OutTradeNo  string `json:"out_trade_no"`
			OutRefundNo string `json:"out_refund_no"`
			Amount      int64  `json:"amount"`
			Currency    string `json:"currency"`
			NotifyURL   string `json:"notify_url"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return p.fail(400, "parameter_invalid", "body is not valid JSON: "+err.Error())
		}
		switch {
		case !validNo(req.OutTradeNo) || !validNo(req.OutRefundNo):
			return p.fail(400, "parameter_invalid", "out_trade_no and out_refund_no are required")
		case req.Amount < 1:
			return p.fail(400, "parameter_invalid", "amount must be at least 1 (minor units)")
		case req.NotifyURL != "" && !validURL(req.NotifyURL):
			return p.fail(400, "parameter_invalid", "notify_url must be an absolute http(s) URL")
		}
		fp := fmt.Sprint(req.OutTradeNo, "|", req.OutRefundNo, "|", req.Amount, "|", req.Currency)
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.once(core.ChannelBankTransfer, idempotencyKey(r, "refund/"+req.OutRefundNo), req.OutTradeNo, fp, keyConflict(p), func() reply {
			o := s.lookup(core.ChannelBankTransfer, req.OutTradeNo)
			if o == nil || o.client != client {
				return p.fail(404, "transfer_not_found", "no such transfer")
			}
			if rf := s.refunds[orderKey(core.ChannelBankTransfer, req.OutRefundNo)]; rf != nil {
				if rf.outTradeNo != req.OutTradeNo || rf.amount != req.Amount {
					return p.fail(409, "out_refund_no_in_use", "out_refund_no is already used by another refund")
				}
				return jsonReply(200, bankRefundOf(rf))
			}
			if req.Currency != "" && req.Currency != o.currency {
				return p.fail(400, "parameter_invalid", "currency must match the transfer")
			}
			rf, err := s.refundLocked(o, req.OutRefundNo, req.Amount, req.NotifyURL)
			switch err {
			case errNotPaid:
				return p.fail(422, "transfer_not_received", "the transfer was not received; nothing to refund")
			case errRefundExceeds:
				return p.fail(422, "amount_exceeds_received", "the refund exceeds the received amount less earlier refunds")
			}
			return jsonReply(201, bankRefundOf(rf))
		})
	}
}

// bankNotification builds one signed delivery of a bank notification.
func (s *Server) bankNotification(ctx context.Context, ev event) (*http.Request, error) {
	o := &ev.order
	types := map[string]string{KindPaid: "transfer.received", KindFailed: "transfer.rejected", KindClosed: "transfer.expired",
		KindPending: "transfer.pending", KindRefund: "refund.succeeded"}
	eventType := types[ev.kind]
	data := map[string]any{"transfer": s.bankTransferOf(o)}
	if ev.refund != nil {
		data["refund"] = bankRefundOf(ev.refund)
	}
	if ev.payout != nil {
		eventType, data = "payout."+ev.payout.Status, map[string]any{"payout": ev.payout}
	}
	body, err := json.Marshal(map[string]any{"event_id": ev.id, "event_type": eventType, "created_at": ev.at.UTC(), "data": data})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ev.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	s.signHeaders(bankScheme, req.Header, body, o.hmacSecret)
	return req, nil
}

// requestSecret is the HMAC secret of the client of an HMAC-signed bank request ("" for an
// RSA-signed one): the bank answers it in kind.
func (s *Server) requestSecret(r *http.Request) string {
	header := r.Header.Get("Authorization")
	if !strings.HasPrefix(header, bankHMACType+" ") {
		return ""
	}
	params, err := parseAuthorization(header, bankHMACType)
	if err != nil {
		return ""
	}
	secret, _ := s.bankSecret(params[bankScheme.idParam])
	return secret
}
