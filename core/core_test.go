package core_test

import (
	"strings"
	"testing"

	"github.com/paycenter/paycenter/core"
)

func TestLuhnAndBrand(t *testing.T) {
	for _, tc := range []struct {
		number string
		valid  bool
		brand  string
	}{
		{"4242424242424242", true, "visa"},
		{"4242424242424241", false, "visa"},
		{"5555555555554444", true, "mastercard"},
		{"2223003122003222", true, "mastercard"},
		{"378282246310005", true, "amex"},
		{"6200000000000005", true, "unionpay"},
		{"6011111111111117", true, "discover"},
		{"3566002020360505", true, "jcb"},
		{"1234567812345678", false, "unknown"},
	} {
		t.Run(tc.number, func(t *testing.T) {
			if got := core.Luhn(tc.number); got != tc.valid {
				t.Errorf("Luhn = %v, want %v", got, tc.valid)
			}
			if got := core.CardBrand(tc.number); got != tc.brand {
				t.Errorf("brand = %s, want %s", got, tc.brand)
			}
		})
	}
}

func TestFingerprintIsKeyedAndStable(t *testing.T) {
	a := core.CardFingerprint([]byte("key-one-key-one-key-one-key-one!"), "4242424242424242")
	b := core.CardFingerprint([]byte("key-one-key-one-key-one-key-one!"), "4242424242424242")
	c := core.CardFingerprint([]byte("key-two-key-two-key-two-key-two!"), "4242424242424242")
	if a != b || a == c || strings.Contains(a, "4242") {
		t.Fatalf("fingerprints %s %s %s", a, b, c)
	}
	pm := core.StoredCard([]byte("k"), "mer_a", &core.CardData{Number: "4242424242424242", ExpMonth: 3, ExpYear: 2031})
	if pm.Last4 != "4242" || pm.Brand != "visa" || pm.Fingerprint == "" {
		t.Fatalf("stored card %+v", pm)
	}
	same := core.StoredCard([]byte("k"), "mer_a", &core.CardData{Number: "4242424242424242", ExpMonth: 4, ExpYear: 2032})
	other := core.StoredCard([]byte("k"), "mer_b", &core.CardData{Number: "4242424242424242", ExpMonth: 3, ExpYear: 2031})
	if same.Fingerprint != pm.Fingerprint || other.Fingerprint == pm.Fingerprint || pm.Fingerprint == core.CardFingerprint([]byte("k"), "4242424242424242") {
		t.Fatalf("fingerprints: merchant a %s and %s, merchant b %s", pm.Fingerprint, same.Fingerprint, other.Fingerprint)
	}
}

func TestCurrencies(t *testing.T) {
	for _, tc := range []struct {
		in, norm string
		ok       bool
		amount   int64
		format   string
	}{
		{"usd", "USD", true, 1234, "12.34 USD"},
		{" Jpy ", "JPY", true, 1234, "1234 JPY"},
		{"bhd", "BHD", true, 1234, "1.234 BHD"},
		{"eur", "EUR", true, 5, "0.05 EUR"},
		{"eur", "EUR", true, -250, "-2.50 EUR"},
		{"xyz", "XYZ", false, 0, ""},
		{"", "", false, 0, ""},
	} {
		norm, ok := core.NormalizeCurrency(tc.in)
		if norm != tc.norm || ok != tc.ok {
			t.Errorf("NormalizeCurrency(%q) = %q %v", tc.in, norm, ok)
		}
		if ok {
			if got := core.FormatAmount(tc.amount, norm); got != tc.format {
				t.Errorf("FormatAmount(%d, %s) = %q, want %q", tc.amount, norm, got, tc.format)
			}
		}
	}
}

func TestStatusTransitions(t *testing.T) {
	allowed := map[[2]core.Status]bool{
		{core.StatusProcessing, core.StatusRequiresAction}:      true,
		{core.StatusProcessing, core.StatusRequiresCapture}:     true,
		{core.StatusProcessing, core.StatusSucceeded}:           true,
		{core.StatusProcessing, core.StatusFailed}:              true,
		{core.StatusRequiresAction, core.StatusRequiresCapture}: true,
		{core.StatusRequiresAction, core.StatusSucceeded}:       true,
		{core.StatusRequiresAction, core.StatusFailed}:          true,
		{core.StatusRequiresAction, core.StatusCanceled}:        true,
		{core.StatusRequiresCapture, core.StatusSucceeded}:      true,
		{core.StatusRequiresCapture, core.StatusCanceled}:       true,
		{core.StatusProcessing, core.StatusRequiresReview}:      true,
		{core.StatusRequiresReview, core.StatusRequiresCapture}: true,
		{core.StatusRequiresReview, core.StatusCanceled}:        true,
	}
	for _, from := range core.Statuses {
		for _, to := range core.Statuses {
			if got := from.CanTransition(to); got != allowed[[2]core.Status{from, to}] {
				t.Errorf("%s -> %s: %v", from, to, got)
			}
		}
	}
	for _, s := range []core.Status{core.StatusSucceeded, core.StatusFailed, core.StatusCanceled} {
		if !s.Final() {
			t.Errorf("%s should be final", s)
		}
	}
	if core.StatusProcessing.Final() || core.Status("paid").Valid() {
		t.Error("processing is not final; paid is not a status")
	}
}

