package netsim

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/channelauth"
)

// Config configures a Server. Zero fields take the documented defaults.
type Config struct {
	// PrivateKey (RSA, at least 2048 bits) signs the simulator's answers and notifications:
	// it is the key of WeChat Pay's platform certificate (which the simulator makes for it,
	// self-signed) and of the WeChat Pay public key, Alipay's public key and the bank's key.
	// Default: a new RSA-2048 key (read it back with Server.PublicKey or GET
	// /sim/public-key).
	PrivateKey *rsa.PrivateKey
	// Clients are the platform's public keys by client ID (WeChat Pay mchid, Alipay app_id,
	// bank client_id); the ID "*" matches any client. Default: none, so every signed call is
	// refused until a key is registered (Server.RegisterClient or PUT /sim/clients/{id}).
	Clients map[string]*rsa.PublicKey
	// APIv3Keys are the WeChat Pay merchants' APIv3 keys (32 bytes) by mchid ("*": any
	// merchant): the AES-256-GCM key of notification resources and of the certificate
	// download. Default: none, so WeChat Pay orders are refused until one is registered.
	APIv3Keys map[string]string
	// BankSecrets are the bank clients' HMAC-SHA256 secrets by client_id ("*": any
	// client), for clients that authenticate with SIMBANK-HMAC-SHA256 instead of RSA.
	// Default: none.
	BankSecrets map[string]string
	// CertificateLifetime is how long the platform certificate the simulator makes is
	// valid. Default 5 years (WeChat Pay's are).
	CertificateLifetime time.Duration
	// OrderTTL is how long an order waits for the payer when the create call names no expiry;
	// then it is closed and a "closed" notification is sent. Default 30 minutes.
	OrderTTL time.Duration
	// MaxClockSkew is how far a request's timestamp may be from the simulator's clock; nonces
	// are remembered twice as long. Default 5 minutes.
	MaxClockSkew time.Duration
	// NotifyBackoff is the wait before the first redelivery of an unacknowledged
	// notification; it doubles each time up to NotifyMaxBackoff. Defaults 50 ms and 2 s.
	NotifyBackoff, NotifyMaxBackoff time.Duration
	// NotifyAttempts caps the deliveries of one notification. Default 10.
	NotifyAttempts int
	// NotifyTimeout bounds each delivery attempt. Default 5 s.
	NotifyTimeout time.Duration
	// BankAutoConfirm, when positive, makes the bank receive every pending transfer this long
	// after it was created, as if the payer had sent it. Default 0: only POST /sim/pay does.
	BankAutoConfirm time.Duration
	// BankAccount is the account bank-transfer payers are told to pay into. Default
	// "SIMBANK DE89 3704 0044 0532 0130 00".
	BankAccount string
	// MaxHang bounds how long a timeout fault holds a request whose client does not give up;
	// then the simulator answers 504. Default 2 minutes.
	MaxHang time.Duration
	// PublicURL is the base of payer-facing URLs (Alipay QR codes and pay pages, which the
	// simulator serves at /pay/{token}). Default: http:// and the Host the create request
	// was sent to.
	PublicURL string
	// Logger receives one line per notification delivery attempt and fault. Default: discard.
	Logger *slog.Logger
	// Now is the clock for timestamps, expiry times and statements. Default time.Now.
	Now func() time.Time
}

