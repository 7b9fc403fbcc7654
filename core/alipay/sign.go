package alipay

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
)

// SignType is sent as sign_type: RSA2, SHA256withRSA with an RSA-2048 key.
const SignType = "RSA2"

// timeLayout is Alipay's timestamp layout, in China Standard Time.
const timeLayout = "2006-01-02 15:04:05"

var chinaZone = channelauth.ChinaStandardTime

// SignContent is what Alipay signs: the parameters other than those excluded, with
// non-empty values, sorted by name and joined as k=v&k=v, values as they are (not
// URL-encoded). Requests exclude sign alone; asynchronous notifications exclude sign and
// sign_type.
func SignContent(params url.Values, exclude ...string) string {
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
func (g *Gateway) sign(params url.Values) error {
	sig, err := channelauth.SignRSA(g.cfg.PrivateKey, []byte(SignContent(params, "sign")))
	if err != nil {
		return err
	}
	params.Set("sign", sig)
	return nil
}

// verifyBytes checks an answer's sign over the exact bytes of its response object.
func (g *Gateway) verifyBytes(raw []byte, sig string) error {
	if err := channelauth.VerifyRSA(g.cfg.ChannelPublicKey, raw, sig); err != nil {
		return fmt.Errorf("%w: the answer's sign does not verify", core.ErrBadSignature)
	}
	return nil
}

// verifyNotification checks a notification's sign (RSA2 over every parameter but sign and
// sign_type), its app_id, its notify_time (within MaxClockSkew) and that this very delivery
// (notify_id at notify_time: Alipay stamps every redelivery anew) was not seen before.
// Errors wrap core.ErrBadSignature.
func (g *Gateway) verifyNotification(params url.Values) error {
	if params.Get("sign_type") != SignType {
		return fmt.Errorf("%w: sign_type %q, want %s", core.ErrBadSignature, params.Get("sign_type"), SignType)
	}
	if err := channelauth.VerifyRSA(g.cfg.ChannelPublicKey, []byte(SignContent(params, "sign", "sign_type")), params.Get("sign")); err != nil {
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
	if params.Get("notify_id") == "" {
		return fmt.Errorf("%w: missing notify_id", core.ErrBadSignature)
	}
	if !g.nonces.Use(deliveryNonce(params), g.cfg.Now()) {
		return fmt.Errorf("%w (%w): notify_id %q at %s", core.ErrReplayedNotification, core.ErrBadSignature, params.Get("notify_id"), params.Get("notify_time"))
	}
	return nil
}

// deliveryNonce names one delivery of a notification: Alipay has no nonce, but stamps each
// delivery with its notify_time, so the same notify_id at the same time is a replay.
func deliveryNonce(params url.Values) string {
	return params.Get("notify_id") + "@" + params.Get("notify_time")
}
