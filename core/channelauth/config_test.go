package channelauth

import (
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestBaseConfig(t *testing.T) {
	t.Parallel()
	key := testKey(t, "merchant")
	good := BaseConfig{BaseURL: "http://127.0.0.1:1/api/", PrivateKey: key, ChannelPublicKey: &key.PublicKey, NotifyURL: "http://127.0.0.1:2/n"}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("defaults", func(t *testing.T) {
		c := good.WithDefaults(72 * time.Hour)
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if c.BaseURL != "http://127.0.0.1:1/api" || c.OrderTTL != 72*time.Hour || c.MaxClockSkew != DefaultMaxClockSkew || c.Now == nil {
			t.Fatalf("defaults: %+v", c)
		}
		tr, ok := c.HTTPClient.Transport.(*http.Transport)
		if !ok || tr == http.DefaultTransport || tr.ResponseHeaderTimeout != DefaultResponseHeaderTimeout {
			t.Fatalf("default transport %#v: want a transport of its own with the safety net", c.HTTPClient.Transport)
		}
		if c.HTTPClient.Timeout != 0 {
			t.Fatalf("default client has a per-call timeout %s: that is resilience's", c.HTTPClient.Timeout)
		}
	})
	t.Run("set fields stay", func(t *testing.T) {
		hc := &http.Client{}
		c := good
		c.OrderTTL, c.MaxClockSkew, c.HTTPClient = time.Minute, time.Second, hc
		c = c.WithDefaults(72 * time.Hour)
		if c.OrderTTL != time.Minute || c.MaxClockSkew != time.Second || c.HTTPClient != hc {
			t.Fatalf("%+v", c)
		}
	})
	for _, tc := range []struct {
		name string
		edit func(*BaseConfig)
		want string
	}{
		{"no BaseURL", func(c *BaseConfig) { c.BaseURL = "" }, "BaseURL is required"},
		{"BaseURL without scheme", func(c *BaseConfig) { c.BaseURL = "127.0.0.1:1" }, "want http(s)://"},
		{"small private key", func(c *BaseConfig) { c.PrivateKey = small }, "PrivateKey has 1024 bits, want at least 2048"},
		{"no NotifyURL", func(c *BaseConfig) { c.NotifyURL = "" }, "NotifyURL is required"},
		{"negative OrderTTL", func(c *BaseConfig) { c.OrderTTL = -time.Second }, "OrderTTL -1s must be positive"},
		{"negative skew", func(c *BaseConfig) { c.MaxClockSkew = -time.Second }, "MaxClockSkew -1s must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			err := c.WithDefaults(time.Hour).Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	t.Run("every problem at once", func(t *testing.T) {
		err := BaseConfig{}.WithDefaults(time.Hour).Validate()
		for _, want := range []string{"BaseURL", "NotifyURL"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("got %v, want it to name %s", err, want)
			}
		}
	})
}
