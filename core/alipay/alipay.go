// Package alipay is the Alipay channel adapter: face-to-face (QR) and page payments over the
// Alipay open API as Alipay publishes it (opendocs.alipay.com), which cmd/channelsim/netsim
// also speaks: one gateway endpoint (…/gateway.do) taking the common parameters (app_id,
// method, format, charset, sign_type RSA2, timestamp, version, notify_url, biz_content)
// signed with the application's private key (SHA256withRSA over the sorted k=v&k=v of every
// parameter but sign), answering a JSON object whose <method>_response is verified with
// Alipay's public key over its exact bytes, and trade_status_sync notifications as forms
// verified over every parameter but sign and sign_type and answered with the literal
// "success". Methods: alipay.trade.precreate, alipay.trade.page.pay, alipay.trade.query,
// alipay.trade.close, alipay.trade.refund, alipay.trade.fastpay.refund.query and
// alipay.data.dataservice.bill.downloadurl.query (the bill for reconciliation).
//
// A payment is a trade whose out_trade_no is the payment ID; Authorize precreates it and
// sends the payer to its qr_code URL (or, with Config.PagePay, to a pay page); Alipay
// notifies NotifyURL when they paid. Every create, close and refund also carries the
// platform's channel key as Idempotency-Key (Alipay ignores it: it is idempotent on
// out_trade_no and out_request_no). Notifications whose sign, app_id or notify_time do not
// check out, or that repeat a delivery already seen, are refused with an error wrapping
// core.ErrBadSignature.
//
// Errors: a refused connection, a 503 or a refused signature wrap core.ErrNotExecuted; a
// timeout, another 5xx, a dropped connection, an answer that does not verify or Alipay's
// code 20000 (unknown) are plain errors (outcome unknown); business refusals (40004) are
// results.
package alipay

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/transform"
)

// DefaultOrderTTL is Config.OrderTTL's default.
const DefaultOrderTTL = 2 * time.Hour

// Config configures a Gateway. Zero fields take the documented defaults. The embedded
// channelauth.BaseConfig holds what every signed-channel adapter shares (BaseURL, the base
// of Alipay's gateway, which serves /gateway.do; keys; NotifyURL; OrderTTL, default
// DefaultOrderTTL; MaxClockSkew, which bounds a notification's notify_time; HTTPClient;
// Now); there is no per-call timeout: resilience.Gateway bounds each call.
//
// BaseConfig.PrivateKey is the application private key and BaseConfig.ChannelPublicKey
// Alipay's public key ("支付宝公钥", public-key mode, not the certificate mode); both are
// required. BaseURL is the gateway's base: Sandbox or Production.
type Config struct {
	channelauth.BaseConfig
	// AppID is the Alipay application the requests are signed as. Required.
	AppID string
	// AppAuthToken, when set, makes this an ISV's (third-party application's) adapter acting
	// for the merchant that authorised it: the token goes with every call as
	// app_auth_token, and the trades are the merchant's. Default: the application's own.
	AppAuthToken string
	// PagePay creates trades with alipay.trade.page.pay and redirects the payer to the pay
	// page; default false: alipay.trade.precreate, redirecting to the qr_code URL (which
	// opens Alipay on a phone, and which a desktop page can render as a QR code).
	PagePay bool
}

// Alipay's gateways: BaseURL + "/gateway.do".
const (
	Sandbox    = "https://openapi-sandbox.dl.alipaydev.com"
	Production = "https://openapi.alipay.com"
)

func (c Config) withDefaults() Config {
	c.BaseConfig = c.BaseConfig.WithDefaults(DefaultOrderTTL)
	return c
}

