// Package wechatpay is the WeChat Pay channel adapter: Native (QR code) payments over WeChat
// Pay API v3 as WeChat Pay publishes it (pay.weixin.qq.com/doc/v3), which
// cmd/channelsim/netsim also speaks:
//
//   - every request carries Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",
//     signature="…",timestamp="…",serial_no="…", the signature SHA256withRSA with the
//     merchant's API private key over "METHOD\nURL path?query\ntimestamp\nnonce\nbody\n";
//   - every answer and notification is verified over "timestamp\nnonce\nbody\n" from
//     Wechatpay-Timestamp/-Nonce/-Signature, with the platform certificate Wechatpay-Serial
//     names (downloaded from /v3/certificates and decrypted with the APIv3 key; a new serial
//     triggers a new download, which is how certificate rotation is followed) or with the
//     WeChat Pay public key (public-key mode); a timestamp more than 5 minutes off is refused;
//   - a notification's resource is AEAD_AES_256_GCM, decrypted with the APIv3 key;
//   - endpoints: POST /v3/pay/transactions/native, GET /v3/pay/transactions/out-trade-no/{no}
//     ?mchid=, POST …/{no}/close, POST /v3/refund/domestic/refunds, GET
//     /v3/refund/domestic/refunds/{out_refund_no}, GET /v3/bill/tradebill and its file.
//
// A payment is an order whose out_trade_no is the payment ID; the payer scans the code_url
// and WeChat Pay notifies NotifyURL when they paid. WeChat Pay is idempotent on
// out_trade_no and out_refund_no; every create, close and refund also carries the platform's
// channel key as Idempotency-Key (the simulator honours it, WeChat Pay ignores it).
// Notifications whose signature, serial, timestamp, nonce or encryption do not check out
// are refused with an error wrapping core.ErrBadSignature.
//
// Errors: a refused connection or a 503 (the channel is down) wrap core.ErrNotExecuted; a
// timeout, another 5xx, a dropped connection or an answer that does not verify are plain
// errors (the outcome is unknown: ask QueryPayment or repeat the call with the same key);
// business refusals are results, not errors.
package wechatpay

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
)

// DefaultOrderTTL is Config.OrderTTL's default: WeChat Pay's own.
const DefaultOrderTTL = 2 * time.Hour

// Config configures a Gateway. Zero fields take the documented defaults. The embedded
// channelauth.BaseConfig holds what every signed-channel adapter shares (BaseURL, keys,
// NotifyURL, OrderTTL, default DefaultOrderTTL, MaxClockSkew, HTTPClient, Now); there is no
// per-call timeout: resilience.Gateway bounds each call.
//
// BaseConfig.PrivateKey is the merchant's API private key (apiclient_key.pem), required.
// BaseConfig.ChannelPublicKey, with PublicKeyID, is the WeChat Pay public key (public-key
// mode); left nil, the platform certificates are downloaded and followed through rotations.
type Config struct {
	channelauth.BaseConfig
	// MerchantID is the WeChat Pay merchant ID (mchid) the requests are signed as. Required.
	MerchantID string
	// MerchantSerialNo is the serial number of the merchant API certificate whose key is
	// PrivateKey, sent as serial_no. Required.
	MerchantSerialNo string
	// APIv3Key is the 32-byte key set in the merchant platform's API security page; it
	// decrypts notifications and downloaded certificates. Required.
	APIv3Key string
	// AppID is the appid of the Official Account, Mini Program or app the orders belong
	// to; WeChat Pay requires it on orders. Default: empty (the simulator accepts that).
	AppID string
	// PublicKeyID is the ID of the WeChat Pay public key (PUB_KEY_ID_…) that
	// ChannelPublicKey is; required with ChannelPublicKey.
	PublicKeyID string
	// SubMerchantID, when set, makes this a service provider's (服务商) adapter acting for
	// the sub-merchant sub_mchid: MerchantID, the keys and the APIv3 key are the provider's,
	// calls go to the partner endpoints (/v3/pay/partner/…) with sp_mchid and sub_mchid,
	// and AppID is sent as sp_appid. Default: a direct merchant.
	SubMerchantID string
	// SubAppID is the sub-merchant's own appid (sub_appid), for partner orders. Default:
	// none.
	SubAppID string
	// CertificateRefreshGap is the least time between two certificate downloads set off by
	// unknown serials. Default DefaultCertificateRefreshGap.
	CertificateRefreshGap time.Duration
}