func (c Config) withDefaults() (Config, error) {
	if c.PrivateKey == nil {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return c, err
		}
		c.PrivateKey = k
	}
	if c.PrivateKey.N.BitLen() < 2048 {
		return c, fmt.Errorf("channelsim: private key has %d bits, want at least 2048", c.PrivateKey.N.BitLen())
	}
	for id, k := range c.APIv3Keys {
		if len(k) != 32 {
			return c, fmt.Errorf("channelsim: the APIv3 key of %s has %d bytes, want 32", id, len(k))
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.OrderTTL, 30*time.Minute)
	def(&c.MaxClockSkew, 5*time.Minute)
	def(&c.NotifyBackoff, 50*time.Millisecond)
	def(&c.NotifyMaxBackoff, 2*time.Second)
	def(&c.NotifyTimeout, 5*time.Second)
	def(&c.MaxHang, 2*time.Minute)
	def(&c.CertificateLifetime, 5*365*24*time.Hour)
	if c.NotifyAttempts <= 0 {
		c.NotifyAttempts = 10
	}
	if c.BankAccount == "" {
		c.BankAccount = "SIMBANK DE89 3704 0044 0532 0130 00"
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// Server is the channel simulator: WeChat Pay, Alipay and bank-transfer protocols plus the
// /sim control API, over one http.Handler. Make it with NewServer; stop it with Close.
type Server struct {
	cfg    Config
	pub    *rsa.PublicKey
	serial string // the bank key's serial and Alipay's
	certs  []platformCert
	mux    *http.ServeMux
	notify *http.Client

	ctx    context.Context // canceled by Close: stops hangs, notification deliveries
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu           sync.Mutex
	closed       bool
	clients      map[string]*rsa.PublicKey
	apiv3        map[string]string
	secrets      map[string]string
	key          *rsa.PrivateKey      // the current signing key (Rotate changes it)
	nonces       map[string]time.Time // client|nonce → when it may be forgotten
	faults       map[core.Channel]*Faults
	orders       map[string]*order    // channel/out_trade_no
	refunds      map[string]*refund   // channel/out_refund_no
	answers      map[string]*answer   // channel/idempotency key
	bills        map[string][]byte    // bill download token → file
	alipayStamps map[string]time.Time // Alipay notify_id → notify_time of its last delivery
	payments     map[string]*PaymentCharges
	keyRuns      map[string]int
	lines        []ledgerLine
	st           stripeState
	events       []*NotificationRecord
	payouts      map[string]*simPayout // out_payout_no → the bank's payout
	seq          int

	httpSrv *http.Server
	ln      net.Listener
}

// NewServer makes a simulator. It serves nothing until Start, or until its Handler is
// mounted on a server of the caller's.
func NewServer(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:          cfg,
		pub:          &cfg.PrivateKey.PublicKey,
		key:          cfg.PrivateKey,
		notify:       &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		clients:      map[string]*rsa.PublicKey{},
		apiv3:        map[string]string{},
		secrets:      map[string]string{},
		nonces:       map[string]time.Time{},
		faults:       map[core.Channel]*Faults{},
		orders:       map[string]*order{},
		refunds:      map[string]*refund{},
		answers:      map[string]*answer{},
		bills:        map[string][]byte{},
		alipayStamps: map[string]time.Time{},
		payments:     map[string]*PaymentCharges{},
		keyRuns:      map[string]int{},
		payouts:      map[string]*simPayout{},
	}
	s.st = stripeState{pms: map[string]*stripePM{}, intents: map[string]*stripeIntent{},
		charges: map[string]*stripeCharge{}, refunds: map[string]*stripeRefund{}}
	s.serial = channelauth.KeySerial(s.pub)
	for id, k := range cfg.Clients {
		s.clients[id] = k
	}
	for id, k := range cfg.APIv3Keys {
		s.apiv3[id] = k
	}
	for id, k := range cfg.BankSecrets {
		s.secrets[id] = k
	}
	cert, err := newPlatformCert(cfg.PrivateKey, s.now(), cfg.CertificateLifetime)
	if err != nil {
		return nil, err
	}
	s.certs = []platformCert{cert}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.routes()
	return s, nil
}

// Handler serves the channel protocols and the control API.
func (s *Server) Handler() http.Handler { return s.mux }

// PublicKey is the key the simulator's answers and notifications verify with (Config's
// PrivateKey; Rotate does not change it).
func (s *Server) PublicKey() *rsa.PublicKey { return s.pub }

// Serial is channelauth.KeySerial of PublicKey: the bank's Simbank-Serial.
func (s *Server) Serial() string { return s.serial }

// WeChatPayPublicKeyID is the ID WeChat Pay gives its public key ("PUB_KEY_ID_" and
// digits), under which a merchant in public-key mode trusts PublicKey.
func (s *Server) WeChatPayPublicKeyID() string { return "PUB_KEY_ID_0" + s.serial }

// CertificateSerial is the serial of the newest platform certificate, sent as
// Wechatpay-Serial.
func (s *Server) CertificateSerial() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.certs[len(s.certs)-1].serial
}

// Rotate makes a platform certificate for key and signs with it from now on, as WeChat Pay
// does when it replaces its certificate; the old certificate stays listed by
// /v3/certificates.
func (s *Server) Rotate(key *rsa.PrivateKey) error {
	cert, err := newPlatformCert(key, s.now(), s.cfg.CertificateLifetime)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certs = append(s.certs, cert)
	s.key = key
	return nil
}

// RegisterClient makes pub the key that verifies the requests of client id ("*": any client).
func (s *Server) RegisterClient(id string, pub *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[id] = pub
}

