package banktransfer

import (
	"github.com/paycenter/paycenter/core/channelauth"
)

// Credential fields of a bank client (POST /v1/admin/merchants/{id}/channels/bank_transfer):
//
//	client_id        the client ID at the bank; required
//	private_key      the client's RSA private key, with
//	bank_public_key  the bank's RSA public key (RSA authentication), or
//	hmac_secret      a secret shared with the bank (HMAC-SHA256 authentication)
//
// ConfigFromCredentials reads them into the merchant's part of a Config; problems are
// core.ParamErrors naming the field as credentials[<name>].
func ConfigFromCredentials(creds map[string]string) (Config, error) {
	c := channelauth.NewCredentials(creds)
	cfg := Config{ClientID: c.String("client_id", true), HMACSecret: c.String("hmac_secret", false)}
	cfg.PrivateKey = c.PrivateKey("private_key", false)
	cfg.ChannelPublicKey = c.PublicKey("bank_public_key", false)
	if cfg.HMACSecret == "" {
		c.Check(cfg.PrivateKey != nil, "private_key", "credentials need private_key and bank_public_key, or hmac_secret.")
		c.Check(cfg.ChannelPublicKey != nil, "bank_public_key", "credentials need private_key and bank_public_key, or hmac_secret.")
	} else {
		c.Check(len(cfg.HMACSecret) >= 16, "hmac_secret", "hmac_secret must have at least 16 bytes.")
		c.Check(cfg.PrivateKey == nil && cfg.ChannelPublicKey == nil, "hmac_secret", "hmac_secret and RSA keys exclude each other.")
	}
	return cfg, c.Err()
}
