package core

import (
	"crypto/subtle"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters of the back office's second factor (RFC 6238 with the defaults every
// authenticator app supports): SHA-1, 6 digits, 30-second steps, one step of clock skew
// either way.
const (
	TOTPPeriod = 30
	TOTPDigits = otp.DigitsSix
	TOTPSkew   = 1
	TOTPIssuer = "Paycenter"
)

// NewTOTPKey makes a new random TOTP secret for account (an e-mail): its base32 secret and
// its otpauth:// URI (for an authenticator app).
func NewTOTPKey(account string) (secret, uri string, err error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: TOTPIssuer, AccountName: account, Period: TOTPPeriod,
		Digits: TOTPDigits, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", "", err
	}
	return k.Secret(), k.URL(), nil
}

// TOTPStep is the RFC 6238 time step of t.
func TOTPStep(t time.Time) int64 { return t.Unix() / TOTPPeriod }

// CheckTOTP checks code against secret at now, allowing TOTPSkew steps either way, and
// refuses a code of a step at or before lastStep (a code is good once). It returns the
// step the code belongs to.
func CheckTOTP(secret, code string, now time.Time, lastStep int64) (int64, bool) {
	return checkTOTP(secret, code, now, lastStep, TOTPDigits, otp.AlgorithmSHA1)
}

func checkTOTP(secret, code string, now time.Time, lastStep int64, digits otp.Digits, alg otp.Algorithm) (int64, bool) {
	if len(code) != digits.Length() {
		return 0, false
	}
	opts := totp.ValidateOpts{Period: TOTPPeriod, Digits: digits, Algorithm: alg}
	step := TOTPStep(now)
	for s := step - TOTPSkew; s <= step+TOTPSkew; s++ {
		if s <= lastStep {
			continue
		}
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*TOTPPeriod, 0), opts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return s, true
		}
	}
	return 0, false
}
