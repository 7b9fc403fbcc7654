// Command paydemo walks through the merchant API against a running local cluster (make up):
// onboarding, a webhook endpoint, a card payment with manual capture, a replayed retry, a
// partial capture, a partial refund, a declined card, a WeChat Pay payment the payer pays at
// the channel simulator (its notification completes it and its webhook reaches the
// endpoint, signature verified), the balance, a whole-ledger check, a risk rule blocking a
// payment, the alerts and the local Prometheus, then the regions: a payment through each,
// a region's death mid-request and the retry that finds the payment. It exits non-zero if
// anything answers unexpectedly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/deploy/localcluster"
	paysdk "github.com/paycenter/paycenter/sdk"
)

func main() {
	path := flag.String("cluster", ".local/cluster.json", "the local cluster's description")
	bin := flag.String("bin", "bin", "directory of the platform's binaries (to bring a region back)")
	flag.Parse()
	if err := run(context.Background(), *path, *bin); err != nil {
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

func run(ctx context.Context, path, bin string) error {
	dir := strings.TrimSuffix(path, "/cluster.json")
	c, err := localcluster.Load(dir)
	if err != nil {
		return fmt.Errorf("read %s (is the cluster up? 'make up'): %w", path, err)
	}
	region := c.Regions[0]
	fmt.Printf("Payment center demo against region %s at %s\n", region.Name, region.Endpoint)

	say("Onboard a merchant homed in %s (operator API)", region.Name)
	admin, err := paysdk.NewAdmin(paysdk.AdminConfig{Endpoints: []string{region.Endpoint}, Token: c.AdminToken})
	if err != nil {
		return err
	}
	m, err := admin.CreateMerchant(ctx, paysdk.CreateMerchantParams{Name: "Demo Coffee Roasters", HomeRegion: region.Name})
	if err != nil {
		return err
	}
	show("merchant %s (%s), home region %s", m.ID, m.Name, m.HomeRegion)
	show("secret key %s… (shown once; stored only as a hash)", m.SecretKey[:12])

	client, err := paysdk.New(paysdk.Config{Endpoints: []string{region.Endpoint}, SecretKey: m.SecretKey})
	if err != nil {
		return err
	}
	hooks, err := subscribe(ctx, client)
	if err != nil {
		return err
	}
	defer hooks.close()
	suffix := time.Now().Format("150405.000")
	card := func(number string) *paysdk.PaymentMethodData {
		return &paysdk.PaymentMethodData{Type: "card", Card: &paysdk.CardData{Number: number, ExpMonth: 12, ExpYear: time.Now().Year() + 3, CVC: "123"}}
	}

	say("Create a card payment of %s, captured later (capture_method=manual)", money(4990, "USD"))
	params := paysdk.CreatePaymentParams{Amount: 4990, Currency: "usd", Channel: paysdk.ChannelCard, CaptureMethod: paysdk.CaptureManual,
		MerchantReference: "order-" + suffix, Description: "2 bags of espresso beans", PaymentMethod: card("4242424242424242"),
		Customer: &paysdk.Customer{Email: "ada@example.com"}, Metadata: map[string]string{"basket": "b-1042"}}
	key := core.RandomToken(16)
	var info paysdk.ResponseInfo
	p, err := client.CreatePayment(ctx, params, paysdk.WithIdempotencyKey(key), paysdk.WithResponseInfo(&info))
	if err != nil {
		return err
	}
	show("payment %s: %s, %s on hold, card %s ending %s", p.ID, p.Status, money(p.AmountCapturable, p.Currency), p.PaymentMethod.Brand, p.PaymentMethod.Last4)
	show("Idempotency-Key %s…, served by region %s", key[:8], info.Region)
	if p.Status != paysdk.StatusRequiresCapture {
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
	p, err = client.CapturePayment(ctx, p.ID, paysdk.CaptureParams{Amount: &amt})
	if err != nil {
		return err
	}
	show("payment %s: %s, captured %s", p.ID, p.Status, money(p.AmountCaptured, p.Currency))

	say("Refund %s of it (partial refund)", money(1000, "USD"))
	ramt := int64(1000)
	r, err := client.CreateRefund(ctx, paysdk.CreateRefundParams{Payment: p.ID, Amount: &ramt, Reason: "requested_by_customer"})
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
	declined.MerchantReference, declined.CaptureMethod, declined.PaymentMethod = "order-declined-"+suffix, paysdk.CaptureAutomatic, card("4000000000000002")
	_, err = client.CreatePayment(ctx, declined)
	var apiErr *paysdk.Error
	if !errors.As(err, &apiErr) || apiErr.Code != paysdk.CodeCardDeclined {
		return fmt.Errorf("want card_declined, got %v", err)
	}
	show("HTTP %d %s: %s", apiErr.Status, apiErr.Code, apiErr.Message)
	failed, err := client.GetPayment(ctx, apiErr.PaymentID)
	if err != nil {
		return err
	}
	show("payment %s is %s (failure_code %s); nothing was charged or posted", failed.ID, failed.Status, *failed.FailureCode)

	say("Pay %s with WeChat Pay: the payer must scan a QR code", money(8800, "CNY"))
	w, err := client.CreatePayment(ctx, paysdk.CreatePaymentParams{Amount: 8800, Currency: "cny", Channel: paysdk.ChannelWeChatPay,
		MerchantReference: "order-wx-" + suffix})
	if err != nil {
		return err
	}
	show("payment %s: %s, next action %s: %s", w.ID, w.Status, w.NextAction.Type, w.NextAction.QRCode)
	if err := payWeChat(ctx, c, client, hooks, w); err != nil {
		return err
	}

	say("The merchant's balance, from the ledger")
	b, err := client.Balance(ctx)
	if err != nil {
		return err
	}
	for _, l := range b.Data {
		show("%s: available %s, pending %s, on hold %s", l.Currency, money(l.Available, l.Currency),
			money(l.Pending, l.Currency), money(l.OnHold, l.Currency))
	}
	show("(captured money is pending until T+2, less the platform's fee; refunds come out of the available balance at once)")

	say("Check the whole ledger (operator API)")
	rep, err := admin.CheckLedger(ctx)
	if err != nil {
		return err
	}
	show("balanced: %v (%d journals, %d entries, every journal sums to zero)", rep.Balanced, rep.Journals, rep.Entries)
	if !rep.Balanced {
		return fmt.Errorf("ledger does not balance: %+v", rep)
	}
	if err := wallet(ctx, c, client, suffix, card); err != nil {
		return err
	}
	if err := riskRule(ctx, c, region.Endpoint, client, m.ID, suffix, card); err != nil {
		return err
	}
	if err := monitoring(ctx, c, region.Endpoint, hooks); err != nil {
		return err
	}
	if len(c.Regions) > 1 {
		if err := multiRegion(ctx, c, dir, bin, m.SecretKey); err != nil {
			return err
		}
	}
	fmt.Println("\nDemo complete.")
	return nil
}

func endpointOf(c *localcluster.Cluster, region string) string {
	for _, r := range c.Regions {
		if r.Name == region {
			return r.Endpoint
		}
	}
	return ""
}

// multiRegion is the active-active story: merchants homed in two regions, payments through
// every region, a region's nodes killed while a client retries, the region brought back.
func multiRegion(ctx context.Context, c *localcluster.Cluster, dir, bin, keyA string) error {
	fmt.Printf("\n--- Active-active across %d regions ---\n", len(c.Regions))
	say("Onboard a second merchant, homed in eu-west")
	euAdmin, err := paysdk.NewAdmin(paysdk.AdminConfig{Endpoints: []string{endpointOf(c, "eu-west")}, Token: c.AdminToken})
	if err != nil {
		return err
	}
	mb, err := euAdmin.CreateMerchant(ctx, paysdk.CreateMerchantParams{Name: "Lisbon Tiles", HomeRegion: "eu-west"})
	if err != nil {
		return err
	}
	show("merchant %s, home region %s", mb.ID, mb.HomeRegion)

	say("Pay through every region's endpoint (the database is in us-east; other regions pay the WAN latency)")
	suffix := time.Now().Format("150405.000")
	card := &paysdk.PaymentMethodData{Card: &paysdk.CardData{Number: "4242424242424242", ExpMonth: 12, ExpYear: time.Now().Year() + 3}}
	for _, tc := range []struct{ region, key, who string }{
		{"us-east", keyA, "Demo Coffee Roasters"}, {"eu-west", mb.SecretKey, "Lisbon Tiles"}, {"ap-south", keyA, "Demo Coffee Roasters"},
	} {
		cl, err := paysdk.New(paysdk.Config{Endpoints: []string{endpointOf(c, tc.region)}, SecretKey: tc.key})
		if err != nil {
			return err
		}
		var info paysdk.ResponseInfo
		start := time.Now()
		p, err := cl.CreatePayment(ctx, paysdk.CreatePaymentParams{Amount: 1999, Currency: "eur", Channel: paysdk.ChannelCard,
			MerchantReference: "mr-" + tc.region + "-" + suffix, PaymentMethod: card}, paysdk.WithResponseInfo(&info))
		if err != nil {
			return err
		}
		show("%-20s via %-8s endpoint: %s %s, served by region %s in %d ms", tc.who, tc.region, p.ID, p.Status, info.Region, time.Since(start).Milliseconds())
	}

	say("A client sends a payment through us-east, and loses the answer")
	// Retries for about 30 s: with the Patroni database, killing a region that holds the
	// primary makes every region wait for a standby's promotion (about 10 s here).
	sdk, err := paysdk.New(paysdk.Config{Endpoints: []string{endpointOf(c, "us-east"), endpointOf(c, "eu-west")}, SecretKey: keyA,
		Backoff: 200 * time.Millisecond, MaxRetries: 12})
	if err != nil {
		return err
	}
	lost := paysdk.CreatePaymentParams{Amount: 8800, Currency: "usd", Channel: paysdk.ChannelCard, MerchantReference: "lost-" + suffix, PaymentMethod: card}
	key := core.RandomToken(16)
	first, err := sdk.CreatePayment(ctx, lost, paysdk.WithIdempotencyKey(key))
	if err != nil {
		return err
	}
	show("payment %s was created (the client never saw this answer)", first.ID)

	if c.Patroni != nil {
		say("The whole us-east region dies (kill -9): its payd nodes and its database member")
	} else {
		say("Every us-east node dies (kill -9)")
	}
	nodes, err := localcluster.KillRegion(dir, "us-east")
	if err != nil {
		return err
	}
	killed := time.Now()
	for _, n := range nodes {
		show("killed payd %s (pid %d)", n.ID, n.PID)
	}

	say("The client retries with the same Idempotency-Key")
	var info paysdk.ResponseInfo
	again, err := sdk.CreatePayment(ctx, lost, paysdk.WithIdempotencyKey(key), paysdk.WithResponseInfo(&info))
	if err != nil {
		return err
	}
	show("answered by region %s through %s after %d ms: payment %s, replayed %v", info.Region, info.Endpoint, time.Since(killed).Milliseconds(), again.ID, info.Replayed)
	if again.ID != first.ID {
		return fmt.Errorf("the retry made a second payment: %s and %s", first.ID, again.ID)
	}
	show("same payment, charged once: exactly-once held across the failover")
	fresh, err := sdk.CreatePayment(ctx, paysdk.CreatePaymentParams{Amount: 1200, Currency: "usd", Channel: paysdk.ChannelCard,
		MerchantReference: "during-outage-" + suffix, PaymentMethod: card}, paysdk.WithResponseInfo(&info))
	if err != nil {
		return err
	}
	show("a new payment during the outage: %s %s, served by %s", fresh.ID, fresh.Status, info.Region)

	say("Bring us-east back")
	if err := localcluster.StartRegion(ctx, dir, bin, "us-east", io.Discard); err != nil {
		return err
	}
	back := time.Now()
	for {
		var mi paysdk.ResponseInfo
		if _, err := sdk.GetPayment(ctx, first.ID); err == nil {
			cl, _ := paysdk.New(paysdk.Config{Endpoints: []string{endpointOf(c, "us-east")}, SecretKey: keyA})
			if _, err := cl.CreatePayment(ctx, paysdk.CreatePaymentParams{Amount: 100, Currency: "usd", Channel: paysdk.ChannelCard,
				MerchantReference: fmt.Sprintf("back-%s-%d", suffix, time.Now().UnixNano()), PaymentMethod: card}, paysdk.WithResponseInfo(&mi)); err == nil && mi.Region == "us-east" {
				break
			}
		}
		if time.Since(back) > 30*time.Second {
			return errors.New("us-east did not come back within 30 s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	show("us-east serves its endpoint again, %d ms after its nodes restarted", time.Since(back).Milliseconds())
	usAdmin, err := paysdk.NewAdmin(paysdk.AdminConfig{Endpoints: []string{endpointOf(c, "us-east")}, Token: c.AdminToken})
	if err != nil {
		return err
	}
	rep, err := usAdmin.CheckLedger(ctx)
	if err != nil {
		return err
	}
	show("ledger balanced: %v (%d journals)", rep.Balanced, rep.Journals)
	if !rep.Balanced {
		return errors.New("the ledger does not balance")
	}
	return nil
}
