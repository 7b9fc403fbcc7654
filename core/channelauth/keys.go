package channelauth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// RSAKeyBits is the size of the keys LoadOrCreateKey generates: WeChat Pay's and Alipay's
// RSA2 keys are RSA-2048.
const RSAKeyBits = 2048

// MarshalPrivateKeyPEM encodes an RSA private key as a PKCS #8 "PRIVATE KEY" PEM block (the
// form of WeChat Pay's apiclient_key.pem and of the keys Alipay's key tool exports).
func MarshalPrivateKeyPEM(key *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM decodes an RSA private key: a PKCS #8 "PRIVATE KEY" or PKCS #1 "RSA
// PRIVATE KEY" PEM block, or the bare base64 of either DER form (Alipay's key tool shows the
// application private key that way).
func ParsePrivateKeyPEM(data []byte) (*rsa.PrivateKey, error) {
	var der []byte
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "PRIVATE KEY" && block.Type != "RSA PRIVATE KEY" {
			return nil, fmt.Errorf("PEM block is %q, not PRIVATE KEY", block.Type)
		}
		der = block.Bytes
	} else {
		raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(data)), ""))
		if err != nil || len(raw) == 0 {
			return nil, errors.New("private key is neither PEM nor base64")
		}
		der = raw
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return checkRSA(k)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	key, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("private key is %T, not RSA", k)
	}
	return checkRSA(key)
}

func checkRSA(k *rsa.PrivateKey) (*rsa.PrivateKey, error) {
	if k.N.BitLen() < RSAKeyBits {
		return nil, fmt.Errorf("RSA key has %d bits, want at least %d", k.N.BitLen(), RSAKeyBits)
	}
	return k, nil
}

// MarshalPublicKeyPEM encodes an RSA public key as a PKIX "PUBLIC KEY" PEM block.
func MarshalPublicKeyPEM(pub *rsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKey decodes an RSA public key given as a PKIX "PUBLIC KEY" PEM block, as a
// "CERTIFICATE" PEM block (its subject key), or as the bare base64 of the PKIX DER (how
// Alipay's console shows the Alipay public key, and WeChat Pay's the WeChat Pay public key).
func ParsePublicKey(data []byte) (*rsa.PublicKey, error) {
	var der []byte
	if block, _ := pem.Decode(data); block != nil {
		switch block.Type {
		case "PUBLIC KEY":
			der = block.Bytes
		case "CERTIFICATE":
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, err
			}
			pub, ok := cert.PublicKey.(*rsa.PublicKey)
			if !ok {
				return nil, fmt.Errorf("certificate key is %T, not RSA", cert.PublicKey)
			}
			return pub, nil
		default:
			return nil, fmt.Errorf("PEM block is %q, not PUBLIC KEY or CERTIFICATE", block.Type)
		}
	} else {
		raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(data)), ""))
		if err != nil {
			return nil, fmt.Errorf("public key is neither PEM nor base64: %w", err)
		}
		der = raw
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	pub, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("public key is %T, not RSA", k)
	}
	if pub.N.BitLen() < RSAKeyBits {
		return nil, fmt.Errorf("RSA key has %d bits, want at least %d", pub.N.BitLen(), RSAKeyBits)
	}
	return pub, nil
}

// KeySerial names a public key when nothing else does (the bank's keys, the simulator's
// control API): the first 8 bytes of the SHA-256 of its PKIX DER, upper-case hex. WeChat
// Pay names keys by certificate serial or public key ID instead.
func KeySerial(pub *rsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return strings.ToUpper(hex.EncodeToString(sum[:8]))
}

// LoadOrCreateKey reads the PEM private key at path, or generates an RSA-2048 key and writes
// it there (mode 0600) when the file does not exist. created reports which happened.
func LoadOrCreateKey(path string) (key *rsa.PrivateKey, created bool, err error) {
	data, err := os.ReadFile(path)
	if err == nil {
		key, err = ParsePrivateKeyPEM(data)
		if err != nil {
			return nil, false, fmt.Errorf("key file %s: %w", path, err)
		}
		return key, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, false, err
	}
	key, err = rsa.GenerateKey(rand.Reader, RSAKeyBits)
	if err != nil {
		return nil, false, err
	}
	data, err = MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, false, err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, false, err
	}
	return key, true, nil
}
