package banktransfer

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
	for name, creds := range map[string]map[string]string{
		"rsa":  {"client_id": "c1", "private_key": string(key), "bank_public_key": string(pub)},
		"hmac": {"client_id": "c1", "hmac_secret": channeltest.HMACSecret},
	} {
		if _, err := ConfigFromCredentials(creds); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for param, creds := range map[string]map[string]string{
		"credentials[client_id]":       {"hmac_secret": channeltest.HMACSecret},
		"credentials[private_key]":     {"client_id": "c1"},
		"credentials[bank_public_key]": {"client_id": "c1", "private_key": string(key)},
		"credentials[hmac_secret]":     {"client_id": "c1", "hmac_secret": "short"},
		"credentials[base_url]":        {"client_id": "c1", "hmac_secret": channeltest.HMACSecret, "base_url": "http://10.0.0.1"},
	} {
		_, err := ConfigFromCredentials(creds)
		var ce *core.Error
		if !errors.As(err, &ce) || ce.Param != param {
			t.Errorf("%s: %v", param, err)
		}
	}
}
