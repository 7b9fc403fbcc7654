package netsim

import (
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"
)

// SMSMessage is a text message the simulator's SMS provider accepted.
type SMSMessage struct {
	Key        string    `json:"idempotency_key"`
	To         string    `json:"to"`
	Body       string    `json:"body"`
	ReceivedAt time.Time `json:"received_at"`
}

// smsBox records messages; a repeated Idempotency-Key is accepted again and not recorded
// twice, as SMS gateways de-duplicate on their request keys.
type smsBox struct {
	mu   sync.Mutex
	keys map[string]bool
	msgs []SMSMessage
}

// smsRoutes serves a generic SMS provider: POST /sms/messages {to, body} with an
// Idempotency-Key, and GET /sms/messages listing what it received (the control view).
func (s *Server) smsRoutes() {
	box := &smsBox{keys: map[string]bool{}}
	s.mux.HandleFunc("POST /sms/messages", func(w http.ResponseWriter, r *http.Request) {
		var m SMSMessage
		b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil || json.Unmarshal(b, &m) != nil || m.To == "" || m.Body == "" {
			writeJSON(w, 400, map[string]string{"error": "send {\"to\": \"+…\", \"body\": \"…\"}"})
			return
		}
		m.Key, m.ReceivedAt = r.Header.Get("Idempotency-Key"), time.Now().UTC()
		box.mu.Lock()
		dup := m.Key != "" && box.keys[m.Key]
		if !dup {
			box.keys[m.Key] = m.Key != ""
			box.msgs = append(box.msgs, m)
		}
		box.mu.Unlock()
		writeJSON(w, 200, map[string]any{"accepted": true, "duplicate": dup})
	})
	s.mux.HandleFunc("GET /sms/messages", func(w http.ResponseWriter, r *http.Request) {
		box.mu.Lock()
		out := append([]SMSMessage{}, box.msgs...)
		box.mu.Unlock()
		writeJSON(w, 200, out)
	})
}
