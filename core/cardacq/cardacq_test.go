package cardacq_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/cardacq"
)

const (
	routePM      = "POST /v1/payment_methods"
	routePI      = "POST /v1/payment_intents"
	routeCapture = "POST /v1/payment_intents/pi_1/capture"
	routeCancel  = "POST /v1/payment_intents/pi_1/cancel"
	routeRefund  = "POST /v1/refunds"
	routeGet     = "GET /v1/payment_intents/pi_1"
	routeSearch  = "GET /v1/payment_intents/search"
	routeBT      = "GET /v1/balance_transactions"
)

func TestAuthorizeSendsTheRequestStripeExpects(t *testing.T) {
	f := newFake(t)
	f.on(routePI, 200, paymentIntent("pi_1", "requires_capture", nil))
	a := f.acquirer(t)
	req := cardReq("pay_1", false)
	res, err := a.Authorize(context.Background(), req)
	if err != nil || res.Outcome != core.OutcomeAuthorized || res.Reference != "pi_1" {
		t.Fatalf("Authorize: %+v, %v", res, err)
	}
	pm := f.requests(routePM)
	if len(pm) != 1 {
		t.Fatalf("%d payment method requests", len(pm))
	}
	for k, want := range map[string]string{"type": "card", "card[number]": "4242424242424242", "card[exp_month]": "12",
		"card[cvc]": "123"} {
		if got := pm[0].Form.Get(k); got != want {
			t.Errorf("payment method %s = %q, want %q", k, got, want)
		}
	}
	if pm[0].Key != req.Key+":payment_method" {
		t.Errorf("payment method Idempotency-Key %q", pm[0].Key)
	}
	pi := f.requests(routePI)
	if len(pi) != 1 {
		t.Fatalf("%d payment intent requests", len(pi))
	}
	for k, want := range map[string]string{
		"amount": "1000", "currency": "usd", "capture_method": "manual", "confirm": "true",
		"payment_method": "pm_test", "payment_method_types[0]": "card", "error_on_requires_action": "true",
		"metadata[payment_id]": "pay_1", "metadata[merchant_id]": "mch_1", "metadata[channel]": "card",
		"metadata[channel_key]": req.Key,
	} {
		if got := pi[0].Form.Get(k); got != want {
			t.Errorf("payment intent %s = %q, want %q", k, got, want)
		}
	}
	if pi[0].Key != req.Key {
		t.Errorf("payment intent Idempotency-Key %q, want the channel key %q", pi[0].Key, req.Key)
	}
	if pi[0].Auth != "Bearer sk_test_fake" {
		t.Errorf("Authorization %q", pi[0].Auth)
	}

	req.Capture = true
	f.on(routePI, 200, paymentIntent("pi_2", "succeeded", nil))
	if res, err := a.Authorize(context.Background(), req); err != nil || res.Outcome != core.OutcomeCaptured {
		t.Fatalf("automatic capture: %+v, %v", res, err)
	}
	if got := f.requests(routePI)[1].Form.Get("capture_method"); got != "automatic" {
		t.Errorf("capture_method %q, want automatic", got)
	}
}

