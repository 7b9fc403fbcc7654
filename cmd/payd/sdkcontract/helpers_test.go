package sdkcontract

import (
	"net/http"
	"net/http/httptest"
	"testing"

	paysdk "github.com/paycenter/paycenter/sdk"
)

// closedURL is the URL of a server that no longer listens: connections are refused.
func closedURL(t *testing.T) string {
	t.Helper()
	s := httptest.NewServer(http.NotFoundHandler())
	u := s.URL
	s.Close()
	return u
}

func cardParams() paysdk.CreatePaymentParams {
	return paysdk.CreatePaymentParams{Amount: 1000, Currency: "usd", Channel: paysdk.ChannelCard,
		MerchantReference: "order-1", Metadata: map[string]string{"order": "1"},
		PaymentMethod: &paysdk.PaymentMethodData{Type: "card", Card: &paysdk.CardData{
			Number: "4242424242424242", ExpMonth: 12, ExpYear: 2099, CVC: "123"}}}
}
