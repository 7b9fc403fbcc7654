package wechatpay

import (
	"crypto/rsa"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/channelauth/channeltest"
)

// Known answers. The signature base strings are the ones WeChat Pay's API v3 documentation
// builds in its examples (签名生成: GET /v3/certificates at timestamp 1554208460 with nonce
// 593BEC0C930BF1AFEB40B4A08C8FB242; the Native order example body; 应答签名 over
// "timestamp\nnonce\nbody\n"). The documentation does not publish the private keys of its
// signed samples, so the expected signatures here are computed once with the kit's fixed
// test keys (channeltest testdata) and pinned: SHA256withRSA (PKCS #1 v1.5) is
// deterministic, so any change in what we sign or how changes them. The AES-256-GCM
// ciphertext is likewise pinned for the kit's APIv3 key and the documented 12-byte nonce
// form.
const (
	katTimestamp = "1554208460"
	katNonce     = "593BEC0C930BF1AFEB40B4A08C8FB242"
	katMchID     = "1900009191"
	katSerial    = "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"

	katGetCertificatesSig = "Uz0qqst/Mz9srsh1TDAZfnh0gXCe/4qILIuBis1qOY77gTYCcAIAUyu2MQR+wjs1N973hCuvVx4ettcCCovwBIgHVuzjdRR/uB3Tr+xZ2SOBXmINwibDUXPQl8OJqfjhp0QkpEPBxS1AQDA7uBcwR0jbuenPaIBOz1RarxPA+ZO48tUayUMfT1G070LFnHhiyWeMYv0U8rIMjMBomBCRORYyAe2aQN6vpFaWLWjbXU96P/AjiHEknQPzEf2uUq9Sr0SX0EZt8rBLbPZqan3jkKDDCbv47O3s4HQqxbgWoxanqXtJOd1vWWiuAa+SZBPZZMybrITafc/ReZzR6M5HEw=="

	katNativeBody = `{"appid":"wxd678efh567hg6787","mchid":"1230000109","description":"Image形象店-深圳腾大-QQ公仔","out_trade_no":"1217752501201407033233368018","notify_url":"https://www.weixin.qq.com/wxpay/pay.php","amount":{"total":100,"currency":"CNY"}}`
	katNativeSig  = "YCNElO8vkLNlb8k1kKnuG4VhMelgp0vdf9t6fsWq7kp9inYS0oCQ0MWw08/v7CBFkQ3ngOCRu8CqlQZQWC6f/74Qlxr3sUtn2RQ/oVkQ+5cYnnuw0V+PB8oSOWFo911vOHAXnr0wDdXEi0x9btwX7ir9o2XRm6p0Rs7VF1cLKlf2o7qRgQb78KnbL75jXPE1UdzGAmY28sdvxg0RdndpdkhxDEFKeP5V4q/rijFVcoqzviePH/+xVNhPIthy98bu5PfdQxqKkM9YZ0fQxZpGd2czU7cMFMP6VdmTkT/R9Jo8/h1CxGOImEv+1uCEIueAHNL6Ue/lP2gzQTOgMXJQ1A=="

	katRespTimestamp = "1554209980"
	katRespNonce     = "c5ac7061fccab6bf3e254dcf98995b8c"
	katRespBody      = `{"code_url":"weixin://wxpay/bizpayurl?pr=p4lpSuKzz"}`
	katRespSig       = "tJ8xutwNuIhDkCn3dl6ttE3Z49skoDwC0N+NXfJFHEyVoAG2vnvnpiY+H+cPRFm054nz4rYLV9gk4SEBHou9p+fNKZvMwklR9TBNsMGg0fS4TwiKgI5W5jJQejLdZFhxuiKYRX4fHgc67hjqIsXn9+GgqumBhanDDseYyC5f/9Knw3Sw8YIsoVZx7C1ymV5N340ZziCMp6N08AqHqRtVy1FR78e14ui0k3nKyxHETHOEsMiYpLkudBZUl/f+OhS5sZM0MyrBt6rs5/OEgZ0cEGoAciPW4Er1z1Q8H8AEy3oUEiA/q1zlo8+Tv4qN1lWP730UijYkFUd6+85nVuoigg=="

	katResourceNonce = "fdasflkja484"
	katResourcePlain = `{"mchid":"1230000109","out_trade_no":"1217752501201407033233368018","transaction_id":"1217752501201407033233368018","trade_state":"SUCCESS","amount":{"total":100,"currency":"CNY"}}`
	katResourceCT    = "wKTpWoknvWV3bMtl5AwTnx7Edg+oNq+D4JBCIZh/GvUVKFD8+I5WVy0HxHPkNV5rfL2+AndDZfBBsfg2LnwQmZSH5rvZ9vHT6Qh7SmUibQiAjKQJglFCLwq2lOgpbcujp97Y97kiaMkjvhwuzOaTWG0CC+qrD7RjEcGAjfVVz+WmwI7CLcmGDGH3641PW/NmBxzS7c8CjR86D2WShzsqFAs2Jecd9+E+MuoSQHRkedt+uCYroE/Wwn64Xtcl2rGECE8c/g=="
)

func katSigner() *channelauth.Signer {
	return channelauth.NewSigner(scheme, katMchID, katSerial, channelauth.RSASign(channeltest.MerchantKey()),
		channelauth.NewKeySet(map[string]*rsa.PublicKey{katSerial: &channeltest.ChannelKey().PublicKey}), channelauth.DefaultMaxClockSkew, nil)
}

