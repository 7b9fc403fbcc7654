package channelauth

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

func TestKeys(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sim.key")
	k1, created, err := LoadOrCreateKey(path)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode())
	}
	k2, created, err := LoadOrCreateKey(path)
	if err != nil || created || !k1.Equal(k2) {
		t.Fatalf("load: %v %v", created, err)
	}
	pub := k1.Public().(ed25519.PublicKey)
	pemBytes, _ := MarshalPublicKeyPEM(pub)
	for name, in := range map[string][]byte{"pem": pemBytes, "base64": []byte(" " + base64.StdEncoding.EncodeToString(pub) + "\n")} {
		if got, err := ParsePublicKey(in); err != nil || !got.Equal(pub) {
			t.Errorf("%s: %v", name, err)
		}
	}
	privPEM, _ := MarshalPrivateKeyPEM(k1)
	for name, in := range map[string][]byte{"short": []byte("AAAA"), "garbage": []byte("%%%"), "private pem": privPEM} {
		if _, err := ParsePublicKey(in); err == nil {
			t.Errorf("%s parsed as a public key", name)
		}
	}
	os.WriteFile(path, []byte("not a key"), 0o600)
	if _, _, err := LoadOrCreateKey(path); err == nil {
		t.Error("a corrupt key file loaded")
	}
}
