package wechatpay

import (
	"crypto/ed25519"
	"net/http"

	"github.com/paycenter/paycenter/core/channelauth"
)

// scheme is the Authorization scheme: WeChat Pay's WECHATPAY2-SHA256-RSA2048 with Ed25519 in place of RSA.
var scheme = channelauth.Scheme{AuthType: "WECHATPAY2-ED25519", HeaderPrefix: "Wechatpay", IDField: "mchid", NonceField: "nonce_str"}

func keySerial(pub ed25519.PublicKey) string { return channelauth.KeySerial(pub) }

func newNonce() string { return channelauth.NewNonce() }

// authorization signs a request and renders its Authorization header.
func (g *Gateway) authorization(method, uri string, body []byte) string {
	return g.signer.Authorization(method, uri, body)
}

// verify checks the signature headers of an answer or notification (see
// channelauth.Signer.Verify). Errors wrap core.ErrBadSignature.
func (g *Gateway) verify(h http.Header, body []byte, notification bool) error {
	return g.signer.Verify(h, body, notification)
}