// RegisterAPIv3Key sets the APIv3 key of WeChat Pay merchant mchid ("*": any merchant).
func (s *Server) RegisterAPIv3Key(mchid, key string) error {
	if len(key) != 32 {
		return fmt.Errorf("an APIv3 key has 32 bytes, not %d", len(key))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiv3[mchid] = key
	return nil
}

// apiv3Key is the APIv3 key of mchid, or of "*". Call with s.mu held.
func (s *Server) apiv3Key(mchid string) (string, bool) {
	if k, ok := s.apiv3[mchid]; ok {
		return k, true
	}
	k, ok := s.apiv3["*"]
	return k, ok
}

// signingCert is the certificate (and key) answers are signed with. Call with s.mu held.
func (s *Server) signingCert() (platformCert, *rsa.PrivateKey) {
	return s.certs[len(s.certs)-1], s.key
}

// Start listens on addr (e.g. "127.0.0.1:0") and serves in the background.
func (s *Server) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.ln = ln
	s.httpSrv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	srv := s.httpSrv
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.cfg.Logger.Error("channelsim: serve", "err", err)
		}
	}()
	return nil
}

// Addr is the address Start bound, or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// URL is "http://" + Addr().
func (s *Server) URL() string { return "http://" + s.Addr() }

// Close stops serving, drops hanging requests, cancels pending expiries and notification
// deliveries, and waits for its goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true // pending expiry and auto-confirm timers see it and do nothing
	srv := s.httpSrv
	s.mu.Unlock()
	s.cancel()
	var err error
	if srv != nil {
		err = srv.Close()
	}
	s.wg.Wait()
	s.notify.CloseIdleConnections()
	return err
}

func (s *Server) now() time.Time { return s.cfg.Now() }

// publicURL is the base of payer-facing URLs for orders created by r.
func (s *Server) publicURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	return "http://" + r.Host
}

// afterFunc runs f after d unless the server is closed. f must check s.closed under s.mu
// (a timer is not stopped by Close: keeping none lets long runs create orders freely).
// Call with s.mu held.
func (s *Server) afterFunc(d time.Duration, f func()) {
	if !s.closed {
		time.AfterFunc(d, f)
	}
}

// nextID returns prefix + a sequence number + random digits, unique in this simulator.
func (s *Server) nextID(prefix string, digits int) string {
	s.seq++
	n := fmt.Sprintf("%s%s%06d", prefix, s.now().UTC().Format("20060102"), s.seq)
	for len(n) < digits {
		n += newNonce()[:1]
	}
	return n
}

// clientKey returns the key of client id, or of "*".
func (s *Server) clientKey(id string) (*rsa.PublicKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.clients[id]; ok {
		return k, nil
	}
	if k, ok := s.clients["*"]; ok {
		return k, nil
	}
	return nil, errNoKey
}

// useNonce records a client's nonce; false if it was seen within the replay window.
func (s *Server) useNonce(client, nonce string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if len(s.nonces) > 4096 {
		for k, exp := range s.nonces {
			if now.After(exp) {
				delete(s.nonces, k)
			}
		}
	}
	k := client + "|" + nonce
	if exp, ok := s.nonces[k]; ok && now.Before(exp) {
		return false
	}
	s.nonces[k] = now.Add(2 * s.cfg.MaxClockSkew)
	return true
}

// fresh reports whether a request timestamp is within the allowed skew.
func (s *Server) fresh(t time.Time) bool {
	d := s.now().Sub(t)
	return d <= s.cfg.MaxClockSkew && d >= -s.cfg.MaxClockSkew
}

// reply is an answer before it is signed and written.
type reply struct {
	status      int
	body        []byte
	contentType string
	header      http.Header
	unsigned    bool // a file download: no signature headers
}

// protocol is what differs between the channels' wire formats.
type protocol struct {
	channel core.Channel
	// authenticate checks a request's signature, timestamp and nonce and names its client.
	authenticate func(r *http.Request, body []byte) (string, *errAuth)
	// fail makes an error answer in the channel's format.
	fail func(status int, code, msg string) reply
	// sign adds signature headers to an answer (Alipay signs inside the body instead).
	sign func(r *http.Request, h http.Header, body []byte)
}

// handlerFunc executes one authenticated protocol request.
type handlerFunc func(r *http.Request, body []byte, client string) reply