func TestAuthorizeOutcomes(t *testing.T) {
	lpe := func(code, decline, msg string) map[string]any {
		return map[string]any{"last_payment_error": map[string]any{"type": "card_error", "code": code, "decline_code": decline, "message": msg}}
	}
	cardErr := func(code, decline string) string {
		return stripeError("card_error", code, decline, "Your card was declined.",
			map[string]any{"payment_intent": map[string]any{"id": "pi_declined", "object": "payment_intent", "status": "requires_payment_method"}})
	}
	for _, tc := range []struct {
		name        string
		status      int
		body        string
		outcome     core.AuthorizeOutcome
		code, ref   string
		notExecuted bool // an error wrapping core.ErrNotExecuted; else (outcome "") an unknown-outcome error
	}{
		{"succeeded", 200, paymentIntent("pi_1", "succeeded", nil), core.OutcomeCaptured, "", "pi_1", false},
		{"requires_capture", 200, paymentIntent("pi_1", "requires_capture", nil), core.OutcomeAuthorized, "", "pi_1", false},
		{"402 insufficient_funds", 402, cardErr("card_declined", "insufficient_funds"), core.OutcomeDeclined, core.CodeInsufficientFunds, "pi_declined", false},
		{"402 generic_decline", 402, cardErr("card_declined", "generic_decline"), core.OutcomeDeclined, core.CodeCardDeclined, "pi_declined", false},
		{"402 expired_card", 402, cardErr("expired_card", "expired_card"), core.OutcomeDeclined, core.CodeExpiredCard, "pi_declined", false},
		{"402 incorrect_cvc", 402, cardErr("incorrect_cvc", "incorrect_cvc"), core.OutcomeDeclined, core.CodeIncorrectCVC, "pi_declined", false},
		{"402 processing_error", 402, cardErr("processing_error", "processing_error"), core.OutcomeDeclined, core.CodeProcessingError, "pi_declined", false},
		{"402 lost_card", 402, cardErr("card_declined", "lost_card"), core.OutcomeDeclined, core.CodeCardDeclined, "pi_declined", false},
		{"402 incorrect_number", 402, cardErr("incorrect_number", ""), core.OutcomeDeclined, core.CodeProcessingError, "pi_declined", false},
		{"402 unknown code", 402, cardErr("card_velocity_exceeded", "do_not_honor"), core.OutcomeDeclined, core.CodeProcessingError, "pi_declined", false},
		{"requires_payment_method with last_payment_error", 200,
			paymentIntent("pi_1", "requires_payment_method", lpe("card_declined", "insufficient_funds", "Insufficient funds.")),
			core.OutcomeDeclined, core.CodeInsufficientFunds, "pi_1", false},
		{"requires_payment_method without error", 200, paymentIntent("pi_1", "requires_payment_method", nil), core.OutcomeDeclined, core.CodeProcessingError, "pi_1", false},
		{"400 amount_too_small", 400, stripeError("invalid_request_error", "amount_too_small", "", "Amount must be at least $0.50 usd"),
			core.OutcomeDeclined, core.CodeProcessingError, "", false},
		{"requires_action", 200, paymentIntent("pi_1", "requires_action", nil), "", "", "", false},
		{"processing", 200, paymentIntent("pi_1", "processing", nil), "", "", "", false},
		{"500", 500, stripeError("api_error", "", "", "An unknown error occurred"), "", "", "", false},
		{"409 key in use", 409, stripeError("idempotency_error", "idempotency_key_in_use", "", "A request with this key is in progress."), "", "", "", false},
		{"400 idempotency_error", 400, stripeError("idempotency_error", "", "", "Keys for idempotent requests can only be used with the same parameters."), "", "", "", false},
		{"502 not json", 502, "<html>bad gateway</html>", "", "", "", false},
		{"200 not json", 200, "{", "", "", "", false},
		{"401", 401, stripeError("invalid_request_error", "", "", "Invalid API Key provided"), "", "", "", true},
		{"403", 403, stripeError("invalid_request_error", "", "", "The provided key does not have access"), "", "", "", true},
		{"429", 429, stripeError("invalid_request_error", "rate_limit", "", "Too many requests"), "", "", "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.on(routePI, tc.status, tc.body)
			res, err := f.acquirer(t).Authorize(context.Background(), cardReq("pay_1", true))
			switch {
			case tc.outcome != "":
				if err != nil || res.Outcome != tc.outcome || res.DeclineCode != tc.code || res.Reference != tc.ref {
					t.Fatalf("got %+v, %v; want %s %q ref %q", res, err, tc.outcome, tc.code, tc.ref)
				}
				if tc.outcome == core.OutcomeDeclined && res.DeclineMessage == "" {
					t.Errorf("decline without a message: %+v", res)
				}
			case err == nil:
				t.Fatalf("got %+v, want an error", res)
			case errors.Is(err, core.ErrNotExecuted) != tc.notExecuted:
				t.Fatalf("error %v: wraps ErrNotExecuted %v, want %v", err, !tc.notExecuted, tc.notExecuted)
			}
			if tc.name == "requires_action" && !errors.Is(err, cardacq.ErrUnsettled) {
				t.Errorf("requires_action: %v, want ErrUnsettled", err)
			}
		})
	}
}

func TestAuthorizeDeclinedAtThePaymentMethod(t *testing.T) {
	f := newFake(t)
	f.on(routePM, 402, stripeError("card_error", "expired_card", "expired_card", "Your card has expired."))
	res, err := f.acquirer(t).Authorize(context.Background(), cardReq("pay_1", true))
	if err != nil || res.Outcome != core.OutcomeDeclined || res.DeclineCode != core.CodeExpiredCard {
		t.Fatalf("%+v, %v", res, err)
	}
	if n := len(f.requests(routePI)); n != 0 {
		t.Fatalf("%d payment intents created after the payment method was refused", n)
	}
}