func (c Config) validate() error {
	errs := []error{c.BaseConfig.Validate()}
	if c.AppID == "" {
		errs = append(errs, errors.New("AppID is required"))
	}
	if c.PrivateKey == nil {
		errs = append(errs, errors.New("PrivateKey (the application private key) is required"))
	}
	if c.ChannelPublicKey == nil {
		errs = append(errs, errors.New("ChannelPublicKey (Alipay's public key) is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("alipay: invalid config: %w", err)
	}
	return nil
}

// Gateway is the Alipay adapter. It implements core.Gateway, core.Querier and
// core.Statements, and parses notifications.
type Gateway struct {
	cfg    Config
	nonces *channelauth.NonceCache
}

var (
	_ core.Gateway    = (*Gateway)(nil)
	_ core.Querier    = (*Gateway)(nil)
	_ core.Statements = (*Gateway)(nil)
)

// New makes a Gateway.
func New(cfg Config) (*Gateway, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Gateway{cfg: cfg, nonces: channelauth.NewNonceCache(2 * cfg.MaxClockSkew)}, nil
}

// result is the common part of every Alipay response object.
type result struct {
	Code    string `json:"code"`
	Msg     string `json:"msg"`
	SubCode string `json:"sub_code"`
	SubMsg  string `json:"sub_msg"`
}

func (r result) String() string {
	return fmt.Sprintf("%s %s: %s %s", r.Code, r.Msg, r.SubCode, r.SubMsg)
}

// common returns the common request parameters, timestamped and with a fresh nonce.
func (g *Gateway) common(method string) url.Values {
	p := url.Values{"app_id": {g.cfg.AppID}, "method": {method}, "format": {"JSON"}, "charset": {"utf-8"},
		"sign_type": {SignType}, "timestamp": {g.cfg.Now().In(chinaZone).Format(timeLayout)}, "version": {"1.0"}}
	if g.cfg.AppAuthToken != "" {
		p.Set("app_auth_token", g.cfg.AppAuthToken)
	}
	return p
}

// call invokes a gateway method and returns its verified response object (already checked
// for transport failures, but not for business codes).
func (g *Gateway) call(ctx context.Context, method string, biz any, key string, notify bool) (result, json.RawMessage, error) {
	params := g.common(method)
	b, err := json.Marshal(biz)
	if err != nil {
		return result{}, nil, err
	}
	params.Set("biz_content", string(b))
	if notify {
		params.Set("notify_url", g.cfg.NotifyURL)
	}
	if err := g.sign(params); err != nil {
		return result{}, nil, fmt.Errorf("alipay %s: signing: %v: %w", method, err, core.ErrNotExecuted)
	}
	return g.send(ctx, http.MethodPost, "/gateway.do", params, strings.ReplaceAll(method, ".", "_")+"_response", key)
}

func (g *Gateway) send(ctx context.Context, httpMethod, path string, params url.Values, respName, key string) (result, json.RawMessage, error) {
	what := params.Get("method")
	if what == "" {
		what = path
	}
	if err := ctx.Err(); err != nil {
		return result{}, nil, fmt.Errorf("alipay %s: not sent: %w: %w", what, err, core.ErrNotExecuted)
	}
	var req *http.Request
	var err error
	if httpMethod == http.MethodGet {
		req, err = http.NewRequestWithContext(ctx, httpMethod, g.cfg.BaseURL+path+"?"+params.Encode(), nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, httpMethod, g.cfg.BaseURL+path, strings.NewReader(params.Encode()))
	}
	if err != nil {
		return result{}, nil, fmt.Errorf("alipay %s: %v: %w", what, err, core.ErrNotExecuted)
	}
	// No GetBody: net/http would silently resend a request carrying Idempotency-Key after a
	// dropped connection; a lost answer is for the caller to resolve, with the same key.
	req.GetBody = nil
	if httpMethod == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) && op.Op == "dial" {
			return result{}, nil, fmt.Errorf("alipay %s: %v: %w", what, err, core.ErrNotExecuted)
		}
		return result{}, nil, fmt.Errorf("alipay %s: outcome unknown: %w", what, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return result{}, nil, fmt.Errorf("alipay %s: reading the answer, outcome unknown: %w", what, err)
	}
	var env map[string]json.RawMessage
	json.Unmarshal(raw, &env)
	obj, ok := env[respName]
	if !ok {
		obj = env["error_response"]
	}
	var res result
	json.Unmarshal(obj, &res)
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		return result{}, nil, fmt.Errorf("alipay %s: unavailable (%s): %w", what, res, core.ErrNotExecuted)
	case resp.StatusCode >= 500:
		return result{}, nil, fmt.Errorf("alipay %s: status %d, outcome unknown", what, resp.StatusCode)
	case resp.StatusCode == http.StatusUnauthorized:
		return result{}, nil, fmt.Errorf("alipay %s: our signature was refused (%s): %w", what, res, core.ErrNotExecuted)
	}
	var sig string
	json.Unmarshal(env["sign"], &sig)
	if obj == nil {
		return result{}, nil, fmt.Errorf("alipay %s: malformed answer %d %q, outcome unknown", what, resp.StatusCode, raw)
	}
	if err := g.verifyBytes(obj, sig); err != nil {
		return result{}, nil, fmt.Errorf("alipay %s: outcome unknown: %w", what, err)
	}
	if res.Code == "20000" {
		return result{}, nil, fmt.Errorf("alipay %s: %s, outcome unknown", what, res)
	}
	if res.Code == "20001" {
		return result{}, nil, fmt.Errorf("alipay %s: not authorised (%s): %w", what, res, core.ErrNotExecuted)
	}
	return res, obj, nil
}

