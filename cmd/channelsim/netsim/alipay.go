package netsim

import (
	"archive/zip"
	"bytes"
	"context"
	"io"

	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/paycenter/paycenter/core"
)

// Alipay open API: see the package documentation.

// alipaySignType is RSA2: SHA256withRSA.
const alipaySignType = "RSA2"

func (s *Server) alipayProtocol() *protocol {
	p := &protocol{channel: core.ChannelAlipay, authenticate: s.alipayAuth}
	p.fail = func(status int, code, msg string) reply {
		main, mainMsg := "40002", "Invalid Arguments"
		switch {
		case status >= 500:
			main, mainMsg = "20000", "Service Currently Unavailable"
			code = map[string]string{"SYSTEM_UNAVAILABLE": "isp.unavailable", "SYSTEM_ERROR": "isp.unknow-error",
				"SYSTEM_TIMEOUT": "isp.timeout"}[code]
		case code == "IDEMPOTENCY_KEY_REUSED":
			main, mainMsg, code = "40004", "Business Failed", "ACQ.IDEMPOTENCY_KEY_REUSED"
		}
		return s.alipayReply(status, "error", map[string]string{"code": main, "msg": mainMsg, "sub_code": code, "sub_msg": msg})
	}
	return p
}

// alipayReply renders {"<method>_response": inner, "sign": sig}, sig signing inner's exact
// bytes with RSA2.
func (s *Server) alipayReply(status int, method string, inner any) reply {
	raw, err := json.Marshal(inner)
	if err != nil {
		panic(err)
	}
	name := strings.ReplaceAll(method, ".", "_") + "_response"
	sig := rsaSign(s.cfg.PrivateKey, raw)
	body := fmt.Sprintf(`{"%s":%s,"sign":"%s"}`, name, raw, sig)
	return reply{status: status, body: []byte(body), contentType: "application/json;charset=utf-8"}
}

// alipayBizFail is a business refusal: HTTP 200, code 40004, a sub_code saying why.
func (s *Server) alipayBizFail(method, subCode, subMsg string) reply {
	return s.alipayReply(200, method, map[string]string{"code": "40004", "msg": "Business Failed", "sub_code": subCode, "sub_msg": subMsg})
}

func (s *Server) alipayInvalid(method, msg string) reply {
	return s.alipayReply(200, method, map[string]string{"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-parameter", "sub_msg": msg})
}

// alipayParams are a request's parameters: the query string and, for POST, the form body.
func alipayParams(r *http.Request, body []byte) url.Values {
	params := r.URL.Query()
	if r.Method == http.MethodPost {
		form, _ := url.ParseQuery(string(body))
		for k, v := range form {
			params[k] = v
		}
	}
	return params
}

func (s *Server) alipayAuth(r *http.Request, body []byte) (string, *errAuth) {
	params := alipayParams(r, body)
	appID := params.Get("app_id")
	if appID == "" {
		return "", &errAuth{"isv.missing-app-id", "app_id is required"}
	}
	if params.Get("sign_type") != alipaySignType {
		return "", &errAuth{"isv.invalid-signature-type", "sign_type must be " + alipaySignType}
	}
	key, err := s.clientKey(appID)
	if err != nil {
		return "", &errAuth{"isv.invalid-app-id", fmt.Sprintf("no public key is registered for app_id %q", appID)}
	}
	ts, err := time.ParseInLocation(alipayTimeLayout, params.Get("timestamp"), chinaZone)
	if err != nil {
		return "", &errAuth{"isv.invalid-timestamp", "timestamp must be yyyy-MM-dd HH:mm:ss (UTC+8)"}
	}
	if !s.fresh(ts) {
		return "", &errAuth{"isv.invalid-timestamp", fmt.Sprintf("stale timestamp: more than %v from the channel's clock", s.cfg.MaxClockSkew)}
	}
	// Requests sign every parameter but sign itself (sign_type included); notifications
	// leave sign_type out too.
	if !rsaVerify(key, []byte(alipaySignContent(params, "sign")), params.Get("sign")) {
		return "", &errAuth{"isv.invalid-signature", "sign does not verify"}
	}
	// Alipay's requests carry no nonce: a replay within the timestamp window repeats an
	// idempotent call (out_trade_no, out_request_no), which executes once.
	return appID, nil
}

