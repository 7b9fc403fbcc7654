package netsim

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
)

// A Stripe-compatible card acquirer (a subset of Stripe's API, enough for stripe-go and
// core/cardacq): see the package documentation.

type stripeState struct {
	pms     map[string]*stripePM
	intents map[string]*stripeIntent
	charges map[string]*stripeCharge
	refunds map[string]*stripeRefund
	bts     []*stripeBT
}

type stripePM struct {
	id, client, brand, last4 string
	expMonth, expYear        int
	decline                  [3]string // code, decline_code, message of a decline test card
	created                  time.Time
}

type stripeIntent struct {
	id, client, currency, captureMethod, status, description string
	amount, capturable, received                             int64
	pm                                                       *stripePM
	charge                                                   *stripeCharge
	metadata                                                 map[string]string
	lastErr                                                  map[string]any
	created, canceledAt                                      time.Time
	payment                                                  string // metadata payment_id, or the intent's ID
	channel                                                  core.Channel
}

type stripeCharge struct {
	id, intentID, status, currency string
	amount, captured, refunded     int64
	created                        time.Time
}

type stripeRefund struct {
	id, intentID, chargeID, currency, client string
	amount                                   int64
	metadata                                 map[string]string
	created                                  time.Time
}

type stripeBT struct {
	id, typ, currency, sourceID, client string
	amount                              int64
	created                             time.Time
}

// stripeCards are the well-known decline test cards (as cmd/channelsim/inprocsim honours them).
var stripeCards = map[string][3]string{
	"4000000000000002": {"card_declined", "generic_decline", "Your card was declined."},
	"4000000000009995": {"card_declined", "insufficient_funds", "Your card has insufficient funds."},
	"4000000000000069": {"expired_card", "expired_card", "Your card has expired."},
	"4000000000000127": {"incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."},
	"4000000000000119": {"processing_error", "processing_error", "An error occurred while processing your card. Try again in a little bit."},
}

func stripeErr(status int, typ, code, msg string, extra map[string]any) reply {
	e := map[string]any{"type": typ, "message": msg}
	if code != "" {
		e["code"] = code
	}
	for k, v := range extra {
		e[k] = v
	}
	return jsonReply(status, map[string]any{"error": e})
}

func (s *Server) stripeProtocol() *protocol {
	return &protocol{
		channel: core.ChannelCard,
		authenticate: func(r *http.Request, _ []byte) (string, *errAuth) {
			key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if !ok {
				key, _, ok = r.BasicAuth()
			}
			if !ok || !strings.HasPrefix(key, "sk_") {
				return "", &errAuth{"invalid_api_key", "Invalid API Key provided: a secret key (sk_...) is required."}
			}
			return key, nil
		},
		fail: func(status int, code, msg string) reply {
			switch {
			case code == "IDEMPOTENCY_KEY_REUSED":
				return stripeErr(400, "idempotency_error", "", "Keys for idempotent requests can only be used with the same parameters they were first used with.", nil)
			case status == 401:
				return stripeErr(401, "invalid_request_error", code, msg, nil)
			case status >= 500:
				return stripeErr(status, "api_error", "", msg, nil)
			}
			return stripeErr(status, "invalid_request_error", code, msg, nil)
		},
		sign: func(_ *http.Request, h http.Header, _ []byte) { h.Set("Request-Id", "req_"+newNonce()[:14]) },
	}
}

