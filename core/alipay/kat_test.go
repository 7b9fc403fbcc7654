package alipay

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/channelauth/channeltest"
)

// Known answers. The parameter sets are those of Alipay's documentation examples (the
// request-signing example's common parameters; the alipay.trade.precreate response example;
// the trade_status_sync notification example, abridged); the documentation does not publish
// the private keys that signed its samples, so the expected signatures are computed once
// with the kit's fixed test keys (channeltest testdata) and pinned. SHA256withRSA (PKCS #1
// v1.5) is deterministic: any change in what we sign, or how, changes them.
const (
	katBizContent = `{"button":[{"actionParam":"ZFB_HFCZ","actionType":"out","name":"话费充值"},{"name":"查询","subButton":[{"actionParam":"ZFB_YECX","actionType":"out","name":"余额查询"}]}]}`
	katSignString = `app_id=2014072300007148&biz_content=` + katBizContent +
		`&charset=GBK&method=alipay.mobile.public.menu.add&sign_type=RSA2&timestamp=2014-07-24 03:07:50&version=1.0`

	katRequestSig  = "BHBKMzpRa5tkTfBxqrALw7gCE63l2kF21upm8+t8PzgFPvgvqH6sOKa/ERe7QfR3q6xXgnznjTFCmYuiozJKDtOFEtWvNfzGxt4ksnKEvfH8E3hVTDAH5FnuJtUFi+4lV/No+9V220eQJEQu1Et6ohnA8Wf0tmOMEEaKK9qEUkVXaCwh+xamtlxzE4MG03ybI3E1w99d/GImhq07uRdDFHj/hPZl99FsamftLRcFloHevm5c0DpyHb59MtkUJ4b2mXvw69api4HsAfse6/rcHsO4Wgv6Jsf8PUevWwtV960F1+4O+MbtFGKGc8i96n6441wiufzr9f1uL7ci2/4mvA=="
	katResponseSig = "29vrUi6nYf01NBsFg+/30DFrPAqOIPWKUtFQlxMwTbyxGlY9tBkHIGPS9yEdiz4doJkj6LZYF7A7R5djz2nmho0lktrl71eKNcr51Y7VPpAo4WDf7Iw9jrtgG6dFXLhi2Klmnq6qcGCrpbMBVuAnTMSWkjhEJxt+qYR3dXbtw9Uq7TA9FOCEDoyy1VA6Tb4wyuHwBEWfU/QxvssGyZe2+ElslhsMH29R1jfTGDJBHGNdDeLUwaH/zzMdiv+vQjSEPHYfa0bh/Ab+wfyjzxCP09ulM24He8IfOtxSUiihmQDGX4cXnwQfAQxgd7byQoBwXi5BPiTzzCO8m8PZbeLgZA=="
	katNotifySig   = "i2E6d82m6Nm1OYR1aBmac23shz04Sj1DgoC7Vf04tFyfJA1z1e4tS1PNxZrJ8QGX/ChqpDtoZCIggJbJqiYePDJHZSY4DeoGXrOsAsa/aKHs2yCPUxsquJXsmw6v740P7Vn/KwY+d5iI93DaPk3VKs/P6jW0/2geIrqjaqcURUEmcDmBzW/OVO4A5JU1zKhj3pRQjzTwKm/OkVtn+DzhZk8aG3FYcZf6UWLiLagbyRttlvhxRluTt7/38mFEzV73poZhwozuCX4AJhjtNnFV+e9+FHLMZjiJcCbm2+mpQMFD7+lC8xgl5GAePSXxEEjhNY12m0QzI5hQZc9QnzIWgA=="

	katResponseObj = `{"code":"10000","msg":"Success","out_trade_no":"6823789339978248","qr_code":"https://qr.alipay.com/bavh4wjlxf12tper3a"}`
	katResponse    = `{"alipay_trade_precreate_response":` + katResponseObj + `,"sign":"` + katResponseSig + `"}`

	katNotify = "gmt_create=2015-04-27+15%3A45%3A57&charset=UTF-8&gmt_payment=2015-04-27+15%3A45%3A57&notify_time=2015-04-27+15%3A45%3A58" +
		"&subject=%E6%B5%8B%E8%AF%95&buyer_id=2088102122524333&invoice_amount=0.01&version=1.0&notify_id=4a91b7a78a503640467525113fb7d8bg8e" +
		"&notify_type=trade_status_sync&out_trade_no=20150427154515&total_amount=0.01&trade_status=TRADE_SUCCESS&trade_no=2015042721001004330049370054" +
		"&auth_app_id=2015102700040153&receipt_amount=0.01&app_id=2015102700040153&buyer_pay_amount=0.01&sign_type=RSA2&seller_id=2088102119685838"
)

