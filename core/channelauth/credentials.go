package channelauth

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"sort"
	"strings"

	"github.com/paycenter/paycenter/core"
)

// Credentials reads a merchant's channel credentials (the map an operator stores with
// POST /v1/admin/merchants/{id}/channels/{channel}, sealed in the database): each adapter's
// ConfigFromCredentials takes the fields it knows through it, and every problem is a
// core.ParamError naming the field as credentials[<name>], so the operator sees which one.
type Credentials struct {
	m    map[string]string
	used map[string]bool
	err  *core.Error
}

// NewCredentials wraps m.
func NewCredentials(m map[string]string) *Credentials {
	return &Credentials{m: m, used: map[string]bool{}}
}

func param(name string) string { return "credentials[" + name + "]" }

func (c *Credentials) fail(code, name, format string, args ...any) {
	if c.err == nil {
		c.err = core.ParamError(code, param(name), format, args...)
	}
}

// String returns the field name (trimmed), failing when it is required and missing.
func (c *Credentials) String(name string, required bool) string {
	c.used[name] = true
	v := strings.TrimSpace(c.m[name])
	if v == "" && required {
		c.fail(core.CodeParameterMissing, name, "credentials need %s.", name)
	}
	return v
}

// PrivateKey parses the field name as an RSA private key (PEM or base64, at least 2048 bits).
func (c *Credentials) PrivateKey(name string, required bool) *rsa.PrivateKey {
	v := c.String(name, required)
	if v == "" {
		return nil
	}
	k, err := ParsePrivateKeyPEM([]byte(v))
	if err != nil {
		c.fail(core.CodeParameterInvalid, name, "%s must be an RSA private key (PKCS #8 or PKCS #1, PEM or base64) of at least %d bits: %v.", name, RSAKeyBits, err)
		return nil
	}
	return k
}

// PublicKey parses the field name as an RSA public key (PEM, certificate or base64).
func (c *Credentials) PublicKey(name string, required bool) *rsa.PublicKey {
	v := c.String(name, required)
	if v == "" {
		return nil
	}
	k, err := ParsePublicKey([]byte(v))
	if err != nil {
		c.fail(core.CodeParameterInvalid, name, "%s must be an RSA public key (PEM, certificate or base64) of at least %d bits: %v.", name, RSAKeyBits, err)
		return nil
	}
	return k
}

// Check fails with msg naming the field name unless ok.
func (c *Credentials) Check(ok bool, name, format string, args ...any) {
	if !ok {
		c.fail(core.CodeParameterInvalid, name, format, args...)
	}
}

// Err is the first problem found, or an unknown field (one no reader asked for), or nil.
func (c *Credentials) Err() error {
	if c.err != nil {
		return c.err
	}
	var unknown []string
	for k := range c.m {
		if !c.used[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		known := make([]string, 0, len(c.used))
		for k := range c.used {
			known = append(known, k)
		}
		sort.Strings(known)
		return core.ParamError(core.CodeParameterInvalid, param(unknown[0]), "Unknown credentials field %q; this channel takes %s.",
			unknown[0], strings.Join(known, ", "))
	}
	return nil
}

// SimulatorAPIv3Key is the WeChat Pay APIv3 key the platform and the channel simulator use
// when none is configured: derived from the platform's public key, so every node and a
// simulator given that key compute the same. Anyone with the public key can compute it: it
// is for the simulator only, never for a real merchant account.
func SimulatorAPIv3Key(pub *rsa.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha256.Sum256(append([]byte("paycenter channelsim APIv3 key\x00"), der...))
	return hex.EncodeToString(sum[:])[:32]
}