func (s *Server) stripeRoutes() {
	p := s.stripeProtocol()
	post := func(*http.Request, []byte) bool { return true }
	get := func(*http.Request, []byte) bool { return false }
	// Creating a payment method moves no money and changes no order, so lost-response faults
	// are aimed at the payment intent that follows it.
	s.mux.Handle("POST /v1/payment_methods", s.endpoint(p, get, s.stripeCreatePM(p)))
	s.mux.Handle("POST /v1/payment_intents", s.endpoint(p, post, s.stripeCreatePI(p)))
	s.mux.Handle("GET /v1/payment_intents/search", s.endpoint(p, get, s.stripeSearch(p)))
	s.mux.Handle("GET /v1/payment_intents/{id}", s.endpoint(p, get, func(r *http.Request, _ []byte, client string) reply {
		s.mu.Lock()
		defer s.mu.Unlock()
		pi := s.st.intents[r.PathValue("id")]
		if pi == nil || pi.client != client {
			return stripeMissing("payment_intent", r.PathValue("id"))
		}
		return jsonReply(200, s.piJSON(pi, expansions(r.URL.Query())))
	}))
	for _, op := range []string{"confirm", "capture", "cancel"} {
		s.mux.Handle("POST /v1/payment_intents/{id}/"+op, s.endpoint(p, post, s.stripeIntentOp(p, op)))
	}
	s.mux.Handle("POST /v1/refunds", s.endpoint(p, post, s.stripeCreateRefund(p)))
	s.mux.Handle("GET /v1/refunds/{id}", s.endpoint(p, get, func(r *http.Request, _ []byte, client string) reply {
		s.mu.Lock()
		defer s.mu.Unlock()
		rf := s.st.refunds[r.PathValue("id")]
		if rf == nil || rf.client != client {
			return stripeMissing("refund", r.PathValue("id"))
		}
		return jsonReply(200, s.refundJSON(rf))
	}))
	s.mux.Handle("GET /v1/balance_transactions", s.endpoint(p, get, s.stripeBalanceTransactions(p)))
}

func stripeMissing(object, id string) reply {
	return stripeErr(404, "invalid_request_error", "resource_missing", fmt.Sprintf("No such %s: '%s'", object, id), map[string]any{"param": "id"})
}

// stripeForm parses a form body (POST) or the query (GET).
func stripeForm(r *http.Request, body []byte) url.Values {
	if r.Method == http.MethodGet {
		return r.URL.Query()
	}
	v, _ := url.ParseQuery(string(body))
	return v
}

// expansions collects expand[] / expand[N] parameters.
func expansions(v url.Values) map[string]bool {
	out := map[string]bool{}
	for k, vals := range v {
		if strings.HasPrefix(k, "expand[") {
			for _, x := range vals {
				out[x] = true
			}
		}
	}
	return out
}

// metadata collects metadata[k] parameters.
func metadata(v url.Values) map[string]string {
	out := map[string]string{}
	for k := range v {
		if name, ok := strings.CutPrefix(k, "metadata["); ok && strings.HasSuffix(name, "]") {
			out[strings.TrimSuffix(name, "]")] = v.Get(k)
		}
	}
	return out
}

// stripeFingerprint identifies a request's parameters for idempotency.
func stripeFingerprint(r *http.Request, v url.Values) string {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(r.Method + " " + r.URL.Path)
	for _, k := range keys {
		b.WriteString("&" + k + "=" + strings.Join(v[k], ","))
	}
	return b.String()
}

// stripeOnce executes a POST once per Idempotency-Key (Stripe's replay rules); without a
// key it just executes. Call with s.mu held.
func (s *Server) stripeOnce(r *http.Request, p *protocol, v url.Values, payment string, exec func() reply) reply {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return exec()
	}
	return s.once(core.ChannelCard, key, payment, stripeFingerprint(r, v), keyConflict(p), exec)
}

