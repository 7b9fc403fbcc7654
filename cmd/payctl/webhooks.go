package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	paysdk "github.com/paycenter/paycenter/sdk"
)

// The merchant's webhook tools, like `stripe listen`: they speak the merchant API with a
// secret key (-secret-key or PAYCTL_SECRET_KEY), through the SDK's merchant client.

type webhookOptions struct {
	secretKey string
	forward   string // where listen forwards each verified event; "" prints only
	listen    string // the address listen receives on
	publicURL string // the URL registered for it, if the platform reaches it by another name
	events    string // comma-separated event types, or *
	to        string // resend: the endpoint; "" every endpoint the event went to
}

func init() {
	commands = append(commands, &command{
		name: "webhooks listen", synopsis: "-secret-key SK [-forward URL] [-events TYPES] [-listen ADDR] [-public-url URL]",
		summary: "receive the merchant's events here: verify each signature, print it, forward it",
		about: "Registers a temporary webhook endpoint pointing at a receiver on -listen, prints every event it gets with " +
			"its signature checked by the SDK's Verify, and forwards the verified ones (body and webhook-* headers unchanged) " +
			"to -forward, answering the platform with the forward target's status. The endpoint is deleted on exit (Ctrl-C). " +
			"The platform's nodes must be allowed to reach the receiver: the local platform runs them with -webhooks-allow-private.",
		example: "payctl webhooks listen -secret-key sk_test_5z8k2q7m0c1d -forward http://127.0.0.1:3000/hooks",
		flags: func(fs *flag.FlagSet, o *options) {
			merchantFlags(fs, o)
			fs.StringVar(&o.webhooks.forward, "forward", "", "forward every verified event to this URL (empty: print only)")
			fs.StringVar(&o.webhooks.events, "events", "*", "the event types to receive, comma-separated, or *")
			fs.StringVar(&o.webhooks.listen, "listen", "127.0.0.1:0", "the address to receive on")
			fs.StringVar(&o.webhooks.publicURL, "public-url", "", "the URL the platform delivers to (default: http://<-listen address>/)")
		},
		check: func(o *options) error {
			if err := checkSecretKey(o); err != nil {
				return err
			}
			if f := o.webhooks.forward; f != "" {
				if u, err := url.Parse(f); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					return fmt.Errorf("-forward %q: want an http or https URL", f)
				}
			}
			return nil
		},
		run: webhooksListen,
	}, &command{
		name: "events resend", synopsis: "EVENT_ID -secret-key SK [-to ENDPOINT_ID]", positional: "event",
		summary: "deliver an event once more, to one endpoint or to every endpoint it went to",
		about:   "Queues one more delivery of the event, due now, with the same webhook-id. Without -to, to every endpoint its deliveries list.",
		example: "payctl events resend evt_us-east_5z8k2q7m0c1d -secret-key sk_test_5z8k2q7m0c1d",
		flags: func(fs *flag.FlagSet, o *options) {
			merchantFlags(fs, o)
			fs.StringVar(&o.webhooks.to, "to", "", "the webhook endpoint's ID (default: every endpoint the event was delivered to)")
		},
		check: checkSecretKey,
		run:   eventsResend,
	})
}

// merchantFlags are the flags of the subcommands that call the merchant API.
func merchantFlags(fs *flag.FlagSet, o *options) {
	fs.StringVar(&o.cluster, "cluster", ".local/cluster.json", "the local platform's description, used when -endpoint is unset")
	fs.StringVar(&o.endpoints, "endpoint", "", "the platform's regional endpoints, nearest first, comma-separated")
	fs.StringVar(&o.webhooks.secretKey, "secret-key", "", "the merchant's secret key, sk_…")
	fs.BoolVar(&o.json, "json", false, "print JSON instead of a summary")
}

func checkSecretKey(o *options) error {
	if !strings.HasPrefix(o.webhooks.secretKey, "sk_") {
		return errors.New("-secret-key is required: the merchant's secret key, sk_…")
	}
	return nil
}

