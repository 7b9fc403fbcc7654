package netsim

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
)

// WeChat Pay API v3: see the package documentation.

func (s *Server) wechatProtocol() *protocol {
	return &protocol{
		channel:      core.ChannelWeChatPay,
		authenticate: s.headerAuth(wechatScheme, "SIGN_ERROR"),
		fail: func(status int, code, msg string) reply {
			return jsonReply(status, map[string]string{"code": code, "message": msg})
		},
		sign: func(_ *http.Request, h http.Header, body []byte) { s.signHeaders(wechatScheme, h, body, "") },
	}
}

type wxAmount struct {
	Total      int64  `json:"total"`
	PayerTotal int64  `json:"payer_total,omitempty"`
	Currency   string `json:"currency"`
	// Refunded is a simulator extension: the total refunded so far.
	Refunded int64 `json:"refunded,omitempty"`
}

type wxTransaction struct {
	AppID          string   `json:"appid,omitempty"`
	MchID          string   `json:"mchid,omitempty"`
	SpAppID        string   `json:"sp_appid,omitempty"`
	SpMchID        string   `json:"sp_mchid,omitempty"`
	SubMchID       string   `json:"sub_mchid,omitempty"`
	OutTradeNo     string   `json:"out_trade_no"`
	TransactionID  string   `json:"transaction_id,omitempty"`
	TradeType      string   `json:"trade_type"`
	TradeState     string   `json:"trade_state"`
	TradeStateDesc string   `json:"trade_state_desc"`
	SuccessTime    string   `json:"success_time,omitempty"`
	Amount         wxAmount `json:"amount"`
}

type wxRefundAmount struct {
	Total    int64  `json:"total"`
	Refund   int64  `json:"refund"`
	Currency string `json:"currency"`
}

type wxRefund struct {
	RefundID      string         `json:"refund_id"`
	OutRefundNo   string         `json:"out_refund_no"`
	TransactionID string         `json:"transaction_id"`
	OutTradeNo    string         `json:"out_trade_no"`
	Channel       string         `json:"channel"`
	Status        string         `json:"status"`
	CreateTime    string         `json:"create_time"`
	SuccessTime   string         `json:"success_time"`
	Amount        wxRefundAmount `json:"amount"`
}

func wxTime(t time.Time) string { return t.In(chinaZone).Format(time.RFC3339) }

func wxTradeState(o *order) (state, desc string) {
	switch o.state {
	case StatePaid:
		if o.refunded > 0 {
			return "REFUND", "转入退款 (refunded)"
		}
		return "SUCCESS", "支付成功 (paid)"
	case StateFailed:
		return "PAYERROR", o.failReason
	case StateClosed:
		return "CLOSED", "已关闭 (closed: " + o.closeReason + ")"
	}
	return "NOTPAY", "未支付 (not paid)"
}

func wxTransactionOf(o *order) wxTransaction {
	state, desc := wxTradeState(o)
	tx := wxTransaction{AppID: o.appID, MchID: o.client, OutTradeNo: o.outTradeNo, TransactionID: o.tradeNo, TradeType: "NATIVE",
		TradeState: state, TradeStateDesc: desc, Amount: wxAmount{Total: o.amount, Currency: o.currency, Refunded: o.refunded}}
	if o.subMchID != "" {
		tx.AppID, tx.MchID, tx.SpAppID, tx.SpMchID, tx.SubMchID = "", "", o.appID, o.client, o.subMchID
	}
	if o.state == StatePaid {
		tx.SuccessTime, tx.Amount.PayerTotal = wxTime(o.paidAt), o.amount
	}
	return tx
}

func wxRefundOf(rf *refund, o *order) wxRefund {
	return wxRefund{RefundID: rf.refundID, OutRefundNo: rf.outRefundNo, TransactionID: o.tradeNo, OutTradeNo: rf.outTradeNo,
		Channel: "ORIGINAL", Status: "SUCCESS", CreateTime: wxTime(rf.createdAt), SuccessTime: wxTime(rf.createdAt),
		Amount: wxRefundAmount{Total: o.amount, Refund: rf.amount, Currency: rf.currency}}
}