func TestAuthorizeWithoutCard(t *testing.T) {
	f := newFake(t)
	req := cardReq("pay_1", true)
	req.Card = nil
	res, err := f.acquirer(t).Authorize(context.Background(), req)
	if err != nil || res.Outcome != core.OutcomeDeclined || res.DeclineCode != core.CodeProcessingError || len(f.requests("")) != 0 {
		t.Fatalf("%+v, %v, %d requests", res, err, len(f.requests("")))
	}
}

func TestOperations(t *testing.T) {
	pi := func(status string, f map[string]any) string { return paymentIntent("pi_1", status, f) }
	refund := func(status string) string {
		return mustJSON(map[string]any{"id": "re_s1", "object": "refund", "status": status, "amount": 300, "currency": "usd", "payment_intent": "pi_1"})
	}
	invalid := func(code, param, msg string) string {
		return stripeError("invalid_request_error", code, "", msg, map[string]any{"param": param})
	}
	type call func(context.Context, *cardacq.Acquirer) (core.OpResult, error)
	capture := func(ctx context.Context, a *cardacq.Acquirer) (core.OpResult, error) {
		return a.Capture(ctx, core.CaptureRequest{Key: "pay_1:capture", PaymentID: "pay_1", Channel: core.ChannelCard, Reference: "pi_1", Amount: 600, Currency: "USD"})
	}
	void := func(ctx context.Context, a *cardacq.Acquirer) (core.OpResult, error) {
		return a.Void(ctx, core.VoidRequest{Key: "pay_1:void", PaymentID: "pay_1", Channel: core.ChannelCard, Reference: "pi_1"})
	}
	refundCall := func(ctx context.Context, a *cardacq.Acquirer) (core.OpResult, error) {
		return a.Refund(ctx, core.RefundRequest{Key: "re_1:refund", PaymentID: "pay_1", RefundID: "re_1", Channel: core.ChannelCard, Reference: "pi_1", Amount: 300, Currency: "USD"})
	}
	for _, tc := range []struct {
		name, route string
		call        call
		key         string
		status      int
		body        string
		ok          bool
		amount      int64
		code        string
		err         bool
		notExecuted bool
	}{
		{"capture ok", routeCapture, capture, "pay_1:capture", 200, pi("succeeded", map[string]any{"amount_received": 600}), true, 600, "", false, false},
		{"capture ok, no amount_received", routeCapture, capture, "pay_1:capture", 200, pi("succeeded", nil), true, 600, "", false, false},
		{"capture unexpected state", routeCapture, capture, "pay_1:capture", 400,
			invalid("payment_intent_unexpected_state", "", "This PaymentIntent could not be captured because it has a status of canceled."), false, 0, core.CodeInvalidState, false, false},
		{"capture expired", routeCapture, capture, "pay_1:capture", 400, invalid("charge_expired_for_capture", "", "expired"), false, 0, core.CodeInvalidState, false, false},
		{"capture amount", routeCapture, capture, "pay_1:capture", 400,
			invalid("", "amount_to_capture", "The amount_to_capture must be less than or equal to amount_capturable."), false, 0, core.CodeAmountTooLarge, false, false},
		{"capture of unknown intent", routeCapture, capture, "pay_1:capture", 404, invalid("resource_missing", "intent", "No such payment_intent"), false, 0, core.CodeProcessingError, false, false},
		{"capture 500", routeCapture, capture, "pay_1:capture", 500, stripeError("api_error", "", "", "boom"), false, 0, "", true, false},
		{"capture 429", routeCapture, capture, "pay_1:capture", 429, stripeError("invalid_request_error", "lock_timeout", "", "locked"), false, 0, "", true, true},
		{"void ok", routeCancel, void, "pay_1:void", 200, pi("canceled", nil), true, 1000, "", false, false},
		{"void after capture", routeCancel, void, "pay_1:void", 400,
			invalid("payment_intent_unexpected_state", "", "You cannot cancel this PaymentIntent because it has a status of succeeded."), false, 0, core.CodeInvalidState, false, false},
		{"void 503", routeCancel, void, "pay_1:void", 503, stripeError("api_error", "", "", "unavailable"), false, 0, "", true, false},
		{"refund ok", routeRefund, refundCall, "re_1:refund", 200, refund("succeeded"), true, 300, "", false, false},
		{"refund pending", routeRefund, refundCall, "re_1:refund", 200, refund("pending"), true, 300, "", false, false},
		{"refund failed", routeRefund, refundCall, "re_1:refund", 200, refund("failed"), false, 0, core.CodeProcessingError, false, false},
		{"refund requires_action", routeRefund, refundCall, "re_1:refund", 200, refund("requires_action"), false, 0, "", true, false},
		{"refund too large", routeRefund, refundCall, "re_1:refund", 400,
			invalid("amount_too_large", "amount", "Refund amount ($3.00) is greater than unrefunded amount on charge ($2.00)"), false, 0, core.CodeAmountTooLarge, false, false},
		{"refund already refunded", routeRefund, refundCall, "re_1:refund", 400,
			invalid("charge_already_refunded", "", "Charge ch_1 has already been refunded."), false, 0, core.CodeAmountTooLarge, false, false},
		{"refund of uncaptured", routeRefund, refundCall, "re_1:refund", 400,
			invalid("payment_intent_unexpected_state", "", "This PaymentIntent does not have a successful charge to refund."), false, 0, core.CodeInvalidState, false, false},
		{"refund other refusal", routeRefund, refundCall, "re_1:refund", 400, invalid("charge_disputed", "", "disputed"), false, 0, core.CodeInvalidState, false, false},
		{"refund odd refusal", routeRefund, refundCall, "re_1:refund", 400, invalid("refund_disputed_payment", "", "?"), false, 0, core.CodeProcessingError, false, false},
		{"refund 401", routeRefund, refundCall, "re_1:refund", 401, stripeError("invalid_request_error", "", "", "Invalid API Key"), false, 0, "", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.on(tc.route, tc.status, tc.body)
			a := f.acquirer(t)
			res, err := tc.call(context.Background(), a)
			switch {
			case tc.err:
				if err == nil || errors.Is(err, core.ErrNotExecuted) != tc.notExecuted {
					t.Fatalf("got %+v, %v; want an error (not executed: %v)", res, err, tc.notExecuted)
				}
			case err != nil:
				t.Fatalf("error %v; refusals and successes are answers", err)
			case res.OK != tc.ok || res.Amount != tc.amount || res.FailureCode != tc.code:
				t.Fatalf("got %+v; want OK %v amount %d code %q", res, tc.ok, tc.amount, tc.code)
			case !res.OK && res.FailureMessage == "":
				t.Errorf("refusal without a message: %+v", res)
			}
			reqs := f.requests(tc.route)
			if len(reqs) != 1 || reqs[0].Key != tc.key {
				t.Fatalf("requests %+v; want one with Idempotency-Key %q", reqs, tc.key)
			}
			switch tc.route {
			case routeCapture:
				if got := reqs[0].Form.Get("amount_to_capture"); got != "600" {
					t.Errorf("amount_to_capture %q", got)
				}
			case routeRefund:
				for k, want := range map[string]string{"payment_intent": "pi_1", "amount": "300", "metadata[refund_id]": "re_1", "metadata[payment_id]": "pay_1"} {
					if got := reqs[0].Form.Get(k); got != want {
						t.Errorf("refund %s = %q, want %q", k, got, want)
					}
				}
			}
		})
	}
}

