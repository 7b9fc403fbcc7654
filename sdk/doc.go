// Package paysdk is the Go client of the paycenter merchant API.
//
// A Client talks to one or more region endpoints with a merchant secret key. It retries
// what is safe to retry and fails over between endpoints, so that a caller can treat each
// method as one logical operation:
//
//   - Every money-moving call (CreatePayment, CapturePayment, CancelPayment, CreateRefund)
//     carries one Idempotency-Key, generated per call unless given with WithIdempotencyKey,
//     and the same key is sent on every retry, on every endpoint. The server executes a key
//     at most once and replays its stored answer to later attempts.
//   - Network errors and 5xx answers are retried on the next endpoint in Config.Endpoints
//     (wrapping around); 409 idempotency_key_in_use and 429 answers are retried on the same
//     endpoint after their Retry-After; other 4xx answers, and 5xx answers the server
//     replays from an earlier request with the same key, are returned at once as *Error.
//   - A 202 answer means the outcome is not known yet (the payment channel did not answer in
//     time). It is retried with the same key, which lets the server finish the operation; if
//     the retries run out first, the method returns the object as it stands (for example a
//     payment in status "processing") and a nil error, and ResponseInfo.Status is 202.
//   - Cancelling the context stops the call, including any wait between attempts.
//
// Example:
//
//	client, err := paysdk.New(paysdk.Config{
//		Endpoints: []string{"https://us-east.pay.example", "https://eu-west.pay.example"},
//		SecretKey: os.Getenv("PAYCENTER_SECRET_KEY"),
//	})
//	if err != nil {
//		return err
//	}
//	var info paysdk.ResponseInfo
//	pay, err := client.CreatePayment(ctx, paysdk.CreatePaymentParams{
//		Amount:            1000,
//		Currency:          "usd",
//		Channel:           paysdk.ChannelCard,
//		MerchantReference: "order-1234",
//		PaymentMethod: &paysdk.PaymentMethodData{Card: &paysdk.CardData{
//			Number: "4242424242424242", ExpMonth: 12, ExpYear: 2030, CVC: "123"}},
//	}, paysdk.WithIdempotencyKey("order-1234-create"), paysdk.WithResponseInfo(&info))
//	switch {
//	case paysdk.IsCode(err, paysdk.CodeCardDeclined):
//		// The payment exists and failed: err.(*paysdk.Error).PaymentID names it.
//	case err != nil:
//		return err
//	case pay.Status == paysdk.StatusProcessing:
//		// Outcome not known yet: look again later with client.GetPayment(ctx, pay.ID).
//	}
//
// A Client is safe for concurrent use by multiple goroutines.
//
// An Admin, made with NewAdmin and the operator's admin token, calls the operator routes:
// onboarding merchants, channel authorisations, the whole-ledger check and reconciliation.
// It retries and fails over as a Client does and answers errors as *Error.
//
// The package is a Go module of its own, github.com/paycenter/paycenter/sdk, with only
// the standard library beneath it: its request and response types (Payment, Refund,
// CreatePaymentParams, the Code* error codes, ...) are its own copies of the API's shapes,
// not the platform's domain types, so that adding the SDK to a merchant's program adds no
// database driver, Consul or OpenTelemetry to its build.
package paysdk
