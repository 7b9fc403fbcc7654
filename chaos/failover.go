package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/deploy/localcluster"
	paysdk "github.com/paycenter/paycenter/sdk"
)

// FailoverConfig configures RunFailover, the region-kill-inflight measurement.
type FailoverConfig struct {
	// Clients pay concurrently, one payment at a time each. Default 8.
	Clients int
	// Region is the region the clients pay through and whose nodes are killed. Default the
	// target's first.
	Region string
	// Before and After are how long the clients pay before the kill and after it. Defaults
	// 3s and 10s.
	Before, After time.Duration
	// SettleBound bounds the wait for the payments in flight at the end, and the checker's
	// settling bound. Default DefaultSettleBound.
	SettleBound time.Duration
	// Log receives progress. Default: nothing.
	Log io.Writer
}

// FailoverResult is what RunFailover measured and what the checker found.
type FailoverResult struct {
	Ops, Acked, Duplicates, Lost int
	// MaxGap is the longest time between consecutive acknowledgements after the kill (the
	// first counted from the kill itself), until the clients stop.
	MaxGap time.Duration
	// P99Retry is the 99th percentile, over payments whose attempt through the killed
	// region failed after the kill, of the time from that failure to the acknowledgement.
	P99Retry   time.Duration
	Retried    int
	InFlight   int // requests in flight when the region was killed
	Killed     int // nodes killed
	Violations []Violation
}

// Line is the figure line: failover: ops=N acked=N duplicates=N lost=N max_gap_ms=N p99_retry_ms=N.
func (r FailoverResult) Line() string {
	return fmt.Sprintf("failover: ops=%d acked=%d duplicates=%d lost=%d max_gap_ms=%d p99_retry_ms=%d",
		r.Ops, r.Acked, r.Duplicates, r.Lost, r.MaxGap.Milliseconds(), r.P99Retry.Milliseconds())
}

