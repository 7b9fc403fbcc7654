package netsim_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/cardacq"
	"github.com/paycenter/paycenter/core/gatewaytest"
)

// stripeSim runs a simulator and a card-acquirer adapter (stripe-go) pointed at it.
func stripeSim(t *testing.T, tweak ...func(*netsim.Config)) (*netsim.Server, *cardacq.Acquirer) {
	t.Helper()
	var cfg netsim.Config
	for _, f := range tweak {
		f(&cfg)
	}
	s, err := netsim.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	a, err := cardacq.New(cardacq.Config{APIKey: "sk_test_channelsim", BackendURL: s.URL(), TrustSearchMisses: true,
		RequestTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s, a
}

// TestStripeConformance runs the shared adapter suite on core/cardacq against the
// simulator's Stripe subset: a stateful acquirer that honours the test cards.
func TestStripeConformance(t *testing.T) {
	gatewaytest.Run(t, gatewaytest.Harness{
		New: func(t *testing.T) core.Gateway {
			_, a := stripeSim(t)
			return a
		},
		Channels:              []core.Channel{core.ChannelCard, core.ChannelDebitCard},
		Stateful:              true,
		HonoursTestCards:      true,
		SupportsManualCapture: true,
		Queries:               true,
	})
}

func cardAuth(id, number string, capture bool) core.AuthorizeRequest {
	return core.AuthorizeRequest{Key: core.AuthorizeKey(id), PaymentID: id, Channel: core.ChannelCard, Amount: 5000,
		Currency: "EUR", Capture: capture, Card: &core.CardData{Number: number, ExpMonth: 12, ExpYear: time.Now().Year() + 2, CVC: "123"}}
}

func TestStripeTestCardsAndCharges(t *testing.T) {
	s, a := stripeSim(t)
	ctx := context.Background()
	for _, tc := range []struct {
		number, code string
	}{
		{"4000000000000002", core.CodeCardDeclined},
		{"4000000000009995", core.CodeInsufficientFunds},
		{"4000000000000069", core.CodeExpiredCard},
		{"4000000000000127", core.CodeIncorrectCVC},
		{"4000000000000119", core.CodeProcessingError},
	} {
		t.Run(tc.code, func(t *testing.T) {
			res, err := a.Authorize(ctx, cardAuth("pay_"+tc.number, tc.number, true))
			if err != nil || res.Outcome != core.OutcomeDeclined || res.DeclineCode != tc.code {
				t.Fatalf("%+v %v", res, err)
			}
		})
	}
	t.Run("expired by date", func(t *testing.T) {
		req := cardAuth("pay_old", "4242424242424242", true)
		req.Card.ExpYear = time.Now().Year() - 1
		if res, err := a.Authorize(ctx, req); err != nil || res.DeclineCode != core.CodeExpiredCard {
			t.Fatalf("%+v %v", res, err)
		}
	})
	if res, err := a.Authorize(ctx, cardAuth("pay_ok", "4242424242424242", true)); err != nil || res.Outcome != core.OutcomeCaptured {
		t.Fatalf("good card: %+v %v", res, err)
	}
	c := s.Charges()
	total := 0
	for _, p := range c.Payments {
		total += p.Charges
	}
	if total != 1 || c.Payments["pay_ok"].Charges != 1 || c.Payments["pay_ok"].AmountCharged != 5000 {
		t.Fatalf("charges: %+v", c.Payments)
	}
}

func TestStripeLostResponseIsReplayed(t *testing.T) {
	s, a := stripeSim(t)
	ctx := context.Background()
	ctl := netsim.Control{BaseURL: s.URL()}
	// stripe-go retries a dropped connection with the same Idempotency-Key: the simulator
	// replays the first answer, and the card is charged once.
	ctl.SetFaults(ctx, core.ChannelCard, netsim.Faults{LostResponses: 1})
	res, err := a.Authorize(ctx, cardAuth("pay_lost", "4242424242424242", false))
	if err != nil || res.Outcome != core.OutcomeAuthorized {
		t.Fatalf("authorize: %+v %v", res, err)
	}
	if f, _ := ctl.Faults(ctx); f[core.ChannelCard].LostResponses != 0 {
		t.Fatalf("no answer was lost: %+v", f)
	}
	c, _ := ctl.Charges(ctx)
	if p := c.Payments["pay_lost"]; p == nil || p.Orders != 1 || p.Charges != 1 || p.Keys[core.AuthorizeKey("pay_lost")] != 1 {
		t.Fatalf("charges: %+v", p)
	}
	ctl.SetFaults(ctx, core.ChannelCard, netsim.Faults{Outage: true})
	if _, err := a.Authorize(ctx, cardAuth("pay_out", "4242424242424242", true)); err == nil {
		t.Fatal("authorize during an outage succeeded")
	}
}

func TestStripeIdempotencyErrors(t *testing.T) {
	s, _ := stripeSim(t)
	post := func(key, amount string) (int, string) {
		req, _ := http.NewRequest("POST", s.URL()+"/v1/payment_intents", strings.NewReader(url.Values{"amount": {amount}, "currency": {"usd"}}.Encode()))
		req.Header.Set("Authorization", "Bearer sk_test_x")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	st1, b1 := post("k1", "100")
	st2, b2 := post("k1", "100")
	if st1 != 200 || st2 != 200 || b1 != b2 {
		t.Fatalf("replay: %d %s / %d %s", st1, b1, st2, b2)
	}
	if st, b := post("k1", "200"); st != 400 || !strings.Contains(b, "idempotency_error") {
		t.Fatalf("key reused with other parameters: %d %s", st, b)
	}
	req, _ := http.NewRequest("GET", s.URL()+"/v1/payment_intents/pi_nope", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 401 {
		t.Fatalf("no API key: %v %v", resp, err)
	}
	resp.Body.Close()
	var cerr *netsim.ControlError
	if _, err := (netsim.Control{BaseURL: s.URL()}).Pay(context.Background(), core.ChannelCard, "pay_x"); !errors.As(err, &cerr) {
		t.Fatalf("pay of a card: %v", err)
	}
}

func TestStripeStatement(t *testing.T) {
	// Today's noon, moving on in real time: the statement day cannot change during the test.
	noon, start := time.Now().UTC().Truncate(24*time.Hour).Add(12*time.Hour), time.Now()
	_, a := stripeSim(t, func(c *netsim.Config) { c.Now = func() time.Time { return noon.Add(time.Since(start)) } })
	ctx := context.Background()
	res, err := a.Authorize(ctx, cardAuth("pay_st", "4242424242424242", true))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := a.Refund(ctx, core.RefundRequest{Key: core.RefundKey("re_st"), PaymentID: "pay_st", RefundID: "re_st",
		Channel: core.ChannelCard, Reference: res.Reference, Amount: 1200, Currency: "EUR"}); err != nil || !r.OK {
		t.Fatalf("refund: %+v %v", r, err)
	}
	a.Authorize(ctx, cardAuth("pay_st_declined", "4000000000000002", true))
	lines, err := a.Statement(ctx, core.ChannelCard, noon)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range lines {
		got = append(got, strings.Join([]string{l.Kind, l.PaymentID, l.RefundID, l.Currency}, " "))
		if (l.Kind == "charge" && l.Amount != 5000) || (l.Kind == "refund" && l.Amount != 1200) {
			t.Errorf("line %+v", l)
		}
	}
	if strings.Join(got, "|") != "charge pay_st  EUR|refund pay_st re_st EUR" {
		t.Fatalf("statement %q", got)
	}
	if lines, err := a.Statement(ctx, core.ChannelCard, noon.AddDate(0, 0, -1)); err != nil || len(lines) != 0 {
		t.Fatalf("statement of the day before: %+v %v", lines, err)
	}
}
