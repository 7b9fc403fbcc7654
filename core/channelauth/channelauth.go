// Package channelauth signs the platform's requests to payment channels and verifies the
// channels' answers and notifications, in the header scheme of WeChat Pay API v3 (also used,
// with other names, by the bank): an Authorization header carrying the client ID, a nonce, a
// Unix timestamp, the signing key's serial and a signature over
//
//	HTTP method \n URL path with query \n timestamp \n nonce \n body \n
//
// and answers and notifications signed over "timestamp \n nonce \n body \n" in
// <Prefix>-Timestamp, -Nonce, -Signature and -Serial headers. The signature is
// SHA256withRSA (RSASSA-PKCS1-v1_5 with SHA-256, base64), WeChat Pay's
// WECHATPAY2-SHA256-RSA2048, or, for a bank that uses shared secrets, HMAC-SHA256. Alipay's
// form signing is its own (core/alipay) and shares the RSA helpers.
//
// The channel simulator (cmd/channelsim/netsim) implements the channel side independently, so a
// mistake here is not mirrored there.
package channelauth

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paycenter/paycenter/core"
)

// Scheme names one channel's variant of the header scheme.
type Scheme struct {
	AuthType     string // the Authorization scheme, e.g. "WECHATPAY2-SHA256-RSA2048"
	HeaderPrefix string // e.g. "Wechatpay": Wechatpay-Timestamp, -Nonce, -Signature, -Serial
	IDField      string // the client ID's field in Authorization, e.g. "mchid"
	NonceField   string // the nonce's field in Authorization, e.g. "nonce_str"
}

// RequestMessage is what the client signs: METHOD, request URI, timestamp, nonce and body,
// each followed by a newline.
func RequestMessage(method, uri, timestamp, nonce string, body []byte) []byte {
	return []byte(method + "\n" + uri + "\n" + timestamp + "\n" + nonce + "\n" + string(body) + "\n")
}

// ResponseMessage is what the channel signs in answers and notifications.
func ResponseMessage(timestamp, nonce string, body []byte) []byte {
	return []byte(timestamp + "\n" + nonce + "\n" + string(body) + "\n")
}

// NewNonce is 128 random bits, upper-case hex (32 characters, WeChat Pay's nonce_str length).
func NewNonce() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

// SignRSA is SHA256withRSA: RSASSA-PKCS1-v1_5 over the SHA-256 of msg, base64. It is
// deterministic: the same key and message always give the same signature.
func SignRSA(key *rsa.PrivateKey, msg []byte) (string, error) {
	sum := sha256.Sum256(msg)
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifyRSA checks a base64 SHA256withRSA signature of msg.
func VerifyRSA(pub *rsa.PublicKey, msg []byte, sig string) error {
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return errors.New("signature is not base64")
	}
	sum := sha256.Sum256(msg)
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], raw)
}

// SignHMAC is HMAC-SHA256 of msg under secret, base64.
func SignHMAC(secret []byte, msg []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(msg)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Verifier checks the signature of an answer or notification made with the key named by
// serial. Errors say why; the Signer wraps them in core.ErrBadSignature.
type Verifier interface {
	Verify(serial string, msg []byte, sig string) error
}

// KeySet is a Verifier over RSA public keys by serial: WeChat Pay's platform certificates
// (several during a rotation) or its public key, the bank's key. It is safe for concurrent
// use; Add and Replace let a certificate download change it while calls verify.
type KeySet struct {
	mu   sync.RWMutex
	keys map[string]*rsa.PublicKey
}

// NewKeySet makes a KeySet of keys by serial.
func NewKeySet(keys map[string]*rsa.PublicKey) *KeySet {
	ks := &KeySet{keys: map[string]*rsa.PublicKey{}}
	for s, k := range keys {
		ks.keys[s] = k
	}
	return ks
}

// Add trusts pub under serial.
func (ks *KeySet) Add(serial string, pub *rsa.PublicKey) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	ks.keys[serial] = pub
}

// Has reports whether serial names a trusted key.
func (ks *KeySet) Has(serial string) bool {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	return ks.keys[serial] != nil
}

// Serials lists the trusted serials.
func (ks *KeySet) Serials() []string {
	ks.mu.RLock()
	defer ks.mu.RUnlock()
	out := make([]string, 0, len(ks.keys))
	for s := range ks.keys {
		out = append(out, s)
	}
	return out
}

// Verify checks sig with the key named serial.
func (ks *KeySet) Verify(serial string, msg []byte, sig string) error {
	ks.mu.RLock()
	pub := ks.keys[serial]
	ks.mu.RUnlock()
	if pub == nil {
		return fmt.Errorf("signed with unknown key serial %q", serial)
	}
	if err := VerifyRSA(pub, msg, sig); err != nil {
		return errors.New("signature does not verify")
	}
	return nil
}

// HMACVerifier is a Verifier for a secret shared with the channel, named by serial.
type HMACVerifier struct {
	Serial string
	Secret []byte
}

// Verify checks an HMAC-SHA256 signature in constant time.
func (v HMACVerifier) Verify(serial string, msg []byte, sig string) error {
	if serial != v.Serial {
		return fmt.Errorf("signed with unknown key serial %q", serial)
	}
	if !hmac.Equal([]byte(SignHMAC(v.Secret, msg)), []byte(sig)) {
		return errors.New("signature does not verify")
	}
	return nil
}