type alipayBiz struct {
	OutTradeNo    string `json:"out_trade_no"`
	TotalAmount   string `json:"total_amount"`
	TransCurrency string `json:"trans_currency"`
	Subject       string `json:"subject"`
	TimeExpire    string `json:"time_expire"`
	ProductCode   string `json:"product_code"`
	RefundAmount  string `json:"refund_amount"`
	OutRequestNo  string `json:"out_request_no"`
	RefundReason  string `json:"refund_reason"`
}

var alipayMutating = map[string]bool{"alipay.trade.precreate": true, "alipay.trade.page.pay": true,
	"alipay.trade.close": true, "alipay.trade.refund": true}

func (s *Server) alipayRoutes() {
	p := s.alipayProtocol()
	s.mux.Handle("POST /gateway.do", s.endpoint(p, func(r *http.Request, body []byte) bool {
		return alipayMutating[alipayParams(r, body).Get("method")]
	}, s.alipayGateway(p)))
	// The bill file: no signature, no authentication, like Alipay's short-lived download URL.
	s.mux.HandleFunc("GET /alipay/bill/{token}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		bill, ok := s.bills[r.PathValue("token")]
		s.mu.Unlock()
		if !ok {
			http.Error(w, "no such bill", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/zip")
		w.Write(bill)
	})
}

// alipayBillHeader is the column row of Alipay's trade bill (业务明细).
const alipayBillHeader = "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）," +
	"商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）," +
	"退款批次号/请求号,服务费（元）,分润（元）,备注"

// alipayBill renders an application's trade bill of a China Standard Time day as Alipay
// ships it: a zip holding <pid>_<yyyyMMdd>_业务明细.csv in GBK, with "#" comment lines around
// the rows; refunds have negative amounts and their out_request_no. Call with s.mu held.
func (s *Server) alipayBill(client, sub string, day time.Time) ([]byte, error) {
	var b strings.Builder
	pid := "2088" + strings.Repeat("0", 12)
	b.WriteString("#支付宝业务明细查询\r\n#账号：[" + pid + "0156]\r\n")
	b.WriteString("#起始日期：[" + day.Format("2006年01月02日 15:04:05") + "]   终止日期：[" + day.AddDate(0, 0, 1).Format("2006年01月02日 15:04:05") + "]\r\n")
	b.WriteString("#-----------------------------------------业务明细列表----------------------------------------\r\n")
	b.WriteString(alipayBillHeader + "\r\n")
	var trades, refunds int
	for _, l := range s.lines {
		at := l.entry.Time.In(chinaZone)
		if l.channel != core.ChannelAlipay || l.client != client || at.Before(day) || !at.Before(day.AddDate(0, 0, 1)) {
			continue
		}
		o := s.lookup(core.ChannelAlipay, l.entry.OutTradeNo)
		if !owns(o, client, sub) {
			continue
		}
		amount := formatDecimal(l.entry.Amount, l.entry.Currency)
		kind, requestNo, total := "交易", "", amount
		if l.entry.Kind == "refund" {
			kind, requestNo, amount, total = "退款", l.entry.OutRefundNo, "-"+amount, "-"+amount
			refunds++
		} else {
			trades++
		}
		f := []string{o.tradeNo + "\t", o.outTradeNo + "\t", kind, o.description, alipayTime(o.createdAt), at.Format(alipayTimeLayout),
			"", "", "", "", "sim***@example.com", total, amount, "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00", requestNo, "0.00", "0.00", ""}
		b.WriteString(strings.Join(f, ",") + "\r\n")
	}
	b.WriteString("#-----------------------------------------业务明细列表结束------------------------------------\r\n")
	b.WriteString(fmt.Sprintf("#交易合计：%d笔，退款合计：%d笔\r\n#导出时间：[%s]\r\n", trades, refunds, s.now().In(chinaZone).Format("2006年01月02日 15:04:05")))
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(b.String())
	if err != nil {
		return nil, err
	}
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	f, err := zw.Create(pid + "0156_" + day.Format("20060102") + "_业务明细.csv")
	if err != nil {
		return nil, err
	}
	if _, err := io.WriteString(f, gbk); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return zbuf.Bytes(), nil
}

func (s *Server) alipayGateway(p *protocol) handlerFunc {
	return func(r *http.Request, body []byte, client string) reply {
		params := alipayParams(r, body)
		method := params.Get("method")
		// An ISV (third-party application) acting for a merchant that authorised it names the
		// merchant by app_auth_token; the trades are that merchant's.
		sub := params.Get("app_auth_token")
		var biz alipayBiz
		if err := json.Unmarshal([]byte(params.Get("biz_content")), &biz); err != nil {
			return s.alipayInvalid(method, "biz_content is not valid JSON")
		}
		if biz.TransCurrency == "" {
			biz.TransCurrency = "CNY"
		}
		switch method {
		case "alipay.trade.precreate", "alipay.trade.page.pay":
			return s.alipayCreate(r, p, method, client, sub, params.Get("notify_url"), biz)
		case "alipay.trade.query":
			s.mu.Lock()
			defer s.mu.Unlock()
			o := s.lookup(core.ChannelAlipay, biz.OutTradeNo)
			if !owns(o, client, sub) {
				return s.alipayBizFail(method, "ACQ.TRADE_NOT_EXIST", "no such trade")
			}
			return s.alipayReply(200, method, alipayTrade(o, map[string]string{"code": "10000", "msg": "Success"}))
		case "alipay.trade.close":
			s.mu.Lock()
			defer s.mu.Unlock()
			return s.once(core.ChannelAlipay, idempotencyKey(r, "close/"+biz.OutTradeNo), biz.OutTradeNo, biz.OutTradeNo, keyConflict(p), func() reply {
				o := s.lookup(core.ChannelAlipay, biz.OutTradeNo)
				if !owns(o, client, sub) {
					return s.alipayBizFail(method, "ACQ.TRADE_NOT_EXIST", "no such trade")
				}
				if err := s.closeLocked(o); err != nil {
					return s.alipayBizFail(method, "ACQ.TRADE_STATUS_ERROR", "the trade is paid and cannot be closed")
				}
				return s.alipayReply(200, method, map[string]string{"code": "10000", "msg": "Success", "trade_no": o.tradeNo, "out_trade_no": o.outTradeNo})
			})
		case "alipay.trade.refund":
			return s.alipayRefund(r, p, method, client, sub, biz)
		case "alipay.data.dataservice.bill.downloadurl.query":
			var bb struct {
				BillType string `json:"bill_type"`
				BillDate string `json:"bill_date"`
			}
			json.Unmarshal([]byte(params.Get("biz_content")), &bb)
			day, err := time.ParseInLocation(time.DateOnly, bb.BillDate, chinaZone)
			if bb.BillType != "trade" || err != nil {
				return s.alipayInvalid(method, "bill_type must be trade and bill_date yyyy-MM-dd")
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			bill, err := s.alipayBill(client, sub, day)
			if err != nil {
				return s.alipayReply(200, method, map[string]string{"code": "20000", "msg": "Service Currently Unavailable", "sub_code": "isp.unknow-error", "sub_msg": err.Error()})
			}
			token := newNonce()
			s.bills[token] = bill
			return s.alipayReply(200, method, map[string]string{"code": "10000", "msg": "Success",
				"bill_download_url": s.publicURL(r) + "/alipay/bill/" + token})
		case "alipay.trade.fastpay.refund.query":
			s.mu.Lock()
			defer s.mu.Unlock()
			ans := map[string]string{"code": "10000", "msg": "Success", "out_trade_no": biz.OutTradeNo, "out_request_no": biz.OutRequestNo}
			if rf := s.refunds[orderKey(core.ChannelAlipay, biz.OutRequestNo)]; rf != nil && owns(s.lookup(core.ChannelAlipay, rf.outTradeNo), client, sub) && rf.outTradeNo == biz.OutTradeNo {
				o := s.lookup(core.ChannelAlipay, rf.outTradeNo)
				ans["trade_no"], ans["total_amount"] = o.tradeNo, formatDecimal(o.amount, o.currency)
				ans["refund_amount"], ans["refund_status"] = formatDecimal(rf.amount, rf.currency), "REFUND_SUCCESS"
				ans["gmt_refund_pay"], ans["refund_id"] = alipayTime(rf.createdAt), rf.refundID
			}
			return s.alipayReply(200, method, ans)
		}
		return s.alipayReply(200, "error", map[string]string{"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-method", "sub_msg": "unknown method " + method})
	}
}

func (s *Server) alipayCreate(r *http.Request, p *protocol, method, client, sub, notifyURL string, biz alipayBiz) reply {
	amount, err := parseDecimal(biz.TotalAmount, biz.TransCurrency)
	expires := s.now().Add(s.cfg.OrderTTL)
	switch {
	case !validNo(biz.OutTradeNo):
		return s.alipayInvalid(method, "out_trade_no must be 1 to 64 letters, digits, _ - | * : .")
	case !validCurrency(biz.TransCurrency):
		return s.alipayInvalid(method, "trans_currency is not a supported currency")
	case err != nil || amount < 1:
		return s.alipayInvalid(method, "total_amount must be a positive decimal in major units, e.g. 88.88")
	case biz.Subject == "":
		return s.alipayInvalid(method, "subject is required")
	case notifyURL != "" && !validURL(notifyURL):
		return s.alipayInvalid(method, "notify_url must be an absolute http(s) URL")
	case biz.TimeExpire != "":
		t, err := time.ParseInLocation(alipayTimeLayout, biz.TimeExpire, chinaZone)
		if err != nil || !t.After(s.now()) {
			return s.alipayInvalid(method, "time_expire must be yyyy-MM-dd HH:mm:ss (UTC+8) in the future")
		}
		expires = t
	}
	fp := fmt.Sprint(method, "|", biz.OutTradeNo, "|", amount, "|", biz.TransCurrency, "|", biz.Subject, "|", notifyURL)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.once(core.ChannelAlipay, idempotencyKey(r, "create/"+biz.OutTradeNo), biz.OutTradeNo, fp, keyConflict(p), func() reply {
		o := s.lookup(core.ChannelAlipay, biz.OutTradeNo)
		if o != nil {
			if !owns(o, client, sub) || o.amount != amount || o.currency != biz.TransCurrency {
				return s.alipayBizFail(method, "ACQ.CONTEXT_INCONSISTENT", "out_trade_no is already used by another trade")
			}
			switch o.state {
			case StatePaid:
				return s.alipayBizFail(method, "ACQ.TRADE_HAS_SUCCESS", "the trade is already paid")
			case StateClosed, StateFailed:
				return s.alipayBizFail(method, "ACQ.TRADE_HAS_CLOSE", "the trade is closed")
			}
		} else {
			o = &order{channel: core.ChannelAlipay, client: client, outTradeNo: biz.OutTradeNo, tradeNo: s.nextID("", 28),
				amount: amount, currency: biz.TransCurrency, description: biz.Subject, notifyURL: notifyURL,
				token: newNonce()[:24], createdAt: s.now(), expiresAt: expires, subMchID: sub}
			s.addOrder(o)
		}
		// trade_no and time_expire are simulator extensions of precreate's answer.
		ans := map[string]string{"code": "10000", "msg": "Success", "out_trade_no": o.outTradeNo,
			"trade_no": o.tradeNo, "time_expire": alipayTime(o.expiresAt)}
		if method == "alipay.trade.page.pay" {
			ans["page_url"] = s.publicURL(r) + "/pay/" + o.token
		} else {
			ans["qr_code"] = s.publicURL(r) + "/pay/" + o.token
		}
		return s.alipayReply(200, method, ans)
	})
}

func (s *Server) alipayRefund(r *http.Request, p *protocol, method, client, sub string, biz alipayBiz) reply {
	if !validNo(biz.OutTradeNo) || !validNo(biz.OutRequestNo) {
		return s.alipayInvalid(method, "out_trade_no and out_request_no are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.lookup(core.ChannelAlipay, biz.OutTradeNo)
	cur := "CNY"
	if o != nil {
		cur = o.currency
	}
	amount, err := parseDecimal(biz.RefundAmount, cur)
	if err != nil || amount < 1 {
		return s.alipayInvalid(method, "refund_amount must be a positive decimal in major units")
	}
	fp := fmt.Sprint(biz.OutTradeNo, "|", biz.OutRequestNo, "|", amount)
	return s.once(core.ChannelAlipay, idempotencyKey(r, "refund/"+biz.OutRequestNo), biz.OutTradeNo, fp, keyConflict(p), func() reply {
		if !owns(o, client, sub) {
			return s.alipayBizFail(method, "ACQ.TRADE_NOT_EXIST", "no such trade")
		}
		rf := s.refunds[orderKey(core.ChannelAlipay, biz.OutRequestNo)]
		fundChange := "N"
		if rf != nil {
			if rf.outTradeNo != biz.OutTradeNo || rf.amount != amount {
				return s.alipayBizFail(method, "ACQ.DISCORDANT_REPEAT_REQUEST", "out_request_no is already used by another refund")
			}
		} else {
			rf, err = s.refundLocked(o, biz.OutRequestNo, amount, "")
			switch err {
			case errNotPaid:
				return s.alipayBizFail(method, "ACQ.TRADE_STATUS_ERROR", "the trade is not paid; nothing to refund")
			case errRefundExceeds:
				return s.alipayBizFail(method, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "the refund exceeds the paid amount less earlier refunds")
			}
			fundChange = "Y"
		}
		return s.alipayReply(200, method, map[string]string{"code": "10000", "msg": "Success", "trade_no": o.tradeNo,
			"out_trade_no": o.outTradeNo, "out_request_no": rf.outRefundNo, "refund_id": rf.refundID, "fund_change": fundChange,
			"refund_fee": formatDecimal(o.refunded, o.currency), "send_back_fee": formatDecimal(rf.amount, rf.currency),
			"gmt_refund_pay": alipayTime(rf.createdAt)})
	})
}

func alipayTime(t time.Time) string { return t.In(chinaZone).Format(alipayTimeLayout) }

func alipayTradeStatus(o *order) string {
	switch o.state {
	case StatePaid:
		return "TRADE_SUCCESS"
	case StateFailed:
		return "TRADE_FAILED"
	case StateClosed:
		return "TRADE_CLOSED"
	}
	return "WAIT_BUYER_PAY"
}

// alipayTrade adds a trade's fields to m.
func alipayTrade(o *order, m map[string]string) map[string]string {
	m["trade_no"], m["out_trade_no"], m["trade_status"] = o.tradeNo, o.outTradeNo, alipayTradeStatus(o)
	m["total_amount"], m["trans_currency"], m["subject"] = formatDecimal(o.amount, o.currency), o.currency, o.description
	m["gmt_create"] = alipayTime(o.createdAt)
	if o.state == StatePaid {
		m["send_pay_date"], m["gmt_payment"] = alipayTime(o.paidAt), alipayTime(o.paidAt)
		m["refund_fee"] = formatDecimal(o.refunded, o.currency)
	}
	if o.state == StateClosed || o.state == StateFailed {
		m["gmt_close"] = alipayTime(o.closedAt)
	}
	if o.state == StateFailed {
		m["fail_reason"] = o.failReason
	}
	return m
}

// alipayNotification builds one signed delivery of an Alipay asynchronous notification
// (trade_status_sync, form-encoded).
func (s *Server) alipayNotification(ctx context.Context, ev event) (*http.Request, error) {
	o := &ev.order
	// Every delivery of a notify_id has a later notify_time than the one before (Alipay's
	// redeliveries are minutes apart; the simulator's copies may follow within a second):
	// the platform tells a redelivery from a replay by it.
	s.mu.Lock()
	at := s.now().Truncate(time.Second)
	if last, ok := s.alipayStamps[ev.id]; ok && !at.After(last) {
		at = last.Add(time.Second)
	}
	s.alipayStamps[ev.id] = at
	s.mu.Unlock()
	m := alipayTrade(o, map[string]string{"notify_id": ev.id, "notify_type": "trade_status_sync",
		"notify_time": alipayTime(at), "app_id": o.client, "charset": "utf-8", "version": "1.0",
		"sign_type": alipaySignType})
	if rf := ev.refund; rf != nil {
		m["out_biz_no"], m["refund_id"] = rf.outRefundNo, rf.refundID
		m["refund_fee"], m["send_back_fee"] = formatDecimal(o.refunded, o.currency), formatDecimal(rf.amount, rf.currency)
		m["gmt_refund"] = alipayTime(rf.createdAt)
	}
	params := url.Values{}
	for k, v := range m {
		params.Set(k, v)
	}
	params.Set("sign", rsaSign(s.cfg.PrivateKey, []byte(alipaySignContent(params, "sign", "sign_type"))))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ev.url, strings.NewReader(params.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	return req, nil
}

// formatDecimal renders minor units in major units: 8888 CNY is "88.88".
func formatDecimal(amount int64, currency string) string {
	exp := core.CurrencyExponent(currency)
	s := strconv.FormatInt(amount, 10)
	if exp == 0 {
		return s
	}
	for len(s) <= exp {
		s = "0" + s
	}
	return s[:len(s)-exp] + "." + s[len(s)-exp:]
}

// parseDecimal reads major units ("88.88", "88.8", "88") into minor units.
func parseDecimal(s, currency string) (int64, error) {
	exp := core.CurrencyExponent(currency)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > exp || strings.HasPrefix(whole, "-") || strings.HasPrefix(whole, "+") {
		return 0, fmt.Errorf("bad amount %q", s)
	}
	frac += strings.Repeat("0", exp-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad amount %q", s)
	}
	return n, nil
}