func (s *Server) wechatRoutes() {
	p := s.wechatProtocol()
	mutating := func(*http.Request, []byte) bool { return true }
	reading := func(*http.Request, []byte) bool { return false }
	s.mux.Handle("POST /v3/pay/transactions/native", s.endpoint(p, mutating, s.wechatCreate(p, false)))
	s.mux.Handle("GET /v3/pay/transactions/out-trade-no/{out_trade_no}", s.endpoint(p, reading, s.wechatQuery(p, false)))
	s.mux.Handle("POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close", s.endpoint(p, mutating, s.wechatClose(p, false)))
	// The service provider's (服务商) partner endpoints: the provider signs as sp_mchid and
	// acts for sub_mchid.
	s.mux.Handle("POST /v3/pay/partner/transactions/native", s.endpoint(p, mutating, s.wechatCreate(p, true)))
	s.mux.Handle("GET /v3/pay/partner/transactions/out-trade-no/{out_trade_no}", s.endpoint(p, reading, s.wechatQuery(p, true)))
	s.mux.Handle("POST /v3/pay/partner/transactions/out-trade-no/{out_trade_no}/close", s.endpoint(p, mutating, s.wechatClose(p, true)))
	s.mux.Handle("POST /v3/refund/domestic/refunds", s.endpoint(p, mutating, s.wechatRefund(p)))
	s.mux.Handle("GET /v3/refund/domestic/refunds/{out_refund_no}", s.endpoint(p, reading, s.wechatRefundQuery(p)))
	s.mux.Handle("GET /v3/certificates", s.endpoint(p, reading, s.wechatCertificates(p)))
	s.mux.Handle("GET /v3/bill/tradebill", s.endpoint(p, reading, s.wechatTradeBill(p)))
	s.mux.Handle("GET /v3/billdownload/file", s.endpoint(p, reading, s.wechatBillFile(p)))
}

// wechatCertificates answers the platform certificate download: every certificate still
// valid, each encrypted with the merchant's APIv3 key (associated data "certificate").
func (s *Server) wechatCertificates(p *protocol) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		s.mu.Lock()
		defer s.mu.Unlock()
		key, ok := s.apiv3Key(client)
		if !ok {
			return p.fail(400, "PARAM_ERROR", "the merchant has not set its APIv3 key")
		}
		type item struct {
			SerialNo           string      `json:"serial_no"`
			EffectiveTime      string      `json:"effective_time"`
			ExpireTime         string      `json:"expire_time"`
			EncryptCertificate wxEncrypted `json:"encrypt_certificate"`
		}
		var data []item
		for _, c := range s.certs {
			data = append(data, item{SerialNo: c.serial, EffectiveTime: wxTime(c.notBefore), ExpireTime: wxTime(c.expires),
				EncryptCertificate: wxEncrypt(key, []byte(c.pem), "certificate")})
		}
		return jsonReply(200, map[string]any{"data": data})
	}
}

// wechatTradeBill answers the trade bill request with where to download the bill of a
// China Standard Time day, and the bill's SHA-1.
func (s *Server) wechatTradeBill(p *protocol) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		q := r.URL.Query()
		day, err := time.ParseInLocation(time.DateOnly, q.Get("bill_date"), chinaZone)
		if err != nil {
			return p.fail(400, "PARAM_ERROR", "bill_date must be yyyy-MM-DD")
		}
		if bt := q.Get("bill_type"); bt != "" && bt != "ALL" && bt != "SUCCESS" && bt != "REFUND" {
			return p.fail(400, "PARAM_ERROR", "bill_type must be ALL, SUCCESS or REFUND")
		}
		// WeChat Pay has a day's bill ready the next morning; the simulator serves the bill
		// so far of any day, today's too, so tests need not wait a day.
		s.mu.Lock()
		defer s.mu.Unlock()
		bill := s.wechatBillCSV(client, q.Get("sub_mchid"), day, q.Get("bill_type"))
		token := newNonce()
		s.bills[token] = bill
		sum := sha1.Sum(bill)
		return jsonReply(200, map[string]string{"hash_type": "SHA1", "hash_value": hex.EncodeToString(sum[:]),
			"download_url": s.publicURL(r) + "/v3/billdownload/file?token=" + token})
	}
}