func luhn(n string) bool {
	if len(n) < 12 || len(n) > 19 {
		return false
	}
	sum := 0
	for i := range n {
		c := n[len(n)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func (s *Server) stripeCreatePM(p *protocol) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		v := stripeForm(r, body)
		number := strings.ReplaceAll(v.Get("card[number]"), " ", "")
		month, _ := strconv.Atoi(v.Get("card[exp_month]"))
		year, _ := strconv.Atoi(v.Get("card[exp_year]"))
		switch {
		case v.Get("type") != "card":
			return stripeErr(400, "invalid_request_error", "parameter_invalid_string", "type must be card (the only type this acquirer knows).", map[string]any{"param": "type"})
		case !luhn(number):
			return stripeErr(402, "card_error", "incorrect_number", "Your card number is incorrect.", map[string]any{"param": "card[number]"})
		case month < 1 || month > 12:
			return stripeErr(402, "card_error", "invalid_expiry_month", "Your card's expiration month is invalid.", map[string]any{"param": "card[exp_month]"})
		case year < 2000:
			return stripeErr(402, "card_error", "invalid_expiry_year", "Your card's expiration year is invalid.", map[string]any{"param": "card[exp_year]"})
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.stripeOnce(r, p, v, "", func() reply {
			brand := map[byte]string{'4': "visa", '5': "mastercard", '3': "amex", '6': "discover"}[number[0]]
			if brand == "" {
				brand = "unknown"
			}
			pm := &stripePM{id: "pm_" + newNonce()[:24], client: client, brand: brand, last4: number[len(number)-4:],
				expMonth: month, expYear: year, decline: stripeCards[number], created: s.now()}
			s.st.pms[pm.id] = pm
			return jsonReply(200, pmJSON(pm))
		})
	}
}

func pmJSON(pm *stripePM) map[string]any {
	return map[string]any{"id": pm.id, "object": "payment_method", "type": "card", "livemode": false,
		"created": pm.created.Unix(), "metadata": map[string]string{},
		"card": map[string]any{"brand": pm.brand, "last4": pm.last4, "exp_month": pm.expMonth, "exp_year": pm.expYear, "funding": "credit"}}
}

func (s *Server) stripeCreatePI(p *protocol) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		v := stripeForm(r, body)
		amount, err := strconv.ParseInt(v.Get("amount"), 10, 64)
		if err != nil || amount < 1 {
			return stripeErr(400, "invalid_request_error", "parameter_invalid_integer", "amount must be a positive integer.", map[string]any{"param": "amount"})
		}
		cur, ok := core.NormalizeCurrency(v.Get("currency"))
		if !ok {
			return stripeErr(400, "invalid_request_error", "parameter_invalid_string", "Invalid currency: "+v.Get("currency"), map[string]any{"param": "currency"})
		}
		capture := v.Get("capture_method")
		switch capture {
		case "", "automatic", "automatic_async":
			capture = "automatic"
		case "manual":
		default:
			return stripeErr(400, "invalid_request_error", "parameter_invalid_string", "capture_method must be automatic or manual.", map[string]any{"param": "capture_method"})
		}
		md := metadata(v)
		payment := md["payment_id"]
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.stripeOnce(r, p, v, payment, func() reply {
			pi := &stripeIntent{id: "pi_" + newNonce()[:24], client: client, currency: strings.ToLower(cur), captureMethod: capture,
				status: "requires_payment_method", description: v.Get("description"), amount: amount, metadata: md,
				created: s.now(), payment: payment, channel: core.ChannelCard}
			if ch := core.Channel(md["channel"]); ch.IsCard() {
				pi.channel = ch
			}
			if pi.payment == "" {
				pi.payment = pi.id
			}
			if id := v.Get("payment_method"); id != "" {
				pm := s.st.pms[id]
				if pm == nil || pm.client != client {
					return stripeMissing("payment_method", id)
				}
				pi.pm, pi.status = pm, "requires_confirmation"
			}
			s.st.intents[pi.id] = pi
			s.record(pi.channel, pi.payment).Orders++
			if v.Get("confirm") == "true" {
				return s.confirmLocked(pi, expansions(v))
			}
			return jsonReply(200, s.piJSON(pi, expansions(v)))
		})
	}
}

