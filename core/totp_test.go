package core

import (
	"encoding/base32"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

func totpCode(secret string, at time.Time) (string, error) { return totp.GenerateCode(secret, at) }

// RFC 6238 appendix B: the test vectors for SHA-1, SHA-256 and SHA-512 (8 digits), with the
// RFC's seeds.
func TestTOTPMatchesRFC6238Vectors(t *testing.T) {
	seeds := map[otp.Algorithm]string{
		otp.AlgorithmSHA1:   "12345678901234567890",
		otp.AlgorithmSHA256: "12345678901234567890123456789012",
		otp.AlgorithmSHA512: "1234567890123456789012345678901234567890123456789012345678901234",
	}
	for _, tt := range []struct {
		unix int64
		alg  otp.Algorithm
		code string
	}{
		{59, otp.AlgorithmSHA1, "94287082"}, {59, otp.AlgorithmSHA256, "46119246"}, {59, otp.AlgorithmSHA512, "90693936"},
		{1111111109, otp.AlgorithmSHA1, "07081804"}, {1111111109, otp.AlgorithmSHA256, "68084774"}, {1111111109, otp.AlgorithmSHA512, "25091201"},
		{1111111111, otp.AlgorithmSHA1, "14050471"}, {1111111111, otp.AlgorithmSHA256, "67062674"}, {1111111111, otp.AlgorithmSHA512, "99943326"},
		{1234567890, otp.AlgorithmSHA1, "89005924"}, {1234567890, otp.AlgorithmSHA256, "91819424"}, {1234567890, otp.AlgorithmSHA512, "93441116"},
		{2000000000, otp.AlgorithmSHA1, "69279037"}, {2000000000, otp.AlgorithmSHA256, "90698825"}, {2000000000, otp.AlgorithmSHA512, "38618901"},
		{20000000000, otp.AlgorithmSHA1, "65353130"}, {20000000000, otp.AlgorithmSHA256, "77737706"}, {20000000000, otp.AlgorithmSHA512, "47863826"},
	} {
		secret := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte(seeds[tt.alg]))
		now := time.Unix(tt.unix, 0)
		step, ok := checkTOTP(secret, tt.code, now, 0, otp.DigitsEight, tt.alg)
		if !ok || step != tt.unix/30 {
			t.Errorf("T=%d %v: code %s refused (step %d)", tt.unix, tt.alg, tt.code, step)
		}
		if _, ok := checkTOTP(secret, tt.code, now, tt.unix/30, otp.DigitsEight, tt.alg); ok {
			t.Errorf("T=%d %v: a code of the last accepted step was accepted again", tt.unix, tt.alg)
		}
	}
}

func TestTOTPSkewAndWrongCodes(t *testing.T) {
	secret, uri, err := NewTOTPKey("ana@example.com")
	if err != nil || len(secret) < 16 || uri[:15] != "otpauth://totp/" {
		t.Fatalf("key %q %q %v", secret, uri, err)
	}
	now := time.Unix(1_800_000_000, 0)
	code := func(at time.Time) string {
		t.Helper()
		s, err := totpCode(secret, at)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if _, ok := CheckTOTP(secret, code(now.Add(-30*time.Second)), now, 0); !ok {
		t.Error("the previous step's code is refused")
	}
	if _, ok := CheckTOTP(secret, code(now.Add(-90*time.Second)), now, 0); ok {
		t.Error("a code three steps old is accepted")
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if _, ok := CheckTOTP(secret, bad, now, 0); ok {
			t.Errorf("code %q accepted", bad)
		}
	}
}