func TestOperationWithoutReferenceIsRefused(t *testing.T) {
	f := newFake(t)
	a := f.acquirer(t)
	res, err := a.Capture(context.Background(), core.CaptureRequest{Key: "k", PaymentID: "pay_1", Channel: core.ChannelCard, Amount: 1})
	if err != nil || res.OK || res.FailureCode != core.CodeProcessingError || len(f.requests("")) != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
}

// Every money-moving call sends the channel key as Idempotency-Key, and a repeated call, or
// stripe-go's own retry, sends the same key again.
func TestRepeatedCallsReuseTheKey(t *testing.T) {
	f := newFake(t)
	f.on(routePI, 200, paymentIntent("pi_1", "requires_capture", nil))
	f.on(routeCapture, 200, paymentIntent("pi_1", "succeeded", map[string]any{"amount_received": 600}))
	f.on(routeCancel, 200, paymentIntent("pi_1", "canceled", nil))
	f.on(routeRefund, 200, mustJSON(map[string]any{"id": "re_s1", "object": "refund", "status": "succeeded", "amount": 300}))
	a := f.acquirer(t)
	ctx := context.Background()
	req := cardReq("pay_1", false)
	for range 2 {
		if _, err := a.Authorize(ctx, req); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Capture(ctx, core.CaptureRequest{Key: core.CaptureKey("pay_1"), PaymentID: "pay_1", Channel: core.ChannelCard, Reference: "pi_1", Amount: 600}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Void(ctx, core.VoidRequest{Key: core.VoidKey("pay_1"), PaymentID: "pay_1", Channel: core.ChannelCard, Reference: "pi_1"}); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Refund(ctx, core.RefundRequest{Key: core.RefundKey("re_1"), PaymentID: "pay_1", RefundID: "re_1", Channel: core.ChannelCard, Reference: "pi_1", Amount: 300}); err != nil {
			t.Fatal(err)
		}
	}
	for route, key := range map[string]string{
		routePM: req.Key + ":payment_method", routePI: req.Key, routeCapture: core.CaptureKey("pay_1"),
		routeCancel: core.VoidKey("pay_1"), routeRefund: core.RefundKey("re_1"),
	} {
		reqs := f.requests(route)
		if len(reqs) != 2 {
			t.Fatalf("%s: %d requests, want 2", route, len(reqs))
		}
		for _, r := range reqs {
			if r.Key != key {
				t.Errorf("%s: Idempotency-Key %q, want %q", route, r.Key, key)
			}
		}
	}

	// A lost response is retried (by net/http on a reused connection, else by stripe-go)
	// with the same key.
	f2 := newFake(t)
	f2.script(routePI, reply{drop: true}, reply{status: 200, body: paymentIntent("pi_1", "succeeded", nil)})
	a2 := f2.acquirer(t, func(c *cardacq.Config) { c.MaxNetworkRetries = 1 })
	res, err := a2.Authorize(ctx, cardReq("pay_2", true))
	if err != nil || res.Outcome != core.OutcomeCaptured {
		t.Fatalf("after a retried lost response: %+v, %v", res, err)
	}
	reqs := f2.requests(routePI)
	if len(reqs) != 2 || reqs[0].Key != core.AuthorizeKey("pay_2") || reqs[1].Key != reqs[0].Key {
		t.Fatalf("retry: %+v", reqs)
	}
}

func TestTimeoutsAreUnknownOutcomes(t *testing.T) {
	for _, route := range []string{routePM, routePI} {
		t.Run(route, func(t *testing.T) {
			f := newFake(t)
			f.on(routePI, 200, paymentIntent("pi_1", "succeeded", nil))
			f.hang(route)
			a := f.acquirer(t)
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := a.Authorize(ctx, cardReq("pay_1", true))
			if err == nil || errors.Is(err, core.ErrNotExecuted) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("hanging %s: %v; want a deadline error that does not wrap ErrNotExecuted", route, err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("took %v", d)
			}
		})
	}
	t.Run("RequestTimeout", func(t *testing.T) {
		f := newFake(t)
		f.hang(routeCapture)
		a := f.acquirer(t, func(c *cardacq.Config) { c.RequestTimeout = 200 * time.Millisecond })
		_, err := a.Capture(context.Background(), core.CaptureRequest{Key: "k", PaymentID: "pay_1", Channel: core.ChannelCard, Reference: "pi_1", Amount: 1})
		if err == nil || errors.Is(err, core.ErrNotExecuted) {
			t.Fatalf("%v; want an unknown-outcome error", err)
		}
	})
}

// closedURL is a loopback URL nothing listens on.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return "http://" + addr
}

