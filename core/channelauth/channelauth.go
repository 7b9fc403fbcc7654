// Package channelauth signs the platform's requests to payment channels and verifies the
// channels' answers and notifications, in the header scheme of WeChat Pay API v3 (also used,
// with other names, by the bank): an Authorization header carrying the client ID, a nonce, a
// Unix timestamp, the signing key's serial and an Ed25519 signature over method, request URI,
// timestamp, nonce and body; answers and notifications signed over timestamp, nonce and body
// in <Prefix>-Timestamp, -Nonce, -Signature and -Serial headers. Alipay's form signing is its
// own, but shares the nonce helpers.
//
// The channel simulator (cmd/channelsim/netsim) implements the channel side independently, so a
// mistake here is not mirrored there.
package channelauth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
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
	AuthType     string // the Authorization scheme, e.g. "WECHATPAY2-ED25519"
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

// KeySerial names a public key: the first 8 bytes of its SHA-256, upper-case hex.
func KeySerial(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return strings.ToUpper(hex.EncodeToString(sum[:8]))
}

// NewNonce is 128 random bits, upper-case hex.
func NewNonce() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

// Signer signs one client's requests and verifies one channel's answers and notifications.
type Signer struct {
	scheme        Scheme
	id            string
	key           ed25519.PrivateKey
	serial        string
	channelKey    ed25519.PublicKey
	channelSerial string
	maxSkew       time.Duration
	now           func() time.Time
	nonces        *NonceCache
}

// NewSigner makes a signer for client id with key, trusting channelKey; answers and
// notifications more than maxSkew from now() are refused, and notification nonces are
// remembered twice as long.
func NewSigner(s Scheme, id string, key ed25519.PrivateKey, channelKey ed25519.PublicKey, maxSkew time.Duration, now func() time.Time) *Signer {
	return &Signer{scheme: s, id: id, key: key, serial: KeySerial(key.Public().(ed25519.PublicKey)),
		channelKey: channelKey, channelSerial: KeySerial(channelKey), maxSkew: maxSkew, now: now,
		nonces: NewNonceCache(2 * maxSkew)}
}

// Authorization signs a request and renders its Authorization header.
func (s *Signer) Authorization(method, uri string, body []byte) string {
	ts := strconv.FormatInt(s.now().Unix(), 10)
	nonce := NewNonce()
	sig := ed25519.Sign(s.key, RequestMessage(method, uri, ts, nonce, body))
	return fmt.Sprintf(`%s %s="%s",%s="%s",timestamp="%s",serial_no="%s",signature="%s"`, s.scheme.AuthType,
		s.scheme.IDField, s.id, s.scheme.NonceField, nonce, ts, s.serial, base64.StdEncoding.EncodeToString(sig))
}

// Verify checks the signature headers of an answer or notification: the serial names the
// channel's key, the timestamp is within the allowed skew, the signature verifies and, for
// notifications, the nonce was not seen before. Errors wrap core.ErrBadSignature.
func (s *Signer) Verify(h http.Header, body []byte, notification bool) error {
	p := s.scheme.HeaderPrefix
	ts, nonce := h.Get(p+"-Timestamp"), h.Get(p+"-Nonce")
	sig, serial := h.Get(p+"-Signature"), h.Get(p+"-Serial")
	if ts == "" || nonce == "" || sig == "" {
		return fmt.Errorf("%w: missing %s-Timestamp, -Nonce or -Signature", core.ErrBadSignature, p)
	}
	if serial != s.channelSerial {
		return fmt.Errorf("%w: signed with key serial %q, want %q", core.ErrBadSignature, serial, s.channelSerial)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s-Timestamp %q is not a Unix time", core.ErrBadSignature, p, ts)
	}
	if d := s.now().Sub(time.Unix(unix, 0)); d > s.maxSkew || d < -s.maxSkew {
		return fmt.Errorf("%w: stale timestamp (%v from our clock)", core.ErrBadSignature, d.Round(time.Second))
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || !ed25519.Verify(s.channelKey, ResponseMessage(ts, nonce, body), raw) {
		return fmt.Errorf("%w: %s-Signature does not verify", core.ErrBadSignature, p)
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