// wechatBillFile serves a bill by the token of its download_url. The file is not signed:
// its hash_value is the check.
func (s *Server) wechatBillFile(p *protocol) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		s.mu.Lock()
		defer s.mu.Unlock()
		bill, ok := s.bills[r.URL.Query().Get("token")]
		if !ok {
			return p.fail(400, "PARAM_ERROR", "no bill has this token")
		}
		return reply{status: 200, body: bill, contentType: "text/plain;charset=utf-8", unsigned: true}
	}
}

// wxBillHeader is the header row of WeChat Pay's trade bill (bill_type ALL).
const wxBillHeader = "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类," +
	"应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率," +
	"订单金额,申请退款金额,费率备注"

// wechatBillCSV renders a merchant's trade bill of a China Standard Time day, in WeChat Pay's
// layout: a header row, one row per payment or refund with every field led by a backquote
// and amounts in yuan, then a summary header and row. Call with s.mu held.
func (s *Server) wechatBillCSV(client, sub string, day time.Time, billType string) []byte {
	var b strings.Builder
	b.WriteString(wxBillHeader + "\n")
	var count int
	var paid, refunded int64
	cur := "CNY"
	for _, l := range s.lines {
		at := l.entry.Time.In(chinaZone)
		if l.channel != core.ChannelWeChatPay || l.client != client || at.Before(day) || !at.Before(day.AddDate(0, 0, 1)) {
			continue
		}
		o := s.lookup(core.ChannelWeChatPay, l.entry.OutTradeNo)
		if !owns(o, client, sub) || (billType == "SUCCESS" && l.entry.Kind != "charge") || (billType == "REFUND" && l.entry.Kind != "refund") {
			continue
		}
		cur = l.entry.Currency
		amount := formatDecimal(l.entry.Amount, l.entry.Currency)
		subCol := "0"
		if o.subMchID != "" {
			subCol = o.subMchID
		}
		f := []string{at.Format(alipayTimeLayout), o.appID, client, subCol, "", o.tradeNo, o.outTradeNo, "oSIMpayer", "NATIVE"}
		if l.entry.Kind == "charge" {
			paid += l.entry.Amount
			f = append(f, "SUCCESS", "OTHERS", l.entry.Currency, amount, "0.00", "0", "0", "0.00", "0.00", "", "", o.description, "", "0.00", "0.60%", amount, "0.00", "")
		} else {
			refunded += l.entry.Amount
			f = append(f, "REFUND", "OTHERS", l.entry.Currency, "0.00", "0.00", l.entry.Reference, l.entry.OutRefundNo, amount, "0.00",
				"ORIGINAL", "SUCCESS", o.description, "", "0.00", "0.60%", "0.00", amount, "")
		}
		count++
		b.WriteString("`" + strings.Join(f, ",`") + "\n")
	}
	b.WriteString("总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\n")
	b.WriteString(fmt.Sprintf("`%d,`%s,`%s,`0.00,`0.00,`%s,`%s\n", count, formatDecimal(paid, cur), formatDecimal(refunded, cur),
		formatDecimal(paid, cur), formatDecimal(refunded, cur)))
	return []byte(b.String())
}

// owns reports whether order o belongs to merchant client (for partner calls, to its
// sub-merchant sub).
func owns(o *order, client, sub string) bool {
	return o != nil && o.client == client && o.subMchID == sub
}

