package alipay

import (
	"github.com/paycenter/paycenter/core/channelauth"
)

// Credential fields of an Alipay application (POST /v1/admin/merchants/{id}/channels/alipay):
//
//	app_id             the application's APPID; required
//	private_key        the application private key (RSA2, PEM or the key tool's base64); required
//	alipay_public_key  Alipay's public key shown for the application (支付宝公钥); required
//	environment        "sandbox" or "production" (the default): which gateway
//	app_auth_token     with the fields above being an ISV's application: the token of the
//	                   merchant that authorised it (第三方应用授权)
//
// A merchant of an ISV platform gives app_auth_token alone: see AuthorizedMerchantCredentials.
//
// ConfigFromCredentials reads them into the merchant's part of a Config and names the
// gateway the environment selects (Sandbox or Production; the caller may override it, e.g.
// with the simulator's URL); problems are core.ParamErrors naming the field as
// credentials[<name>].
func ConfigFromCredentials(creds map[string]string) (cfg Config, baseURL string, err error) {
	c := channelauth.NewCredentials(creds)
	cfg.AppID = c.String("app_id", true)
	cfg.PrivateKey = c.PrivateKey("private_key", true)
	cfg.ChannelPublicKey = c.PublicKey("alipay_public_key", true)
	cfg.AppAuthToken = c.String("app_auth_token", false)
	env := c.String("environment", false)
	c.Check(env == "" || env == "production" || env == "sandbox", "environment", "environment must be sandbox or production, not %q.", env)
	c.Check(len(cfg.AppID) >= 8 && len(cfg.AppID) <= 32 && digitsOnly(cfg.AppID), "app_id", "app_id must be the application's APPID (digits).")
	baseURL = Production
	if env == "sandbox" {
		baseURL = Sandbox
	}
	return cfg, baseURL, c.Err()
}

func digitsOnly(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// AuthorizedMerchantCredentials reports whether creds are an authorising merchant's alone
// (app_auth_token, nothing else): the merchant is served through the platform's ISV
// application. err names a malformed field.
func AuthorizedMerchantCredentials(creds map[string]string) (ok bool, err error) {
	if _, has := creds["app_auth_token"]; !has || len(creds) != 1 {
		return false, nil
	}
	c := channelauth.NewCredentials(creds)
	tok := c.String("app_auth_token", true)
	c.Check(len(tok) >= 16 && len(tok) <= 128, "app_auth_token", "app_auth_token must be the token Alipay issued when the merchant authorised the application.")
	return true, c.Err()
}
