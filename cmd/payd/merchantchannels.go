package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/alipay"
	"github.com/paycenter/paycenter/core/banktransfer"
	"github.com/paycenter/paycenter/core/channelauth"
	"github.com/paycenter/paycenter/core/httpapi"
	"github.com/paycenter/paycenter/core/wechatpay"
)

// channelAdapter is what payd needs of a wallet's or the bank's adapter.
type channelAdapter interface {
	core.Gateway
	core.Querier
	core.Statements
	ParseNotification(r *http.Request) (core.Notification, error)
}

// walletChannels are the channels whose accounts a merchant may bring: their credentials are
// checked when stored and used on the merchant's calls.
var walletChannels = []core.Channel{core.ChannelWeChatPay, core.ChannelAlipay, core.ChannelBankTransfer}

// channelAccount is one channel account: where its API is and its credentials, in the
// fields of the adapter's ConfigFromCredentials.
type channelAccount struct {
	BaseURL     string
	Credentials map[string]string
}

// buildAdapter makes the adapter of an account of ch whose notifications go to notifyURL.
// An empty base URL takes the adapter's production gateway (Alipay's: the environment's);
// the bank has no default.
func buildAdapter(ch core.Channel, a channelAccount, notifyURL string) (channelAdapter, error) {
	base := channelauth.BaseConfig{BaseURL: a.BaseURL, NotifyURL: notifyURL}
	switch ch {
	case core.ChannelWeChatPay:
		cfg, err := wechatpay.ConfigFromCredentials(a.Credentials)
		if err != nil {
			return nil, err
		}
		if base.BaseURL == "" {
			base.BaseURL = wechatpay.Production
		}
		base.PrivateKey, base.ChannelPublicKey = cfg.PrivateKey, cfg.ChannelPublicKey
		cfg.BaseConfig = base
		return wechatpay.New(cfg)
	case core.ChannelAlipay:
		cfg, def, err := alipay.ConfigFromCredentials(a.Credentials)
		if err != nil {
			return nil, err
		}
		if base.BaseURL == "" {
			base.BaseURL = def
		}
		base.PrivateKey, base.ChannelPublicKey = cfg.PrivateKey, cfg.ChannelPublicKey
		cfg.BaseConfig = base
		return alipay.New(cfg)
	case core.ChannelBankTransfer:
		cfg, err := banktransfer.ConfigFromCredentials(a.Credentials)
		if err != nil {
			return nil, err
		}
		if base.BaseURL == "" {
			return nil, errors.New("the bank has no default base URL: set bank_transfer.base_url in -channel-config")
		}
		base.PrivateKey, base.ChannelPublicKey = cfg.PrivateKey, cfg.ChannelPublicKey
		cfg.BaseConfig = base
		return banktransfer.New(cfg)
	}
	return nil, fmt.Errorf("channel %s takes no account", ch)
}

// validateCredentials checks the shape of credentials for ch before they are stored:
// 400 naming the field (credentials[<name>]) when a wallet's or the bank's are malformed.
// Other channels' credentials are stored as they are.
func validateCredentials(ch core.Channel, creds map[string]string) error {
	var err error
	switch ch {
	case core.ChannelWeChatPay:
		var sub bool
		if sub, err = wechatpay.SubMerchantCredentials(creds); !sub && err == nil {
			_, err = wechatpay.ConfigFromCredentials(creds)
		}
	case core.ChannelAlipay:
		var tok bool
		if tok, err = alipay.AuthorizedMerchantCredentials(creds); !tok && err == nil {
			_, _, err = alipay.ConfigFromCredentials(creds)
		}
	case core.ChannelBankTransfer:
		_, err = banktransfer.ConfigFromCredentials(creds)
	}
	return err
}

// delegated reports whether creds name a merchant the platform's own account serves on its
// behalf: a WeChat Pay sub-merchant (sub_mchid; the platform is its service provider) or an
// Alipay merchant that authorised the platform's application (app_auth_token).
func delegated(ch core.Channel, creds map[string]string) bool {
	switch ch {
	case core.ChannelWeChatPay:
		ok, _ := wechatpay.SubMerchantCredentials(creds)
		return ok
	case core.ChannelAlipay:
		ok, _ := alipay.AuthorizedMerchantCredentials(creds)
		return ok
	}
	return false
}

// checkedChannels checks credentials before the service stores them.
type checkedChannels struct{ httpapi.GatewayOps }

