package netsim

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"net/http"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
)

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	s.wechatRoutes()
	s.alipayRoutes()
	s.bankRoutes()
	s.stripeRoutes()
	s.controlRoutes()
	s.smsRoutes()
}

// controlError is the body of a failed control call.
type controlError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeControlError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, controlError{Error: fmt.Sprintf(format, args...)})
}

// PayRequest is the body of POST /sim/pay: the payer pays (or fails to pay) an order.
type PayRequest struct {
	Channel    core.Channel `json:"channel"`
	OutTradeNo string       `json:"out_trade_no"`
	// Fail makes the payment fail instead (WeChat Pay PAYERROR, Alipay TRADE_FAILED, the
	// bank rejects the transfer), with FailReason as its description.
	Fail       bool   `json:"fail,omitempty"`
	FailReason string `json:"fail_reason,omitempty"`
}

// PublicKeyInfo is the answer of GET /sim/public-key.
type PublicKeyInfo struct {
	PublicKey string `json:"public_key"` // standard base64 of the PKIX DER, as Alipay shows its public key
	Serial    string `json:"serial"`     // channelauth.KeySerial of the key: the bank's Simbank-Serial
	PEM       string `json:"pem"`
	// WeChatPayPublicKeyID names the key for WeChat Pay merchants in public-key mode.
	WeChatPayPublicKeyID string `json:"wechatpay_public_key_id"`
	// CertificateSerial and Certificate are WeChat Pay's newest platform certificate
	// (GET /v3/certificates lists every one, encrypted).
	CertificateSerial string `json:"certificate_serial"`
	Certificate       string `json:"certificate"`
}

// ClientRegistration is the body of PUT /sim/clients/{id}: what the simulator learns about
// a client (any field may be left out).
type ClientRegistration struct {
	PublicKey  string `json:"public_key,omitempty"`  // PEM, or base64 of the PKIX DER
	APIv3Key   string `json:"apiv3_key,omitempty"`   // a WeChat Pay merchant's APIv3 key
	HMACSecret string `json:"hmac_secret,omitempty"` // a bank client's HMAC secret
}

var simChannels = map[core.Channel]bool{core.ChannelWeChatPay: true, core.ChannelAlipay: true, core.ChannelBankTransfer: true,
	core.ChannelCard: true, core.ChannelDebitCard: true}