// RunFailover is the region-kill-inflight experiment on the local platform: Clients pay
// through Region's endpoint, each payment with its own Idempotency-Key; once requests are in
// flight, every payd of Region is killed with SIGKILL; each payment whose attempt failed is
// retried with the same key through the other regions (the SDK, honouring Retry-After) until
// it has a definitive answer. It then restarts the region, checks the invariants (chaos.Check
// on the recorded history and the database) and measures the longest gap between
// acknowledgements after the kill.
func RunFailover(ctx context.Context, t *Target, cfg FailoverConfig) (FailoverResult, error) {
	var res FailoverResult
	if !t.Local() {
		return res, errors.New("region-kill-inflight needs the local platform (it kills processes)")
	}
	if cfg.Clients == 0 {
		cfg.Clients = 8
	}
	if cfg.Region == "" {
		cfg.Region = t.Regions[0].Name
	}
	if cfg.Before == 0 {
		cfg.Before = 3 * time.Second
	}
	if cfg.After == 0 {
		cfg.After = 10 * time.Second
	}
	if cfg.SettleBound == 0 {
		cfg.SettleBound = DefaultSettleBound
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	eps := t.EndpointsFrom(cfg.Region)
	if len(eps) < 2 {
		return res, errors.New("region-kill-inflight needs at least two regions")
	}
	m, err := t.CreateMerchant(ctx, "failover "+core.RandomToken(4), cfg.Region)
	if err != nil {
		return res, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	tr.DialContext = (&net.Dialer{Timeout: 2 * time.Second}).DialContext
	hc := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	first, err := paysdk.New(paysdk.Config{Endpoints: eps[:1], SecretKey: m.SecretKey, HTTPClient: hc, MaxRetries: -1})
	if err != nil {
		return res, err
	}
	others, err := paysdk.New(paysdk.Config{Endpoints: eps[1:], SecretKey: m.SecretKey, HTTPClient: hc, MaxRetries: 50, Backoff: 50 * time.Millisecond})
	if err != nil {
		return res, err
	}

	h := NewHistory()
	var (
		inflight atomic.Int64
		stopping atomic.Bool
		mu       sync.Mutex
		retries  []time.Duration
		wg       sync.WaitGroup
		killed   atomic.Value // time.Time of the kill
	)
	killed.Store(time.Now().Add(time.Hour))
	runCtx, cancel := context.WithTimeout(ctx, cfg.Before+cfg.After+cfg.SettleBound)
	defer cancel()
	for i := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stopping.Load() && runCtx.Err() == nil; n++ {
				p := paysdk.CreatePaymentParams{Amount: int64(1000 + n), Currency: "usd", Channel: paysdk.ChannelCard,
					CaptureMethod: paysdk.CaptureAutomatic, MerchantReference: fmt.Sprintf("failover-%d-%d-%s", i, n, core.RandomToken(4)),
					PaymentMethod: &paysdk.PaymentMethodData{Card: &paysdk.CardData{Number: "4242424242424242", ExpMonth: 12,
						ExpYear: time.Now().Year() + 3, CVC: "123"}}}
				op := Op{Client: i, Region: cfg.Region, Kind: OpCreate, Merchant: m.ID, Key: newKey(), Reference: p.MerchantReference,
					Channel: core.ChannelCard, Amount: p.Amount, Auto: true, Call: h.Now()}
				attempt := func(sdk *paysdk.Client) {
					var info paysdk.ResponseInfo
					pay, err := sdk.CreatePayment(runCtx, p, paysdk.WithIdempotencyKey(op.Key), paysdk.WithResponseInfo(&info))
					op.Attempts += max(info.Attempts, 1)
					status, code := info.Status, ""
					var apiErr *paysdk.Error
					switch {
					case errors.As(err, &apiErr):
						status, code = apiErr.Status, apiErr.Code
						op.seePayment(apiErr.PaymentID)
					case err != nil:
						status, code = 0, "no_answer"
					}
					if pay != nil {
						op.seePayment(pay.ID)
					}
					op.Status, op.ErrCode = status, code
					if Final(status, code, info.Replayed) {
						op.Final, op.Replayed = true, info.Replayed
						if err == nil && pay != nil {
							op.Payment, op.PaymentID = ViewOf(pay), pay.ID
						}
					}
				}
				inflight.Add(1)
				attempt(first)
				inflight.Add(-1)
				if !op.Final {
					failed, why := h.Now(), fmt.Sprintf("%d %s", op.Status, op.ErrCode)
					for !op.Final && runCtx.Err() == nil {
						attempt(others)
					}
					if op.Acked() && h.Start().Add(failed).After(killed.Load().(time.Time)) {
						took := h.Now() - failed
						mu.Lock()
						retries = append(retries, took)
						mu.Unlock()
						if took > time.Second {
							fmt.Fprintf(cfg.Log, "payment %s: attempt through %s failed (%s) %d ms after the kill; acknowledged %d ms later after %d attempts\n",
								op.Reference, cfg.Region, why, (failed - h.At(killed.Load().(time.Time))).Milliseconds(), took.Milliseconds(), op.Attempts)
						}
					}
				}
				if op.PaymentID == "" && len(op.SeenPayments) > 0 {
					op.PaymentID = op.SeenPayments[0]
				}
				op.Return = h.Now()
				h.Add(op)
			}
		}()
	}

	sleep(runCtx, cfg.Before)
	for deadline := time.Now().Add(5 * time.Second); inflight.Load() < 2 && time.Now().Before(deadline) && runCtx.Err() == nil; {
		sleep(runCtx, 5*time.Millisecond)
	}
	res.InFlight = int(inflight.Load())
	nodes, kerr := localcluster.KillRegion(t.Dir, cfg.Region)
	killedAt := h.Now()
	killed.Store(h.Start().Add(killedAt))
	res.Killed = len(nodes)
	fmt.Fprintf(cfg.Log, "killed %d payd of %s with %d requests in flight\n", len(nodes), cfg.Region, res.InFlight)
	if kerr == nil {
		sleep(runCtx, cfg.After)
	}
	stopAt := h.Now()
	stopping.Store(true)
	wg.Wait()
	cancel()

	fmt.Fprintf(cfg.Log, "restarting %s\n", cfg.Region)
	herr := localcluster.StartRegion(ctx, t.Dir, t.Bin, cfg.Region, io.Discard)
	if herr == nil {
		herr = t.WaitSteady(ctx, 2*time.Minute)
	}
	if kerr != nil || herr != nil {
		return res, errors.Join(kerr, herr)
	}

	ops := h.Ops()
	var acks []time.Duration
	for _, op := range ops {
		if op.Acked() {
			res.Acked++
			acks = append(acks, op.Return)
		}
	}
	res.Ops = len(ops)
	slices.Sort(acks)
	last := killedAt
	for _, a := range acks {
		if a < killedAt || a > stopAt {
			continue
		}
		res.MaxGap = max(res.MaxGap, a-last)
		last = a
	}
	res.MaxGap = max(res.MaxGap, stopAt-last)
	res.Retried = len(retries)
	res.P99Retry = percentile(retries, 0.99)

	ev, err := Gather(ctx, t, []string{m.ID}, ops, cfg.SettleBound)
	if err != nil {
		return res, fmt.Errorf("gather evidence: %w", err)
	}
	v := Check(ev)
	res.Duplicates, res.Lost, res.Violations = v.Duplicates, v.Lost, v.Violations
	return res, nil
}