func (c checkedChannels) SetChannel(ctx context.Context, merchantID string, ch core.Channel, enabled bool, credentials map[string]string) (*core.ChannelAuthorization, error) {
	if credentials != nil {
		if err := validateCredentials(ch, credentials); err != nil {
			return nil, err
		}
	}
	return c.GatewayOps.SetChannel(ctx, merchantID, ch, enabled, credentials)
}

// loadChannelConfig reads -channel-config: a JSON object of the platform's own accounts by
// channel, each an object of credential fields plus base_url (default: the channel's
// production gateway; Alipay's environment field picks sandbox), where a field named
// <name>_file is read from that file into <name> (for keys and secrets):
//
//	{"wechat_pay": {"mchid": "1900000109", "serial_no": "…", "private_key_file": "/etc/pc/wx.pem",
//	                "apiv3_key_file": "/etc/pc/wx.apiv3"},
//	 "alipay": {"environment": "sandbox", "app_id": "…", "private_key_file": "…", "alipay_public_key_file": "…"}}
func loadChannelConfig(path string) (map[core.Channel]channelAccount, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-channel-config: %w", err)
	}
	var in map[string]map[string]string
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("-channel-config %s: %w", path, err)
	}
	out := map[core.Channel]channelAccount{}
	for name, fields := range in {
		ch := core.Channel(name)
		if !isWallet(ch) {
			return nil, fmt.Errorf("-channel-config %s: unknown channel %q (want wechat_pay, alipay or bank_transfer)", path, name)
		}
		a := channelAccount{Credentials: map[string]string{}}
		for k, v := range fields {
			switch {
			case k == "base_url":
				a.BaseURL = v
			case strings.HasSuffix(k, "_file"):
				data, err := os.ReadFile(v)
				if err != nil {
					return nil, fmt.Errorf("-channel-config %s: %s.%s: %w", path, name, k, err)
				}
				a.Credentials[strings.TrimSuffix(k, "_file")] = strings.TrimSpace(string(data))
			default:
				a.Credentials[k] = v
			}
		}
		if err := validateCredentials(ch, a.Credentials); err != nil {
			return nil, fmt.Errorf("-channel-config %s: %s: %w", path, name, err)
		}
		out[ch] = a
	}
	return out, nil
}

func isWallet(ch core.Channel) bool {
	for _, w := range walletChannels {
		if w == ch {
			return true
		}
	}
	return false
}

// merchantStore is what merchantChannel reads from and records in the database.
type merchantStore interface {
	ChannelCredentials(ctx context.Context, merchantID string, ch core.Channel) (map[string]string, error)
	PaymentMerchant(ctx context.Context, paymentID string) (string, error)
	RecordPaymentAccount(ctx context.Context, paymentID, merchantID string, ch core.Channel, credentials map[string]string) (map[string]string, error)
	PaymentAccount(ctx context.Context, paymentID string) (merchantID string, credentials map[string]string, found bool, err error)
}

// credentialsTTL is how long a merchant's credentials are used before they are read again:
// an update takes at most this long to reach every node.
const credentialsTTL = 30 * time.Second

// merchantChannel routes one channel's calls to the account of the merchant they are for:
// the merchant's own (its credentials in its channel authorisation) or, for merchants with
// none, the platform's (nil: only merchants with their own account can use the channel).
// The account a payment is authorised on is recorded with it (RecordPaymentAccount), and
// the payment's later calls go there, whatever the merchant's credentials are by then.
// Merchants' adapters notify NotifyURL?merchant=<id>, so that their notifications are
// verified with their own keys.
type merchantChannel struct {
	ch       core.Channel
	platform channelAdapter
	// platformAccount is the platform's account, for merchants it serves on their behalf
	// (see delegated): WeChat Pay sub-merchants, Alipay merchants that authorised it.
	platformAccount *channelAccount
	baseURL         string // the merchants' accounts' API base ("": the adapter's production gateway)
	notifyURL       string
	store           func() merchantStore // late-bound: the service is made after the channels
	now             func() time.Time

	mu       sync.Mutex
	accounts map[string]*merchantAccount // merchant → its current credentials
	built    map[string]channelAdapter   // merchant|credentials fingerprint → adapter
	payments map[string]*paymentAccount  // payment → the account it was authorised on
}

type merchantAccount struct {
	creds   map[string]string // nil: the merchant has no account of its own
	checked time.Time
}

type paymentAccount struct {
	merchant string
	creds    map[string]string
}

var (
	_ core.Gateway    = (*merchantChannel)(nil)
	_ core.Querier    = (*merchantChannel)(nil)
	_ core.Statements = (*merchantChannel)(nil)
)

