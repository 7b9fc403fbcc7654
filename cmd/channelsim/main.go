// Command channelsim runs the channel simulator of cmd/channelsim/netsim: the WeChat Pay, Alipay
// and bank-transfer protocols, a Stripe-compatible card acquirer and the /sim control API,
// on one HTTP address, until SIGTERM or SIGINT.
//
//	channelsim [-addr 127.0.0.1:0] [-key-file FILE] [-platform-key-file FILE]
//	           [-public-key-out FILE] [-order-ttl 30m] [-bank-auto-confirm 0] [-public-url URL] [-v]
//
// It prints the address it listens on and its public key:
//
//	channelsim listening on http://127.0.0.1:41234
//	channelsim public key MCowBQYDK2VwAyEA... (serial 3F2A...)
//
// The platform learns the simulator's key from -public-key-out, from that line, or from
// GET /sim/public-key; the simulator learns the platform's from -platform-key-file
// (accepted for every client ID) or PUT /sim/clients/{id}.
package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core/channelauth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "channelsim:", err)
		os.Exit(1)
	}
}

// run parses args, serves until ctx is done, then closes the simulator.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("channelsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on (port 0: any free port, printed)")
	keyFile := fs.String("key-file", "", "the simulator's Ed25519 private key (PKCS #8 PEM); generated and written there if missing; empty: a new key each run")
	platformKey := fs.String("platform-key-file", "", "the platform's Ed25519 public key (PKIX PEM or base64), accepted for every client ID")
	pubOut := fs.String("public-key-out", "", "write the simulator's public key (PKIX PEM) to this file")
	orderTTL := fs.Duration("order-ttl", 30*time.Minute, "how long an order waits for the payer when the create call names no expiry")
	bankAuto := fs.Duration("bank-auto-confirm", 0, "receive every pending bank transfer this long after it was created (0: only POST /sim/pay)")
	publicURL := fs.String("public-url", "", "base of payer-facing URLs (default: the address the platform called)")
	verbose := fs.Bool("v", false, "log notification deliveries and faults to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	cfg := netsim.Config{OrderTTL: *orderTTL, BankAutoConfirm: *bankAuto, PublicURL: *publicURL}
	if *keyFile != "" {
		key, created, err := channelauth.LoadOrCreateKey(*keyFile)
		if err != nil {
			return err
		}
		if created {
			fmt.Fprintf(stderr, "channelsim: generated a new key in %s\n", *keyFile)
		}
		cfg.PrivateKey = key
	}
	if *platformKey != "" {
		data, err := os.ReadFile(*platformKey)
		if err != nil {
			return err
		}
		pub, err := channelauth.ParsePublicKey(data)
		if err != nil {
			return fmt.Errorf("%s: %w", *platformKey, err)
		}
		cfg.Clients = map[string]ed25519.PublicKey{"*": pub}
	}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	}
	srv, err := netsim.NewServer(cfg)
	if err != nil {
		return err
	}
	if err := srv.Start(*addr); err != nil {
		return err
	}
	if *pubOut != "" {
		pem, err := channelauth.MarshalPublicKeyPEM(srv.PublicKey())
		if err != nil {
			return err
		}
		if err := os.WriteFile(*pubOut, pem, 0o644); err != nil {
			srv.Close()
			return err
		}
	}
	fmt.Fprintf(stdout, "channelsim listening on %s\n", srv.URL())
	fmt.Fprintf(stdout, "channelsim public key %s (serial %s)\n", base64.StdEncoding.EncodeToString(srv.PublicKey()), srv.Serial())
	<-ctx.Done()
	return srv.Close()
}
