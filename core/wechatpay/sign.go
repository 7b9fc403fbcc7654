package wechatpay

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

// authType is the Authorization scheme: WeChat Pay's WECHATPAY2-SHA256-RSA2048 with Ed25519
// in place of RSA.
const authType = "WECHATPAY2-ED25519"

// requestMessage is what the merchant signs: METHOD, request URI, timestamp, nonce and body,
// each followed by a newline.
func requestMessage(method, uri, timestamp, nonce string, body []byte) []byte {
	return []byte(method + "\n" + uri + "\n" + timestamp + "\n" + nonce + "\n" + string(body) + "\n")
}

// responseMessage is what WeChat Pay signs in answers and notifications.
func responseMessage(timestamp, nonce string, body []byte) []byte {
	return []byte(timestamp + "\n" + nonce + "\n" + string(body) + "\n")
}

// keySerial names a public key: the first 8 bytes of its SHA-256, upper-case hex.
func keySerial(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return strings.ToUpper(hex.EncodeToString(sum[:8]))
}

func newNonce() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return strings.ToUpper(hex.EncodeToString(b))
}

// authorization signs a request and renders its Authorization header.
func (g *Gateway) authorization(method, uri string, body []byte) string {
	ts := strconv.FormatInt(g.cfg.Now().Unix(), 10)
	nonce := newNonce()
	sig := ed25519.Sign(g.cfg.PrivateKey, requestMessage(method, uri, ts, nonce, body))
	return fmt.Sprintf(`%s mchid="%s",nonce_str="%s",timestamp="%s",serial_no="%s",signature="%s"`, authType,
		g.cfg.MerchantID, nonce, ts, g.serial, base64.StdEncoding.EncodeToString(sig))
}

// verify checks the Wechatpay-* signature headers of an answer or notification: the serial
// names the configured channel key, the timestamp is within MaxClockSkew, the signature
// verifies and, for notifications, the nonce was not seen before. Errors wrap
// core.ErrBadSignature.
func (g *Gateway) verify(h http.Header, body []byte, notification bool) error {
	ts, nonce := h.Get("Wechatpay-Timestamp"), h.Get("Wechatpay-Nonce")
	sig, serial := h.Get("Wechatpay-Signature"), h.Get("Wechatpay-Serial")
	if ts == "" || nonce == "" || sig == "" {
		return fmt.Errorf("%w: missing Wechatpay-Timestamp, -Nonce or -Signature", core.ErrBadSignature)
	}
	if serial != g.channelSerial {
		return fmt.Errorf("%w: signed with key serial %q, want %q", core.ErrBadSignature, serial, g.channelSerial)
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: Wechatpay-Timestamp %q is not a Unix time", core.ErrBadSignature, ts)
	}
	if d := g.cfg.Now().Sub(time.Unix(unix, 0)); d > g.cfg.MaxClockSkew || d < -g.cfg.MaxClockSkew {
		return fmt.Errorf("%w: stale timestamp (%v from our clock)", core.ErrBadSignature, d.Round(time.Second))
	}
	raw, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || !ed25519.Verify(g.cfg.ChannelPublicKey, responseMessage(ts, nonce, body), raw) {
		return fmt.Errorf("%w: Wechatpay-Signature does not verify", core.ErrBadSignature)
	}
	if notification && !g.nonces.use(nonce, g.cfg.Now()) {
		return fmt.Errorf("%w: replayed nonce %s", core.ErrBadSignature, nonce)
	}
	return nil
}

// nonceCache remembers notification nonces for a while, to refuse replays. It is per
// process: replays across nodes need a shared store.
type nonceCache struct {
	mu   sync.Mutex
	ttl  time.Duration
	seen map[string]time.Time
}

func (c *nonceCache) use(nonce string, now time.Time) bool {
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
