package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/cmd/channelsim/netsim"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/channelauth/channeltest"
)

// start runs the command in-process and returns its address and a stop function that
// waits for it to exit.
func start(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, pw, io.Discard)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	lines := bufio.NewScanner(pr)
	if !lines.Scan() {
		cancel()
		t.Fatalf("no output: %v", <-done)
	}
	url, ok := strings.CutPrefix(lines.Text(), "channelsim listening on ")
	if !ok {
		t.Fatalf("first line %q", lines.Text())
	}
	go io.Copy(io.Discard, pr)
	return url, func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(5 * time.Second):
			t.Fatal("channelsim did not stop")
			return nil
		}
	}
}

func TestRunKeysAndShutdown(t *testing.T) {
	dir := t.TempDir()
	keyFile, pubOut, platform := filepath.Join(dir, "sim.key"), filepath.Join(dir, "sim.pub"), filepath.Join(dir, "platform.pub")
	pem, _ := channelauth.MarshalPublicKeyPEM(&channeltest.MerchantKey().PublicKey)
	os.WriteFile(platform, pem, 0o644)

	url, stop := start(t, "-addr", "127.0.0.1:0", "-key-file", keyFile, "-public-key-out", pubOut, "-platform-key-file", platform)
	ctl := netsim.Control{BaseURL: url}
	pub, err := ctl.PublicKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	stored, _, err := channelauth.LoadOrCreateKey(keyFile)
	if err != nil || !pub.Equal(&stored.PublicKey) {
		t.Fatalf("served key differs from the key file: %v", err)
	}
	written, _ := os.ReadFile(pubOut)
	if got, err := channelauth.ParsePublicKey(written); err != nil || !got.Equal(pub) {
		t.Fatalf("-public-key-out: %v", err)
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}

	// A second run keeps the key.
	url2, stop2 := start(t, "-key-file", keyFile)
	pub2, err := netsim.Control{BaseURL: url2}.PublicKey(context.Background())
	if err != nil || !pub2.Equal(pub) {
		t.Fatalf("key changed between runs: %v", err)
	}
	if err := stop2(); err != nil {
		t.Fatal(err)
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-no-such-flag"},
		{"-platform-key-file", filepath.Join(t.TempDir(), "missing.pub")},
		{"-addr", "256.0.0.1:0"},
		{"extra"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			if err := run(context.Background(), args, io.Discard, io.Discard); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
