package banktransfer

import (
	"crypto/ed25519"
	"net/http"

	"github.com/paycenter/paycenter/core/channelauth"
)

// scheme is the Authorization scheme: the bank API's scheme, shaped like WeChat Pay API v3's.
var scheme = channelauth.Scheme{AuthType: "SIMBANK-ED25519", HeaderPrefix: "Simbank", IDField: "client_id", NonceField: "nonce"}

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