// Signer signs one client's requests and verifies one channel's answers and notifications.
type Signer struct {
	scheme   Scheme
	id       string
	serial   string
	sign     func(msg []byte) (string, error)
	verifier Verifier
	maxSkew  time.Duration
	now      func() time.Time
	nonces   *NonceCache
}

// NewSigner makes a signer for client id whose requests sign returns signatures of, with
// the key named serial (WeChat Pay's merchant certificate serial_no), trusting verifier;
// answers and notifications more than maxSkew from now() are refused, and notification
// nonces are remembered twice as long.
func NewSigner(s Scheme, id, serial string, sign func([]byte) (string, error), verifier Verifier, maxSkew time.Duration, now func() time.Time) *Signer {
	return &Signer{scheme: s, id: id, serial: serial, sign: sign, verifier: verifier, maxSkew: maxSkew, now: now,
		nonces: NewNonceCache(2 * maxSkew)}
}

// RSASign is a NewSigner sign function for key.
func RSASign(key *rsa.PrivateKey) func([]byte) (string, error) {
	return func(msg []byte) (string, error) { return SignRSA(key, msg) }
}

// HMACSign is a NewSigner sign function for a shared secret.
func HMACSign(secret []byte) func([]byte) (string, error) {
	return func(msg []byte) (string, error) { return SignHMAC(secret, msg), nil }
}

// AuthorizationAt signs a request with the given timestamp and nonce and renders its
// Authorization header, fields in the order of WeChat Pay's documentation.
func (s *Signer) AuthorizationAt(method, uri, ts, nonce string, body []byte) (string, error) {
	sig, err := s.sign(RequestMessage(method, uri, ts, nonce, body))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf(`%s %s="%s",%s="%s",signature="%s",timestamp="%s",serial_no="%s"`, s.scheme.AuthType,
		s.scheme.IDField, s.id, s.scheme.NonceField, nonce, sig, ts, s.serial), nil
}

// Authorization signs a request now, with a fresh nonce.
func (s *Signer) Authorization(method, uri string, body []byte) (string, error) {
	return s.AuthorizationAt(method, uri, strconv.FormatInt(s.now().Unix(), 10), NewNonce(), body)
}

// Verify checks the signature headers of an answer or notification: the serial names a
// trusted key, the timestamp is within the allowed skew, the signature verifies and, for
// notifications, the nonce was not seen before. Errors wrap core.ErrBadSignature.
func (s *Signer) Verify(h http.Header, body []byte, notification bool) error {
	p := s.scheme.HeaderPrefix
	ts, nonce := h.Get(p+"-Timestamp"), h.Get(p+"-Nonce")
	sig, serial := h.Get(p+"-Signature"), h.Get(p+"-Serial")
	if ts == "" || nonce == "" || sig == "" || serial == "" {
		return fmt.Errorf("%w: missing %s-Timestamp, -Nonce, -Signature or -Serial", core.ErrBadSignature, p)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s-Timestamp %q is not a Unix time", core.ErrBadSignature, p, ts)
	}
	if d := s.now().Sub(time.Unix(unix, 0)); d > s.maxSkew || d < -s.maxSkew {
		return fmt.Errorf("%w: stale timestamp (%v from our clock)", core.ErrBadSignature, d.Round(time.Second))
	}
	if err := s.verifier.Verify(serial, ResponseMessage(ts, nonce, body), sig); err != nil {
		return fmt.Errorf("%w: %s-Signature: %v", core.ErrBadSignature, p, err)
	}
	if notification && !s.nonces.Use(nonce, s.now()) {
		return fmt.Errorf("%w (%w): nonce %s", core.ErrReplayedNotification, core.ErrBadSignature, nonce)
	}
	return nil
}

// NotificationNonce is the nonce of a notification Verify accepted, and until when the
// platform must remember it: past the skew window on both sides of its timestamp.
func (s *Signer) NotificationNonce(h http.Header) (string, time.Time) {
	return h.Get(s.scheme.HeaderPrefix + "-Nonce"), s.now().Add(2 * s.maxSkew)
}

// NonceCache remembers notification nonces for a while, to refuse replays early. It is per
// process: a replay that reaches another node passes it, and the nonce recorded in the
// shared database (core.Notification.Nonce) stops it there.
type NonceCache struct {
	mu   sync.Mutex
	ttl  time.Duration
	seen map[string]time.Time
}

// NewNonceCache makes a cache that remembers each nonce for ttl.
func NewNonceCache(ttl time.Duration) *NonceCache {
	return &NonceCache{ttl: ttl, seen: map[string]time.Time{}}
}

// Use records nonce and reports whether it was fresh (not seen within ttl).
func (c *NonceCache) Use(nonce string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.seen) > 4096 {
		for n, exp := range c.seen {
			if now.After(exp) {
				delete(c.seen, n)
			}
		}
	}
	if exp, ok := c.seen[nonce]; ok && now.Before(exp) {
		return false
	}
	c.seen[nonce] = now.Add(c.ttl)
	return true
}