// DefaultCertificateRefreshGap is Config.CertificateRefreshGap's default: a forged serial
// cannot make us hammer /v3/certificates.
const DefaultCertificateRefreshGap = time.Minute

// Production is the base URL of WeChat Pay API v3 (the mainland domain; WeChat Pay names
// api2.mch.weixin.qq.com as its backup). API v3 has no sandbox: the simulator stands in.
const Production = "https://api.mch.weixin.qq.com"

func (c Config) withDefaults() Config {
	c.BaseConfig = c.BaseConfig.WithDefaults(DefaultOrderTTL)
	if c.CertificateRefreshGap <= 0 {
		c.CertificateRefreshGap = DefaultCertificateRefreshGap
	}
	return c
}

func (c Config) validate() error {
	errs := []error{c.BaseConfig.Validate()}
	if c.MerchantID == "" {
		errs = append(errs, errors.New("MerchantID is required"))
	}
	if c.MerchantSerialNo == "" {
		errs = append(errs, errors.New("MerchantSerialNo is required"))
	}
	if c.PrivateKey == nil {
		errs = append(errs, errors.New("PrivateKey (the merchant API private key) is required"))
	}
	if len(c.APIv3Key) != 32 {
		errs = append(errs, fmt.Errorf("APIv3Key must be 32 bytes, not %d", len(c.APIv3Key)))
	}
	if (c.ChannelPublicKey != nil) != (c.PublicKeyID != "") {
		errs = append(errs, errors.New("ChannelPublicKey and PublicKeyID go together (public-key mode)"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("wechatpay: invalid config: %w", err)
	}
	return nil
}

// Gateway is the WeChat Pay adapter. It implements core.Gateway, core.Querier and
// core.Statements, and parses notifications.
type Gateway struct {
	cfg    Config
	signer *channelauth.Signer
	client *channelauth.Client
	keys   *platformKeys
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
	g := &Gateway{cfg: cfg, keys: &platformKeys{keys: channelauth.NewKeySet(nil), refreshGap: cfg.CertificateRefreshGap, now: cfg.Now}}
	if cfg.ChannelPublicKey != nil {
		g.keys.keys.Add(cfg.PublicKeyID, cfg.ChannelPublicKey)
	} else {
		g.keys.download = g.DownloadCertificates
	}
	g.signer = channelauth.NewSigner(scheme, cfg.MerchantID, cfg.MerchantSerialNo, channelauth.RSASign(cfg.PrivateKey), g.keys,
		cfg.MaxClockSkew, cfg.Now)
	g.client = &channelauth.Client{Name: "wechatpay", BaseURL: cfg.BaseURL, HTTP: cfg.HTTPClient, Signer: g.signer,
		ParseError: func(raw []byte) (string, string) {
			var e apiError
			json.Unmarshal(raw, &e)
			return e.Code, e.Message
		}}
	return g, nil
}

// chinaZone is WeChat Pay's time zone.
var chinaZone = channelauth.ChinaStandardTime

// apiError is WeChat Pay's error body.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// partner reports whether the adapter acts as a service provider for a sub-merchant.
func (g *Gateway) partner() bool { return g.cfg.SubMerchantID != "" }

// orderPath is the path of an order by out_trade_no, direct or partner.
func (g *Gateway) orderPath(outTradeNo string) string {
	if g.partner() {
		return "/v3/pay/partner/transactions/out-trade-no/" + url.PathEscape(outTradeNo)
	}
	return "/v3/pay/transactions/out-trade-no/" + url.PathEscape(outTradeNo)
}

// merchantFields name the merchant in a close body or a query: mchid, or sp_mchid and
// sub_mchid.
func (g *Gateway) merchantFields() map[string]string {
	if g.partner() {
		return map[string]string{"sp_mchid": g.cfg.MerchantID, "sub_mchid": g.cfg.SubMerchantID}
	}
	return map[string]string{"mchid": g.cfg.MerchantID}
}

// call sends a signed request and returns the status and verified body of the answer.
func (g *Gateway) call(ctx context.Context, method, path string, in any, key string) (int, []byte, error) {
	return g.client.Call(ctx, method, path, in, key)
}

// checkChannel refuses calls meant for another channel.
func checkChannel(ch core.Channel) error {
	if ch != "" && ch != core.ChannelWeChatPay {
		return fmt.Errorf("wechatpay: a %s call reached the WeChat Pay adapter: %w", ch, core.ErrNotExecuted)
	}
	return nil
}

// Authorize creates a Native order; the answer is the QR code for the payer to scan.
func (g *Gateway) Authorize(ctx context.Context, req core.AuthorizeRequest) (core.AuthorizeResult, error) {
	if err := checkChannel(req.Channel); err != nil {
		return core.AuthorizeResult{}, err
	}
	expires := ceilSecond(g.cfg.Now().Add(g.cfg.OrderTTL))
	desc := req.Reference
	if desc == "" {
		desc = "Payment " + req.PaymentID
	}
	if len(desc) > 127 {
		desc = desc[:127]
	}
	body := map[string]any{"description": desc,
		"out_trade_no": req.PaymentID, "time_expire": expires.In(chinaZone).Format(time.RFC3339),
		"notify_url": g.cfg.NotifyURL, "amount": map[string]any{"total": req.Amount, "currency": strings.ToUpper(req.Currency)}}
	path := "/v3/pay/transactions/native"
	if g.partner() {
		path = "/v3/pay/partner/transactions/native"
		body["sp_appid"], body["sp_mchid"], body["sub_mchid"] = g.cfg.AppID, g.cfg.MerchantID, g.cfg.SubMerchantID
		if g.cfg.SubAppID != "" {
			body["sub_appid"] = g.cfg.SubAppID
		}
	} else {
		body["appid"], body["mchid"] = g.cfg.AppID, g.cfg.MerchantID
	}
	status, raw, err := g.call(ctx, http.MethodPost, path, body, req.Key)
	if err != nil {
		return core.AuthorizeResult{}, err
	}
	if status != http.StatusOK {
		var e apiError
		json.Unmarshal(raw, &e)
		return core.AuthorizeResult{Outcome: core.OutcomeDeclined, DeclineCode: core.CodeProcessingError,
			DeclineMessage: fmt.Sprintf("WeChat Pay refused the order: %s: %s", e.Code, e.Message)}, nil
	}
	var ans struct {
		CodeURL       string `json:"code_url"`
		TransactionID string `json:"transaction_id"`
		TimeExpire    string `json:"time_expire"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil || ans.CodeURL == "" {
		return core.AuthorizeResult{}, fmt.Errorf("wechatpay: malformed order answer %q, outcome unknown", raw)
	}
	// A repeated key replays the first answer, whose expiry is the order's; ours is the
	// fallback for a channel that does not echo it.
	if t, err := time.Parse(time.RFC3339, ans.TimeExpire); err == nil {
		expires = t
	}
	expires = expires.UTC()
	ref := ans.TransactionID
	if ref == "" {
		ref = req.PaymentID
	}
	return core.AuthorizeResult{Outcome: core.OutcomeActionRequired, Reference: ref,
		NextAction: &core.NextAction{Type: "wechat_pay_display_qr_code", QRCode: ans.CodeURL, ExpiresAt: &expires}}, nil
}

// Capture is not supported: WeChat Pay captures when the payer pays.
func (g *Gateway) Capture(ctx context.Context, req core.CaptureRequest) (core.OpResult, error) {
	return core.OpResult{FailureCode: core.CodeInvalidState,
		FailureMessage: "WeChat Pay payments are captured when the payer pays; there is nothing to capture."}, nil
}

// Void closes an unpaid order. It fails (OK false) when the order is already paid.
func (g *Gateway) Void(ctx context.Context, req core.VoidRequest) (core.OpResult, error) {
	if err := checkChannel(req.Channel); err != nil {
		return core.OpResult{}, err
	}
	status, raw, err := g.call(ctx, http.MethodPost, g.orderPath(req.PaymentID)+"/close", g.merchantFields(), req.Key)
	if err != nil {
		return core.OpResult{}, err
	}
	if status == http.StatusNoContent || status == http.StatusOK {
		return core.OpResult{OK: true, Reference: req.PaymentID}, nil
	}
	var e apiError
	json.Unmarshal(raw, &e)
	switch e.Code {
	case "ORDERPAID":
		return core.OpResult{FailureCode: core.CodeInvalidState, FailureMessage: "The WeChat Pay order is already paid."}, nil
	case "ORDER_NOT_EXIST":
		return core.OpResult{FailureCode: core.CodeInvalidState, FailureMessage: "WeChat Pay has no such order."}, nil
	}
	return core.OpResult{FailureCode: core.CodeProcessingError, FailureMessage: fmt.Sprintf("WeChat Pay refused to close: %s: %s", e.Code, e.Message)}, nil
}

type refundAnswer struct {
	RefundID    string `json:"refund_id"`
	OutRefundNo string `json:"out_refund_no"`
	Status      string `json:"status"`
	Amount      struct {
		Refund int64 `json:"refund"`
	} `json:"amount"`
}

// Refund returns money of a paid order; out_refund_no is the refund ID.
func (g *Gateway) Refund(ctx context.Context, req core.RefundRequest) (core.OpResult, error) {
	if err := checkChannel(req.Channel); err != nil {
		return core.OpResult{}, err
	}
	refundID := req.RefundID
	if refundID == "" {
		refundID = strings.TrimSuffix(req.Key, ":refund")
	}
	// WeChat Pay wants the order's total with every refund: ask for it.
	tx, found, err := g.transaction(ctx, req.PaymentID)
	if err != nil {
		return core.OpResult{}, fmt.Errorf("wechatpay: refund %s: reading the order's total: %w", refundID, err)
	}
	if !found {
		return core.OpResult{FailureCode: core.CodeInvalidState, FailureMessage: "WeChat Pay has no such order."}, nil
	}
	body := map[string]any{"out_trade_no": req.PaymentID, "out_refund_no": refundID, "notify_url": g.cfg.NotifyURL,
		"amount": map[string]any{"refund": req.Amount, "total": tx.Amount.Total, "currency": strings.ToUpper(req.Currency)}}
	if g.partner() {
		body["sub_mchid"] = g.cfg.SubMerchantID
	}
	status, raw, err := g.call(ctx, http.MethodPost, "/v3/refund/domestic/refunds", body, req.Key)
	if err != nil {
		return core.OpResult{}, err
	}
	if status == http.StatusOK {
		var ans refundAnswer
		if err := json.Unmarshal(raw, &ans); err != nil {
			return core.OpResult{}, fmt.Errorf("wechatpay: malformed refund answer %q, outcome unknown", raw)
		}
		if ans.Status == "PROCESSING" {
			// WeChat Pay usually answers PROCESSING and notifies the end; ask once.
			rq := "/v3/refund/domestic/refunds/" + url.PathEscape(refundID)
			if g.partner() {
				rq += "?sub_mchid=" + url.QueryEscape(g.cfg.SubMerchantID)
			}
			if st, qraw, err := g.call(ctx, http.MethodGet, rq, nil, ""); err == nil && st == http.StatusOK {
				json.Unmarshal(qraw, &ans)
			}
		}
		switch ans.Status {
		case "SUCCESS":
			return core.OpResult{OK: true, Amount: ans.Amount.Refund, Reference: ans.RefundID}, nil
		case "PROCESSING":
			return core.OpResult{}, fmt.Errorf("wechatpay: refund %s is still processing, outcome unknown", refundID)
		}
		return core.OpResult{FailureCode: core.CodeProcessingError, FailureMessage: "WeChat Pay refund status " + ans.Status, Reference: ans.RefundID}, nil
	}
	var e apiError
	json.Unmarshal(raw, &e)
	switch e.Code {
	case "REFUND_AMOUNT_EXCEEDED":
		return core.OpResult{FailureCode: core.CodeAmountTooLarge, FailureMessage: "The refund exceeds what is left of the WeChat Pay payment."}, nil
	case "TRADE_STATE_ERROR", "ORDER_NOT_EXIST":
		return core.OpResult{FailureCode: core.CodeInvalidState, FailureMessage: "The WeChat Pay order is not paid: " + e.Message}, nil
	}
	return core.OpResult{FailureCode: core.CodeProcessingError, FailureMessage: fmt.Sprintf("WeChat Pay refused the refund: %s: %s", e.Code, e.Message)}, nil
}

// transaction is WeChat Pay's account of an order.
type transaction struct {
	MchID          string `json:"mchid"`
	OutTradeNo     string `json:"out_trade_no"`
	TransactionID  string `json:"transaction_id"`
	TradeState     string `json:"trade_state"`
	TradeStateDesc string `json:"trade_state_desc"`
	SuccessTime    string `json:"success_time"`
	Amount         struct {
		Total    int64  `json:"total"`
		Currency string `json:"currency"`
		Refunded int64  `json:"refunded"`
	} `json:"amount"`
}

// transaction queries an order by out_trade_no; found is false when WeChat Pay has none.
func (g *Gateway) transaction(ctx context.Context, outTradeNo string) (tx transaction, found bool, err error) {
	q := url.Values{}
	for k, v := range g.merchantFields() {
		q.Set(k, v)
	}
	status, raw, err := g.call(ctx, http.MethodGet, g.orderPath(outTradeNo)+"?"+q.Encode(), nil, "")
	if err != nil {
		return tx, false, err
	}
	if status == http.StatusNotFound {
		return tx, false, nil
	}
	if status != http.StatusOK {
		return tx, false, fmt.Errorf("wechatpay: order query answered %d: %s", status, raw)
	}
	if err := json.Unmarshal(raw, &tx); err != nil {
		return tx, false, fmt.Errorf("wechatpay: malformed order %q", raw)
	}
	return tx, true, nil
}

// QueryPayment asks WeChat Pay about the order of a payment.
func (g *Gateway) QueryPayment(ctx context.Context, q core.PaymentQuery) (core.PaymentState, error) {
	if err := checkChannel(q.Channel); err != nil {
		return core.PaymentState{}, err
	}
	tx, found, err := g.transaction(ctx, q.PaymentID)
	if err != nil {
		return core.PaymentState{}, err
	}
	if !found {
		return core.PaymentState{Found: false}, nil
	}
	st := core.PaymentState{Found: true, Reference: tx.TransactionID}
	switch tx.TradeState {
	case "SUCCESS", "REFUND":
		st.Outcome, st.AmountCaptured, st.AmountRefunded = core.OutcomeCaptured, tx.Amount.Total, tx.Amount.Refunded
	case "NOTPAY", "USERPAYING":
		st.Outcome = core.OutcomeActionRequired
	case "CLOSED", "REVOKED":
		st.Outcome, st.Closed = core.OutcomeClosed, true
	case "PAYERROR":
		st.Outcome, st.DeclineCode, st.DeclineMessage = core.OutcomeDeclined, core.CodeProcessingError, tx.TradeStateDesc
	default:
		return core.PaymentState{}, fmt.Errorf("wechatpay: unknown trade_state %q", tx.TradeState)
	}
	return st, nil
}

// Statement lists the day's charges and refunds (UTC day) from WeChat Pay's trade bills
// (GET /v3/bill/tradebill, bill_type ALL). Bills are by China Standard Time day, so a UTC
// day takes the bills of two days, filtered by the time of each line.
func (g *Gateway) Statement(ctx context.Context, channel core.Channel, day time.Time) ([]core.StatementLine, error) {
	if err := checkChannel(channel); err != nil {
		return nil, err
	}
	return channelauth.UTCDayFromChinaBills(day, func(date string) ([]core.StatementLine, error) {
		return g.TradeBill(ctx, date)
	})
}

// TradeBill downloads and parses the trade bill of a China Standard Time day (YYYY-MM-DD),
// checking the file against the SHA-1 WeChat Pay gives for it.
func (g *Gateway) TradeBill(ctx context.Context, billDate string) ([]core.StatementLine, error) {
	billQuery := "/v3/bill/tradebill?bill_date=" + url.QueryEscape(billDate) + "&bill_type=ALL"
	if g.partner() {
		billQuery += "&sub_mchid=" + url.QueryEscape(g.cfg.SubMerchantID)
	}
	status, raw, err := g.call(ctx, http.MethodGet, billQuery, nil, "")
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		var e apiError
		json.Unmarshal(raw, &e)
		return nil, fmt.Errorf("wechatpay: trade bill of %s answered %d: %s: %s", billDate, status, e.Code, e.Message)
	}
	var ans struct {
		HashType    string `json:"hash_type"`
		HashValue   string `json:"hash_value"`
		DownloadURL string `json:"download_url"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil || ans.DownloadURL == "" {
		return nil, fmt.Errorf("wechatpay: malformed trade bill answer %q", raw)
	}
	u, err := url.Parse(ans.DownloadURL)
	if err != nil {
		return nil, fmt.Errorf("wechatpay: trade bill download_url %q: %w", ans.DownloadURL, err)
	}
	// The file is not signed: its SHA-1, in the signed answer above, is the check.
	status, _, file, err := g.client.CallUnverified(ctx, http.MethodGet, u.RequestURI(), nil, "")
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("wechatpay: trade bill file of %s answered %d", billDate, status)
	}
	sum := sha1.Sum(file)
	if ans.HashType != "SHA1" || !strings.EqualFold(hex.EncodeToString(sum[:]), ans.HashValue) {
		return nil, fmt.Errorf("wechatpay: trade bill file of %s does not match its %s hash", billDate, ans.HashType)
	}
	return ParseTradeBill(file)
}

// ParseTradeBill reads a trade bill (bill_type ALL): a header row naming the columns, one
// row per payment or refund with every field led by a backquote and amounts in yuan, then
// the summary rows, which are skipped. Paid rows (交易状态 SUCCESS) are charges of 订单金额;
// refund rows (REFUND) are refunds of 申请退款金额.
func ParseTradeBill(file []byte) ([]core.StatementLine, error) {
	text := strings.TrimPrefix(string(file), "\ufeff")
	rows := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if len(rows) == 0 {
		return nil, errors.New("wechatpay: empty trade bill")
	}
	col := map[string]int{}
	for i, name := range strings.Split(rows[0], ",") {
		col[strings.TrimSpace(name)] = i
	}
	for _, need := range []string{"交易时间", "微信订单号", "商户订单号", "交易状态", "货币种类", "微信退款单号", "商户退款单号", "订单金额", "申请退款金额"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("wechatpay: trade bill without the column %s", need)
		}
	}
	out := []core.StatementLine{}
	for n, row := range rows[1:] {
		if strings.HasPrefix(row, "总交易单数") {
			break
		}
		if strings.TrimSpace(row) == "" {
			continue
		}
		// Every field is led by a backquote, so ",`" separates fields even when a product
		// name holds a comma.
		f := strings.Split(strings.TrimPrefix(strings.TrimSpace(row), "`"), ",`")
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		if len(f) < len(col) {
			return nil, fmt.Errorf("wechatpay: trade bill row %d has %d fields, want %d", n+2, len(f), len(col))
		}
		at, err := time.ParseInLocation("2006-01-02 15:04:05", f[col["交易时间"]], chinaZone)
		if err != nil {
			return nil, fmt.Errorf("wechatpay: trade bill row %d: time %q", n+2, f[col["交易时间"]])
		}
		cur := f[col["货币种类"]]
		if cur == "" {
			cur = "CNY"
		}
		l := core.StatementLine{PaymentID: f[col["商户订单号"]], Currency: cur, At: at.UTC()}
		var amount string
		switch f[col["交易状态"]] {
		case "SUCCESS":
			l.Kind, l.Reference, amount = "charge", f[col["微信订单号"]], f[col["订单金额"]]
		case "REFUND":
			l.Kind, l.Reference, l.RefundID, amount = "refund", f[col["微信退款单号"]], f[col["商户退款单号"]], f[col["申请退款金额"]]
		default:
			continue
		}
		if l.Amount, err = parseYuan(amount, cur); err != nil {
			return nil, fmt.Errorf("wechatpay: trade bill row %d: %w", n+2, err)
		}
		out = append(out, l)
	}
	return out, nil
}

// parseYuan reads a bill amount in major units ("49.90") into minor units.
func parseYuan(s, currency string) (int64, error) {
	exp := core.CurrencyExponent(currency)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > exp || strings.HasPrefix(whole, "-") {
		return 0, fmt.Errorf("bad amount %q", s)
	}
	return strconv.ParseInt(whole+frac+strings.Repeat("0", exp-len(frac)), 10, 64)
}

// ParseNotification verifies a WeChat Pay notification (signature, timestamp, nonce) and
// maps it. Unverifiable notifications are errors wrapping core.ErrBadSignature; they must
// change nothing.
func (g *Gateway) ParseNotification(r *http.Request) (core.Notification, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return core.Notification{}, fmt.Errorf("wechatpay: reading the notification: %w", err)
	}
	if err := g.signer.Verify(r.Header, body, true); err != nil {
		return core.Notification{}, fmt.Errorf("wechatpay notification: %w", err)
	}
	var n struct {
		ID           string    `json:"id"`
		CreateTime   string    `json:"create_time"`
		EventType    string    `json:"event_type"`
		ResourceType string    `json:"resource_type"`
		Resource     encrypted `json:"resource"`
	}
	if err := json.Unmarshal(body, &n); err != nil || n.ID == "" {
		return core.Notification{}, fmt.Errorf("wechatpay: malformed notification %q", body)
	}
	data, err := n.Resource.open(g.cfg.APIv3Key)
	if err != nil {
		return core.Notification{}, fmt.Errorf("wechatpay notification %s: %w", n.ID, err)
	}
	out := core.Notification{Channel: core.ChannelWeChatPay, EventID: n.ID}
	out.Nonce, out.NonceExpires = g.signer.NotificationNonce(r.Header)
	out.OccurredAt, _ = time.Parse(time.RFC3339, n.CreateTime)
	if strings.HasPrefix(n.EventType, "REFUND.") {
		var rf struct {
			RefundID    string `json:"refund_id"`
			OutRefundNo string `json:"out_refund_no"`
			OutTradeNo  string `json:"out_trade_no"`
			Amount      struct {
				Refund   int64  `json:"refund"`
				Currency string `json:"currency"`
			} `json:"amount"`
		}
		if err := json.Unmarshal(data, &rf); err != nil {
			return core.Notification{}, fmt.Errorf("wechatpay: malformed refund notification %q", body)
		}
		out.PaymentID, out.RefundID, out.Reference = rf.OutTradeNo, rf.OutRefundNo, rf.RefundID
		out.Amount, out.Currency = rf.Amount.Refund, rf.Amount.Currency
		out.Outcome = core.OutcomeCaptured
		if n.EventType != "REFUND.SUCCESS" {
			out.Outcome, out.DeclineCode, out.DeclineMessage = core.OutcomeDeclined, core.CodeProcessingError, "WeChat Pay refund "+n.EventType
		}
		return out, nil
	}
	var tx transaction
	if err := json.Unmarshal(data, &tx); err != nil {
		return core.Notification{}, fmt.Errorf("wechatpay: malformed transaction notification %q", body)
	}
	out.PaymentID, out.Reference, out.Amount, out.Currency = tx.OutTradeNo, tx.TransactionID, tx.Amount.Total, tx.Amount.Currency
	switch n.EventType {
	case "TRANSACTION.SUCCESS":
		out.Outcome = core.OutcomeCaptured
	case "TRANSACTION.PAYERROR":
		out.Outcome, out.DeclineCode, out.DeclineMessage = core.OutcomeDeclined, core.CodeProcessingError, tx.TradeStateDesc
	case "TRANSACTION.CLOSED":
		out.Outcome = core.OutcomeClosed
	case "TRANSACTION.NOTPAY":
		out.Outcome = core.OutcomeActionRequired
	default:
		return core.Notification{}, fmt.Errorf("wechatpay: unknown event_type %q", n.EventType)
	}
	return out, nil
}

// NotificationHandler serves NotifyURL: it parses each notification and hands it to sink.
// It answers 204 when sink accepted it (WeChat Pay stops retrying), 401 for notifications
// that do not verify, and 500 when sink fails (WeChat Pay will redeliver).
func (g *Gateway) NotificationHandler(sink func(context.Context, core.Notification) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := g.ParseNotification(r)
		switch {
		case errors.Is(err, core.ErrBadSignature):
			writeAck(w, http.StatusUnauthorized, "FAIL", err.Error())
		case err != nil:
			writeAck(w, http.StatusBadRequest, "FAIL", err.Error())
		case sink(r.Context(), n) != nil:
			writeAck(w, http.StatusInternalServerError, "FAIL", "not processed; retry later")
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

func writeAck(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(apiError{Code: code, Message: msg})
}

// ceilSecond rounds t up to a whole second: WeChat Pay times have no fractions.
func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}