func newMerchantChannel(ch core.Channel, platform channelAdapter, baseURL, notifyURL string, store func() merchantStore) *merchantChannel {
	return &merchantChannel{ch: ch, platform: platform, baseURL: baseURL, notifyURL: notifyURL, store: store, now: time.Now,
		accounts: map[string]*merchantAccount{}, built: map[string]channelAdapter{}, payments: map[string]*paymentAccount{}}
}

// forMerchant is the adapter of merchant's current account, or the platform's.
func (r *merchantChannel) forMerchant(ctx context.Context, merchantID string) (channelAdapter, error) {
	creds, err := r.currentCredentials(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	return r.adapterFor(merchantID, creds)
}

// currentCredentials are merchant's credentials for the channel (nil: none), read at most
// every credentialsTTL.
func (r *merchantChannel) currentCredentials(ctx context.Context, merchantID string) (map[string]string, error) {
	if merchantID == "" {
		return nil, nil
	}
	r.mu.Lock()
	acct := r.accounts[merchantID]
	r.mu.Unlock()
	if acct != nil && r.now().Sub(acct.checked) < credentialsTTL {
		return acct.creds, nil
	}
	creds, err := r.store().ChannelCredentials(ctx, merchantID, r.ch)
	if err != nil {
		return nil, fmt.Errorf("%s: reading merchant %s's credentials: %v: %w", r.ch, merchantID, err, core.ErrNotExecuted)
	}
	r.mu.Lock()
	r.accounts[merchantID] = &merchantAccount{creds: creds, checked: r.now()}
	r.mu.Unlock()
	return creds, nil
}

// adapterFor is the adapter of an account: the platform's for nil credentials, else one
// built from them (once per merchant and credentials; it keeps its downloaded certificates).
func (r *merchantChannel) adapterFor(merchantID string, creds map[string]string) (channelAdapter, error) {
	if creds == nil {
		if r.platform == nil {
			return nil, fmt.Errorf("%s: merchant %s has no account of its own and the platform none: %w", r.ch, merchantID, core.ErrNotExecuted)
		}
		return r.platform, nil
	}
	key := merchantID + "|" + fingerprint(creds)
	r.mu.Lock()
	gw := r.built[key]
	r.mu.Unlock()
	if gw != nil {
		return gw, nil
	}
	acct := channelAccount{BaseURL: r.baseURL, Credentials: creds}
	if delegated(r.ch, creds) {
		if r.platformAccount == nil {
			return nil, fmt.Errorf("%s: merchant %s is served through the platform's account, and the platform has none: %w", r.ch, merchantID, core.ErrNotExecuted)
		}
		acct = channelAccount{BaseURL: r.platformAccount.BaseURL, Credentials: map[string]string{}}
		for k, v := range r.platformAccount.Credentials {
			acct.Credentials[k] = v
		}
		for k, v := range creds {
			acct.Credentials[k] = v
		}
	}
	gw, err := buildAdapter(r.ch, acct, r.notifyURL+"?merchant="+url.QueryEscape(merchantID))
	if err != nil {
		return nil, fmt.Errorf("%s: merchant %s's credentials: %v: %w", r.ch, merchantID, err, core.ErrNotExecuted)
	}
	r.mu.Lock()
	if len(r.built) > 10_000 {
		r.built = map[string]channelAdapter{}
	}
	r.built[key] = gw
	r.mu.Unlock()
	return gw, nil
}

// forPayment is the adapter of the account payment was authorised on (payments from before
// accounts were recorded: its merchant's current one).
func (r *merchantChannel) forPayment(ctx context.Context, paymentID string) (channelAdapter, error) {
	r.mu.Lock()
	pa := r.payments[paymentID]
	r.mu.Unlock()
	if pa == nil {
		merchant, creds, found, err := r.store().PaymentAccount(ctx, paymentID)
		if err != nil {
			return nil, fmt.Errorf("%s: the channel account of payment %s: %v: %w", r.ch, paymentID, err, core.ErrNotExecuted)
		}
		if !found {
			if merchant, err = r.store().PaymentMerchant(ctx, paymentID); err != nil {
				return nil, fmt.Errorf("%s: the merchant of payment %s: %v: %w", r.ch, paymentID, err, core.ErrNotExecuted)
			}
			return r.forMerchant(ctx, merchant)
		}
		pa = &paymentAccount{merchant: merchant, creds: creds}
		r.remember(paymentID, pa)
	}
	return r.adapterFor(pa.merchant, pa.creds)
}

func (r *merchantChannel) remember(paymentID string, pa *paymentAccount) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.payments) > 100_000 {
		r.payments = map[string]*paymentAccount{}
	}
	r.payments[paymentID] = pa
}