func TestConnectionRefusedIsNotExecuted(t *testing.T) {
	for _, retries := range []int{-1, 1} {
		a, err := cardacq.New(cardacq.Config{APIKey: "sk_test_x", BackendURL: closedURL(t), MaxNetworkRetries: retries})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		_, err1 := a.Authorize(ctx, cardReq("pay_1", true))
		_, err2 := a.Capture(ctx, core.CaptureRequest{Key: "k", Channel: core.ChannelCard, Reference: "pi_1", Amount: 1})
		_, err3 := a.Void(ctx, core.VoidRequest{Key: "k", Channel: core.ChannelCard, Reference: "pi_1"})
		_, err4 := a.Refund(ctx, core.RefundRequest{Key: "k", Channel: core.ChannelCard, Reference: "pi_1", Amount: 1})
		_, err5 := a.QueryPayment(ctx, core.PaymentQuery{Key: "k", Channel: core.ChannelCard, Reference: "pi_1"})
		for i, err := range []error{err1, err2, err3, err4, err5} {
			if !errors.Is(err, core.ErrNotExecuted) {
				t.Errorf("retries %d, call %d: %v; want ErrNotExecuted", retries, i+1, err)
			}
		}
	}
}

// roundTripFunc is an http.RoundTripper from a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A request whose first attempt may have been sent is in doubt even if the retry could not
// connect: the error stripe-go returns (the last attempt's) is not the whole story.
func TestRetryAfterAPossiblySentAttemptIsUnknown(t *testing.T) {
	dead := closedURL(t)
	n := 0
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		n++
		if n == 1 {
			return nil, io.ErrUnexpectedEOF // the connection broke after the request was written
		}
		r2 := r.Clone(r.Context())
		r2.URL.Host = strings.TrimPrefix(dead, "http://")
		return http.DefaultTransport.RoundTrip(r2) // refused
	})}
	a, err := cardacq.New(cardacq.Config{APIKey: "sk_test_x", BackendURL: "http://stripe.invalid", HTTPClient: hc, MaxNetworkRetries: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Capture(context.Background(), core.CaptureRequest{Key: "k", Channel: core.ChannelCard, Reference: "pi_1", Amount: 1})
	if err == nil || errors.Is(err, core.ErrNotExecuted) || n != 2 {
		t.Fatalf("%v after %d attempts; want an unknown outcome after 2", err, n)
	}
}

func TestCancelledContextSendsNothing(t *testing.T) {
	f := newFake(t)
	a := f.acquirer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := a.Authorize(ctx, cardReq("pay_1", true))
	if !errors.Is(err, core.ErrNotExecuted) || !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
	if n := len(f.requests("")); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestChannelsNotServed(t *testing.T) {
	f := newFake(t)
	a := f.acquirer(t, func(c *cardacq.Config) { c.Channels = []core.Channel{core.ChannelCard} })
	for _, ch := range []core.Channel{core.ChannelDebitCard, core.ChannelAlipay} {
		req := cardReq("pay_1", true)
		req.Channel = ch
		if _, err := a.Authorize(context.Background(), req); !errors.Is(err, core.ErrNotExecuted) {
			t.Errorf("%s: %v", ch, err)
		}
	}
	if n := len(f.requests("")); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
	if got := a.Channels(); len(got) != 1 || got[0] != core.ChannelCard {
		t.Fatalf("Channels() = %v", got)
	}
}

func TestQueryByReference(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   core.PaymentState
		err    error // nil: no error; errAny: some error
	}{
		{"captured and partly refunded", 200, paymentIntent("pi_1", "succeeded", map[string]any{"amount_received": 1000,
			"latest_charge": map[string]any{"id": "ch_1", "object": "charge", "amount_refunded": 300}}),
			core.PaymentState{Found: true, Outcome: core.OutcomeCaptured, Reference: "pi_1", AmountCaptured: 1000, AmountRefunded: 300}, nil},
		{"authorized", 200, paymentIntent("pi_1", "requires_capture", nil), core.PaymentState{Found: true, Outcome: core.OutcomeAuthorized, Reference: "pi_1"}, nil},
		{"voided", 200, paymentIntent("pi_1", "canceled", nil), core.PaymentState{Found: true, Outcome: core.OutcomeAuthorized, Reference: "pi_1", Closed: true}, nil},
		{"declined", 200, paymentIntent("pi_1", "requires_payment_method", map[string]any{"last_payment_error": map[string]any{
			"type": "card_error", "code": "card_declined", "decline_code": "generic_decline", "message": "Your card was declined."}}),
			core.PaymentState{Found: true, Outcome: core.OutcomeDeclined, Reference: "pi_1", DeclineCode: core.CodeCardDeclined, DeclineMessage: "Your card was declined."}, nil},
		{"not found", 404, stripeError("invalid_request_error", "resource_missing", "", "No such payment_intent: 'pi_1'"), core.PaymentState{}, nil},
		{"processing", 200, paymentIntent("pi_1", "processing", nil), core.PaymentState{}, cardacq.ErrUnsettled},
		{"500", 500, stripeError("api_error", "", "", "boom"), core.PaymentState{}, errAny},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.on(routeGet, tc.status, tc.body)
			st, err := f.acquirer(t).QueryPayment(context.Background(), core.PaymentQuery{Key: "pay_1:authorize", PaymentID: "pay_1", Channel: core.ChannelCard, Reference: "pi_1"})
			switch {
			case tc.err == nil && err != nil, tc.err != nil && err == nil, tc.err != nil && tc.err != errAny && !errors.Is(err, tc.err):
				t.Fatalf("error %v, want %v", err, tc.err)
			case st != tc.want:
				t.Fatalf("got %+v, want %+v", st, tc.want)
			}
			if got := f.requests(routeGet)[0].Form.Get("expand[0]"); got != "latest_charge" {
				t.Errorf("expand %q", got)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestQueryByKey(t *testing.T) {
	ours := paymentIntent("pi_ours", "succeeded", map[string]any{"amount_received": 1000,
		"metadata": map[string]string{"payment_id": "pay_1", "channel_key": "pay_1:authorize"}})
	other := paymentIntent("pi_other", "requires_capture", map[string]any{
		"metadata": map[string]string{"payment_id": "pay_1", "channel_key": "pay_1:authorize-by-someone-else"}})
	q := core.PaymentQuery{Key: "pay_1:authorize", PaymentID: "pay_1", Channel: core.ChannelCard}

	f := newFake(t)
	f.on(routeSearch, 200, list("search_result", "/v1/payment_intents/search", other, ours))
	st, err := f.acquirer(t).QueryPayment(context.Background(), q)
	if err != nil || !st.Found || st.Reference != "pi_ours" || st.Outcome != core.OutcomeCaptured {
		t.Fatalf("%+v, %v", st, err)
	}
	if got := f.requests(routeSearch)[0].Form.Get("query"); got != "metadata['payment_id']:'pay_1'" {
		t.Fatalf("search query %q", got)
	}

	f = newFake(t)
	f.on(routeSearch, 200, list("search_result", "/v1/payment_intents/search", other))
	if st, err := f.acquirer(t).QueryPayment(context.Background(), q); !errors.Is(err, cardacq.ErrSearchMiss) || st.Found {
		t.Fatalf("a search miss: %+v, %v; want ErrSearchMiss", st, err)
	}
	trusting := f.acquirer(t, func(c *cardacq.Config) { c.TrustSearchMisses = true })
	if st, err := trusting.QueryPayment(context.Background(), q); err != nil || st.Found {
		t.Fatalf("a trusted search miss: %+v, %v; want Found false", st, err)
	}

	f = newFake(t) // no search route: 404
	if st, err := f.acquirer(t, func(c *cardacq.Config) { c.TrustSearchMisses = true }).QueryPayment(context.Background(), q); err == nil || st.Found {
		t.Fatalf("a backend without search: %+v, %v; want an error", st, err)
	}
}

func TestStatement(t *testing.T) {
	day := time.Date(2026, 3, 14, 15, 0, 0, 0, time.FixedZone("x", 3600))
	at := time.Date(2026, 3, 14, 10, 0, 0, 0, time.UTC).Unix()
	bt := func(id, typ string, amount int64, source any) string {
		return mustJSON(map[string]any{"id": id, "object": "balance_transaction", "type": typ, "amount": amount, "currency": "usd", "created": at, "source": source})
	}
	charge := func(id, pi string, amount int64, md map[string]string) map[string]any {
		return map[string]any{"id": id, "object": "charge", "amount": amount, "amount_captured": amount, "currency": "usd",
			"payment_intent": map[string]any{"id": pi, "object": "payment_intent", "metadata": md}}
	}
	f := newFake(t)
	f.on(routeBT, 200, list("list", "/v1/balance_transactions",
		bt("txn_1", "charge", 1000, charge("ch_1", "pi_1", 1000, map[string]string{"payment_id": "pay_1", "channel": "card"})),
		bt("txn_2", "payment", 500, charge("ch_2", "pi_2", 500, map[string]string{"payment_id": "pay_2", "channel": "debit_card"})),
		bt("txn_3", "charge", 700, charge("ch_3", "pi_3", 700, nil)),
		bt("txn_4", "refund", -300, map[string]any{"id": "re_s1", "object": "refund", "amount": 300, "currency": "usd",
			"metadata": map[string]string{"payment_id": "pay_1", "refund_id": "re_1", "channel": "card"}}),
		bt("txn_5", "stripe_fee", -10, map[string]any{"id": "fee_1", "object": "application_fee"}),
		bt("txn_6", "payout", -5000, map[string]any{"id": "po_1", "object": "payout"}),
	))
	a := f.acquirer(t)
	lines, err := a.Statement(context.Background(), core.ChannelCard, day)
	if err != nil {
		t.Fatal(err)
	}
	when := time.Unix(at, 0).UTC()
	want := []core.StatementLine{
		{Kind: "charge", PaymentID: "pay_1", Reference: "pi_1", Amount: 1000, Currency: "USD", At: when},
		{Kind: "charge", Reference: "pi_3", Amount: 700, Currency: "USD", At: when},
		{Kind: "refund", PaymentID: "pay_1", RefundID: "re_1", Reference: "re_s1", Amount: 300, Currency: "USD", At: when},
	}
	if len(lines) != len(want) {
		t.Fatalf("lines %+v, want %+v", lines, want)
	}
	for i := range want {
		if lines[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, lines[i], want[i])
		}
	}
	r := f.requests(routeBT)[0].Form
	if r.Get("created[gte]") != "1773446400" || r.Get("created[lt]") != "1773532800" || r.Get("expand[0]") != "data.source" {
		t.Errorf("list parameters %v", r)
	}
	debit, err := a.Statement(context.Background(), core.ChannelDebitCard, day)
	if err != nil || len(debit) != 1 || debit[0].PaymentID != "pay_2" {
		t.Fatalf("debit card statement %+v, %v", debit, err)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  cardacq.Config
		want string
	}{
		{"no key", cardacq.Config{}, "APIKey is required"},
		{"bad url", cardacq.Config{APIKey: "k", BackendURL: "ftp://x"}, "BackendURL"},
		{"no host", cardacq.Config{APIKey: "k", BackendURL: "http://"}, "BackendURL"},
		{"wallet channel", cardacq.Config{APIKey: "k", Channels: []core.Channel{core.ChannelAlipay}}, "not a card channel"},
		{"twice", cardacq.Config{APIKey: "k", Channels: []core.Channel{core.ChannelCard, core.ChannelCard}}, "listed twice"},
		{"negative timeout", cardacq.Config{APIKey: "k", RequestTimeout: -1}, "negative"},
	} {
		if _, err := cardacq.New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	a, err := cardacq.New(cardacq.Config{APIKey: "sk_test_x"})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Channels(); len(got) != 2 || got[0] != core.ChannelCard || got[1] != core.ChannelDebitCard {
		t.Fatalf("default channels %v", got)
	}
	// The default backend is Stripe itself; a trailing /v1 is accepted.
	f := newFake(t)
	f.on(routeCancel, 200, paymentIntent("pi_1", "canceled", nil))
	a = f.acquirer(t, func(c *cardacq.Config) { c.BackendURL += "/v1/" })
	if res, err := a.Void(context.Background(), core.VoidRequest{Key: "k", Channel: core.ChannelCard, Reference: "pi_1"}); err != nil || !res.OK {
		t.Fatalf("with /v1/: %+v, %v", res, err)
	}
}

// net/http replays a request with an Idempotency-Key on a new connection when a reused one
// breaks after the request was written; if that new connection is refused, the final error
// is a dial error, yet the acquirer may have executed the request.
func TestBrokenReusedConnectionThenRefusedIsUnknown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var served []string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		served = append(served, r.URL.Path)
		mu.Unlock()
		if r.URL.Path == "/v1/payment_methods" {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id": "pm_test", "object": "payment_method"}`)
			return
		}
		_, _ = io.ReadAll(r.Body)
		l.Close() // the acquirer goes away after reading the request: the replay is refused
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	a, err := cardacq.New(cardacq.Config{APIKey: "sk_test_x", BackendURL: "http://" + l.Addr().String(), MaxNetworkRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Authorize(context.Background(), cardReq("pay_1", true))
	if err == nil || errors.Is(err, core.ErrNotExecuted) {
		t.Fatalf("%v; want an unknown outcome (the request reached the acquirer)", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(served) != 2 || served[1] != "/v1/payment_intents" {
		t.Fatalf("served %v", served)
	}
}

// The payment method step succeeded; the acquirer then went away: the payment intent's
// connection is refused, so nothing that moves money was sent.
func TestRefusedAfterThePaymentMethodIsNotExecuted(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id": "pm_test", "object": "payment_method"}`)
		l.Close()
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	a, err := cardacq.New(cardacq.Config{APIKey: "sk_test_x", BackendURL: "http://" + l.Addr().String(), MaxNetworkRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authorize(context.Background(), cardReq("pay_1", true)); !errors.Is(err, core.ErrNotExecuted) {
		t.Fatalf("%v; want ErrNotExecuted", err)
	}
}
