package banktransfer

import (
	"crypto/rsa"

	"github.com/paycenter/paycenter/core/channelauth"
)

// The Authorization schemes of the bank API: SHA256withRSA with the client's key (the
// default), or HMAC-SHA256 with a secret shared with the bank (Config.HMACSecret). Both are
// shaped like WeChat Pay API v3's; answers and notifications carry Simbank-Timestamp, -Nonce,
// -Signature and -Serial, signed the same way (HMAC answers name the serial "HMAC").
var (
	rsaScheme  = channelauth.Scheme{AuthType: "SIMBANK-SHA256-RSA2048", HeaderPrefix: "Simbank", IDField: "client_id", NonceField: "nonce"}
	hmacScheme = channelauth.Scheme{AuthType: "SIMBANK-HMAC-SHA256", HeaderPrefix: "Simbank", IDField: "client_id", NonceField: "nonce"}
)

// hmacSerial is the serial HMAC-signed answers name.
const hmacSerial = "HMAC"

// newSigner makes the signer of cfg's authentication.
func newSigner(cfg Config) *channelauth.Signer {
	if cfg.HMACSecret != "" {
		secret := []byte(cfg.HMACSecret)
		return channelauth.NewSigner(hmacScheme, cfg.ClientID, hmacSerial, channelauth.HMACSign(secret),
			channelauth.HMACVerifier{Serial: hmacSerial, Secret: secret}, cfg.MaxClockSkew, cfg.Now)
	}
	serial := channelauth.KeySerial(&cfg.PrivateKey.PublicKey)
	bank := channelauth.NewKeySet(map[string]*rsa.PublicKey{channelauth.KeySerial(cfg.ChannelPublicKey): cfg.ChannelPublicKey})
	return channelauth.NewSigner(rsaScheme, cfg.ClientID, serial, channelauth.RSASign(cfg.PrivateKey), bank, cfg.MaxClockSkew, cfg.Now)
}