// confirmLocked runs the authorisation of a PaymentIntent with its payment method.
func (s *Server) confirmLocked(pi *stripeIntent, expand map[string]bool) reply {
	if pi.pm == nil {
		return stripeErr(400, "invalid_request_error", "payment_intent_unexpected_state",
			"You cannot confirm this PaymentIntent because it's missing a payment method.", nil)
	}
	now := s.now()
	ch := &stripeCharge{id: "ch_" + newNonce()[:24], intentID: pi.id, currency: pi.currency, amount: pi.amount, created: now}
	pi.charge = ch
	s.st.charges[ch.id] = ch
	decline := pi.pm.decline
	if y, m, _ := now.UTC().Date(); decline[0] == "" && (pi.pm.expYear < y || (pi.pm.expYear == y && pi.pm.expMonth < int(m))) {
		decline = [3]string{"expired_card", "expired_card", "Your card has expired."}
	}
	if decline[0] != "" {
		ch.status, pi.status = "failed", "requires_payment_method"
		pi.lastErr = map[string]any{"type": "card_error", "code": decline[0], "decline_code": decline[1], "message": decline[2],
			"charge": ch.id, "payment_method": pmJSON(pi.pm)}
		e := map[string]any{"decline_code": decline[1], "charge": ch.id, "payment_intent": s.piJSON(pi, expand), "payment_method": pmJSON(pi.pm)}
		return stripeErr(402, "card_error", decline[0], decline[2], e)
	}
	ch.status = "succeeded"
	r := s.record(pi.channel, pi.payment)
	r.Charges++
	r.Charged = append(r.Charged, pi.amount)
	r.AmountCharged += pi.amount
	if pi.captureMethod == "manual" {
		pi.status, pi.capturable = "requires_capture", pi.amount
	} else {
		s.captureLocked(pi, pi.amount)
	}
	return jsonReply(200, s.piJSON(pi, expand))
}

func (s *Server) captureLocked(pi *stripeIntent, amount int64) {
	pi.status, pi.received, pi.capturable = "succeeded", amount, 0
	pi.charge.captured = amount
	s.st.bts = append(s.st.bts, &stripeBT{id: "txn_" + newNonce()[:24], typ: "charge", currency: pi.currency,
		sourceID: pi.charge.id, client: pi.client, amount: amount, created: s.now()})
}

func (s *Server) stripeIntentOp(p *protocol, op string) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		v := stripeForm(r, body)
		s.mu.Lock()
		defer s.mu.Unlock()
		pi := s.st.intents[r.PathValue("id")]
		if pi == nil || pi.client != client {
			return stripeMissing("payment_intent", r.PathValue("id"))
		}
		unexpected := func() reply {
			return stripeErr(400, "invalid_request_error", "payment_intent_unexpected_state",
				fmt.Sprintf("You cannot %s this PaymentIntent because it has a status of %s.", op, pi.status),
				map[string]any{"payment_intent": s.piJSON(pi, nil)})
		}
		return s.stripeOnce(r, p, v, pi.payment, func() reply {
			switch op {
			case "confirm":
				if id := v.Get("payment_method"); id != "" {
					if pm := s.st.pms[id]; pm != nil && pm.client == client {
						pi.pm = pm
					}
				}
				if pi.status != "requires_confirmation" && pi.status != "requires_payment_method" {
					return unexpected()
				}
				return s.confirmLocked(pi, expansions(v))
			case "capture":
				if pi.status != "requires_capture" {
					return unexpected()
				}
				amount := pi.capturable
				if a := v.Get("amount_to_capture"); a != "" {
					n, err := strconv.ParseInt(a, 10, 64)
					if err != nil || n < 1 {
						return stripeErr(400, "invalid_request_error", "parameter_invalid_integer", "amount_to_capture must be a positive integer.", nil)
					}
					if n > pi.capturable {
						return stripeErr(400, "invalid_request_error", "amount_too_large",
							"The amount to capture is greater than the amount capturable.", map[string]any{"param": "amount_to_capture"})
					}
					amount = n
				}
				s.captureLocked(pi, amount)
			case "cancel":
				if pi.status == "succeeded" || pi.status == "canceled" {
					return unexpected()
				}
				pi.status, pi.canceledAt, pi.capturable = "canceled", s.now(), 0
			}
			return jsonReply(200, s.piJSON(pi, expansions(v)))
		})
	}
}

