package alipay

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
	good := map[string]string{"app_id": "2021000000000001", "private_key": string(key), "alipay_public_key": string(pub)}
	for env, want := range map[string]string{"": Production, "production": Production, "sandbox": Sandbox} {
		c := copyOf(good)
		if env != "" {
			c["environment"] = env
		}
		if cfg, base, err := ConfigFromCredentials(c); err != nil || base != want || cfg.AppID != "2021000000000001" {
			t.Fatalf("environment %q: %s %v", env, base, err)
		}
	}
	for param, edit := range map[string]func(map[string]string){
		"credentials[app_id]":            func(m map[string]string) { delete(m, "app_id") },
		"credentials[private_key]":       func(m map[string]string) { m["private_key"] = "MIIB" },
		"credentials[alipay_public_key]": func(m map[string]string) { m["alipay_public_key"] = string(key) },
		"credentials[environment]":       func(m map[string]string) { m["environment"] = "staging" },
		"credentials[sign_type]":         func(m map[string]string) { m["sign_type"] = "RSA" },
	} {
		c := copyOf(good)
		edit(c)
		_, _, err := ConfigFromCredentials(c)
		var ce *core.Error
		if !errors.As(err, &ce) || ce.Param != param {
			t.Errorf("%s: %v", param, err)
		}
	}
}

func copyOf(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestAuthorizedMerchantCredentials(t *testing.T) {
	t.Parallel()
	if ok, err := AuthorizedMerchantCredentials(map[string]string{"app_auth_token": appAuthToken}); !ok || err != nil {
		t.Fatalf("token alone: %v %v", ok, err)
	}
	if ok, _ := AuthorizedMerchantCredentials(map[string]string{"app_auth_token": appAuthToken, "app_id": "2021000000000001"}); ok {
		t.Fatal("a full account with a token counted as an authorising merchant's")
	}
	_, err := AuthorizedMerchantCredentials(map[string]string{"app_auth_token": "short"})
	var ce *core.Error
	if !errors.As(err, &ce) || ce.Param != "credentials[app_auth_token]" {
		t.Fatalf("short token: %v", err)
	}
}
