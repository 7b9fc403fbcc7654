// Command channelsim runs the channel simulator of cmd/channelsim/netsim: the WeChat Pay, Alipay
// and bank-transfer protocols, a Stripe-compatible card acquirer and the /sim control API,
// on one HTTP address, until SIGTERM or SIGINT.
//
//	channelsim [-addr 127.0.0.1:0] [-key-file FILE] [-platform-key-file FILE]
//	           [-apiv3-key-file FILE] [-bank-hmac-secret-file FILE]
//	           [-public-key-out FILE] [-order-ttl 30m] [-bank-auto-confirm 0] [-public-url URL] [-v]
//
// It prints the address it listens on, its public key (RSA, base64 of the PKIX DER, as Alipay
// shows its public key) and WeChat Pay's platform certificate serial:
//
//	channelsim listening on http://127.0.0.1:41234
//	channelsim public key MIIBIjANBgkqh... (serial 3F2A...)
//	channelsim WeChat Pay platform certificate 1F0E... (public key ID PUB_KEY_ID_03F2A...)
//
// The platform learns the simulator's key from -public-key-out, from those lines, or from
// GET /sim/public-key (WeChat Pay adapters download the certificate from /v3/certificates);
// the simulator learns the platform's key from -platform-key-file, WeChat Pay's APIv3 key
// from -apiv3-key-file and the bank's HMAC secret from -bank-hmac-secret-file (each
// accepted for every client ID), or any of them from PUT /sim/clients/{id}.
package main

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
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
	keyFile := fs.String("key-file", "", "the simulator's RSA private key (PKCS #8 PEM); an RSA-2048 key is generated and written there if missing; empty: a new key each run")
	platformKey := fs.String("platform-key-file", "", "the platform's RSA public key (PKIX PEM, certificate or base64), accepted for every client ID")
	apiv3File := fs.String("apiv3-key-file", "", "the WeChat Pay APIv3 key (32 bytes), accepted for every mchid (default with -platform-key-file: channelauth.SimulatorAPIv3Key of that key)")
	hmacFile := fs.String("bank-hmac-secret-file", "", "the bank's HMAC-SHA256 secret, accepted for every client_id")
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
		cfg.Clients = map[string]*rsa.PublicKey{"*": pub}
		// Without -apiv3-key-file, the APIv3 key payd -channels channelsim derives too.
		cfg.APIv3Keys = map[string]string{"*": channelauth.SimulatorAPIv3Key(pub)}
	}
	if *apiv3File != "" {
		data, err := os.ReadFile(*apiv3File)
		if err != nil {
			return err
		}
		cfg.APIv3Keys = map[string]string{"*": strings.TrimSpace(string(data))}
	}
	if *hmacFile != "" {
		data, err := os.ReadFile(*hmacFile)
		if err != nil {
			return err
		}
		cfg.BankSecrets = map[string]string{"*": strings.TrimSpace(string(data))}
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
	der, err := x509.MarshalPKIXPublicKey(srv.PublicKey())
	if err != nil {
		srv.Close()
		return err
	}
	fmt.Fprintf(stdout, "channelsim public key %s (serial %s)\n", base64.StdEncoding.EncodeToString(der), srv.Serial())
	fmt.Fprintf(stdout, "channelsim WeChat Pay platform certificate %s (public key ID %s)\n", srv.CertificateSerial(), srv.WeChatPayPublicKeyID())
	<-ctx.Done()
	return srv.Close()
}