func checkChannel(ch core.Channel) error {
	if ch != "" && ch != core.ChannelAlipay {
		return fmt.Errorf("alipay: a %s call reached the Alipay adapter: %w", ch, core.ErrNotExecuted)
	}
	return nil
}

// formatAmount renders minor units as Alipay's decimal major units ("88.88").
func formatAmount(amount int64, currency string) string {
	return strings.TrimSuffix(core.FormatAmount(amount, currency), " "+currency)
}

// parseAmount reads Alipay's decimal major units into minor units.
func parseAmount(s, currency string) (int64, error) {
	exp := core.CurrencyExponent(currency)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > exp {
		return 0, fmt.Errorf("alipay: bad amount %q for %s", s, currency)
	}
	return strconv.ParseInt(whole+frac+strings.Repeat("0", exp-len(frac)), 10, 64)
}

// Authorize creates a trade; the answer sends the payer to Alipay.
func (g *Gateway) Authorize(ctx context.Context, req core.AuthorizeRequest) (core.AuthorizeResult, error) {
	if err := checkChannel(req.Channel); err != nil {
		return core.AuthorizeResult{}, err
	}
	expires := g.cfg.Now().Add(g.cfg.OrderTTL)
	if r := expires.Truncate(time.Second); !r.Equal(expires) {
		expires = r.Add(time.Second)
	}
	cur := strings.ToUpper(req.Currency)
	subject := req.Reference
	if subject == "" {
		subject = "Payment " + req.PaymentID
	}
	method := "alipay.trade.precreate"
	biz := map[string]string{"out_trade_no": req.PaymentID, "total_amount": formatAmount(req.Amount, cur),
		"trans_currency": cur, "subject": subject, "time_expire": expires.In(chinaZone).Format(timeLayout)}
	if g.cfg.PagePay {
		method, biz["product_code"] = "alipay.trade.page.pay", "FAST_INSTANT_TRADE_PAY"
	}
	res, raw, err := g.call(ctx, method, biz, req.Key, true)
	if err != nil {
		return core.AuthorizeResult{}, err
	}
	if res.Code != "10000" {
		return core.AuthorizeResult{Outcome: core.OutcomeDeclined, DeclineCode: core.CodeProcessingError,
			DeclineMessage: "Alipay refused the trade: " + res.String()}, nil
	}
	var ans struct {
		TradeNo    string `json:"trade_no"`
		QRCode     string `json:"qr_code"`
		PageURL    string `json:"page_url"`
		TimeExpire string `json:"time_expire"`
	}
	json.Unmarshal(raw, &ans)
	// A repeated key replays the first answer, whose expiry is the trade's; ours is the
	// fallback for a channel that does not echo it.
	if t, err := time.ParseInLocation(timeLayout, ans.TimeExpire, chinaZone); err == nil {
		expires = t
	}
	expires = expires.UTC()
	if ans.TradeNo == "" {
		ans.TradeNo = req.PaymentID
	}
	redirect := ans.QRCode
	if g.cfg.PagePay {
		redirect = ans.PageURL
	}
	if redirect == "" {
		return core.AuthorizeResult{}, fmt.Errorf("alipay: answer without a payer URL %q, outcome unknown", raw)
	}
	return core.AuthorizeResult{Outcome: core.OutcomeActionRequired, Reference: ans.TradeNo,
		NextAction: &core.NextAction{Type: "alipay_redirect", RedirectURL: redirect, ExpiresAt: &expires}}, nil
}

