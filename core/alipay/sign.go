package alipay

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
)

// signType is sent as sign_type: Alipay's RSA2 with Ed25519 in its place.
const signType = "ED25519"

// timeLayout is Alipay's timestamp layout, in China Standard Time.
const timeLayout = "2006-01-02 15:04:05"

var chinaZone = time.FixedZone("CST", 8*60*60)

// signContent is what Alipay signs: the parameters other than those excluded, with
// non-empty values, sorted by name and joined as k=v&k=v, values not URL-encoded.
func signContent(params url.Values, exclude ...string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		skip := params.Get(k) == ""
		for _, x := range exclude {
			skip = skip || k == x
		}
		if !skip {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + params.Get(k)
	}
	return strings.Join(parts, "&")
}

// sign adds the sign parameter to a request (which signs every other parameter, sign_type
// included).
func (g *Gateway) sign(params url.Values) {
	params.Set("sign", base64.StdEncoding.EncodeToString(ed25519.Sign(g.cfg.PrivateKey, []byte(signContent(params, "sign")))))
}

// verifyBytes checks an answer's sign over the exact bytes of its response object.
func (g *Gateway) verifyBytes(raw []byte, sig string) error {
	s, err := base64.StdEncoding.DecodeString(sig)
	if err != nil || !ed25519.Verify(g.cfg.ChannelPublicKey, raw, s) {
		return fmt.Errorf("%w: the answer's sign does not verify", core.ErrBadSignature)
	}
	return nil
}

// verifyNotification checks a notification's sign (over every parameter but sign and
// sign_type), its app_id, its notify_time (within MaxClockSkew) and its nonce (not seen
// before). Errors wrap core.ErrBadSignature.
func (g *Gateway) verifyNotification(params url.Values) error {
	if params.Get("sign_type") != signType {
		return fmt.Errorf("%w: sign_type %q, want %s", core.ErrBadSignature, params.Get("sign_type"), signType)
	}
	sig, err := base64.StdEncoding.DecodeString(params.Get("sign"))
	if err != nil || !ed25519.Verify(g.cfg.ChannelPublicKey, []byte(signContent(params, "sign", "sign_type")), sig) {
		return fmt.Errorf("%w: sign does not verify", core.ErrBadSignature)
	}
	if params.Get("app_id") != g.cfg.AppID {
		return fmt.Errorf("%w: notification for app_id %q, not ours", core.ErrBadSignature, params.Get("app_id"))
	}
	at, err := time.ParseInLocation(timeLayout, params.Get("notify_time"), chinaZone)
	if err != nil {
		return fmt.Errorf("%w: notify_time %q is not a time", core.ErrBadSignature, params.Get("notify_time"))
	}
	if d := g.cfg.Now().Sub(at); d > g.cfg.MaxClockSkew || d < -g.cfg.MaxClockSkew {
		return fmt.Errorf("%w: stale notify_time (%v from our clock)", core.ErrBadSignature, d.Round(time.Second))
	}
	nonce := params.Get("nonce")
	if nonce == "" {
		return fmt.Errorf("%w: missing nonce", core.ErrBadSignature)
	}
	if !g.nonces.Use(nonce, g.cfg.Now()) {
		return fmt.Errorf("%w (%w): nonce %q", core.ErrReplayedNotification, core.ErrBadSignature, nonce)
	}
	return nil
}

func newNonce() string { return channelauth.NewNonce() }