// endpoint wraps a protocol handler with the channel's faults, authentication and signing.
// mutating reports whether the request moves money or changes an order (only those can
// lose their answer after executing).
func (s *Server) endpoint(p *protocol, mutating func(r *http.Request, body []byte) bool, h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			s.write(w, r, p, p.fail(http.StatusBadRequest, "PARAM_ERROR", "cannot read the request body: "+err.Error()))
			return
		}
		act := s.decide(p.channel, mutating(r, body))
		log := s.cfg.Logger.With("channel", p.channel, "method", r.Method, "path", r.URL.Path)
		if act.outage {
			log.Info("fault: outage")
			s.write(w, r, p, p.fail(http.StatusServiceUnavailable, "SYSTEM_UNAVAILABLE", "the channel is unavailable; nothing was executed"))
			return
		}
		if act.delay > 0 {
			select {
			case <-time.After(act.delay):
			case <-r.Context().Done():
				return
			case <-s.ctx.Done():
				panic(http.ErrAbortHandler) // closing: drop the connection, never an empty 200
			}
		}
		if act.err {
			log.Info("fault: error")
			s.write(w, r, p, p.fail(http.StatusInternalServerError, "SYSTEM_ERROR", "simulated internal error; nothing was executed"))
			return
		}
		if act.hang {
			log.Info("fault: timeout")
			select {
			case <-r.Context().Done():
			case <-s.ctx.Done():
				panic(http.ErrAbortHandler)
			case <-time.After(s.cfg.MaxHang):
				s.write(w, r, p, p.fail(http.StatusGatewayTimeout, "SYSTEM_TIMEOUT", "simulated timeout; nothing was executed"))
			}
			return
		}
		client, aerr := p.authenticate(r, body)
		if aerr != nil {
			log.Info("refused: authentication", "err", aerr)
			s.write(w, r, p, p.fail(http.StatusUnauthorized, aerr.code, aerr.msg))
			return
		}
		rep := h(r, body, client)
		if act.lose {
			log.Info("fault: lost response", "mode", act.loseMode)
			if act.loseMode != LoseWith502 {
				if hj, ok := w.(http.Hijacker); ok {
					if conn, _, err := hj.Hijack(); err == nil {
						conn.Close()
						return
					}
				}
			}
			http.Error(w, "bad gateway: the channel's answer was lost", http.StatusBadGateway)
			return
		}
		s.write(w, r, p, rep)
	}
}

// write signs and sends an answer.
func (s *Server) write(w http.ResponseWriter, r *http.Request, p *protocol, rep reply) {
	h := w.Header()
	for k, v := range rep.header {
		h[k] = v
	}
	if rep.contentType != "" && len(rep.body) > 0 {
		h.Set("Content-Type", rep.contentType)
	}
	if p.sign != nil && !rep.unsigned {
		p.sign(r, h, rep.body)
	}
	w.WriteHeader(rep.status)
	w.Write(rep.body)
}

// signHeaders adds a header scheme's signature headers over body: WeChat Pay's with the
// newest platform certificate, the bank's with the simulator's key or, for an HMAC client,
// its secret.
func (s *Server) signHeaders(sc headerScheme, h http.Header, body []byte, hmacSecret string) {
	ts := fmt.Sprint(s.now().Unix())
	nonce := newNonce()
	msg := responseMessage(ts, nonce, body)
	h.Set(sc.prefix+"Timestamp", ts)
	h.Set(sc.prefix+"Nonce", nonce)
	switch {
	case hmacSecret != "":
		h.Set(sc.prefix+"Signature", hmacSign([]byte(hmacSecret), msg))
		h.Set(sc.prefix+"Serial", hmacSerial)
		h.Set(sc.prefix+"Signature-Type", bankHMACType)
	case sc.prefix == wechatScheme.prefix:
		s.mu.Lock()
		cert, key := s.signingCert()
		s.mu.Unlock()
		h.Set(sc.prefix+"Signature", rsaSign(key, msg))
		h.Set(sc.prefix+"Serial", cert.serial)
		h.Set(sc.prefix+"Signature-Type", "WECHATPAY2-SHA256-RSA2048")
	default:
		h.Set(sc.prefix+"Signature", rsaSign(s.cfg.PrivateKey, msg))
		h.Set(sc.prefix+"Serial", s.serial)
		h.Set(sc.prefix+"Signature-Type", sc.authType)
	}
}