// Capture is not supported: Alipay captures when the payer pays.
func (g *Gateway) Capture(ctx context.Context, req core.CaptureRequest) (core.OpResult, error) {
	return core.OpResult{FailureCode: core.CodeInvalidState,
		FailureMessage: "Alipay payments are captured when the payer pays; there is nothing to capture."}, nil
}

// Void closes an unpaid trade. It fails (OK false) when the trade is already paid.
func (g *Gateway) Void(ctx context.Context, req core.VoidRequest) (core.OpResult, error) {
	if err := checkChannel(req.Channel); err != nil {
		return core.OpResult{}, err
	}
	res, raw, err := g.call(ctx, "alipay.trade.close", map[string]string{"out_trade_no": req.PaymentID}, req.Key, false)
	if err != nil {
		return core.OpResult{}, err
	}
	switch {
	case res.Code == "10000":
		var ans struct {
			TradeNo string `json:"trade_no"`
		}
		json.Unmarshal(raw, &ans)
		return core.OpResult{OK: true, Reference: ans.TradeNo}, nil
	case res.SubCode == "ACQ.TRADE_STATUS_ERROR":
		return core.OpResult{FailureCode: core.CodeInvalidState, FailureMessage: "The Alipay trade is already paid."}, nil
	case res.SubCode == "ACQ.TRADE_NOT_EXIST":
		return core.OpResult{FailureCode: core.CodeInvalidState, FailureMessage: "Alipay has no such trade."}, nil
	}
	return core.OpResult{FailureCode: core.CodeProcessingError, FailureMessage: "Alipay refused to close: " + res.String()}, nil
}

// Refund returns money of a paid trade; out_request_no is the refund ID.
func (g *Gateway) Refund(ctx context.Context, req core.RefundRequest) (core.OpResult, error) {
	if err := checkChannel(req.Channel); err != nil {
		return core.OpResult{}, err
	}
	refundID := req.RefundID
	if refundID == "" {
		refundID = strings.TrimSuffix(req.Key, ":refund")
	}
	cur := strings.ToUpper(req.Currency)
	res, raw, err := g.call(ctx, "alipay.trade.refund", map[string]string{"out_trade_no": req.PaymentID,
		"out_request_no": refundID, "refund_amount": formatAmount(req.Amount, cur)}, req.Key, false)
	if err != nil && !errors.Is(err, core.ErrNotExecuted) && ctx.Err() == nil {
		// The outcome is unknown: ask, as Alipay advises, with the refund query. A refund
		// it does not (yet) know stays unknown; the platform repeats it with the same key.
		if st, qerr := g.RefundStatus(ctx, req.PaymentID, refundID, cur); qerr == nil && st.OK {
			return st, nil
		}
	}
	if err != nil {
		return core.OpResult{}, err
	}
	switch {
	case res.Code == "10000":
		var ans struct {
			RefundID    string `json:"refund_id"`
			TradeNo     string `json:"trade_no"`
			SendBackFee string `json:"send_back_fee"`
		}
		json.Unmarshal(raw, &ans)
		amount, err := parseAmount(ans.SendBackFee, cur)
		if err != nil {
			amount = req.Amount
		}
		ref := ans.RefundID
		if ref == "" {
			ref = ans.TradeNo
		}
		return core.OpResult{OK: true, Amount: amount, Reference: ref}, nil
	case res.SubCode == "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL":
		return core.OpResult{FailureCode: core.CodeAmountTooLarge, FailureMessage: "The refund exceeds what is left of the Alipay payment."}, nil
	case res.SubCode == "ACQ.TRADE_STATUS_ERROR", res.SubCode == "ACQ.TRADE_NOT_EXIST":
		return core.OpResult{FailureCode: core.CodeInvalidState, FailureMessage: "The Alipay trade is not paid: " + res.SubMsg}, nil
	}
	return core.OpResult{FailureCode: core.CodeProcessingError, FailureMessage: "Alipay refused the refund: " + res.String()}, nil
}

