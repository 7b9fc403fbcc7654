package loadtest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/paycenter/paycenter/core"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// Operation is one operation the generator planned.
type Operation struct {
	// Seq is the operation's number in the run, from 0.
	Seq int64
	// Type is the operation drawn from the mix.
	Type OpType
	// Intended is when it was scheduled to start (open loop), or when it started (closed
	// loop).
	Intended time.Time
	// Warmup is true when it was scheduled during the warmup.
	Warmup bool
	// Rand is the operation's own random source, seeded with (Config.Seed, Seq); Type was
	// its first draw.
	Rand *rand.Rand
}

// Executor performs operations. The generator calls Execute from many goroutines at once.
type Executor interface {
	// Execute performs op within ctx and describes it in rec: the generator has set Seq,
	// Op, Warmup and ScheduledNS and sets InvokeNS and CompleteNS around the call; Execute
	// sets the rest (Outcome at least). It may perform another operation than op.Type (a
	// refund with nothing to refund): it then sets rec.Op to what it did and
	// rec.SubstitutedFor to op.Type.
	Execute(ctx context.Context, op *Operation, rec *HistoryRecord)
}

// Test cards.
const (
	cardOK      = "4242424242424242"
	cardDecline = "4000000000000002"
)

// sdkExecutor performs operations through the merchant SDK, one client per merchant.
type sdkExecutor struct {
	cfg       Config
	merchants []Merchant
	clients   []*paysdk.Client
	cards     Weighted[core.Channel]
	pool      *refundPool
	known     *knownPayments
}