func (s *Server) stripeCreateRefund(p *protocol) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		v := stripeForm(r, body)
		md := metadata(v)
		s.mu.Lock()
		defer s.mu.Unlock()
		var pi *stripeIntent
		if id := v.Get("payment_intent"); id != "" {
			pi = s.st.intents[id]
		} else if c := s.st.charges[v.Get("charge")]; c != nil {
			pi = s.st.intents[c.intentID]
		}
		payment := md["payment_id"]
		if pi != nil && payment == "" {
			payment = pi.payment
		}
		return s.stripeOnce(r, p, v, payment, func() reply {
			if pi == nil || pi.client != client {
				return stripeMissing("payment_intent", v.Get("payment_intent"))
			}
			if pi.status != "succeeded" {
				return stripeErr(400, "invalid_request_error", "payment_intent_unexpected_state",
					fmt.Sprintf("This PaymentIntent (%s) does not have a successful charge to refund.", pi.id), nil)
			}
			left := pi.charge.captured - pi.charge.refunded
			amount := left
			if a := v.Get("amount"); a != "" {
				n, err := strconv.ParseInt(a, 10, 64)
				if err != nil || n < 1 {
					return stripeErr(400, "invalid_request_error", "parameter_invalid_integer", "amount must be a positive integer.", map[string]any{"param": "amount"})
				}
				amount = n
			}
			switch {
			case left == 0:
				return stripeErr(400, "invalid_request_error", "charge_already_refunded",
					fmt.Sprintf("Charge %s has already been refunded.", pi.charge.id), nil)
			case amount > left:
				return stripeErr(400, "invalid_request_error", "amount_too_large",
					fmt.Sprintf("Refund amount (%d) is greater than unrefunded amount on charge (%d)", amount, left), map[string]any{"param": "amount"})
			}
			now := s.now()
			rf := &stripeRefund{id: "re_" + newNonce()[:24], intentID: pi.id, chargeID: pi.charge.id, currency: pi.currency,
				client: client, amount: amount, metadata: md, created: now}
			pi.charge.refunded += amount
			s.st.refunds[rf.id] = rf
			s.st.bts = append(s.st.bts, &stripeBT{id: "txn_" + newNonce()[:24], typ: "refund", currency: pi.currency,
				sourceID: rf.id, client: client, amount: -amount, created: now})
			rec := s.record(pi.channel, pi.payment)
			rec.Refunds++
			rec.Refunded = append(rec.Refunded, amount)
			rec.AmountRefunded += amount
			return jsonReply(200, s.refundJSON(rf))
		})
	}
}

var searchRE = regexp.MustCompile(`^metadata\['([^']+)'\]:'((?:[^'\\]|\\.)*)'$`)