// RefundStatus asks Alipay about refund refundID of a payment
// (alipay.trade.fastpay.refund.query): OK with the amount when it succeeded; not OK (no
// failure code) when Alipay has no such refund, or not yet.
func (g *Gateway) RefundStatus(ctx context.Context, paymentID, refundID, currency string) (core.OpResult, error) {
	res, raw, err := g.call(ctx, "alipay.trade.fastpay.refund.query", map[string]string{"out_trade_no": paymentID, "out_request_no": refundID}, "", false)
	if err != nil {
		return core.OpResult{}, err
	}
	if res.Code != "10000" {
		return core.OpResult{}, fmt.Errorf("alipay: refund query refused: %s", res)
	}
	var ans struct {
		RefundStatus string `json:"refund_status"`
		RefundAmount string `json:"refund_amount"`
		RefundID     string `json:"refund_id"`
		TradeNo      string `json:"trade_no"`
	}
	json.Unmarshal(raw, &ans)
	if ans.RefundStatus != "REFUND_SUCCESS" {
		return core.OpResult{}, nil
	}
	amount, err := parseAmount(ans.RefundAmount, currency)
	if err != nil {
		return core.OpResult{}, fmt.Errorf("alipay: refund query: %w", err)
	}
	ref := ans.RefundID
	if ref == "" {
		ref = ans.TradeNo
	}
	return core.OpResult{OK: true, Amount: amount, Reference: ref}, nil
}

// trade is Alipay's account of a trade.
type trade struct {
	TradeNo       string `json:"trade_no"`
	OutTradeNo    string `json:"out_trade_no"`
	TradeStatus   string `json:"trade_status"`
	TotalAmount   string `json:"total_amount"`
	TransCurrency string `json:"trans_currency"`
	RefundFee     string `json:"refund_fee"`
	FailReason    string `json:"fail_reason"`
}

// QueryPayment asks Alipay about the trade of a payment.
func (g *Gateway) QueryPayment(ctx context.Context, q core.PaymentQuery) (core.PaymentState, error) {
	if err := checkChannel(q.Channel); err != nil {
		return core.PaymentState{}, err
	}
	res, raw, err := g.call(ctx, "alipay.trade.query", map[string]string{"out_trade_no": q.PaymentID}, "", false)
	if err != nil {
		return core.PaymentState{}, err
	}
	if res.SubCode == "ACQ.TRADE_NOT_EXIST" {
		return core.PaymentState{Found: false}, nil
	}
	if res.Code != "10000" {
		return core.PaymentState{}, fmt.Errorf("alipay: trade query refused: %s", res)
	}
	var tr trade
	json.Unmarshal(raw, &tr)
	if tr.TransCurrency == "" {
		tr.TransCurrency = "CNY"
	}
	st := core.PaymentState{Found: true, Reference: tr.TradeNo}
	switch tr.TradeStatus {
	case "WAIT_BUYER_PAY":
		st.Outcome = core.OutcomeActionRequired
	case "TRADE_SUCCESS", "TRADE_FINISHED":
		st.Outcome = core.OutcomeCaptured
		st.AmountCaptured, _ = parseAmount(tr.TotalAmount, tr.TransCurrency)
		if tr.RefundFee != "" {
			st.AmountRefunded, _ = parseAmount(tr.RefundFee, tr.TransCurrency)
		}
	case "TRADE_CLOSED":
		st.Outcome, st.Closed = core.OutcomeClosed, true
	case "TRADE_FAILED":
		st.Outcome, st.DeclineCode, st.DeclineMessage = core.OutcomeDeclined, core.CodeProcessingError, tr.FailReason
	default:
		return core.PaymentState{}, fmt.Errorf("alipay: unknown trade_status %q", tr.TradeStatus)
	}
	return st, nil
}