func fingerprint(creds map[string]string) string {
	if creds == nil {
		return ""
	}
	keys := make([]string, 0, len(creds))
	for k := range creds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%q=%q\n", k, creds[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Authorize records the account the payment is authorised on before the first call, and
// re-drives a payment's authorisation on the account recorded first.
func (r *merchantChannel) Authorize(ctx context.Context, req core.AuthorizeRequest) (core.AuthorizeResult, error) {
	creds, err := r.currentCredentials(ctx, req.MerchantID)
	if err != nil {
		return core.AuthorizeResult{}, err
	}
	if _, err := r.adapterFor(req.MerchantID, creds); err != nil {
		return core.AuthorizeResult{}, err // nothing recorded for an account that cannot be used
	}
	recorded, err := r.store().RecordPaymentAccount(ctx, req.PaymentID, req.MerchantID, r.ch, creds)
	if err != nil {
		return core.AuthorizeResult{}, fmt.Errorf("%s: recording the channel account of %s: %v: %w", r.ch, req.PaymentID, err, core.ErrNotExecuted)
	}
	r.remember(req.PaymentID, &paymentAccount{merchant: req.MerchantID, creds: recorded})
	gw, err := r.adapterFor(req.MerchantID, recorded)
	if err != nil {
		return core.AuthorizeResult{}, err
	}
	return gw.Authorize(ctx, req)
}

func (r *merchantChannel) Capture(ctx context.Context, req core.CaptureRequest) (core.OpResult, error) {
	gw, err := r.forPayment(ctx, req.PaymentID)
	if err != nil {
		return core.OpResult{}, err
	}
	return gw.Capture(ctx, req)
}

func (r *merchantChannel) Void(ctx context.Context, req core.VoidRequest) (core.OpResult, error) {
	gw, err := r.forPayment(ctx, req.PaymentID)
	if err != nil {
		return core.OpResult{}, err
	}
	return gw.Void(ctx, req)
}

func (r *merchantChannel) Refund(ctx context.Context, req core.RefundRequest) (core.OpResult, error) {
	gw, err := r.forPayment(ctx, req.PaymentID)
	if err != nil {
		return core.OpResult{}, err
	}
	return gw.Refund(ctx, req)
}

func (r *merchantChannel) QueryPayment(ctx context.Context, q core.PaymentQuery) (core.PaymentState, error) {
	gw, err := r.forPayment(ctx, q.PaymentID)
	if err != nil {
		return core.PaymentState{}, err
	}
	return gw.QueryPayment(ctx, q)
}

// Statement is the platform account's statement: reconciliation covers the platform's
// accounts, not merchants' own.
func (r *merchantChannel) Statement(ctx context.Context, ch core.Channel, day time.Time) ([]core.StatementLine, error) {
	if r.platform == nil {
		return nil, fmt.Errorf("channel %s has no platform account to reconcile: %w", ch, errors.ErrUnsupported)
	}
	return r.platform.Statement(ctx, ch, day)
}

// ParseNotification verifies a notification with the keys of the account it names
// (?merchant=<id>), or the platform's.
func (r *merchantChannel) ParseNotification(req *http.Request) (core.Notification, error) {
	gw, err := r.forMerchant(req.Context(), req.URL.Query().Get("merchant"))
	if err != nil {
		return core.Notification{}, err
	}
	return gw.ParseNotification(req)
}

// platformPayouter is the platform's own bank account: payouts leave the platform's money,
// whatever account a merchant takes payments on.
func (r *merchantChannel) platformPayouter() (core.Payouter, error) {
	p, ok := r.platform.(core.Payouter)
	if r.platform == nil || !ok {
		return nil, fmt.Errorf("%s: the platform has no account here that pays out: %w", r.ch, core.ErrNotExecuted)
	}
	return p, nil
}

// Payout implements core.Payouter through the platform's account.
func (r *merchantChannel) Payout(ctx context.Context, req core.PayoutRequest) (core.PayoutResult, error) {
	p, err := r.platformPayouter()
	if err != nil {
		return core.PayoutResult{}, err
	}
	return p.Payout(ctx, req)
}

// QueryPayout implements core.Payouter through the platform's account.
func (r *merchantChannel) QueryPayout(ctx context.Context, q core.PayoutQuery) (core.PayoutResult, error) {
	p, err := r.platformPayouter()
	if err != nil {
		return core.PayoutResult{}, err
	}
	return p.QueryPayout(ctx, q)
}