func (s *Server) stripeSearch(p *protocol) handlerFunc {
	return func(r *http.Request, _ []byte, client string) reply {
		q := r.URL.Query()
		m := searchRE.FindStringSubmatch(strings.TrimSpace(q.Get("query")))
		if m == nil {
			return stripeErr(400, "invalid_request_error", "parameter_invalid_string",
				"This acquirer searches only metadata['key']:'value'.", map[string]any{"param": "query"})
		}
		want := strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(m[2])
		expand := map[string]bool{}
		for x := range expansions(q) {
			expand[strings.TrimPrefix(x, "data.")] = true
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		var found []*stripeIntent
		for _, pi := range s.st.intents {
			if pi.client == client && pi.metadata[m[1]] == want {
				found = append(found, pi)
			}
		}
		sort.Slice(found, func(i, j int) bool { return found[i].created.After(found[j].created) })
		data := make([]any, len(found))
		for i, pi := range found {
			data[i] = s.piJSON(pi, expand)
		}
		return jsonReply(200, map[string]any{"object": "search_result", "data": data, "has_more": false,
			"next_page": nil, "url": "/v1/payment_intents/search"})
	}
}

func (s *Server) stripeBalanceTransactions(p *protocol) handlerFunc {
	return func(r *http.Request, _ []byte, client string) reply {
		q := r.URL.Query()
		bound := func(name string) (int64, bool) {
			n, err := strconv.ParseInt(q.Get("created["+name+"]"), 10, 64)
			return n, err == nil
		}
		expand := expansions(q)
		s.mu.Lock()
		defer s.mu.Unlock()
		data := []any{}
		for _, bt := range s.st.bts {
			at := bt.created.Unix()
			if gte, ok := bound("gte"); bt.client != client || (ok && at < gte) {
				continue
			}
			if gt, ok := bound("gt"); ok && at <= gt {
				continue
			}
			if lt, ok := bound("lt"); ok && at >= lt {
				continue
			}
			if lte, ok := bound("lte"); ok && at > lte {
				continue
			}
			var source any = bt.sourceID
			if expand["data.source"] {
				if bt.typ == "charge" {
					c := s.st.charges[bt.sourceID]
					source = s.chargeJSON(c, s.st.intents[c.intentID], expand["data.source.payment_intent"])
				} else {
					source = s.refundJSON(s.st.refunds[bt.sourceID])
				}
			}
			data = append(data, map[string]any{"id": bt.id, "object": "balance_transaction", "amount": bt.amount,
				"currency": bt.currency, "created": at, "available_on": at, "fee": 0, "net": bt.amount,
				"status": "available", "type": bt.typ, "reporting_category": bt.typ, "source": source})
		}
		return jsonReply(200, map[string]any{"object": "list", "data": data, "has_more": false, "url": "/v1/balance_transactions"})
	}
}

// piJSON renders a PaymentIntent; expand names what to expand ("latest_charge").
func (s *Server) piJSON(pi *stripeIntent, expand map[string]bool) map[string]any {
	out := map[string]any{"id": pi.id, "object": "payment_intent", "amount": pi.amount, "amount_capturable": pi.capturable,
		"amount_received": pi.received, "currency": pi.currency, "capture_method": pi.captureMethod, "status": pi.status,
		"created": pi.created.Unix(), "livemode": false, "metadata": pi.metadata, "description": pi.description,
		"payment_method_types": []string{"card"}, "confirmation_method": "automatic",
		"latest_charge": nil, "payment_method": nil, "last_payment_error": nil, "canceled_at": nil}
	if pi.pm != nil {
		out["payment_method"] = pi.pm.id
	}
	if pi.charge != nil {
		out["latest_charge"] = pi.charge.id
		if expand["latest_charge"] {
			out["latest_charge"] = s.chargeJSON(pi.charge, pi, false)
		}
	}
	if pi.lastErr != nil {
		out["last_payment_error"] = pi.lastErr
	}
	if !pi.canceledAt.IsZero() {
		out["canceled_at"] = pi.canceledAt.Unix()
	}
	return out
}

func (s *Server) chargeJSON(c *stripeCharge, pi *stripeIntent, expandIntent bool) map[string]any {
	var intent any = c.intentID
	if expandIntent && pi != nil {
		intent = s.piJSON(pi, nil)
	}
	md := map[string]string{}
	if pi != nil {
		md = pi.metadata
	}
	return map[string]any{"id": c.id, "object": "charge", "amount": c.amount, "amount_captured": c.captured,
		"amount_refunded": c.refunded, "captured": c.captured > 0, "refunded": c.captured > 0 && c.refunded == c.captured,
		"currency": c.currency, "status": c.status, "paid": c.status == "succeeded", "payment_intent": intent,
		"metadata": md, "created": c.created.Unix(), "livemode": false}
}

func (s *Server) refundJSON(rf *stripeRefund) map[string]any {
	return map[string]any{"id": rf.id, "object": "refund", "amount": rf.amount, "currency": rf.currency,
		"payment_intent": rf.intentID, "charge": rf.chargeID, "status": "succeeded", "metadata": rf.metadata,
		"created": rf.created.Unix()}
}