// Statement lists the day's charges and refunds (UTC day) from Alipay's trade bills
// (alipay.data.dataservice.bill.downloadurl.query, bill_type trade). Bills are by China
// Standard Time day, so a UTC day takes the bills of two days, filtered by completion time.
func (g *Gateway) Statement(ctx context.Context, channel core.Channel, day time.Time) ([]core.StatementLine, error) {
	if err := checkChannel(channel); err != nil {
		return nil, err
	}
	return channelauth.UTCDayFromChinaBills(day, func(date string) ([]core.StatementLine, error) {
		return g.TradeBill(ctx, date)
	})
}

// TradeBill fetches the download URL of the trade bill of a China Standard Time day
// (YYYY-MM-DD), downloads the zip and parses its 业务明细 file.
func (g *Gateway) TradeBill(ctx context.Context, billDate string) ([]core.StatementLine, error) {
	method := "alipay.data.dataservice.bill.downloadurl.query"
	res, raw, err := g.call(ctx, method, map[string]string{"bill_type": "trade", "bill_date": billDate}, "", false)
	if err != nil {
		return nil, err
	}
	if res.Code != "10000" {
		return nil, fmt.Errorf("alipay: bill of %s refused: %s", billDate, res)
	}
	var ans struct {
		URL string `json:"bill_download_url"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil || ans.URL == "" {
		return nil, fmt.Errorf("alipay: bill answer without bill_download_url: %q", raw)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ans.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("alipay: bill_download_url %q: %w", ans.URL, err)
	}
	resp, err := g.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("alipay: downloading the bill of %s: %w", billDate, err)
	}
	defer resp.Body.Close()
	file, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil || resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("alipay: downloading the bill of %s: status %d %v", billDate, resp.StatusCode, err)
	}
	return ParseTradeBill(file)
}

// ParseTradeBill reads Alipay's trade bill: a zip whose file named …_业务明细.csv (not the
// 汇总 summary) is GBK text, "#" lines around a header row and one row per trade (业务类型
// 交易) or refund (退款, negative amounts, 退款批次号/请求号 the out_request_no). Long numbers
// carry a trailing tab, which is dropped. Amounts are 订单金额（元）, in yuan.
func ParseTradeBill(zipped []byte) ([]core.StatementLine, error) {
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if err != nil {
		return nil, fmt.Errorf("alipay: the bill is not a zip: %w", err)
	}
	var detail *zip.File
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "_业务明细.csv") {
			detail = f
		}
	}
	if detail == nil {
		return nil, errors.New("alipay: the bill has no 业务明细 file")
	}
	rc, err := detail.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	text, err := io.ReadAll(transform.NewReader(io.LimitReader(rc, 256<<20), simplifiedchinese.GBK.NewDecoder()))
	if err != nil {
		return nil, fmt.Errorf("alipay: the bill is not GBK text: %w", err)
	}
	col := map[string]int{}
	out := []core.StatementLine{}
	for n, row := range strings.Split(strings.ReplaceAll(string(text), "\r\n", "\n"), "\n") {
		if strings.HasPrefix(row, "#") || strings.TrimSpace(row) == "" {
			continue
		}
		f := strings.Split(row, ",")
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		if len(col) == 0 {
			for i, name := range f {
				col[name] = i
			}
			for _, need := range []string{"支付宝交易号", "商户订单号", "业务类型", "完成时间", "订单金额（元）", "退款批次号/请求号"} {
				if _, ok := col[need]; !ok {
					return nil, fmt.Errorf("alipay: bill without the column %s", need)
				}
			}
			continue
		}
		if len(f) < len(col) {
			return nil, fmt.Errorf("alipay: bill line %d has %d fields, want %d", n+1, len(f), len(col))
		}
		if extra := len(f) - len(col); extra > 0 {
			// The file is not quoted: a subject holding commas spans several fields.
			if i, ok := col["商品名称"]; ok {
				f = append(append(append([]string{}, f[:i]...), strings.Join(f[i:i+extra+1], ",")), f[i+extra+1:]...)
			}
		}
		at, err := time.ParseInLocation(timeLayout, f[col["完成时间"]], chinaZone)
		if err != nil {
			return nil, fmt.Errorf("alipay: bill line %d: time %q", n+1, f[col["完成时间"]])
		}
		l := core.StatementLine{PaymentID: f[col["商户订单号"]], Reference: f[col["支付宝交易号"]], Currency: "CNY", At: at.UTC()}
		switch f[col["业务类型"]] {
		case "交易":
			l.Kind = "charge"
		case "退款":
			l.Kind, l.RefundID = "refund", f[col["退款批次号/请求号"]]
		default:
			continue
		}
		if l.Amount, err = parseAmount(strings.TrimPrefix(f[col["订单金额（元）"]], "-"), "CNY"); err != nil {
			return nil, fmt.Errorf("alipay: bill line %d: %w", n+1, err)
		}
		out = append(out, l)
	}
	if len(col) == 0 {
		return nil, errors.New("alipay: the bill has no header row")
	}
	return out, nil
}

// ParseNotification verifies an Alipay notification (sign, app_id, notify_time, nonce) and
// maps it. Unverifiable notifications are errors wrapping core.ErrBadSignature; they must
// change nothing.
func (g *Gateway) ParseNotification(r *http.Request) (core.Notification, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return core.Notification{}, fmt.Errorf("alipay: reading the notification: %w", err)
	}
	params, err := url.ParseQuery(string(body))
	if err != nil {
		return core.Notification{}, fmt.Errorf("alipay notification: %w: malformed form: %v", core.ErrBadSignature, err)
	}
	if err := g.verifyNotification(params); err != nil {
		return core.Notification{}, fmt.Errorf("alipay notification: %w", err)
	}
	cur := params.Get("trans_currency")
	if cur == "" {
		cur = "CNY"
	}
	at := func(name string) time.Time {
		t, _ := time.ParseInLocation(timeLayout, params.Get(name), chinaZone)
		return t
	}
	n := core.Notification{Channel: core.ChannelAlipay, EventID: params.Get("notify_id"), PaymentID: params.Get("out_trade_no"),
		Reference: params.Get("trade_no"), Currency: cur,
		Nonce: deliveryNonce(params), NonceExpires: g.cfg.Now().Add(2 * g.cfg.MaxClockSkew)}
	if n.EventID == "" || n.PaymentID == "" {
		return core.Notification{}, fmt.Errorf("alipay: notification without notify_id or out_trade_no")
	}
	if rid := params.Get("out_biz_no"); rid != "" {
		n.RefundID, n.Outcome, n.OccurredAt = rid, core.OutcomeCaptured, at("gmt_refund")
		n.Amount, _ = parseAmount(params.Get("send_back_fee"), cur)
		if ref := params.Get("refund_id"); ref != "" {
			n.Reference = ref
		}
		return n, nil
	}
	n.Amount, _ = parseAmount(params.Get("total_amount"), cur)
	switch params.Get("trade_status") {
	case "TRADE_SUCCESS", "TRADE_FINISHED":
		n.Outcome, n.OccurredAt = core.OutcomeCaptured, at("gmt_payment")
	case "TRADE_FAILED":
		n.Outcome, n.OccurredAt = core.OutcomeDeclined, at("gmt_close")
		n.DeclineCode, n.DeclineMessage = core.CodeProcessingError, params.Get("fail_reason")
	case "TRADE_CLOSED":
		n.Outcome, n.OccurredAt = core.OutcomeClosed, at("gmt_close")
	case "WAIT_BUYER_PAY":
		n.Outcome, n.OccurredAt = core.OutcomeActionRequired, at("gmt_create")
	default:
		return core.Notification{}, fmt.Errorf("alipay: unknown trade_status %q", params.Get("trade_status"))
	}
	return n, nil
}

// NotificationHandler serves NotifyURL: it parses each notification and hands it to sink.
// It answers "success" when sink accepted it (Alipay stops retrying), 401 for
// notifications that do not verify, and 500 "fail" when sink fails (Alipay redelivers).
func (g *Gateway) NotificationHandler(sink func(context.Context, core.Notification) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := g.ParseNotification(r)
		switch {
		case errors.Is(err, core.ErrBadSignature):
			http.Error(w, "fail", http.StatusUnauthorized)
		case err != nil:
			http.Error(w, "fail", http.StatusBadRequest)
		case sink(r.Context(), n) != nil:
			http.Error(w, "fail", http.StatusInternalServerError)
		default:
			io.WriteString(w, "success")
		}
	})
}
