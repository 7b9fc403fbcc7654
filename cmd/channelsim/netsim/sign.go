package netsim

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// headerScheme is the WeChat Pay API v3 signature scheme (also used, under other names, by
// the bank): the request carries an Authorization header with a client ID, nonce, Unix
// timestamp, the key's serial_no and a SHA256withRSA signature (or, for the bank's HMAC
// clients, HMAC-SHA256) over
//
//	METHOD \n REQUEST-URI \n TIMESTAMP \n NONCE \n BODY \n
//
// and every answer and notification carries <Prefix>Timestamp, <Prefix>Nonce,
// <Prefix>Signature (over TIMESTAMP \n NONCE \n BODY \n) and <Prefix>Serial headers.
type headerScheme struct {
	authType   string // the Authorization scheme, e.g. WECHATPAY2-SHA256-RSA2048
	idParam    string // the parameter naming the client: mchid or client_id
	nonceParam string // nonce_str or nonce
	prefix     string // response header prefix: Wechatpay- or Simbank-
}

var (
	wechatScheme = headerScheme{authType: "WECHATPAY2-SHA256-RSA2048", idParam: "mchid", nonceParam: "nonce_str", prefix: "Wechatpay-"}
	bankScheme   = headerScheme{authType: "SIMBANK-SHA256-RSA2048", idParam: "client_id", nonceParam: "nonce", prefix: "Simbank-"}
)

// bankHMACType is the bank's Authorization scheme for clients with a shared secret, and
// hmacSerial the serial its answers name.
const (
	bankHMACType = "SIMBANK-HMAC-SHA256"
	hmacSerial   = "HMAC"
)

// rsaSign is SHA256withRSA (PKCS #1 v1.5), base64.
func rsaSign(key *rsa.PrivateKey, msg []byte) string {
	sum := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		panic("channelsim: RSA signing: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// rsaVerify checks a base64 SHA256withRSA signature.
func rsaVerify(pub *rsa.PublicKey, msg []byte, sig string) bool {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return false
	}
	sum := sha256.Sum256(msg)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], raw) == nil
}

func hmacSign(secret, msg []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(msg)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

func hmacEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

// wxEncrypted is WeChat Pay's AEAD_AES_256_GCM envelope: a notification's resource, a
// certificate in the certificate download.
type wxEncrypted struct {
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
	OriginalType   string `json:"original_type,omitempty"`
}

// wxEncrypt seals plain with AES-256-GCM under the APIv3 key, a fresh 12-character nonce
// and associated data ad; the ciphertext is base64 of the sealed bytes with the 16-byte tag
// at their end.
func wxEncrypt(apiv3Key string, plain []byte, ad string) wxEncrypted {
	block, err := aes.NewCipher([]byte(apiv3Key))
	if err != nil {
		panic("channelsim: APIv3 key: " + err.Error())
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	nonce := newNonce()[:12]
	ct := gcm.Seal(nil, []byte(nonce), plain, []byte(ad))
	return wxEncrypted{Algorithm: "AEAD_AES_256_GCM", Ciphertext: base64.StdEncoding.EncodeToString(ct), AssociatedData: ad, Nonce: nonce}
}

// requestMessage is what a client signs for a request.
func requestMessage(method, requestURI, timestamp, nonce string, body []byte) []byte {
	return []byte(method + "\n" + requestURI + "\n" + timestamp + "\n" + nonce + "\n" + string(body) + "\n")
}

// responseMessage is what the simulator signs for an answer or a notification.
func responseMessage(timestamp, nonce string, body []byte) []byte {
	return []byte(timestamp + "\n" + nonce + "\n" + string(body) + "\n")
}

// authorization renders an Authorization header value of the scheme.
func (sc headerScheme) authorization(clientID, nonce, timestamp, serial string, sig string) string {
	return fmt.Sprintf(`%s %s="%s",%s="%s",signature="%s",timestamp="%s",serial_no="%s"`, sc.authType,
		sc.idParam, clientID, sc.nonceParam, nonce, sig, timestamp, serial)
}

// parseAuthorization splits `TYPE k1="v1",k2="v2"` into its parameters.
func parseAuthorization(header, authType string) (map[string]string, error) {
	rest, ok := strings.CutPrefix(header, authType+" ")
	if !ok {
		return nil, fmt.Errorf("Authorization must use the %s scheme", authType)
	}
	params := map[string]string{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, fmt.Errorf("malformed Authorization parameter %q", part)
		}
		params[k] = v[1 : len(v)-1]
	}
	return params, nil
}

// newNonce returns 32 random alphanumeric characters.
func newNonce() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// chinaZone is the time zone of WeChat Pay's and Alipay's timestamps (China Standard Time).
var chinaZone = time.FixedZone("CST", 8*60*60)

// alipayTimeLayout is the layout of Alipay's timestamps.
const alipayTimeLayout = "2006-01-02 15:04:05"

// alipaySignContent is what Alipay signs: the parameters other than those excluded, with
// non-empty values, sorted by name and joined as k=v&k=v, values not URL-encoded.
func alipaySignContent(params url.Values, exclude ...string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if params.Get(k) == "" || contains(exclude, k) {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + params.Get(k))
	}
	return b.String()
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// errAuth is an authentication failure: the request was not executed.
type errAuth struct{ code, msg string }

func (e *errAuth) Error() string { return e.code + ": " + e.msg }

var errNoKey = errors.New("no key registered")