func (s *Server) controlRoutes() {
	m := s.mux
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	m.HandleFunc("GET /sim/public-key", func(w http.ResponseWriter, r *http.Request) {
		p, _ := channelauth.MarshalPublicKeyPEM(s.pub)
		der, _ := x509.MarshalPKIXPublicKey(s.pub)
		s.mu.Lock()
		cert, _ := s.signingCert()
		s.mu.Unlock()
		writeJSON(w, 200, PublicKeyInfo{PublicKey: base64.StdEncoding.EncodeToString(der), Serial: s.serial, PEM: string(p),
			WeChatPayPublicKeyID: s.WeChatPayPublicKeyID(), CertificateSerial: cert.serial, Certificate: cert.pem})
	})
	m.HandleFunc("PUT /sim/clients/{id}", func(w http.ResponseWriter, r *http.Request) {
		var req ClientRegistration
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeControlError(w, 400, "body must be {\"public_key\": base64 or PEM, \"apiv3_key\": 32 bytes, \"hmac_secret\": text}: %v", err)
			return
		}
		id := r.PathValue("id")
		if req.PublicKey != "" {
			pub, err := channelauth.ParsePublicKey([]byte(req.PublicKey))
			if err != nil {
				writeControlError(w, 400, "public_key: %v", err)
				return
			}
			s.RegisterClient(id, pub)
		}
		if req.APIv3Key != "" {
			if err := s.RegisterAPIv3Key(id, req.APIv3Key); err != nil {
				writeControlError(w, 400, "apiv3_key: %v", err)
				return
			}
		}
		if req.HMACSecret != "" {
			s.mu.Lock()
			s.secrets[id] = req.HMACSecret
			s.mu.Unlock()
		}
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("GET /sim/faults", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s.allFaults()) })
	m.HandleFunc("POST /sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var req map[core.Channel]Faults
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeControlError(w, 400, "body must be {\"<channel>\": {faults}}: %v", err)
			return
		}
		for ch, f := range req {
			if !simChannels[ch] {
				writeControlError(w, 400, "unknown channel %q", ch)
				return
			}
			if f.StaleNotification != "" && f.StaleNotification != KindPending && f.StaleNotification != KindClosed {
				writeControlError(w, 400, "%s: stale_notification must be \"pending\" or \"closed\"", ch)
				return
			}
			if f.Payout != "" && f.Payout != PayoutDelayed && f.Payout != PayoutFail && f.Payout != PayoutReturn {
				writeControlError(w, 400, "%s: payout must be \"delayed\", \"failed\" or \"returned\"", ch)
				return
			}
			if f.LostResponseMode != "" && f.LostResponseMode != LoseByDrop && f.LostResponseMode != LoseWith502 {
				writeControlError(w, 400, "%s: lost_response_mode must be \"drop\" or \"502\"", ch)
				return
			}
		}
		s.mu.Lock()
		for ch, f := range req {
			f := f
			s.faults[ch] = &f
		}
		s.mu.Unlock()
		writeJSON(w, 200, s.allFaults())
	})
	m.HandleFunc("DELETE /sim/faults", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.faults = map[core.Channel]*Faults{}
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	m.HandleFunc("POST /sim/pay", func(w http.ResponseWriter, r *http.Request) {
		var req PayRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeControlError(w, 400, "body must be {\"channel\", \"out_trade_no\", \"fail\"}: %v", err)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		o := s.lookup(req.Channel, req.OutTradeNo)
		if o == nil {
			writeControlError(w, 404, "no %s order %q", req.Channel, req.OutTradeNo)
			return
		}
		if err := s.payLocked(o, req.Fail, req.FailReason); err != nil {
			writeControlError(w, 409, "%v", err)
			return
		}
		writeJSON(w, 200, o.view())
	})
	m.HandleFunc("POST /sim/expire", func(w http.ResponseWriter, r *http.Request) {
		var req PayRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			writeControlError(w, 400, "body must be {\"channel\", \"out_trade_no\"}: %v", err)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		o := s.lookup(req.Channel, req.OutTradeNo)
		if o == nil {
			writeControlError(w, 404, "no %s order %q", req.Channel, req.OutTradeNo)
			return
		}
		if o.state != StatePending {
			writeControlError(w, 409, "the order is %s, not pending", o.state)
			return
		}
		s.expireLocked(o)
		writeJSON(w, 200, o.view())
	})
	m.HandleFunc("GET /sim/orders/{channel}/{out_trade_no}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		o := s.lookup(core.Channel(r.PathValue("channel")), r.PathValue("out_trade_no"))
		if o == nil {
			writeControlError(w, 404, "no such order")
			return
		}
		writeJSON(w, 200, o.view())
	})
	m.HandleFunc("GET /sim/charges", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s.Charges()) })
	s.payoutControlRoutes()
	m.HandleFunc("GET /sim/notifications", func(w http.ResponseWriter, r *http.Request) { writeJSON(w, 200, s.notifications()) })
	m.HandleFunc("GET /pay/{token}", s.payerPage)
	m.HandleFunc("POST /pay/{token}", s.payerPage)
}

func (s *Server) allFaults() map[core.Channel]Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[core.Channel]Faults{}
	for ch, f := range s.faults {
		out[ch] = *f
	}
	return out
}

// Charges reports, per payment, the orders created, charges made and refunds, and the
// executions of every idempotency key.
func (s *Server) Charges() Charges {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Charges{Payments: map[string]*PaymentCharges{}, Keys: map[string]int{}}
	for id, r := range s.payments {
		cp := *r
		cp.Charged = append([]int64{}, r.Charged...)
		cp.Refunded = append([]int64{}, r.Refunded...)
		cp.Keys = map[string]int{}
		for k, v := range r.Keys {
			cp.Keys[k] = v
		}
		c.Payments[id] = &cp
	}
	for k, v := range s.keyRuns {
		c.Keys[k] = v
	}
	return c
}

var payerPage = template.Must(template.New("pay").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>channelsim: pay</title></head><body>
{{if .Order}}<h1>{{.Order.Channel}} order {{.Order.OutTradeNo}}</h1>
<p>Amount {{.Order.Amount}} (minor units) {{.Order.Currency}}, state <b>{{.Order.State}}</b>.</p>
{{if .Message}}<p>{{.Message}}</p>{{end}}
{{if eq .Order.State "pending"}}<form method="post"><button name="action" value="pay">Pay</button>
<button name="action" value="fail">Fail the payment</button></form>{{end}}
{{else}}<p>No such order.</p>{{end}}
</body></html>`))

// payerPage is where QR codes and redirects lead: the simulated payer's view of an order,
// with buttons to pay it or fail it.
func (s *Server) payerPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var o *order
	for _, c := range s.orders {
		if c.token == r.PathValue("token") {
			o = c
			break
		}
	}
	data := struct {
		Order   *Order
		Message string
	}{}
	if o != nil {
		if r.Method == http.MethodPost {
			if err := s.payLocked(o, r.FormValue("action") == "fail", ""); err != nil {
				data.Message = err.Error()
			} else {
				data.Message = "Done: the merchant is being notified."
			}
		}
		v := o.view()
		data.Order = &v
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if o == nil {
		w.WriteHeader(http.StatusNotFound)
	}
	payerPage.Execute(w, data)
}