func TestIDsCarryRegion(t *testing.T) {
	id := core.NewID(core.PrefixPayment, "ap-south")
	if !strings.HasPrefix(id, "pay_ap-south_") || core.RegionOfID(id) != "ap-south" {
		t.Fatalf("id %s", id)
	}
	if core.NewID("pay", "us-east") == core.NewID("pay", "us-east") {
		t.Fatal("IDs repeat")
	}
	for _, bad := range []string{"pay_x", "pay", "pay__abc", "pay_US_EAST_x", ""} {
		if r := core.RegionOfID(bad); r != "" {
			t.Errorf("RegionOfID(%q) = %q", bad, r)
		}
	}
}

func TestCreatePaymentValidation(t *testing.T) {
	base := func() core.CreatePaymentParams {
		return core.CreatePaymentParams{Amount: 100, Currency: "usd", Channel: core.ChannelCard, MerchantReference: "r1",
			PaymentMethod: &core.PaymentMethodData{Card: &core.CardData{Number: "4242 4242 4242 4242", ExpMonth: 6, ExpYear: 2026}}}
	}
	p := base()
	if err := p.Validate(); err != nil {
		t.Fatalf("valid params rejected: %v", err)
	}
	if p.Currency != "USD" || p.CaptureMethod != core.CaptureAutomatic || p.PaymentMethod.Card.Number != "4242424242424242" || p.PaymentMethod.Type != "card" || p.Metadata == nil {
		t.Fatalf("not normalised: %+v", p)
	}
	for _, tc := range []struct {
		name  string
		mut   func(*core.CreatePaymentParams)
		param string
	}{
		{"three-digit year", func(p *core.CreatePaymentParams) { p.PaymentMethod.Card.ExpYear = 999 }, "payment_method.card.exp_year"},
		{"cvc letters", func(p *core.CreatePaymentParams) { p.PaymentMethod.Card.CVC = "12a" }, "payment_method.card.cvc"},
		{"card on a wallet", func(p *core.CreatePaymentParams) { p.Channel = core.ChannelAlipay }, "payment_method.card"},
		{"long reference", func(p *core.CreatePaymentParams) { p.MerchantReference = strings.Repeat("r", 129) }, "merchant_reference"},
		{"too many metadata keys", func(p *core.CreatePaymentParams) {
			p.Metadata = map[string]string{}
			for i := 0; i < 51; i++ {
				p.Metadata[strings.Repeat("k", i+1)] = "v"
			}
		}, "metadata"},
		{"bad email", func(p *core.CreatePaymentParams) { p.Customer = &core.Customer{Email: "not an email"} }, "customer.email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := base()
			tc.mut(&p)
			err := p.Validate()
			if err == nil {
				t.Fatal("accepted")
			}
			if e := core.AsError(err); e.Param != tc.param || e.Message == "" {
				t.Fatalf("error %+v, want param %s", e, tc.param)
			}
		})
	}
}

func TestRefundAndCaptureValidation(t *testing.T) {
	neg := int64(-1)
	if err := (&core.CaptureParams{Amount: &neg}).Validate(); core.AsError(err).Param != "amount" {
		t.Fatalf("capture: %v", err)
	}
	if err := (&core.CreateRefundParams{}).Validate(); core.AsError(err).Param != "payment" {
		t.Fatalf("refund without payment: %v", err)
	}
	if err := (&core.CreateRefundParams{Payment: "pay_x", Reason: "bored"}).Validate(); core.AsError(err).Param != "reason" {
		t.Fatalf("refund reason: %v", err)
	}
	if err := (&core.CreateRefundParams{Payment: "pay_x", Reason: "duplicate"}).Validate(); err != nil {
		t.Fatalf("valid refund: %v", err)
	}
}
