// Command paydemo walks through the merchant API against a running local cluster (make up):
// onboarding, a card payment with manual capture, a replayed retry, a partial capture, a
// partial refund, a declined card, a WeChat Pay payment waiting for the payer, the balance
// and a whole-ledger check. It exits non-zero if anything answers unexpectedly.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/deploy/localcluster"
	paysdk "github.com/paycenter/paycenter/sdk"
)

func main() {
	path := flag.String("cluster", ".local/cluster.json", "the local cluster's description")
	flag.Parse()
	if err := run(context.Background(), *path); err != nil {
		fmt.Fprintln(os.Stderr, "\ndemo failed:", err)
		os.Exit(1)
	}
}

var step int

func say(format string, args ...any) {
	step++
	fmt.Printf("\n%d. %s\n", step, fmt.Sprintf(format, args...))
}

func show(format string, args ...any) { fmt.Printf("   %s\n", fmt.Sprintf(format, args...)) }

func money(amount int64, currency string) string { return core.FormatAmount(amount, currency) }

func run(ctx context.Context, path string) error {
	c, err := localcluster.Load(strings.TrimSuffix(path, "/cluster.json"))
	if err != nil {
		return fmt.Errorf("read %s (is the cluster up? 'make up'): %w", path, err)
	}
	region := c.Regions[0]
	fmt.Printf("Payment center demo against region %s at %s\n", region.Name, region.Endpoint)

	say("Onboard a merchant homed in %s (operator API)", region.Name)
	var m core.Merchant
	if err := adminPost(region.Endpoint+"/v1/admin/merchants", c.AdminToken,
		map[string]string{"name": "Demo Coffee Roasters", "home_region": region.Name}, &m); err != nil {
		return err
	}
	show("merchant %s (%s), home region %s", m.ID, m.Name, m.HomeRegion)
	show("secret key %s… (shown once; stored only as a hash)", m.SecretKey[:12])

	client, err := paysdk.New(paysdk.Config{Endpoints: []string{region.Endpoint}, SecretKey: m.SecretKey})
	if err != nil {
		return err
	}
	suffix := time.Now().Format("150405.000")
	card := func(number string) *core.PaymentMethodData {
		return &core.PaymentMethodData{Type: "card", Card: &core.CardData{Number: number, ExpMonth: 12, ExpYear: time.Now().Year() + 3, CVC: "123"}}
	}

	say("Create a card payment of %s, captured later (capture_method=manual)", money(4990, "USD"))
	params := core.CreatePaymentParams{Amount: 4990, Currency: "usd", Channel: core.ChannelCard, CaptureMethod: core.CaptureManual,
		MerchantReference: "order-" + suffix, Description: "2 bags of espresso beans", PaymentMethod: card("4242424242424242"),
		Customer: &core.Customer{Email: "ada@example.com"}, Metadata: map[string]string{"basket": "b-1042"}}
	key := core.RandomToken(16)
	var info paysdk.ResponseInfo
	p, err := client.CreatePayment(ctx, params, paysdk.WithIdempotencyKey(key), paysdk.WithResponseInfo(&info))
	if err != nil {
		return err
	}
	show("payment %s: %s, %s on hold, card %s ending %s", p.ID, p.Status, money(p.AmountCapturable, p.Currency), p.PaymentMethod.Brand, p.PaymentMethod.Last4)
	show("Idempotency-Key %s…, served by region %s", key[:8], info.Region)
	if p.Status != core.StatusRequiresCapture {
		return fmt.Errorf("want requires_capture, got %s", p.Status)
	}

	say("Retry the same request with the same Idempotency-Key (a client that lost the answer)")
	var again paysdk.ResponseInfo
	p2, err := client.CreatePayment(ctx, params, paysdk.WithIdempotencyKey(key), paysdk.WithResponseInfo(&again))
	if err != nil {
		return err
	}
	show("same payment %s, replayed: %v; still one authorisation at the channel", p2.ID, again.Replayed)
	if p2.ID != p.ID || !again.Replayed {
		return errors.New("the retry was not a replay")
	}

	say("Capture %s of the %s held (partial capture releases the rest)", money(4500, "USD"), money(4990, "USD"))
	amt := int64(4500)
	p, err = client.CapturePayment(ctx, p.ID, core.CaptureParams{Amount: &amt})
	if err != nil {
		return err
	}
	show("payment %s: %s, captured %s", p.ID, p.Status, money(p.AmountCaptured, p.Currency))

	say("Refund %s of it (partial refund)", money(1000, "USD"))
	ramt := int64(1000)
	r, err := client.CreateRefund(ctx, core.CreateRefundParams{Payment: p.ID, Amount: &ramt, Reason: "requested_by_customer"})
	if err != nil {
		return err
	}
	p, err = client.GetPayment(ctx, p.ID)
	if err != nil {
		return err
	}
	show("refund %s: %s, %s; payment now captured %s, refunded %s", r.ID, r.Status, money(r.Amount, r.Currency),
		money(p.AmountCaptured, p.Currency), money(p.AmountRefunded, p.Currency))

	say("Pay with a card that is declined (test card 4000000000000002)")
	declined := params
	declined.MerchantReference, declined.CaptureMethod, declined.PaymentMethod = "order-declined-"+suffix, core.CaptureAutomatic, card("4000000000000002")
	_, err = client.CreatePayment(ctx, declined)
	var apiErr *paysdk.Error
	if !errors.As(err, &apiErr) || apiErr.Code != core.CodeCardDeclined {
		return fmt.Errorf("want card_declined, got %v", err)
	}
	show("HTTP %d %s: %s", apiErr.Status, apiErr.Code, apiErr.Message)
	failed, err := client.GetPayment(ctx, apiErr.PaymentID)
	if err != nil {
		return err
	}
	show("payment %s is %s (failure_code %s); nothing was charged or posted", failed.ID, failed.Status, *failed.FailureCode)

	say("Pay %s with WeChat Pay: the payer must scan a QR code", money(8800, "CNY"))
	w, err := client.CreatePayment(ctx, core.CreatePaymentParams{Amount: 8800, Currency: "cny", Channel: core.ChannelWeChatPay,
		MerchantReference: "order-wx-" + suffix})
	if err != nil {
		return err
	}
	show("payment %s: %s, next action %s: %s", w.ID, w.Status, w.NextAction.Type, w.NextAction.QRCode)
	show("(the payer's notification that completes it comes with the channel gateway)")

	say("The merchant's balance, from the ledger")
	b, err := client.Balance(ctx)
	if err != nil {
		return err
	}
	for _, l := range b.Data {
		show("%s: available %s, on hold %s", l.Currency, money(l.Available, l.Currency), money(l.OnHold, l.Currency))
	}

	say("Check the whole ledger (operator API)")
	var rep core.LedgerReport
	if err := adminGet(region.Endpoint+"/v1/admin/ledger/check", c.AdminToken, &rep); err != nil {
		return err
	}
	show("balanced: %v (%d journals, %d entries, every journal sums to zero)", rep.Balanced, rep.Journals, rep.Entries)
	if !rep.Balanced {
		return fmt.Errorf("ledger does not balance: %+v", rep)
	}
	fmt.Println("\nDemo complete.")
	return nil
}

func adminPost(url, token string, in, out any) error {
	b, _ := json.Marshal(in)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	return adminDo(req, token, out)
}

func adminGet(url, token string, out any) error {
	req, _ := http.NewRequest("GET", url, nil)
	return adminDo(req, token, out)
}

func adminDo(req *http.Request, token string, out any) error {
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		var e map[string]any
		_ = json.NewDecoder(res.Body).Decode(&e)
		return fmt.Errorf("%s %s: %d %v", req.Method, req.URL.Path, res.StatusCode, e)
	}
	return json.NewDecoder(res.Body).Decode(out)
}