func (s *Server) wechatCreate(p *protocol, partner bool) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		var req struct {
			AppID       string `json:"appid"`
			MchID       string `json:"mchid"`
			SpAppID     string `json:"sp_appid"`
			SpMchID     string `json:"sp_mchid"`
			SubMchID    string `json:"sub_mchid"`
			Description string `json:"description"`
			OutTradeNo  string `json:"out_trade_no"`
			TimeExpire  string `json:"time_expire"`
			NotifyURL   string `json:"notify_url"`
			Amount      struct {
				Total    int64  `json:"total"`
				Currency string `json:"currency"`
			} `json:"amount"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return p.fail(400, "PARAM_ERROR", "body is not valid JSON: "+err.Error())
		}
		if req.Amount.Currency == "" {
			req.Amount.Currency = "CNY"
		}
		expires := s.now().Add(s.cfg.OrderTTL)
		if partner {
			if req.SpMchID != client || req.SubMchID == "" || req.MchID != "" {
				return p.fail(400, "PARAM_ERROR", "partner orders need sp_mchid (the signing provider) and sub_mchid, not mchid")
			}
			req.MchID, req.AppID = req.SpMchID, req.SpAppID
		}
		switch {
		case req.MchID != client:
			return p.fail(400, "PARAM_ERROR", "mchid does not match the signing merchant")
		case !validNo(req.OutTradeNo):
			return p.fail(400, "PARAM_ERROR", "out_trade_no must be 1 to 64 letters, digits, _ - | * : .")
		case req.Description == "":
			return p.fail(400, "PARAM_ERROR", "description is required")
		case !validURL(req.NotifyURL):
			return p.fail(400, "PARAM_ERROR", "notify_url must be an absolute http(s) URL")
		case req.Amount.Total < 1:
			return p.fail(400, "PARAM_ERROR", "amount.total must be at least 1")
		case !validCurrency(req.Amount.Currency):
			return p.fail(400, "PARAM_ERROR", "amount.currency is not a supported currency")
		case req.TimeExpire != "":
			t, err := time.Parse(time.RFC3339, req.TimeExpire)
			if err != nil || !t.After(s.now()) {
				return p.fail(400, "PARAM_ERROR", "time_expire must be an RFC 3339 time in the future")
			}
			expires = t
		}
		s.mu.Lock()
		_, hasKey := s.apiv3Key(client)
		s.mu.Unlock()
		if !hasKey {
			return p.fail(400, "PARAM_ERROR", "the merchant has not set its APIv3 key, so notifications cannot be encrypted")
		}
		key := idempotencyKey(r, "native/"+req.OutTradeNo)
		fp := fmt.Sprint(req.MchID, "|", req.SubMchID, "|", req.OutTradeNo, "|", req.Amount.Total, "|", req.Amount.Currency, "|", req.NotifyURL, "|", req.Description)
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.once(core.ChannelWeChatPay, key, req.OutTradeNo, fp, keyConflict(p), func() reply {
			o := s.lookup(core.ChannelWeChatPay, req.OutTradeNo)
			if o != nil {
				if !owns(o, client, req.SubMchID) || o.amount != req.Amount.Total || o.currency != req.Amount.Currency {
					return p.fail(400, "INVALID_REQUEST", "out_trade_no is already used by another order")
				}
				switch o.state {
				case StatePaid:
					return p.fail(400, "ORDERPAID", "the order is already paid")
				case StateClosed, StateFailed:
					return p.fail(400, "ORDERCLOSED", "the order is closed")
				}
			} else {
				o = &order{channel: core.ChannelWeChatPay, client: client, appID: req.AppID, outTradeNo: req.OutTradeNo,
					tradeNo: s.nextID("4200", 28), amount: req.Amount.Total, currency: req.Amount.Currency,
					description: req.Description, notifyURL: req.NotifyURL, token: newNonce()[:16],
					createdAt: s.now(), expiresAt: expires, subMchID: req.SubMchID}
				s.addOrder(o)
			}
			// transaction_id and time_expire are simulator extensions: WeChat Pay answers
			// code_url alone and assigns transaction_id when the payer pays.
			return jsonReply(200, map[string]string{"code_url": "weixin://wxpay/bizpayurl?pr=" + o.token,
				"transaction_id": o.tradeNo, "time_expire": wxTime(o.expiresAt)})
		})
	}
}

func (s *Server) wechatQuery(p *protocol, partner bool) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		q, sub := r.URL.Query(), ""
		if partner {
			if q.Get("sp_mchid") != client || q.Get("sub_mchid") == "" {
				return p.fail(400, "PARAM_ERROR", "sp_mchid (the signing provider) and sub_mchid are required")
			}
			sub = q.Get("sub_mchid")
		} else if q.Get("mchid") != client {
			return p.fail(400, "PARAM_ERROR", "mchid does not match the signing merchant")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		o := s.lookup(core.ChannelWeChatPay, r.PathValue("out_trade_no"))
		if !owns(o, client, sub) {
			return p.fail(404, "ORDER_NOT_EXIST", "no such order")
		}
		return jsonReply(200, wxTransactionOf(o))
	}
}

func (s *Server) wechatClose(p *protocol, partner bool) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		var req struct {
			MchID    string `json:"mchid"`
			SpMchID  string `json:"sp_mchid"`
			SubMchID string `json:"sub_mchid"`
		}
		err := json.Unmarshal(body, &req)
		switch {
		case partner && (err != nil || req.SpMchID != client || req.SubMchID == ""):
			return p.fail(400, "PARAM_ERROR", "body must be {\"sp_mchid\": <the signing provider>, \"sub_mchid\": …}")
		case !partner && (err != nil || req.MchID != client):
			return p.fail(400, "PARAM_ERROR", "body must be {\"mchid\": <the signing merchant>}")
		}
		otn := r.PathValue("out_trade_no")
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.once(core.ChannelWeChatPay, idempotencyKey(r, "close/"+otn), otn, otn, keyConflict(p), func() reply {
			o := s.lookup(core.ChannelWeChatPay, otn)
			if !owns(o, client, req.SubMchID) {
				return p.fail(404, "ORDER_NOT_EXIST", "no such order")
			}
			if err := s.closeLocked(o); err != nil {
				return p.fail(400, "ORDERPAID", "the order is already paid and cannot be closed")
			}
			return reply{status: http.StatusNoContent}
		})
	}
}

func (s *Server) wechatRefund(p *protocol) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		var req struct {
			SubMchID    string `json:"sub_mchid"`
			OutTradeNo  string `json:"out_trade_no"`
			OutRefundNo string `json:"out_refund_no"`
			Reason      string `json:"reason"`
			NotifyURL   string `json:"notify_url"`
			Amount      struct {
				Refund   int64  `json:"refund"`
				Total    int64  `json:"total"`
				Currency string `json:"currency"`
			} `json:"amount"`
		}
		if err := json.Unmarshal(body, &req); err != nil {
			return p.fail(400, "PARAM_ERROR", "body is not valid JSON: "+err.Error())
		}
		switch {
		case !validNo(req.OutTradeNo) || !validNo(req.OutRefundNo):
			return p.fail(400, "PARAM_ERROR", "out_trade_no and out_refund_no are required")
		case req.Amount.Refund < 1:
			return p.fail(400, "PARAM_ERROR", "amount.refund must be at least 1")
		case req.Amount.Total < 1 || req.Amount.Currency == "":
			return p.fail(400, "PARAM_ERROR", "amount.total (the order's total) and amount.currency are required")
		case req.NotifyURL != "" && !validURL(req.NotifyURL):
			return p.fail(400, "PARAM_ERROR", "notify_url must be an absolute http(s) URL")
		}
		fp := fmt.Sprint(req.OutTradeNo, "|", req.OutRefundNo, "|", req.Amount.Refund, "|", req.Amount.Currency)
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.once(core.ChannelWeChatPay, idempotencyKey(r, "refund/"+req.OutRefundNo), req.OutTradeNo, fp, keyConflict(p), func() reply {
			o := s.lookup(core.ChannelWeChatPay, req.OutTradeNo)
			if !owns(o, client, req.SubMchID) {
				return p.fail(404, "ORDER_NOT_EXIST", "no such order")
			}
			if rf := s.refunds[orderKey(core.ChannelWeChatPay, req.OutRefundNo)]; rf != nil {
				if rf.outTradeNo != req.OutTradeNo || rf.amount != req.Amount.Refund {
					return p.fail(400, "INVALID_REQUEST", "out_refund_no is already used by another refund")
				}
				return jsonReply(200, wxRefundOf(rf, o))
			}
			if req.Amount.Total != o.amount || req.Amount.Currency != o.currency {
				return p.fail(400, "PARAM_ERROR", "amount.total and amount.currency must match the order")
			}
			rf, err := s.refundLocked(o, req.OutRefundNo, req.Amount.Refund, req.NotifyURL)
			switch err {
			case errNotPaid:
				return p.fail(400, "TRADE_STATE_ERROR", "the order is not paid; nothing to refund")
			case errRefundExceeds:
				return p.fail(400, "REFUND_AMOUNT_EXCEEDED", "the refund exceeds the paid amount less earlier refunds")
			}
			return jsonReply(200, wxRefundOf(rf, o))
		})
	}
}

func (s *Server) wechatRefundQuery(p *protocol) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		s.mu.Lock()
		defer s.mu.Unlock()
		rf := s.refunds[orderKey(core.ChannelWeChatPay, r.PathValue("out_refund_no"))]
		if rf == nil || !owns(s.lookup(core.ChannelWeChatPay, rf.outTradeNo), client, r.URL.Query().Get("sub_mchid")) {
			return p.fail(404, "RESOURCE_NOT_EXISTS", "no such refund")
		}
		return jsonReply(200, wxRefundOf(rf, s.lookup(core.ChannelWeChatPay, rf.outTradeNo)))
	}
}

// wechatNotification builds one signed delivery of a WeChat Pay notification.
func (s *Server) wechatNotification(ctx context.Context, ev event) (*http.Request, error) {
	o := &ev.order
	n := map[string]any{"id": ev.id, "create_time": wxTime(ev.at), "resource_type": "encrypt-resource"}
	originalType := "transaction"
	switch ev.kind {
	case KindPaid:
		n["event_type"], n["summary"] = "TRANSACTION.SUCCESS", "支付成功 (payment succeeded)"
	case KindFailed:
		n["event_type"], n["summary"] = "TRANSACTION.PAYERROR", "支付失败 (payment failed)"
	case KindClosed:
		n["event_type"], n["summary"] = "TRANSACTION.CLOSED", "订单已关闭 (order closed)"
	case KindPending:
		n["event_type"], n["summary"] = "TRANSACTION.NOTPAY", "未支付 (not paid)"
	case KindRefund:
		n["event_type"], n["summary"] = "REFUND.SUCCESS", "退款成功 (refund succeeded)"
		originalType = "refund"
	}
	var plain []byte
	var err error
	if ev.refund != nil {
		plain, err = json.Marshal(wxRefundOf(ev.refund, o))
	} else {
		plain, err = json.Marshal(wxTransactionOf(o))
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	key, ok := s.apiv3Key(o.client)
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("no APIv3 key for mchid %s", o.client)
	}
	res := wxEncrypt(key, plain, originalType)
	res.OriginalType = originalType
	n["resource"] = res
	body, err := json.Marshal(n)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ev.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	s.signHeaders(wechatScheme, req.Header, body, "")
	return req, nil
}

// jsonReply marshals v as a JSON answer.
func jsonReply(status int, v any) reply {
	body, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return reply{status: status, body: body, contentType: "application/json"}
}

func jsonStatement(st Statement) reply { return jsonReply(200, st) }

// statementHandler answers GET /<channel>/statements?date=YYYY-MM-DD.
func (s *Server) statementHandler(p *protocol, render func(Statement) reply) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		day, err := statementDate(r)
		if err != nil {
			return p.fail(400, "PARAM_ERROR", "date must be YYYY-MM-DD")
		}
		return render(s.statement(p.channel, client, day))
	}
}

// keyConflict answers a reused idempotency key whose request differs from the first one.
func keyConflict(p *protocol) func() reply {
	return func() reply {
		return p.fail(http.StatusUnprocessableEntity, "IDEMPOTENCY_KEY_REUSED", "the Idempotency-Key was used with another request")
	}
}

// idempotencyKey is the request's Idempotency-Key header, or def (the natural key).
func idempotencyKey(r *http.Request, def string) string {
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		return k
	}
	return def
}

func validNo(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_-|*:.", c)) {
			return false
		}
	}
	return true
}

func validURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func validCurrency(c string) bool {
	n, ok := core.NormalizeCurrency(c)
	return ok && n == c
}
