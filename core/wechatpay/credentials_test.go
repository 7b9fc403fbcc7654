package wechatpay

import (
	"errors"
	"testing"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/channelauth/channeltest"
)

func TestConfigFromCredentials(t *testing.T) {
	t.Parallel()
	key, _ := channelauth.MarshalPrivateKeyPEM(channeltest.MerchantKey())
	pub, _ := channelauth.MarshalPublicKeyPEM(&channeltest.ChannelKey().PublicKey)
	good := map[string]string{"mchid": "1230000109", "serial_no": merchantSerial, "private_key": string(key), "apiv3_key": channeltest.APIv3Key}
	cfg, err := ConfigFromCredentials(good)
	if err != nil || cfg.MerchantID != "1230000109" || cfg.PrivateKey == nil || cfg.ChannelPublicKey != nil {
		t.Fatalf("good credentials: %+v %v", cfg, err)
	}
	withPub := with(good, map[string]string{"public_key_id": "PUB_KEY_ID_0114232134912410000000000000000001", "wechatpay_public_key": string(pub)})
	if cfg, err := ConfigFromCredentials(withPub); err != nil || cfg.ChannelPublicKey == nil {
		t.Fatalf("public-key mode: %v", err)
	}
	for param, creds := range map[string]map[string]string{
		"credentials[mchid]":                with(good, map[string]string{"mchid": "12ab"}),
		"credentials[serial_no]":            with(good, map[string]string{"serial_no": ""}),
		"credentials[private_key]":          with(good, map[string]string{"private_key": string(pub)}),
		"credentials[apiv3_key]":            with(good, map[string]string{"apiv3_key": "short"}),
		"credentials[public_key_id]":        with(good, map[string]string{"wechatpay_public_key": string(pub)}),
		"credentials[wechatpay_public_key]": with(good, map[string]string{"public_key_id": "X", "wechatpay_public_key": "not a key"}),
		"credentials[environment]":          with(good, map[string]string{"environment": "sandbox"}),
		"credentials[key]":                  with(good, map[string]string{"key": "a v2 key"}),
	} {
		_, err := ConfigFromCredentials(creds)
		var ce *core.Error
		if !errors.As(err, &ce) || ce.Param != param {
			t.Errorf("%s: %v", param, err)
		}
	}
}

func with(m map[string]string, set map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	for k, v := range set {
		if v == "" {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}