// client makes the merchant client: -endpoint, else the local platform's endpoints.
func (e *env) client() (*paysdk.Client, error) {
	var eps []string
	for _, ep := range strings.Split(e.opts.endpoints, ",") {
		if ep = strings.TrimSpace(ep); ep != "" {
			eps = append(eps, ep)
		}
	}
	if len(eps) == 0 {
		c, err := e.cluster("-endpoint")
		if err != nil {
			return nil, err
		}
		for _, r := range c.Regions {
			eps = append(eps, r.Endpoint)
		}
	}
	return paysdk.New(paysdk.Config{Endpoints: eps, SecretKey: e.opts.webhooks.secretKey})
}

func webhooksListen(ctx context.Context, e *env) error {
	o := e.opts.webhooks
	c, err := e.client()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	defer ln.Close()
	target := o.publicURL
	if target == "" {
		target = "http://" + ln.Addr().String() + "/"
	}
	var types []string
	for _, t := range strings.Split(o.events, ",") {
		if t = strings.TrimSpace(t); t != "" {
			types = append(types, t)
		}
	}
	ep, err := c.CreateWebhookEndpoint(ctx, paysdk.WebhookEndpointParams{URL: target, EnabledEvents: types, Description: "payctl webhooks listen"})
	if err != nil {
		return fmt.Errorf("register the endpoint: %w", err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := c.DeleteWebhookEndpoint(dctx, ep.ID); err != nil {
			fmt.Fprintf(e.out, "could not delete endpoint %s: %v\n", ep.ID, err)
		}
	}()
	fmt.Fprintf(e.out, "Ready: endpoint %s delivers %s to %s (signing secret %s). Ctrl-C to stop.\n", ep.ID, strings.Join(types, ","), target, ep.Secret)
	fwd := &http.Client{Timeout: 10 * time.Second}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		ev, verr := paysdk.ParseEvent(ep.Secret, r.Header, body)
		if verr != nil {
			fmt.Fprintf(e.out, "%s  REFUSED  %s: %v\n", time.Now().UTC().Format(time.TimeOnly), r.Header.Get(paysdk.HeaderWebhookID), verr)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		status := http.StatusOK
		note := ""
		if o.forward != "" {
			status, note = forward(r.Context(), fwd, o.forward, r.Header, body)
		}
		fmt.Fprintf(e.out, "%s  %-24s %s  signature verified%s\n", time.Now().UTC().Format(time.TimeOnly), ev.Type, ev.ID, note)
		if e.opts.json {
			fmt.Fprintf(e.out, "%s\n", body)
		}
		w.WriteHeader(status)
	})}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		return err
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}

// forward sends a verified event on, with its body and webhook-* headers unchanged, and
// answers with the target's status (502 when it cannot be reached).
func forward(ctx context.Context, c *http.Client, target string, h http.Header, body []byte) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return http.StatusBadGateway, ", forward: " + err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	for _, k := range []string{paysdk.HeaderWebhookID, paysdk.HeaderWebhookTimestamp, paysdk.HeaderWebhookSignature} {
		req.Header.Set(k, h.Get(k))
	}
	resp, err := c.Do(req)
	if err != nil {
		return http.StatusBadGateway, ", forward failed: " + err.Error()
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, fmt.Sprintf(", forwarded: %d", resp.StatusCode)
}

func eventsResend(ctx context.Context, e *env) error {
	c, err := e.client()
	if err != nil {
		return err
	}
	id := e.opts.regionArg
	targets := []string{e.opts.webhooks.to}
	if targets[0] == "" {
		d, err := c.EventDeliveries(ctx, id)
		if err != nil {
			return err
		}
		targets = targets[:0]
		seen := map[string]bool{}
		for _, a := range d.Data {
			if !seen[a.Endpoint] {
				seen[a.Endpoint] = true
				targets = append(targets, a.Endpoint)
			}
		}
		if len(targets) == 0 {
			return fmt.Errorf("%s has no deliveries yet: give -to", id)
		}
	}
	for _, to := range targets {
		if _, err := c.RedeliverEvent(ctx, id, to); err != nil {
			return fmt.Errorf("resend to %s: %w", to, err)
		}
		fmt.Fprintf(e.out, "%s queued for %s\n", id, to)
	}
	return nil
}