func katRequest() url.Values {
	return url.Values{"app_id": {"2014072300007148"}, "method": {"alipay.mobile.public.menu.add"}, "charset": {"GBK"},
		"sign_type": {"RSA2"}, "timestamp": {"2014-07-24 03:07:50"}, "biz_content": {katBizContent}, "version": {"1.0"},
		"sign": {"ignored"}, "notify_url": {""}}
}

func katGateway(t *testing.T, now time.Time) *Gateway {
	t.Helper()
	g, err := New(Config{AppID: "2015102700040153", BaseConfig: channelauth.BaseConfig{BaseURL: "http://127.0.0.1:1",
		PrivateKey: channeltest.MerchantKey(), ChannelPublicKey: &channeltest.ChannelKey().PublicKey, NotifyURL: "http://127.0.0.1:1/n",
		Now: func() time.Time { return now }}})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestKnownAnswerRequestSignature(t *testing.T) {
	t.Parallel()
	p := katRequest()
	if got := SignContent(p, "sign"); got != katSignString {
		t.Fatalf("sign content\n%s\nwant the documented\n%s", got, katSignString)
	}
	g := katGateway(t, time.Now())
	if err := g.sign(p); err != nil || p.Get("sign") != katRequestSig {
		t.Fatalf("sign %q %v, want the pinned %q", p.Get("sign"), err, katRequestSig)
	}
	p.Set("biz_content", strings.Replace(katBizContent, "话费充值", "话费", 1))
	if channelauth.VerifyRSA(&channeltest.MerchantKey().PublicKey, []byte(SignContent(p, "sign")), katRequestSig) == nil {
		t.Fatal("the signature does not cover biz_content")
	}
}

func TestKnownAnswerResponseVerification(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := katResponse
		if r.FormValue("biz_content") == `{"out_trade_no":"tampered"}` {
			body = strings.Replace(body, "bavh4wjlxf12tper3a", "bavh4wjlxf12tper3b", 1)
		}
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.Write([]byte(body))
	}))
	defer srv.Close()
	g := katGateway(t, time.Now())
	g.cfg.BaseURL = srv.URL
	res, raw, err := g.call(ctx, "alipay.trade.precreate", map[string]string{"out_trade_no": "6823789339978248"}, "", false)
	if err != nil || res.Code != "10000" || string(raw) != katResponseObj {
		t.Fatalf("the documented answer with the pinned sign: %+v %s %v", res, raw, err)
	}
	if _, _, err := g.call(ctx, "alipay.trade.precreate", map[string]string{"out_trade_no": "tampered"}, "", false); !errors.Is(err, core.ErrBadSignature) {
		t.Fatalf("a tampered answer: %v", err)
	}
}

func TestKnownAnswerNotification(t *testing.T) {
	t.Parallel()
	at, _ := time.ParseInLocation(timeLayout, "2015-04-27 15:45:58", chinaZone)
	notify := func(body string) *http.Request {
		return httptest.NewRequest(http.MethodPost, "/notify", strings.NewReader(body))
	}
	signed := katNotify + "&sign=" + url.QueryEscape(katNotifySig)
	g := katGateway(t, at.Add(time.Minute))
	n, err := g.ParseNotification(notify(signed))
	if err != nil || n.PaymentID != "20150427154515" || n.Amount != 1 || n.Outcome != core.OutcomeCaptured || n.EventID != "4a91b7a78a503640467525113fb7d8bg8e" {
		t.Fatalf("the documented notification with the pinned sign: %+v %v", n, err)
	}
	for name, tc := range map[string]struct {
		g    *Gateway
		body string
	}{
		"replayed delivery":   {g, signed},
		"tampered amount":     {katGateway(t, at), strings.Replace(signed, "total_amount=0.01", "total_amount=100.00", 1)},
		"sign_type not RSA2":  {katGateway(t, at), strings.Replace(signed, "sign_type=RSA2", "sign_type=RSA", 1)},
		"expired notify_time": {katGateway(t, at.Add(5*time.Minute+time.Second)), signed},
		"unsigned":            {katGateway(t, at), katNotify},
	} {
		t.Run(name, func(t *testing.T) {
			if n, err := tc.g.ParseNotification(notify(tc.body)); !errors.Is(err, core.ErrBadSignature) {
				t.Fatalf("got %+v %v, want ErrBadSignature", n, err)
			}
		})
	}
}
