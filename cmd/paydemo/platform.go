package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/deploy/localcluster"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// receiver is the merchant's webhook endpoint in the demo: a server on loopback that
// verifies every delivery's signature (Standard Webhooks, with the SDK's Verify) and keeps
// what it accepted.
type receiver struct {
	srv    *http.Server
	url    string
	secret string

	mu       sync.Mutex
	events   []*paysdk.Event
	arrived  map[string]time.Time // event ID → first arrival
	rejected int
}

func startReceiver() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rc := &receiver{url: "http://" + ln.Addr().String() + "/hooks", arrived: map[string]time.Time{}}
	rc.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if err != nil || rc.secret == "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		ev, err := paysdk.ParseEvent(rc.secret, r.Header, body)
		if err != nil {
			rc.rejected++
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if _, seen := rc.arrived[ev.ID]; !seen {
			rc.arrived[ev.ID] = time.Now()
			rc.events = append(rc.events, ev)
		}
		w.WriteHeader(http.StatusNoContent)
	})}
	go rc.srv.Serve(ln)
	return rc, nil
}

func (rc *receiver) close() { _ = rc.srv.Close() }

// wait waits (up to limit) for a verified event of type typ about object id.
func (rc *receiver) wait(ctx context.Context, typ, id string, limit time.Duration) (*paysdk.Event, time.Time, error) {
	deadline := time.Now().Add(limit)
	for {
		rc.mu.Lock()
		for _, ev := range rc.events {
			if ev.Type != typ {
				continue
			}
			var obj struct {
				ID string `json:"id"`
			}
			if json.Unmarshal(ev.Data.Object, &obj) == nil && obj.ID == id {
				at := rc.arrived[ev.ID]
				rc.mu.Unlock()
				return ev, at, nil
			}
		}
		rc.mu.Unlock()
		if time.Now().After(deadline) {
			return nil, time.Time{}, fmt.Errorf("no %s event for %s within %s", typ, id, limit)
		}
		select {
		case <-ctx.Done():
			return nil, time.Time{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (rc *receiver) count() (accepted, rejected int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.events), rc.rejected
}

// subscribe registers the receiver as the merchant's webhook endpoint for every event.
func subscribe(ctx context.Context, client *paysdk.Client) (*receiver, error) {
	say("Register a webhook endpoint: every event, signed as Standard Webhooks specifies")
	rc, err := startReceiver()
	if err != nil {
		return nil, err
	}
	ep, err := client.CreateWebhookEndpoint(ctx, paysdk.WebhookEndpointParams{URL: rc.url, EnabledEvents: []string{"*"},
		Description: "demo receiver"})
	if err != nil {
		rc.close()
		return nil, err
	}
	rc.mu.Lock()
	rc.secret = ep.Secret
	rc.mu.Unlock()
	show("endpoint %s -> %s, secret %s… (shown once; stored sealed)", ep.ID, ep.URL, ep.Secret[:10])
	return rc, nil
}

// payWeChat makes the payer pay WeChat Pay order w at the channel simulator, and follows
// what happens: the channel's signed notification completes the payment, and the
// payment.succeeded event reaches the merchant's endpoint.
func payWeChat(ctx context.Context, c *localcluster.Cluster, client *paysdk.Client, rc *receiver, w *paysdk.Payment) error {
	if c.ChannelSim == "" {
		show("(no channel simulator in this cluster: nobody scans the code)")
		return nil
	}
	say("The payer scans the code and pays at WeChat Pay (the channel simulator)")
	paid := time.Now()
	if _, err := (netsim.Control{BaseURL: c.ChannelSim}).Pay(ctx, core.ChannelWeChatPay, w.ID); err != nil {
		return fmt.Errorf("pay at the simulator: %w", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := client.GetPayment(ctx, w.ID)
		if err != nil {
			return err
		}
		if p.Status == paysdk.StatusSucceeded {
			show("WeChat Pay notified the platform (RSA-signed, AES-256-GCM resource): payment %s %s after %d ms",
				p.ID, p.Status, time.Since(paid).Milliseconds())
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("payment %s still %s 30 s after the payer paid", p.ID, p.Status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	ev, at, err := rc.wait(ctx, core.EventPaymentSucceeded, w.ID, 30*time.Second)
	if err != nil {
		return err
	}
	show("webhook %s %s reached the merchant's endpoint %d ms after the payer paid; signature verified",
		ev.Type, ev.ID, at.Sub(paid).Milliseconds())
	return nil
}

// adminCall sends an operator request the SDK has no method for.
func adminCall(ctx context.Context, c *localcluster.Cluster, endpoint, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(endpoint, "/")+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.AdminToken)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// riskRule shows a merchant's block rule stopping a payment before any channel call.
func riskRule(ctx context.Context, c *localcluster.Cluster, endpoint string, client *paysdk.Client, merchantID, suffix string,
	card func(string) *paysdk.PaymentMethodData) error {
	say("An operator adds a risk rule for this merchant: block card payments above %s", money(100000, "USD"))
	var rule struct {
		ID string `json:"id"`
	}
	if err := adminCall(ctx, c, endpoint, http.MethodPost, "/v1/admin/risk/rules", map[string]any{
		"name": "demo-large-card-orders", "action": "block", "expression": `channel == "card" && amount > 100000`,
		"scope": merchantID, "enabled": true}, &rule); err != nil {
		return err
	}
	show("rule %s: compiled when saved; evaluated on every payment before the channel call", rule.ID)
	_, err := client.CreatePayment(ctx, paysdk.CreatePaymentParams{Amount: 250000, Currency: "usd", Channel: paysdk.ChannelCard,
		MerchantReference: "order-big-" + suffix, PaymentMethod: card("4242424242424242")})
	var apiErr *paysdk.Error
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusPaymentRequired {
		return fmt.Errorf("want 402 blocked_by_risk, got %v", err)
	}
	show("a payment of %s: HTTP %d %s: %s", money(250000, "USD"), apiErr.Status, apiErr.Code, apiErr.Message)
	return adminCall(ctx, c, endpoint, http.MethodPost, "/v1/admin/risk/rules/"+rule.ID+"/disable", struct{}{}, nil)
}

// monitoring shows the alert records and what the local Prometheus scrapes.
func monitoring(ctx context.Context, c *localcluster.Cluster, endpoint string, rc *receiver) error {
	say("Monitoring: the detectors' alerts, and the local Prometheus")
	var alerts struct {
		Data []struct {
			Detector string `json:"detector"`
			Severity string `json:"severity"`
			Summary  string `json:"summary"`
		} `json:"data"`
	}
	if err := adminCall(ctx, c, endpoint, http.MethodGet, "/v1/admin/alerts?status=firing", nil, &alerts); err != nil {
		return err
	}
	show("%d alerts firing (GET /v1/admin/alerts?status=firing)", len(alerts.Data))
	for i, a := range alerts.Data {
		if i == 5 {
			show("  … and %d more", len(alerts.Data)-i)
			break
		}
		show("  %s %s: %s", a.Severity, a.Detector, a.Summary)
	}
	if c.Prometheus != "" {
		// A freshly started Prometheus scrapes each target within its scrape interval: wait
		// (20 s at most) until every target found in Consul has been scraped.
		var total, up int
		deadline := time.Now().Add(20 * time.Second)
		for {
			var err error
			if total, up, err = promTargets(ctx, c.Prometheus); err != nil {
				return err
			}
			if (total > 0 && up == total) || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		show("Prometheus %s scrapes %d targets (payd and payedge, found through Consul), %d up; Alertmanager %s",
			c.Prometheus, total, up, c.Alertmanager)
	}
	accepted, rejected := rc.count()
	show("the webhook endpoint has received %d distinct events, every one with a valid signature (%d refused)", accepted, rejected)
	if rejected > 0 {
		return fmt.Errorf("%d webhook deliveries failed verification", rejected)
	}
	return nil
}

// promTargets counts the targets Prometheus discovered and those whose last scrape worked.
func promTargets(ctx context.Context, prometheus string) (total, up int, err error) {
	var targets struct {
		Data struct {
			ActiveTargets []struct {
				Health string `json:"health"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(prometheus, "/")+"/api/v1/targets", nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("prometheus: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&targets); err != nil {
		return 0, 0, fmt.Errorf("prometheus targets: %w", err)
	}
	for _, t := range targets.Data.ActiveTargets {
		if t.Health == "up" {
			up++
		}
	}
	return len(targets.Data.ActiveTargets), up, nil
}

// wallet shows a payer's stored value: a customer tops up by card, pays from the wallet, and
// is told by email (the receipts land in the local Mailpit).
func wallet(ctx context.Context, c *localcluster.Cluster, client *paysdk.Client, suffix string,
	card func(string) *paysdk.PaymentMethodData) error {
	say("A payer with a wallet: a customer tops up %s by card, then pays %s from the balance", money(5000, "USD"), money(1200, "USD"))
	email, lang := "wallet-"+strings.ReplaceAll(suffix, ".", "")+"@example.com", "en"
	cus, err := client.CreateCustomer(ctx, paysdk.CustomerParams{Email: &email, Language: &lang})
	if err != nil {
		return err
	}
	top, err := client.TopUp(ctx, cus.ID, paysdk.TopUpParams{Amount: 5000, Currency: "usd", Channel: paysdk.ChannelCard,
		PaymentMethod: card("4242424242424242"), MerchantReference: "top-up-" + suffix})
	if err != nil {
		return err
	}
	pay, err := client.CreatePayment(ctx, paysdk.CreatePaymentParams{Amount: 1200, Currency: "usd", Channel: paysdk.ChannelWallet,
		MerchantReference: "order-wallet-" + suffix, PaymentMethod: &paysdk.PaymentMethodData{Type: "wallet", Wallet: &paysdk.WalletData{Customer: cus.ID}}})
	if err != nil {
		return err
	}
	got, err := client.GetCustomer(ctx, cus.ID)
	if err != nil {
		return err
	}
	show("customer %s: top-up %s %s, wallet payment %s %s; balance %s", cus.ID, top.ID, top.Status, pay.ID, pay.Status,
		money(got.Balances["USD"], "USD"))
	_, err = client.CreatePayment(ctx, paysdk.CreatePaymentParams{Amount: 9000, Currency: "usd", Channel: paysdk.ChannelWallet,
		MerchantReference: "order-wallet-big-" + suffix, PaymentMethod: &paysdk.PaymentMethodData{Type: "wallet", Wallet: &paysdk.WalletData{Customer: cus.ID}}})
	var apiErr *paysdk.Error
	if !errors.As(err, &apiErr) || apiErr.Code != "insufficient_funds" {
		return fmt.Errorf("want 402 insufficient_funds for a payment above the balance, got %v", err)
	}
	show("a wallet payment of %s: HTTP %d %s (the balance never goes below zero)", money(9000, "USD"), apiErr.Status, apiErr.Code)
	if c.Mailpit == "" {
		return nil
	}
	// The notifier sends the receipts within seconds: wait (30 s at most) for them in Mailpit.
	var subjects []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		if subjects, err = mailpitSubjects(ctx, c.Mailpit, email); err != nil {
			return err
		}
		if len(subjects) >= 3 || time.Now().After(deadline) {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	show("emails to %s in Mailpit (%s): %s", email, c.Mailpit, strings.Join(subjects, " | "))
	if len(subjects) == 0 {
		return errors.New("no email reached Mailpit within 30 s")
	}
	return nil
}

// mailpitSubjects lists the subjects of the messages to addr in Mailpit's API.
func mailpitSubjects(ctx context.Context, mailpit, addr string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(mailpit, "/")+"/api/v1/search?query="+
		url.QueryEscape("to:"+addr), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mailpit: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Messages []struct {
			Subject string `json:"Subject"`
		} `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("mailpit: %w", err)
	}
	subjects := make([]string, 0, len(out.Messages))
	for _, m := range out.Messages {
		subjects = append(subjects, m.Subject)
	}
	return subjects, nil
}
