package core

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// RecoveryCodeCount is how many one-time recovery codes a user with a TOTP second factor
// gets at once.
const RecoveryCodeCount = 10

// recoveryAlphabet is Crockford's base32 (no I, L, O or U): 16 of them are 80 random bits.
const recoveryAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewRecoveryCodes makes RecoveryCodeCount random recovery codes, written as four groups of
// four ("7K2M-9QXD-4TNB-H3PW").
func NewRecoveryCodes() []string {
	out := make([]string, RecoveryCodeCount)
	for i := range out {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		var sb strings.Builder
		for j, c := range b {
			if j > 0 && j%4 == 0 {
				sb.WriteByte('-')
			}
			sb.WriteByte(recoveryAlphabet[c&31])
		}
		out[i] = sb.String()
	}
	return out
}

// NormalizeRecoveryCode is code as stored: upper case without dashes or spaces, with the
// letters people mistake for digits read as those digits; "" when it cannot be one.
func NormalizeRecoveryCode(code string) string {
	var sb strings.Builder
	for _, r := range strings.ToUpper(code) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r == 'O':
			r = '0'
		case r == 'I' || r == 'L':
			r = '1'
		}
		if r > 127 || !strings.ContainsRune(recoveryAlphabet, r) {
			return ""
		}
		sb.WriteRune(r)
	}
	if sb.Len() != 16 {
		return ""
	}
	return sb.String()
}

// RecoveryCodeHash is what is stored of a user's recovery code.
func RecoveryCodeHash(userID, code string) string {
	h := sha256.Sum256([]byte(userID + "\x00" + NormalizeRecoveryCode(code)))
	return hex.EncodeToString(h[:])
}