// headerAuth authenticates a request signed with a header scheme.
func (s *Server) headerAuth(sc headerScheme, code string) func(r *http.Request, body []byte) (string, *errAuth) {
	return func(r *http.Request, body []byte) (string, *errAuth) {
		header := r.Header.Get("Authorization")
		hmacAuth := sc.prefix == bankScheme.prefix && strings.HasPrefix(header, bankHMACType+" ")
		authType := sc.authType
		if hmacAuth {
			authType = bankHMACType
		}
		params, err := parseAuthorization(header, authType)
		if err != nil {
			return "", &errAuth{code, err.Error()}
		}
		id, nonce, ts, sig := params[sc.idParam], params[sc.nonceParam], params["timestamp"], params["signature"]
		if id == "" || nonce == "" || ts == "" || sig == "" || params["serial_no"] == "" {
			return "", &errAuth{code, fmt.Sprintf("Authorization needs %s, %s, signature, timestamp and serial_no", sc.idParam, sc.nonceParam)}
		}
		var verify func(msg []byte) bool
		if hmacAuth {
			secret, ok := s.bankSecret(id)
			if !ok {
				return "", &errAuth{code, fmt.Sprintf("no HMAC secret is registered for %s %q", sc.idParam, id)}
			}
			verify = func(msg []byte) bool { return hmacEqual(hmacSign([]byte(secret), msg), sig) }
		} else {
			key, err := s.clientKey(id)
			if err != nil {
				return "", &errAuth{code, fmt.Sprintf("no public key is registered for %s %q", sc.idParam, id)}
			}
			verify = func(msg []byte) bool { return rsaVerify(key, msg, sig) }
		}
		var unix int64
		if _, err := fmt.Sscan(ts, &unix); err != nil {
			return "", &errAuth{code, "timestamp is not a Unix time"}
		}
		if !s.fresh(time.Unix(unix, 0)) {
			return "", &errAuth{code, fmt.Sprintf("stale timestamp: more than %v from the channel's clock", s.cfg.MaxClockSkew)}
		}
		if !verify(requestMessage(r.Method, r.URL.RequestURI(), ts, nonce, body)) {
			return "", &errAuth{code, "signature does not verify"}
		}
		if !s.useNonce(id, nonce) {
			return "", &errAuth{code, "replayed nonce: " + nonce}
		}
		return id, nil
	}
}

// answer is a stored first answer to an idempotency key.
type answer struct {
	fingerprint string
	rep         reply
}

// once runs exec for a new key and stores its answer, or replays the stored answer of a key
// seen before. A key reused with another request gets conflict. Executions are counted per
// key, overall and for payment. Call with s.mu held.
func (s *Server) once(ch core.Channel, key, payment, fingerprint string, conflict func() reply, exec func() reply) reply {
	k := string(ch) + "/" + key
	if a, ok := s.answers[k]; ok {
		if a.fingerprint != fingerprint {
			return conflict()
		}
		rep := a.rep
		rep.header = rep.header.Clone()
		if rep.header == nil {
			rep.header = http.Header{}
		}
		rep.header.Set("Idempotent-Replayed", "true")
		return rep
	}
	rep := exec()
	s.keyRuns[key]++
	if payment != "" {
		s.record(ch, payment).Keys[key]++
	}
	s.answers[k] = &answer{fingerprint: fingerprint, rep: rep}
	return rep
}

// Private is the simulator's signing key (tests use it to forge otherwise genuine messages).
func (s *Server) Private() *rsa.PrivateKey { return s.cfg.PrivateKey }

// bankSecret is the HMAC secret of bank client id, or of "*".
func (s *Server) bankSecret(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.secrets[id]; ok {
		return k, true
	}
	k, ok := s.secrets["*"]
	return k, ok
}

// platformCert is a WeChat Pay platform certificate the simulator made for itself.
type platformCert struct {
	serial             string
	pem                string
	notBefore, expires time.Time
}

// newPlatformCert makes a self-signed certificate for key, named by a random 20-byte serial
// (upper-case hex, the form of WeChat Pay's serial numbers).
func newPlatformCert(key *rsa.PrivateKey, now time.Time, lifetime time.Duration) (platformCert, error) {
	sn := make([]byte, 20)
	if _, err := rand.Read(sn); err != nil {
		return platformCert{}, err
	}
	sn[0] &= 0x7f
	sn[0] |= 0x10
	serial := new(big.Int).SetBytes(sn)
	nb := now.Add(-time.Hour).Truncate(time.Second)
	tmpl := &x509.Certificate{SerialNumber: serial, NotBefore: nb, NotAfter: nb.Add(lifetime),
		Subject:  pkix.Name{CommonName: "Tenpay.com Root CA (simulated)", Organization: []string{"channelsim"}},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return platformCert{}, err
	}
	return platformCert{serial: strings.ToUpper(hex.EncodeToString(serial.Bytes())),
		pem:       string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		notBefore: nb, expires: nb.Add(lifetime)}, nil
}