func newSDKExecutor(cfg Config, t Target, ms []Merchant) (*sdkExecutor, error) {
	if len(ms) == 0 {
		return nil, errors.New("no merchants to act as")
	}
	if err := t.validate(); err != nil {
		return nil, err
	}
	if cfg.ClientRegion != "" && t.Endpoint(cfg.ClientRegion) == "" {
		return nil, fmt.Errorf("client region %q is not one of the target's (%s)", cfg.ClientRegion, strings.Join(t.RegionNames(), ", "))
	}
	hc := cfg.HTTPClient
	if hc == nil {
		conns := cfg.Concurrency
		if cfg.OpenLoop() {
			conns = min(cfg.MaxInFlight, 1024)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConns = conns * (len(t.Regions) + 1)
		tr.MaxIdleConnsPerHost = conns
		hc = &http.Client{Timeout: cfg.AttemptTimeout, Transport: tr}
	}
	traced := *hc
	base := traced.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	traced.Transport = tracingTransport{base: base}
	e := &sdkExecutor{
		cfg:       cfg,
		merchants: ms,
		cards:     cfg.Channels.Filter(func(c core.Channel) bool { return c.IsCard() }),
		pool:      newRefundPool(100_000),
		known:     newKnownPayments(cfg.KnownPayments),
	}
	if e.cards.Empty() {
		e.cards, _ = ParseChannels("card=1")
	}
	for _, m := range ms {
		region := cfg.ClientRegion
		if region == "" {
			region = m.HomeRegion
		}
		c, err := paysdk.New(paysdk.Config{
			Endpoints:  t.EndpointsFrom(region),
			SecretKey:  m.SecretKey,
			HTTPClient: &traced,
			MaxRetries: cfg.MaxRetries,
			Backoff:    cfg.Backoff,
			Logger:     cfg.Logger.With("merchant", m.ID),
		})
		if err != nil {
			return nil, fmt.Errorf("merchant %s: %w", m.ID, err)
		}
		e.clients = append(e.clients, c)
	}
	return e, nil
}

// draws are every choice an operation may need, drawn in a fixed order so that they depend
// on (seed, seq) only, whatever the operation turns out to do.
type draws struct {
	merchant    int
	channel     core.Channel
	cardChannel core.Channel
	currency    string
	amount      int64
	decline     bool
	partial     bool
	captureFrac float64
	refundFull  bool
	refundFrac  float64
	pick        uint64
}

func (e *sdkExecutor) draw(r *rand.Rand) draws {
	var d draws
	d.merchant = r.IntN(len(e.merchants))
	d.channel = e.cfg.Channels.Pick(r)
	d.cardChannel = e.cards.Pick(r)
	d.currency = e.cfg.Currencies[r.IntN(len(e.cfg.Currencies))]
	d.amount = e.cfg.MinAmount + r.Int64N(e.cfg.MaxAmount-e.cfg.MinAmount+1)
	d.decline = r.Float64() < e.cfg.DeclineShare
	d.partial = r.Float64() < e.cfg.PartialCaptureShare
	d.captureFrac = r.Float64()
	d.refundFull = r.IntN(2) == 0
	d.refundFrac = r.Float64()
	d.pick = r.Uint64()
	return d
}

func (e *sdkExecutor) key(seq int64, step string) string {
	return fmt.Sprintf("lt-%s-%d-%s", e.cfg.RunID, seq, step)
}

// Execute implements Executor.
func (e *sdkExecutor) Execute(ctx context.Context, op *Operation, rec *HistoryRecord) {
	d := e.draw(op.Rand)
	switch op.Type {
	case OpCreateAuto:
		e.create(ctx, op, rec, d, d.channel, false)
	case OpCreateCapture:
		e.create(ctx, op, rec, d, d.cardChannel, true)
	case OpRefund:
		if !e.refund(ctx, op, rec, d) {
			rec.Op, rec.SubstitutedFor = OpCreateAuto, OpRefund
			d.decline = false // feed the refund pool
			e.create(ctx, op, rec, d, d.cardChannel, false)
		}
	case OpGet:
		if !e.get(ctx, rec, d) {
			rec.Op, rec.SubstitutedFor = OpList, OpGet
			e.list(ctx, rec, d)
		}
	case OpList:
		e.list(ctx, rec, d)
	default:
		rec.Outcome, rec.ErrorCode, rec.Error = OutcomeError, "unknown_operation", "unknown operation "+string(op.Type)
	}
}

func (e *sdkExecutor) create(ctx context.Context, op *Operation, rec *HistoryRecord, d draws, ch core.Channel, manual bool) {
	m := d.merchant
	rec.MerchantID = e.merchants[m].ID
	p := paysdk.CreatePaymentParams{
		Amount:            d.amount,
		Currency:          d.currency,
		Channel:           paysdk.Channel(ch),
		CaptureMethod:     paysdk.CaptureAutomatic,
		MerchantReference: fmt.Sprintf("lt-%s-%d", e.cfg.RunID, op.Seq),
		Description:       "loadtest " + string(rec.Op),
		Metadata:          map[string]string{"loadtest_run": e.cfg.RunID},
	}
	if manual {
		p.CaptureMethod = paysdk.CaptureManual
	}
	decline := ch.IsCard() && d.decline
	if ch.IsCard() {
		number := cardOK
		if decline {
			number = cardDecline
		}
		p.PaymentMethod = &paysdk.PaymentMethodData{Card: &paysdk.CardData{Number: number, ExpMonth: 12, ExpYear: 2035, CVC: "123"}}
		rec.Params.CardLast4 = number[len(number)-4:]
	}
	rec.Params.Amount, rec.Params.Currency, rec.Params.Channel = p.Amount, p.Currency, ch
	rec.Params.CaptureMethod, rec.Params.MerchantReference, rec.Params.ExpectDecline = core.CaptureMethod(p.CaptureMethod), p.MerchantReference, decline
	key := e.key(op.Seq, "create")
	rec.IdempotencyKey = key
	var pay *paysdk.Payment
	err := e.call(ctx, rec, "create_payment", key, func(ctx context.Context, info *paysdk.ResponseInfo) error {
		var err error
		pay, err = e.clients[m].CreatePayment(ctx, p, paysdk.WithIdempotencyKey(key), paysdk.WithResponseInfo(info))
		return err
	})
	if rec.Outcome == OutcomeDeclined {
		var apiErr *paysdk.Error
		if errors.As(err, &apiErr) && apiErr.PaymentID != "" {
			rec.Result.PaymentID, rec.Result.Status, rec.Result.Amount = apiErr.PaymentID, core.StatusFailed, p.Amount
			e.known.add(apiErr.PaymentID, m)
		}
		if !decline {
			rec.Outcome = OutcomeError
			rec.Error = "unexpected decline of a card meant to succeed: " + rec.Error
		}
		return
	}
	if pay == nil {
		return
	}
	fillPayment(rec, pay)
	e.known.add(pay.ID, m)
	if rec.Outcome != OutcomeOK {
		return // unknown (202): the payment exists, its outcome is not known yet
	}
	if decline {
		rec.Outcome, rec.ErrorCode = OutcomeError, CodeDeclineNotDeclined
		rec.Error = fmt.Sprintf("the declining test card was not declined: payment %s is %s", pay.ID, pay.Status)
		return
	}
	want := paysdk.StatusSucceeded
	switch {
	case manual:
		want = paysdk.StatusRequiresCapture
	case !ch.IsCard():
		want = paysdk.StatusRequiresAction
	}
	if pay.Status != want {
		rec.Outcome, rec.ErrorCode = OutcomeError, CodeUnexpectedStatus
		rec.Error = fmt.Sprintf("payment %s is %s, expected %s", pay.ID, pay.Status, want)
		return
	}
	if !manual {
		if pay.Status == paysdk.StatusSucceeded {
			e.pool.add(pay.ID, m, pay.AmountCaptured-pay.AmountRefunded, d.pick)
		}
		return
	}

	// Capture all of it, or part of it.
	var amt *int64
	if d.partial && pay.Amount > 1 {
		a := 1 + int64(d.captureFrac*float64(pay.Amount-1))
		amt = &a
	}
	rec.Params.PaymentID, rec.Params.CaptureAmount = pay.ID, amt
	key = e.key(op.Seq, "capture")
	var captured *paysdk.Payment
	_ = e.call(ctx, rec, "capture_payment", key, func(ctx context.Context, info *paysdk.ResponseInfo) error {
		var err error
		captured, err = e.clients[m].CapturePayment(ctx, pay.ID, paysdk.CaptureParams{Amount: amt}, paysdk.WithIdempotencyKey(key), paysdk.WithResponseInfo(info))
		return err
	})
	if rec.Outcome == OutcomeDeclined { // a capture is not a card check: no decline is expected
		rec.Outcome = OutcomeError
	}
	if captured == nil {
		return
	}
	fillPayment(rec, captured)
	if rec.Outcome != OutcomeOK {
		return
	}
	if captured.Status != paysdk.StatusSucceeded || (amt != nil && captured.AmountCaptured != *amt) {
		rec.Outcome, rec.ErrorCode = OutcomeError, CodeUnexpectedStatus
		rec.Error = fmt.Sprintf("captured payment %s is %s with %d captured", captured.ID, captured.Status, captured.AmountCaptured)
		return
	}
	e.pool.add(captured.ID, m, captured.AmountCaptured-captured.AmountRefunded, d.pick)
}

// refund refunds part or all of a captured payment; false when there is none.
func (e *sdkExecutor) refund(ctx context.Context, op *Operation, rec *HistoryRecord, d draws) bool {
	r, amt, ok := e.pool.take(d.pick, func(left int64) int64 {
		if d.refundFull || left == 1 {
			return left
		}
		return 1 + int64(d.refundFrac*float64(left-1))
	})
	if !ok {
		return false
	}
	m := r.merchant
	rec.MerchantID = e.merchants[m].ID
	rec.Params.PaymentID, rec.Params.RefundAmount = r.paymentID, amt
	key := e.key(op.Seq, "refund")
	rec.IdempotencyKey = key
	var ref *paysdk.Refund
	_ = e.call(ctx, rec, "create_refund", key, func(ctx context.Context, info *paysdk.ResponseInfo) error {
		var err error
		ref, err = e.clients[m].CreateRefund(ctx, paysdk.CreateRefundParams{Payment: r.paymentID, Amount: &amt, Reason: paysdk.ReasonRequestedByCustomer},
			paysdk.WithIdempotencyKey(key), paysdk.WithResponseInfo(info))
		return err
	})
	if rec.Outcome == OutcomeDeclined {
		rec.Outcome = OutcomeError
	}
	rec.Result.PaymentID = r.paymentID
	if ref != nil {
		rec.Result.RefundID, rec.Result.RefundStatus, rec.Result.RefundAmount = ref.ID, ref.Status, ref.Amount
	}
	switch {
	case rec.Outcome == OutcomeOK && ref != nil && ref.Status == paysdk.RefundSucceeded:
	case rec.Outcome == OutcomeOK && ref != nil && ref.Status == paysdk.RefundFailed:
		rec.Outcome, rec.ErrorCode, rec.Error = OutcomeError, CodeRefundFailed, "refund "+ref.ID+" failed"
		e.pool.release(r, amt)
	case rec.Outcome == OutcomeOK:
		// pending: the channel's answer is not known; the amount stays reserved.
		rec.Outcome, rec.ErrorCode = OutcomeUnknown, CodeUnknownOutcome
	case rec.Outcome == OutcomeError && rec.HTTPStatus >= 400 && rec.HTTPStatus < 500:
		// The API refused it: nothing was refunded.
		e.pool.release(r, amt)
	}
	return true
}

// get reads a payment this run created; false when there is none yet.
func (e *sdkExecutor) get(ctx context.Context, rec *HistoryRecord, d draws) bool {
	kp, ok := e.known.pick(d.pick)
	if !ok {
		return false
	}
	rec.MerchantID = e.merchants[kp.merchant].ID
	rec.Params.PaymentID = kp.id
	var pay *paysdk.Payment
	_ = e.call(ctx, rec, "get_payment", "", func(ctx context.Context, _ *paysdk.ResponseInfo) error {
		var err error
		pay, err = e.clients[kp.merchant].GetPayment(ctx, kp.id)
		return err
	})
	if rec.Outcome == OutcomeDeclined {
		rec.Outcome = OutcomeError
	}
	if pay != nil {
		fillPayment(rec, pay)
		if rec.Outcome == OutcomeOK && pay.ID != kp.id {
			rec.Outcome, rec.ErrorCode, rec.Error = OutcomeError, CodeBadResponse, "asked for "+kp.id+", got "+pay.ID
		}
	}
	return true
}

func (e *sdkExecutor) list(ctx context.Context, rec *HistoryRecord, d draws) {
	m := d.merchant
	rec.MerchantID = e.merchants[m].ID
	var page *paysdk.List[*paysdk.Payment]
	_ = e.call(ctx, rec, "list_payments", "", func(ctx context.Context, _ *paysdk.ResponseInfo) error {
		var err error
		page, err = e.clients[m].ListPayments(ctx, paysdk.PaymentFilter{Limit: 10})
		return err
	})
	if rec.Outcome == OutcomeDeclined {
		rec.Outcome = OutcomeError
	}
	if page != nil {
		rec.Result.Listed = len(page.Data)
	}
}

func fillPayment(rec *HistoryRecord, p *paysdk.Payment) {
	rec.Result.PaymentID, rec.Result.Status, rec.Result.Amount = p.ID, core.Status(p.Status), p.Amount
	rec.Result.AmountCaptured, rec.Result.AmountRefunded = p.AmountCaptured, p.AmountRefunded
}

// call runs one SDK call, appends it to rec.Calls and sets rec's outcome from it. A call
// answered 202 (the outcome is not known yet) is OutcomeUnknown.
func (e *sdkExecutor) call(ctx context.Context, rec *HistoryRecord, name, key string, fn func(context.Context, *paysdk.ResponseInfo) error) error {
	tr := &callTrace{}
	var info paysdk.ResponseInfo
	invoke := e.cfg.Clock.Now()
	err := fn(context.WithValue(ctx, traceKey{}, tr), &info)
	complete := e.cfg.Clock.Now()
	outcome, code, status, msg := classify(err)
	tr.mu.Lock()
	c := HistoryCall{
		Call: name, IdempotencyKey: key, InvokeNS: invoke.UnixNano(), CompleteNS: complete.UnixNano(),
		Outcome: outcome, ErrorCode: code, HTTPStatus: tr.status, Region: tr.region, Endpoint: tr.endpoint,
		Attempts: tr.attempts, Replayed: tr.replayed, RequestID: tr.requestID,
	}
	tr.mu.Unlock()
	if status != 0 {
		c.HTTPStatus = status
	}
	if info.Attempts > 0 { // a POST: the SDK's own account
		c.Attempts, c.Replayed, c.RequestID, c.Region = info.Attempts, info.Replayed, info.RequestID, info.Region
		if info.Endpoint != "" {
			c.Endpoint = info.Endpoint
		}
		if info.Status != 0 && status == 0 {
			c.HTTPStatus = info.Status
		}
	}
	if err == nil && c.HTTPStatus == http.StatusAccepted {
		c.Outcome, c.ErrorCode = OutcomeUnknown, CodeUnknownOutcome
		msg = "the platform answered 202: outcome not known yet"
	}
	rec.Calls = append(rec.Calls, c)
	rec.Attempts += c.Attempts
	rec.Region, rec.Endpoint = c.Region, c.Endpoint
	rec.Outcome, rec.ErrorCode, rec.HTTPStatus, rec.Error = c.Outcome, c.ErrorCode, c.HTTPStatus, msg
	return err
}

// classify maps an SDK call's error to an outcome, an error code, the HTTP status of an API
// error and a message. A 402 card_error is OutcomeDeclined; whether a decline was expected
// is the caller's call.
func classify(err error) (Outcome, string, int, string) {
	if err == nil {
		return OutcomeOK, "", 0, ""
	}
	var apiErr *paysdk.Error
	if errors.As(err, &apiErr) {
		code := apiErr.Code
		if code == "" {
			code = fmt.Sprintf("http_%d", apiErr.Status)
		}
		if apiErr.Status == http.StatusPaymentRequired && apiErr.Type == "card_error" {
			return OutcomeDeclined, code, apiErr.Status, apiErr.Error()
		}
		return OutcomeError, code, apiErr.Status, apiErr.Error()
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return OutcomeTimeout, CodeTimeout, 0, err.Error()
	case errors.Is(err, context.Canceled):
		return OutcomeUnknown, CodeCanceled, 0, err.Error()
	case strings.Contains(err.Error(), "decoding"):
		return OutcomeError, CodeBadResponse, 0, err.Error()
	}
	return OutcomeNetworkError, CodeNetworkError, 0, err.Error()
}

// callTrace collects what the HTTP attempts of one SDK call saw; the SDK reports it only for
// money-moving calls.
type callTrace struct {
	mu        sync.Mutex
	attempts  int
	status    int
	region    string
	endpoint  string
	requestID string
	replayed  bool
}

type traceKey struct{}

// tracingTransport records each attempt in the callTrace of its request's context.
type tracingTransport struct{ base http.RoundTripper }

func (t tracingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	tr, _ := req.Context().Value(traceKey{}).(*callTrace)
	if tr != nil {
		tr.mu.Lock()
		tr.attempts++
		tr.status, tr.region, tr.requestID, tr.replayed = 0, "", "", false
		tr.endpoint = req.URL.Scheme + "://" + req.URL.Host
		tr.mu.Unlock()
	}
	res, err := t.base.RoundTrip(req)
	if tr != nil && res != nil {
		tr.mu.Lock()
		tr.status, tr.region, tr.requestID = res.StatusCode, res.Header.Get("Payd-Region"), res.Header.Get("Request-Id")
		tr.replayed = strings.EqualFold(res.Header.Get("Idempotent-Replayed"), "true")
		tr.mu.Unlock()
	}
	return res, err
}
