package wechatpay

import (
	"github.com/paycenter/paycenter/core/channelauth"
)

// Credential fields of a WeChat Pay merchant (POST /v1/admin/merchants/{id}/channels/wechat_pay):
//
//	mchid          the merchant ID (商户号); required
//	serial_no      the serial number of the merchant API certificate; required
//	private_key    the merchant API private key, apiclient_key.pem; required
//	apiv3_key      the 32-byte APIv3 key; required
//	appid          the appid orders belong to; optional
//	public_key_id  with wechatpay_public_key: the WeChat Pay public key and its ID
//	               (PUB_KEY_ID_…), public-key mode; both left out: platform certificates
//	               are downloaded
//	environment    "production" (the default); API v3 has no sandbox
//	sub_mchid      with the fields above being a service provider's (服务商): the
//	sub_appid      sub-merchant it acts for, and the sub-merchant's appid (optional)
//
// A merchant of a service-provider platform gives sub_mchid (and sub_appid) alone: see
// SubMerchantCredentials.
//
// ConfigFromCredentials reads them into the merchant's part of a Config (the caller sets
// BaseConfig's BaseURL, NotifyURL and the rest); problems are core.ParamErrors naming the
// field as credentials[<name>].
func ConfigFromCredentials(creds map[string]string) (Config, error) {
	c := channelauth.NewCredentials(creds)
	cfg := Config{MerchantID: c.String("mchid", true), MerchantSerialNo: c.String("serial_no", true),
		APIv3Key: c.String("apiv3_key", true), AppID: c.String("appid", false), PublicKeyID: c.String("public_key_id", false),
		SubMerchantID: c.String("sub_mchid", false), SubAppID: c.String("sub_appid", false)}
	cfg.PrivateKey = c.PrivateKey("private_key", true)
	cfg.ChannelPublicKey = c.PublicKey("wechatpay_public_key", false)
	env := c.String("environment", false)
	c.Check(env == "" || env == "production", "environment", "WeChat Pay API v3 has no sandbox: environment must be production (or left out), not %q.", env)
	c.Check(len(cfg.MerchantID) >= 8 && len(cfg.MerchantID) <= 32 && digits(cfg.MerchantID), "mchid", "mchid must be the merchant's 8 to 32 digit ID.")
	c.Check(len(cfg.MerchantSerialNo) >= 16 && hexString(cfg.MerchantSerialNo), "serial_no", "serial_no must be the certificate's serial number in hex.")
	c.Check(len(cfg.APIv3Key) == 32, "apiv3_key", "apiv3_key must be the 32-byte APIv3 key, not %d bytes.", len(cfg.APIv3Key))
	c.Check((cfg.PublicKeyID == "") == (cfg.ChannelPublicKey == nil), "public_key_id", "public_key_id and wechatpay_public_key go together (public-key mode).")
	c.Check(cfg.SubMerchantID == "" || digits(cfg.SubMerchantID), "sub_mchid", "sub_mchid must be the sub-merchant's ID (digits).")
	return cfg, c.Err()
}

// SubMerchantCredentials reports whether creds are a sub-merchant's alone (sub_mchid and
// optionally sub_appid, nothing else): the merchant is served through the platform's
// service-provider account. err names a malformed field.
func SubMerchantCredentials(creds map[string]string) (ok bool, err error) {
	if _, has := creds["sub_mchid"]; !has {
		return false, nil
	}
	for k := range creds {
		if k != "sub_mchid" && k != "sub_appid" {
			return false, nil
		}
	}
	c := channelauth.NewCredentials(creds)
	sub := c.String("sub_mchid", true)
	c.String("sub_appid", false)
	c.Check(len(sub) >= 8 && len(sub) <= 32 && digits(sub), "sub_mchid", "sub_mchid must be the sub-merchant's 8 to 32 digit ID.")
	return true, c.Err()
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func hexString(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return s != ""
}
