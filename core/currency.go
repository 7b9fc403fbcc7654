package core

import (
	"strconv"
	"strings"
)

// currencyExponents holds the ISO 4217 currencies the platform accepts and their minor-unit
// exponents: amounts are integers in minor units, so 1234 USD is $12.34, 1234 JPY is ¥1234
// and 1234 BHD is 1.234 BHD.
var currencyExponents = map[string]int{
	"AED": 2, "AUD": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2, "CZK": 2,
	"DKK": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0,
	"JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "MXN": 2, "MYR": 2, "NOK": 2, "NZD": 2, "OMR": 3,
	"PHP": 2, "PLN": 2, "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2,
	"USD": 2, "VND": 0, "ZAR": 2,
}

// MaxAmount bounds any single amount, in minor units of its currency.
const MaxAmount = 99_999_999

// NormalizeCurrency upper-cases code and reports whether the platform accepts it.
func NormalizeCurrency(code string) (string, bool) {
	c := strings.ToUpper(strings.TrimSpace(code))
	_, ok := currencyExponents[c]
	return c, ok
}

// CurrencyExponent is the number of minor-unit digits of an accepted currency.
func CurrencyExponent(code string) int { return currencyExponents[code] }

// FormatAmount renders minor units in major units, e.g. FormatAmount(1234, "USD") = "12.34 USD".
func FormatAmount(amount int64, currency string) string {
	exp := CurrencyExponent(currency)
	neg := amount < 0
	if neg {
		amount = -amount
	}
	s := strconv.FormatInt(amount, 10)
	if exp > 0 {
		for len(s) <= exp {
			s = "0" + s
		}
		s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	}
	if neg {
		s = "-" + s
	}
	return s + " " + currency
}
