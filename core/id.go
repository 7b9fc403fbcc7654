package core

import (
	"crypto/rand"
	"encoding/base32"
	"regexp"
	"strings"
)

// ID prefixes of the platform's objects.
const (
	PrefixMerchant         = "mer"
	PrefixPayment          = "pay"
	PrefixRefund           = "re"
	PrefixEvent            = "evt"
	PrefixJournal          = "jnl"
	PrefixRequest          = "req"
	PrefixKeyEvent         = "kev"
	PrefixOpsEvent         = "moe"
	PrefixTransfer         = "tr"
	PrefixTransferReversal = "trr"
	PrefixAdjustment       = "adj"
	PrefixSettlement       = "st"
	PrefixPayout           = "po"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// RegionNameRE is what a region name looks like: "us-east", "eu-west", "ap-south".
var RegionNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{1,30}[a-z0-9]$`)

// NewID makes an object ID that carries the object's home region, so that any node can tell
// where the row lives: "pay_us-east_5z8k...". The random part has 120 bits.
func NewID(prefix, region string) string {
	return prefix + "_" + region + "_" + randomString(15)
}

// NewRandomID makes an ID with no region: "req_5z8k...".
func NewRandomID(prefix string) string { return prefix + "_" + randomString(15) }

// RegionOfID returns the home region encoded in an ID made by NewID, or "".
func RegionOfID(id string) string {
	parts := strings.Split(id, "_")
	if len(parts) != 3 || !RegionNameRE.MatchString(parts[1]) {
		return ""
	}
	return parts[1]
}

// RandomToken returns n random bytes, base32-encoded.
func RandomToken(n int) string { return randomString(n) }

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return idEncoding.EncodeToString(b)
}
