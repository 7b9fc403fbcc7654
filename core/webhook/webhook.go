// Package webhook is how the platform signs and sends its webhooks, exactly as the Standard
// Webhooks specification (standardwebhooks.com) has them, so any of its verifiers (Svix's,
// the reference libraries, the SDK's paysdk.Verify) accepts them:
//
//	webhook-id:        the event ID, the same on every attempt
//	webhook-timestamp: Unix seconds of this attempt
//	webhook-signature: v1,<base64 HMAC-SHA256(secret, "{id}.{timestamp}.{body}")>, one per
//	                   live secret, separated by spaces (two while a secret is rotated)
//
// A secret is "whsec_" followed by the base64 of its random bytes; the HMAC key is those
// bytes. The package also holds the retry schedule and the HTTP sender, whose dialer refuses
// private addresses at connect time (see Sender).
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Header names of the Standard Webhooks specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// SecretPrefix starts every signing secret.
const SecretPrefix = "whsec_"

// SecretBytes is how many random bytes a new secret has (the specification asks for 24 to 64).
const SecretBytes = 32

// NewSecret makes a signing secret: "whsec_" + base64 of SecretBytes random bytes.
func NewSecret() string {
	b := make([]byte, SecretBytes)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// DecodeSecret gives the HMAC key of a secret (with or without its "whsec_" prefix).
func DecodeSecret(secret string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, SecretPrefix))
	if err != nil {
		return nil, errors.New("webhook secret: not base64 after the whsec_ prefix")
	}
	if len(b) == 0 {
		return nil, errors.New("webhook secret: empty")
	}
	return b, nil
}

// Signature is one "v1,<base64>" signature of a message under key.
func Signature(key []byte, id string, ts time.Time, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id + "." + strconv.FormatInt(ts.Unix(), 10) + "."))
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignatureHeader is the webhook-signature value for a message under every key, in order.
func SignatureHeader(keys [][]byte, id string, ts time.Time, body []byte) string {
	sigs := make([]string, len(keys))
	for i, k := range keys {
		sigs[i] = Signature(k, id, ts, body)
	}
	return strings.Join(sigs, " ")
}
