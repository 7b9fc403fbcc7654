package wechatpay

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
)

// AuthType is WeChat Pay API v3's Authorization scheme: SHA256withRSA with an RSA-2048 key.
const AuthType = "WECHATPAY2-SHA256-RSA2048"

// scheme is API v3's header scheme: Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",
// nonce_str="…",signature="…",timestamp="…",serial_no="…"; answers and notifications in
// Wechatpay-Timestamp, -Nonce, -Signature and -Serial.
var scheme = channelauth.Scheme{AuthType: AuthType, HeaderPrefix: "Wechatpay", IDField: "mchid", NonceField: "nonce_str"}

// AlgorithmAES256GCM is the algorithm of encrypted resources and certificates.
const AlgorithmAES256GCM = "AEAD_AES_256_GCM"

// encrypted is API v3's envelope of an encrypted resource (a notification's resource, a
// certificate in the certificate download).
type encrypted struct {
	Algorithm      string `json:"algorithm"`
	Ciphertext     string `json:"ciphertext"`
	AssociatedData string `json:"associated_data"`
	Nonce          string `json:"nonce"`
	OriginalType   string `json:"original_type"`
}

// DecryptResource opens an AEAD_AES_256_GCM resource: AES-256-GCM under the APIv3 key (32
// bytes), with nonce and associatedData as given and ciphertext the standard base64 of the
// sealed bytes followed by the 16-byte tag. Errors wrap core.ErrBadSignature: a resource
// that does not open was not sealed by WeChat Pay for us, or was altered.
func DecryptResource(apiv3Key, nonce, associatedData, ciphertext string) ([]byte, error) {
	block, err := aes.NewCipher([]byte(apiv3Key))
	if err != nil {
		return nil, fmt.Errorf("APIv3 key: %w", err)
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(nonce))
	if err != nil {
		return nil, fmt.Errorf("%w: resource nonce of %d bytes: %v", core.ErrBadSignature, len(nonce), err)
	}
	raw, err := base64.StdEncoding.DecodeString(ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: resource ciphertext is not base64", core.ErrBadSignature)
	}
	plain, err := gcm.Open(nil, []byte(nonce), raw, []byte(associatedData))
	if err != nil {
		return nil, fmt.Errorf("%w: resource does not decrypt with our APIv3 key (altered, or not for us)", core.ErrBadSignature)
	}
	return plain, nil
}

func (e encrypted) open(apiv3Key string) ([]byte, error) {
	if e.Algorithm != AlgorithmAES256GCM {
		return nil, fmt.Errorf("%w: resource algorithm %q, want %s", core.ErrBadSignature, e.Algorithm, AlgorithmAES256GCM)
	}
	return DecryptResource(apiv3Key, e.Nonce, e.AssociatedData, e.Ciphertext)
}

// certSerial is a certificate's serial number as WeChat Pay writes it: upper-case hex.
func certSerial(c *x509.Certificate) string {
	return strings.ToUpper(hex.EncodeToString(c.SerialNumber.Bytes()))
}

// platformKeys verifies WeChat Pay's signatures: with the WeChat Pay public key under its ID
// (public-key mode), and with the platform certificates, downloaded at the first answer
// signed by a serial we do not know and again when a new serial appears (WeChat Pay adds
// the next certificate 24 hours before it switches), at most once per refreshGap.
type platformKeys struct {
	keys       *channelauth.KeySet
	download   func(ctx context.Context) error // nil in public-key mode
	refreshGap time.Duration
	now        func() time.Time

	mu        sync.Mutex
	lastFetch time.Time
	lastErr   error
}

// downloadTimeout bounds a certificate download made while verifying an answer, and
// failedDownloadGap is the least time before a failed one is tried again.
const (
	downloadTimeout   = 10 * time.Second
	failedDownloadGap = 5 * time.Second
)

func (p *platformKeys) Verify(serial string, msg []byte, sig string) error {
	if !p.keys.Has(serial) && p.download != nil {
		if err := p.refresh(); err != nil {
			return fmt.Errorf("unknown serial %q, and the certificate download failed: %v", serial, err)
		}
	}
	return p.keys.Verify(serial, msg, sig)
}

// refresh downloads the certificates unless that was tried less than refreshGap ago.
func (p *platformKeys) refresh() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	gap := p.refreshGap
	if p.lastErr != nil {
		gap = min(gap, failedDownloadGap) // a failed download is tried again sooner
	}
	if !p.lastFetch.IsZero() && p.now().Sub(p.lastFetch) < gap {
		return p.lastErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), downloadTimeout)
	defer cancel()
	p.lastErr = p.download(ctx)
	p.lastFetch = p.now()
	return p.lastErr
}

// DownloadCertificates fetches WeChat Pay's platform certificates (GET /v3/certificates),
// decrypts them with the APIv3 key, checks that the answer is signed by one of them, and
// trusts them from then on. New calls it when Config.ChannelPublicKey is not set; answers
// signed by an unknown serial call it again (certificate rotation).
func (g *Gateway) DownloadCertificates(ctx context.Context) error {
	status, h, raw, err := g.client.CallUnverified(ctx, http.MethodGet, "/v3/certificates", nil, "")
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		var e apiError
		json.Unmarshal(raw, &e)
		return fmt.Errorf("wechatpay: certificate download answered %d: %s: %s", status, e.Code, e.Message)
	}
	var ans struct {
		Data []struct {
			SerialNo           string    `json:"serial_no"`
			ExpireTime         string    `json:"expire_time"`
			EncryptCertificate encrypted `json:"encrypt_certificate"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return fmt.Errorf("wechatpay: malformed certificate list: %w", err)
	}
	found := map[string]*rsa.PublicKey{}
	for _, d := range ans.Data {
		plain, err := d.EncryptCertificate.open(g.cfg.APIv3Key)
		if err != nil {
			return fmt.Errorf("wechatpay: certificate %s: %w", d.SerialNo, err)
		}
		block, _ := pem.Decode(plain)
		if block == nil || block.Type != "CERTIFICATE" {
			return fmt.Errorf("wechatpay: certificate %s is not a PEM certificate", d.SerialNo)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return fmt.Errorf("wechatpay: certificate %s: %w", d.SerialNo, err)
		}
		pub, ok := cert.PublicKey.(*rsa.PublicKey)
		if !ok || certSerial(cert) != strings.ToUpper(d.SerialNo) {
			return fmt.Errorf("wechatpay: certificate %s: serial %s or key type %T do not match", d.SerialNo, certSerial(cert), cert.PublicKey)
		}
		if g.cfg.Now().After(cert.NotAfter) {
			continue
		}
		found[certSerial(cert)] = pub
	}
	if len(found) == 0 {
		return errors.New("wechatpay: the certificate download has no valid certificate")
	}
	// The list is signed by one of the certificates it carries; only WeChat Pay knows our
	// APIv3 key, so a list that decrypted and verifies is theirs.
	check := channelauth.NewSigner(scheme, g.cfg.MerchantID, g.cfg.MerchantSerialNo, nil,
		channelauth.NewKeySet(found), g.cfg.MaxClockSkew, g.cfg.Now)
	if err := check.Verify(h, raw, false); err != nil {
		return fmt.Errorf("wechatpay: certificate download: %w", err)
	}
	for serial, pub := range found {
		g.keys.keys.Add(serial, pub)
	}
	return nil
}
