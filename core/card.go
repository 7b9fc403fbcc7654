package core

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Luhn reports whether a string of digits passes the Luhn checksum.
func Luhn(digits string) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if d < 0 || d > 9 {
			return false
		}
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// CardBrand names the card network of a number by its issuer prefix.
func CardBrand(number string) string {
	p := func(prefixes ...string) bool {
		for _, x := range prefixes {
			if strings.HasPrefix(number, x) {
				return true
			}
		}
		return false
	}
	switch {
	case p("4"):
		return "visa"
	case p("51", "52", "53", "54", "55", "22", "23", "24", "25", "26", "27"):
		return "mastercard"
	case p("34", "37"):
		return "amex"
	case p("62"):
		return "unionpay"
	case p("6011", "65", "644", "645", "646", "647", "648", "649"):
		return "discover"
	case p("35"):
		return "jcb"
	}
	return "unknown"
}

// CardFingerprint is a keyed hash of a card number: equal numbers give equal fingerprints, and
// without the key the number cannot be recovered by hashing every possible number. It is the
// platform's own, the same for every merchant, and never shown: merchants see
// MerchantCardFingerprint.
func CardFingerprint(key []byte, number string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(number))
	return hex.EncodeToString(m.Sum(nil))[:24]
}

// MerchantCardFingerprint is the fingerprint a merchant sees: keyed by the merchant as well,
// so that equal cards have equal fingerprints within one merchant's payments and unrelated
// ones across merchants (who could otherwise link their customers with each other's).
func MerchantCardFingerprint(key []byte, merchantID, number string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("merchant-card-fingerprint\x00" + merchantID + "\x00" + number))
	return hex.EncodeToString(m.Sum(nil))[:24]
}

// StoredCard is what the platform keeps of a merchant's customer's card: never the number.
func StoredCard(key []byte, merchantID string, c *CardData) *PaymentMethod {
	return &PaymentMethod{
		Type:        "card",
		Brand:       CardBrand(c.Number),
		Last4:       c.Number[len(c.Number)-4:],
		ExpMonth:    c.ExpMonth,
		ExpYear:     c.ExpYear,
		Fingerprint: MerchantCardFingerprint(key, merchantID, c.Number),
	}
}
