package resilience

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/paycenter/paycenter/core"
)

// ErrUnknownAcquirer is returned for a capture, void, refund or query whose Reference does
// not start with the name of one of the Failover's acquirers: Failover cannot tell which
// acquirer holds the payment, so it called none. It wraps core.ErrNotExecuted.
var ErrUnknownAcquirer = fmt.Errorf("resilience: reference names no known acquirer: %w", core.ErrNotExecuted)

// RefSeparator separates the acquirer's name from the acquirer's own reference in the
// references Failover returns: "acq2" + RefSeparator + "sim_00000042".
const RefSeparator = ":"

// Acquirer is one gateway Failover may send a channel's payments to.
type Acquirer struct {
	// Name identifies the acquirer in references; non-empty, unique, without RefSeparator,
	// and stable forever (stored references are routed by it).
	Name    string
	Gateway core.Gateway
}

// FailoverConfig configures a Failover.
type FailoverConfig struct {
	// Acquirers in order of preference: the first is the primary. At least one.
	Acquirers []Acquirer
	// InDoubtKeys bounds how many authorisation keys Failover remembers the acquirer of
	// (default 100000, least recently used dropped first); InDoubtTTL is how long it
	// remembers each (default 24 h).
	InDoubtKeys int
	InDoubtTTL  time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Failover is a core.Gateway (and core.Querier) over an ordered list of acquirers of the
// SAME channel: a primary and one or more secondaries.
//
// Authorize goes to the first acquirer; it moves on to the next one only when an acquirer
// answers with an error wrapping core.ErrNotExecuted (breaker open, rate limited, connection
// refused: the acquirer certainly did nothing). Any other error is an unknown outcome (the
// acquirer may have charged the payer) and is returned as is: sending the payment to another
// acquirer then could charge it twice. A decline is an answer, never a reason to fail over.
//
// The acquirer that authorised a payment is recorded in the result's Reference, prefixed with
// its name and RefSeparator ("acq2:" + ref). Capture, Void, Refund and QueryPayment are routed
// by that prefix to the same acquirer (the prefix is stripped before the call, and added to
// the Reference of what comes back), and are never failed over: only that acquirer holds the
// payment. Callers must therefore store and pass back the Reference exactly as returned.
//
// Re-driven authorisations: the platform re-sends an authorisation with the same key when it
// did not learn or did not record the answer (a timeout, or a node that died before its
// commit). Such a re-drive must go to the acquirer that may have executed the key, never to
// another one. Failover therefore remembers, per key, the acquirer an authorisation reached
// (answered or left in doubt) and sends later Authorize calls with that key there only,
// without failing over; it forgets a key when a QueryPayment without Reference finds the
// payment at no acquirer. This memory is per process and bounded (FailoverConfig.InDoubtKeys,
// InDoubtTTL): a re-drive from another node or after a restart does not see it, so the
// platform must resolve an in-doubt authorisation with QueryPayment (which, without a
// Reference, asks every acquirer) before sending it again.
type Failover struct {
	acqs   []Acquirer
	byName map[string]int
	now    func() time.Time
	max    int
	ttl    time.Duration

	mu      sync.Mutex
	inDoubt map[string]*list.Element // by authorisation key: the acquirer it reached
	order   *list.List               // of *doubt, oldest at the back
}

type doubt struct {
	key string
	acq int
	at  time.Time
}

var (
	_ core.Gateway = (*Failover)(nil)
	_ core.Querier = (*Failover)(nil)
)

// NewFailover makes a Failover.
func NewFailover(cfg FailoverConfig) (*Failover, error) {
	if len(cfg.Acquirers) == 0 {
		return nil, errors.New("resilience: failover needs at least one acquirer")
	}
	if cfg.InDoubtKeys == 0 {
		cfg.InDoubtKeys = 100_000
	}
	if cfg.InDoubtTTL == 0 {
		cfg.InDoubtTTL = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.InDoubtKeys < 0 || cfg.InDoubtTTL < 0 {
		return nil, errors.New("resilience: failover in-doubt memory must not be negative")
	}
	f := &Failover{byName: map[string]int{}, now: cfg.Now, max: cfg.InDoubtKeys, ttl: cfg.InDoubtTTL,
		inDoubt: map[string]*list.Element{}, order: list.New()}
	for i, a := range cfg.Acquirers {
		switch {
		case a.Name == "" || strings.Contains(a.Name, RefSeparator):
			return nil, fmt.Errorf("resilience: acquirer name %q must be non-empty and without %q", a.Name, RefSeparator)
		case a.Gateway == nil:
			return nil, fmt.Errorf("resilience: acquirer %q has no gateway", a.Name)
		}
		if _, dup := f.byName[a.Name]; dup {
			return nil, fmt.Errorf("resilience: duplicate acquirer name %q", a.Name)
		}
		f.byName[a.Name] = i
		f.acqs = append(f.acqs, a)
	}
	return f, nil
}

// Authorize implements core.Gateway: see Failover.
func (f *Failover) Authorize(ctx context.Context, req core.AuthorizeRequest) (core.AuthorizeResult, error) {
	if i, ok := f.stuck(req.Key); ok {
		res, err := f.authorizeAt(ctx, i, req)
		if err != nil {
			err = fmt.Errorf("resilience: key %s already reached acquirer %s, not failed over: %w", req.Key, f.acqs[i].Name, err)
		}
		return res, err
	}
	var errs []error
	for i := range f.acqs {
		res, err := f.authorizeAt(ctx, i, req)
		if err == nil || !errors.Is(err, core.ErrNotExecuted) {
			return res, err
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	// Every acquirer tried refused without executing: so does Failover.
	return core.AuthorizeResult{}, fmt.Errorf("resilience: no acquirer took the authorisation: %w", errors.Join(errs...))
}

// authorizeAt sends req to acquirer i and keeps the in-doubt memory up to date.
func (f *Failover) authorizeAt(ctx context.Context, i int, req core.AuthorizeRequest) (core.AuthorizeResult, error) {
	a := f.acqs[i]
	res, err := a.Gateway.Authorize(ctx, req)
	switch {
	case err == nil:
		// Executed here: a re-drive of the key (its answer lost on the way to the
		// database) must come back here.
		f.remember(req.Key, i)
		res.Reference = a.Name + RefSeparator + res.Reference
		return res, nil
	case errors.Is(err, core.ErrNotExecuted):
		// Nothing happened now; what an earlier attempt did here is unchanged.
		return res, fmt.Errorf("acquirer %s: %w", a.Name, err)
	default:
		f.remember(req.Key, i)
		return res, fmt.Errorf("acquirer %s (outcome unknown, not failed over): %w", a.Name, err)
	}
}

// route finds the acquirer named by ref's prefix and returns it with the bare reference.
func (f *Failover) route(ref string) (int, string, error) {
	name, rest, ok := strings.Cut(ref, RefSeparator)
	if ok {
		if i, known := f.byName[name]; known {
			return i, rest, nil
		}
	}
	return 0, "", fmt.Errorf("%w: %q", ErrUnknownAcquirer, ref)
}

func (f *Failover) op(ref string, call func(a Acquirer, bare string) (core.OpResult, error)) (core.OpResult, error) {
	i, bare, err := f.route(ref)
	if err != nil {
		return core.OpResult{}, err
	}
	a := f.acqs[i]
	res, err := call(a, bare)
	if err != nil {
		return res, fmt.Errorf("acquirer %s: %w", a.Name, err)
	}
	if res.Reference != "" {
		res.Reference = a.Name + RefSeparator + res.Reference
	}
	return res, nil
}

// Capture implements core.Gateway: it goes to the acquirer named in req.Reference.
func (f *Failover) Capture(ctx context.Context, req core.CaptureRequest) (core.OpResult, error) {
	return f.op(req.Reference, func(a Acquirer, bare string) (core.OpResult, error) {
		req.Reference = bare
		return a.Gateway.Capture(ctx, req)
	})
}

// Void implements core.Gateway: it goes to the acquirer named in req.Reference.
func (f *Failover) Void(ctx context.Context, req core.VoidRequest) (core.OpResult, error) {
	return f.op(req.Reference, func(a Acquirer, bare string) (core.OpResult, error) {
		req.Reference = bare
		return a.Gateway.Void(ctx, req)
	})
}

// Refund implements core.Gateway: it goes to the acquirer named in req.Reference.
func (f *Failover) Refund(ctx context.Context, req core.RefundRequest) (core.OpResult, error) {
	return f.op(req.Reference, func(a Acquirer, bare string) (core.OpResult, error) {
		req.Reference = bare
		return a.Gateway.Refund(ctx, req)
	})
}

// QueryPayment implements core.Querier. With a Reference it asks the acquirer it names. With
// none (the authorisation's outcome was never learnt) it asks every acquirer in order and
// returns the first that found the payment (its Reference then names that acquirer); it
// reports "not found" only when every acquirer answered so, and otherwise returns an error,
// because "not found" licenses the caller to fail the payment or send it again (which may
// then fail over).
func (f *Failover) QueryPayment(ctx context.Context, q core.PaymentQuery) (core.PaymentState, error) {
	if q.Reference != "" {
		i, bare, err := f.route(q.Reference)
		if err != nil {
			return core.PaymentState{}, err
		}
		q.Reference = bare
		return f.queryAt(ctx, i, q)
	}
	var errs []error
	for i := range f.acqs {
		st, err := f.queryAt(ctx, i, q)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st.Found {
			return st, nil
		}
	}
	if len(errs) > 0 {
		return core.PaymentState{}, fmt.Errorf("resilience: payment not found at the acquirers that answered: %w", errors.Join(errs...))
	}
	f.forget(q.Key) // executed nowhere: a new attempt may go to any acquirer
	return core.PaymentState{}, nil
}

func (f *Failover) queryAt(ctx context.Context, i int, q core.PaymentQuery) (core.PaymentState, error) {
	a := f.acqs[i]
	qr, ok := a.Gateway.(core.Querier)
	if !ok {
		return core.PaymentState{}, fmt.Errorf("acquirer %s: %w", a.Name, ErrQueryUnsupported)
	}
	st, err := qr.QueryPayment(ctx, q)
	if err != nil {
		return st, fmt.Errorf("acquirer %s: %w", a.Name, err)
	}
	if st.Found {
		st.Reference = a.Name + RefSeparator + st.Reference
		f.remember(q.Key, i)
	}
	return st, nil
}

// stuck reports the acquirer an authorisation key reached, if Failover remembers one.
func (f *Failover) stuck(key string) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.inDoubt[key]
	if e == nil {
		return 0, false
	}
	d := e.Value.(*doubt)
	if f.ttl > 0 && f.now().Sub(d.at) > f.ttl {
		f.order.Remove(e)
		delete(f.inDoubt, key)
		return 0, false
	}
	return d.acq, true
}

func (f *Failover) remember(key string, acq int) {
	if f.max == 0 || key == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if e := f.inDoubt[key]; e != nil {
		e.Value = &doubt{key: key, acq: acq, at: now}
		f.order.MoveToFront(e)
	} else {
		f.inDoubt[key] = f.order.PushFront(&doubt{key: key, acq: acq, at: now})
	}
	for f.order.Len() > f.max {
		old := f.order.Back()
		f.order.Remove(old)
		delete(f.inDoubt, old.Value.(*doubt).key)
	}
}

func (f *Failover) forget(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if e := f.inDoubt[key]; e != nil {
		f.order.Remove(e)
		delete(f.inDoubt, key)
	}
}