func TestKnownAnswerRequestSignatures(t *testing.T) {
	t.Parallel()
	wantMsg := "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
	if got := string(channelauth.RequestMessage("GET", "/v3/certificates", katTimestamp, katNonce, nil)); got != wantMsg {
		t.Fatalf("base string %q, want the documented %q", got, wantMsg)
	}
	for _, tc := range []struct {
		name, method, uri, body, want string
	}{
		{"GET /v3/certificates", "GET", "/v3/certificates", "", katGetCertificatesSig},
		{"POST native order", "POST", "/v3/pay/transactions/native", katNativeBody, katNativeSig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, err := katSigner().AuthorizationAt(tc.method, tc.uri, katTimestamp, katNonce, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			want := AuthType + ` mchid="1900009191",nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242",signature="` + tc.want +
				`",timestamp="1554208460",serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"`
			if h != want {
				t.Fatalf("Authorization\n%s\nwant\n%s", h, want)
			}
			if err := channelauth.VerifyRSA(&channeltest.MerchantKey().PublicKey,
				channelauth.RequestMessage(tc.method, tc.uri, katTimestamp, katNonce, []byte(tc.body)), tc.want); err != nil {
				t.Fatalf("the pinned signature does not verify: %v", err)
			}
		})
	}
}

func TestKnownAnswerResponseVerification(t *testing.T) {
	t.Parallel()
	at := func(ts string) func() time.Time {
		return func() time.Time { u, _ := strconv.ParseInt(ts, 10, 64); return time.Unix(u, 0) }
	}
	s := channelauth.NewSigner(scheme, katMchID, katSerial, channelauth.RSASign(channeltest.MerchantKey()),
		channelauth.NewKeySet(map[string]*rsa.PublicKey{katSerial: &channeltest.ChannelKey().PublicKey}), channelauth.DefaultMaxClockSkew, at(katRespTimestamp))
	header := func(mod func(http.Header)) http.Header {
		h := http.Header{"Wechatpay-Timestamp": {katRespTimestamp}, "Wechatpay-Nonce": {katRespNonce},
			"Wechatpay-Signature": {katRespSig}, "Wechatpay-Serial": {katSerial}}
		if mod != nil {
			mod(h)
		}
		return h
	}
	if got, _ := channelauth.SignRSA(channeltest.ChannelKey(), channelauth.ResponseMessage(katRespTimestamp, katRespNonce, []byte(katRespBody))); got != katRespSig {
		t.Fatalf("answer signature %s, want the pinned %s", got, katRespSig)
	}
	for _, tc := range []struct {
		name string
		h    http.Header
		body string
		ok   bool
	}{
		{"genuine", header(nil), katRespBody, true},
		{"tampered body", header(nil), strings.Replace(katRespBody, "p4lp", "p4lq", 1), false},
		{"wrong serial", header(func(h http.Header) { h.Set("Wechatpay-Serial", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1") }), katRespBody, false},
		{"other nonce", header(func(h http.Header) { h.Set("Wechatpay-Nonce", katNonce) }), katRespBody, false},
		{"signature of another key", header(func(h http.Header) {
			sig, _ := channelauth.SignRSA(channeltest.OtherKey(), channelauth.ResponseMessage(katRespTimestamp, katRespNonce, []byte(katRespBody)))
			h.Set("Wechatpay-Signature", sig)
		}), katRespBody, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Verify(tc.h, []byte(tc.body), false)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, core.ErrBadSignature)) {
				t.Fatalf("verify: %v, want ok=%v", err, tc.ok)
			}
		})
	}
	t.Run("expired timestamp", func(t *testing.T) {
		late := channelauth.NewSigner(scheme, katMchID, katSerial, channelauth.RSASign(channeltest.MerchantKey()),
			channelauth.NewKeySet(map[string]*rsa.PublicKey{katSerial: &channeltest.ChannelKey().PublicKey}), channelauth.DefaultMaxClockSkew, at("1554210281"))
		if err := late.Verify(header(nil), []byte(katRespBody), false); !errors.Is(err, core.ErrBadSignature) || !strings.Contains(err.Error(), "stale") {
			t.Fatalf("verify 5 min 1 s later: %v", err)
		}
	})
}

func TestKnownAnswerResourceDecryption(t *testing.T) {
	t.Parallel()
	plain, err := DecryptResource(channeltest.APIv3Key, katResourceNonce, "transaction", katResourceCT)
	if err != nil || string(plain) != katResourcePlain {
		t.Fatalf("decrypt: %q %v", plain, err)
	}
	for name, in := range map[string][3]string{
		"other associated data": {katResourceNonce, "refund", katResourceCT},
		"other nonce":           {"fdasflkja485", "transaction", katResourceCT},
		"tampered ciphertext":   {katResourceNonce, "transaction", "A" + katResourceCT[1:]},
	} {
		if _, err := DecryptResource(channeltest.APIv3Key, in[0], in[1], in[2]); !errors.Is(err, core.ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
	if _, err := DecryptResource("another APIv3 key of 32 bytes!!!", katResourceNonce, "transaction", katResourceCT); !errors.Is(err, core.ErrBadSignature) {
		t.Errorf("another APIv3 key: %v", err)
	}
}
