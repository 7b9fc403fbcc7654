package channelauth

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
)

var (
	testKeysMu sync.Mutex
	testKeys   = map[string]*rsa.PrivateKey{}
)

// testKey reads one of the fixed test keys of channeltest (which imports this package, so
// the file is read, not the package).
func testKey(t *testing.T, name string) *rsa.PrivateKey {
	t.Helper()
	testKeysMu.Lock()
	defer testKeysMu.Unlock()
	if k := testKeys[name]; k != nil {
		return k
	}
	data, err := os.ReadFile(filepath.Join("channeltest", "testdata", name+".key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParsePrivateKeyPEM(data)
	if err != nil {
		t.Fatal(err)
	}
	testKeys[name] = k
	return k
}

func TestKeys(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sim.key")
	k1, created, err := LoadOrCreateKey(path)
	if err != nil || !created || k1.N.BitLen() != RSAKeyBits {
		t.Fatalf("create: %v %v", created, err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode())
	}
	k2, created, err := LoadOrCreateKey(path)
	if err != nil || created || !k1.Equal(k2) {
		t.Fatalf("load: %v %v", created, err)
	}
	os.WriteFile(path, []byte("not a key"), 0o600)
	if _, _, err := LoadOrCreateKey(path); err == nil {
		t.Error("a corrupt key file loaded")
	}
}

func TestKeyForms(t *testing.T) {
	t.Parallel()
	key := testKey(t, "merchant")
	pkcs8, _ := MarshalPrivateKeyPEM(key)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	for name, in := range map[string][]byte{"pkcs8 pem": pkcs8, "pkcs1 pem": pkcs1,
		"bare base64 (Alipay's key tool)": []byte(base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(key)) + "\n")} {
		if got, err := ParsePrivateKeyPEM(in); err != nil || !got.Equal(key) {
			t.Errorf("private %s: %v", name, err)
		}
	}
	pubPEM, _ := MarshalPublicKeyPEM(&key.PublicKey)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	tmpl := &x509.Certificate{SerialNumber: key.N, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	certDER, err := x509.CreateCertificate(nil, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})
	for name, in := range map[string][]byte{"pem": pubPEM, "certificate": certPEM,
		"base64 with line breaks": []byte(" " + base64.StdEncoding.EncodeToString(der)[:40] + "\n" + base64.StdEncoding.EncodeToString(der)[40:] + "\n")} {
		if got, err := ParsePublicKey(in); err != nil || !got.Equal(&key.PublicKey) {
			t.Errorf("public %s: %v", name, err)
		}
	}
	for name, in := range map[string][]byte{"short": []byte("AAAA"), "garbage": []byte("%%%"), "private pem": pkcs8} {
		if _, err := ParsePublicKey(in); err == nil {
			t.Errorf("%s parsed as a public key", name)
		}
	}
	if _, err := ParsePrivateKeyPEM(pubPEM); err == nil {
		t.Error("a public key parsed as a private key")
	}
}

func TestSignerVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1554208460, 0)
	clock := func() time.Time { return now }
	sc := Scheme{AuthType: "T", HeaderPrefix: "X", IDField: "id", NonceField: "nonce"}
	chanKey := testKey(t, "channel")
	signers := map[string]struct {
		s    *Signer
		sign func([]byte) (string, error)
		ser  string
	}{
		"rsa": {NewSigner(sc, "c", "S", RSASign(testKey(t, "merchant")), NewKeySet(map[string]*rsa.PublicKey{"K1": &chanKey.PublicKey}), time.Minute, clock),
			RSASign(chanKey), "K1"},
		"hmac": {NewSigner(sc, "c", "H", HMACSign([]byte("shared-secret-of-16")), HMACVerifier{Serial: "H", Secret: []byte("shared-secret-of-16")}, time.Minute, clock),
			HMACSign([]byte("shared-secret-of-16")), "H"},
	}
	for name, tc := range signers {
		t.Run(name, func(t *testing.T) {
			body := []byte(`{"ok":true}`)
			header := func(ts time.Time, nonce, serial string, b []byte) http.Header {
				tss := strconv.FormatInt(ts.Unix(), 10)
				sig, _ := tc.sign(ResponseMessage(tss, nonce, b))
				return http.Header{"X-Timestamp": {tss}, "X-Nonce": {nonce}, "X-Signature": {sig}, "X-Serial": {serial}}
			}
			if err := tc.s.Verify(header(now, "n1", tc.ser, body), body, true); err != nil {
				t.Fatalf("genuine: %v", err)
			}
			for what, h := range map[string]http.Header{
				"replayed nonce":  header(now, "n1", tc.ser, body),
				"tampered":        header(now, "n2", tc.ser, []byte(`{"ok":false}`)),
				"unknown serial":  header(now, "n3", "K9", body),
				"stale":           header(now.Add(-61*time.Second), "n4", tc.ser, body),
				"missing headers": {},
			} {
				if err := tc.s.Verify(h, body, true); !errors.Is(err, core.ErrBadSignature) {
					t.Errorf("%s: %v", what, err)
				}
			}
			auth, err := tc.s.AuthorizationAt("GET", "/p?q=1", "1554208460", "N", nil)
			if err != nil || !strings.HasPrefix(auth, `T id="c",nonce="N",signature="`) || !strings.HasSuffix(auth, `",timestamp="1554208460",serial_no="`+tc.s.serial+`"`) {
				t.Fatalf("Authorization %q %v", auth, err)
			}
		})
	}
}
