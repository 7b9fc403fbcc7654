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
//
// ConfigFromCredentials reads them into the merchant's part of a Config (the caller sets
// BaseConfig's BaseURL, NotifyURL and the rest); problems are core.ParamErrors naming the
// field as credentials[<name>].
func ConfigFromCredentials(creds map[string]string) (Config, error) {
	c := channelauth.NewCredentials(creds)
	cfg := Config{MerchantID: c.String("mchid", true), MerchantSerialNo: c.String("serial_no", true),
		APIv3Key: c.String("apiv3_key", true), AppID: c.String("appid", false), PublicKeyID: c.String("public_key_id", false)}
	cfg.PrivateKey = c.PrivateKey("private_key", true)
	cfg.ChannelPublicKey = c.PublicKey("wechatpay_public_key", false)
	env := c.String("environment", false)
	c.Check(env == "" || env == "production", "environment", "WeChat Pay API v3 has no sandbox: environment must be production (or left out), not %q.", env)
	c.Check(len(cfg.MerchantID) >= 8 && len(cfg.MerchantID) <= 32 && digits(cfg.MerchantID), "mchid", "mchid must be the merchant's 8 to 32 digit ID.")
	c.Check(len(cfg.MerchantSerialNo) >= 16 && hexString(cfg.MerchantSerialNo), "serial_no", "serial_no must be the certificate's serial number in hex.")
	c.Check(len(cfg.APIv3Key) == 32, "apiv3_key", "apiv3_key must be the 32-byte APIv3 key, not %d bytes.", len(cfg.APIv3Key))
	c.Check((cfg.PublicKeyID == "") == (cfg.ChannelPublicKey == nil), "public_key_id", "public_key_id and wechatpay_public_key go together (public-key mode).")
	return cfg, c.Err()
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
