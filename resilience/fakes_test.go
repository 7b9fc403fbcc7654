package resilience

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/embedded"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/paycenter/paycenter/core"
)

// errTransient is an unknown-outcome error (a lost response) from a fake channel.
var errTransient = errors.New("fake: connection reset, outcome unknown")

// fakeGW is a core.Gateway and core.Querier whose failures are set precisely per channel,
// and which counts the calls that reach it.
type fakeGW struct {
	mu       sync.Mutex
	calls    map[string]int         // by op
	fail     map[core.Channel]error // every call on the channel fails with it
	declined bool                   // Authorize answers declined
	opNotOK  bool                   // Capture/Void/Refund answer OK false
	queryErr []error                // the next queries fail with these, one each
	notFound bool                   // QueryPayment answers not found
	hang     bool                   // calls block until their context ends
	gate     chan struct{}          // when set, calls block until it is closed (or ctx ends)
	lastRef  map[string]string      // by op: the Reference of the last request
	entered  chan struct{}          // when set, every call sends on it once it is counted
	byCh     map[core.Channel]int   // calls by channel
}

func newFake() *fakeGW {
	return &fakeGW{calls: map[string]int{}, fail: map[core.Channel]error{}, lastRef: map[string]string{},
		byCh: map[core.Channel]int{}}
}

func (f *fakeGW) setFail(ch core.Channel, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.fail, ch)
	} else {
		f.fail[ch] = err
	}
}

func (f *fakeGW) set(fn func(f *fakeGW)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeGW) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *fakeGW) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		n += c
	}
	return n
}

func (f *fakeGW) chCalls(ch core.Channel) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.byCh[ch]
}

func (f *fakeGW) ref(op string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastRef[op]
}

// enter records a call and applies the channel's failure, hang or gate.
func (f *fakeGW) enter(ctx context.Context, op string, ch core.Channel, ref string) error {
	f.mu.Lock()
	f.calls[op]++
	f.byCh[ch]++
	f.lastRef[op] = ref
	err, hang, gate, entered := f.fail[ch], f.hang, f.gate, f.entered
	f.mu.Unlock()
	if entered != nil {
		entered <- struct{}{}
	}
	if hang {
		<-ctx.Done()
		return fmt.Errorf("fake: no answer: %w", ctx.Err())
	}
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return fmt.Errorf("fake: no answer: %w", ctx.Err())
		}
	}
	return err
}

func (f *fakeGW) Authorize(ctx context.Context, req core.AuthorizeRequest) (core.AuthorizeResult, error) {
	if err := f.enter(ctx, opAuthorize, req.Channel, ""); err != nil {
		return core.AuthorizeResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.declined {
		return core.AuthorizeResult{Outcome: core.OutcomeDeclined, DeclineCode: core.CodeCardDeclined, Reference: "ref-" + req.Key}, nil
	}
	return core.AuthorizeResult{Outcome: core.OutcomeAuthorized, Reference: "ref-" + req.Key}, nil
}

func (f *fakeGW) opResult(ctx context.Context, op string, ch core.Channel, ref, key string) (core.OpResult, error) {
	if err := f.enter(ctx, op, ch, ref); err != nil {
		return core.OpResult{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.opNotOK {
		return core.OpResult{FailureCode: core.CodeInvalidState}, nil
	}
	return core.OpResult{OK: true, Reference: op + "-" + key}, nil
}

func (f *fakeGW) Capture(ctx context.Context, req core.CaptureRequest) (core.OpResult, error) {
	return f.opResult(ctx, opCapture, req.Channel, req.Reference, req.Key)
}

func (f *fakeGW) Void(ctx context.Context, req core.VoidRequest) (core.OpResult, error) {
	return f.opResult(ctx, opVoid, req.Channel, req.Reference, req.Key)
}

func (f *fakeGW) Refund(ctx context.Context, req core.RefundRequest) (core.OpResult, error) {
	return f.opResult(ctx, opRefund, req.Channel, req.Reference, req.Key)
}

func (f *fakeGW) QueryPayment(ctx context.Context, q core.PaymentQuery) (core.PaymentState, error) {
	if err := f.enter(ctx, opQuery, q.Channel, q.Reference); err != nil {
		return core.PaymentState{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queryErr) > 0 {
		err := f.queryErr[0]
		f.queryErr = f.queryErr[1:]
		return core.PaymentState{}, err
	}
	if f.notFound {
		return core.PaymentState{}, nil
	}
	return core.PaymentState{Found: true, Outcome: core.OutcomeAuthorized, Reference: q.Reference}, nil
}

// opStatement names Statement calls in the fake's counts (Statement has no metrics op).
const opStatement = "statement"

func (f *fakeGW) Statement(ctx context.Context, ch core.Channel, day time.Time) ([]core.StatementLine, error) {
	if err := f.enter(ctx, opStatement, ch, ""); err != nil {
		return nil, err
	}
	return []core.StatementLine{{Kind: "charge", PaymentID: "p1", Amount: 100, At: day}}, nil
}

// gatewayOnly hides QueryPayment.
type gatewayOnly struct{ core.Gateway }

// ---- a recording OpenTelemetry meter provider (the SDK is not in go.mod) ----

// recProvider implements the otel metric API and records what the instruments receive.
type recProvider struct {
	noop.MeterProvider
	m *recMeter
}

func newRecProvider() *recProvider {
	return &recProvider{m: &recMeter{counters: map[string]map[attribute.Distinct]int64{},
		hists: map[string]map[attribute.Distinct][]float64{}, sets: map[attribute.Distinct]attribute.Set{}}}
}

func (p *recProvider) Meter(string, ...metric.MeterOption) metric.Meter { return p.m }

type recMeter struct {
	noop.Meter
	mu        sync.Mutex
	counters  map[string]map[attribute.Distinct]int64
	hists     map[string]map[attribute.Distinct][]float64
	sets      map[attribute.Distinct]attribute.Set
	callbacks []metric.Callback
	unregs    int
}

type recCounter struct {
	noop.Int64Counter
	m    *recMeter
	name string
}

func (c recCounter) Add(_ context.Context, v int64, opts ...metric.AddOption) {
	set := metric.NewAddConfig(opts).Attributes()
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if c.m.counters[c.name] == nil {
		c.m.counters[c.name] = map[attribute.Distinct]int64{}
	}
	c.m.counters[c.name][set.Equivalent()] += v
	c.m.sets[set.Equivalent()] = set
}

type recHist struct {
	noop.Float64Histogram
	m    *recMeter
	name string
}

func (h recHist) Record(_ context.Context, v float64, opts ...metric.RecordOption) {
	set := metric.NewRecordConfig(opts).Attributes()
	h.m.mu.Lock()
	defer h.m.mu.Unlock()
	if h.m.hists[h.name] == nil {
		h.m.hists[h.name] = map[attribute.Distinct][]float64{}
	}
	h.m.hists[h.name][set.Equivalent()] = append(h.m.hists[h.name][set.Equivalent()], v)
}

type recGauge struct {
	noop.Int64ObservableGauge
	name string
}

type recRegistration struct {
	embedded.Registration
	m *recMeter
}

func (r recRegistration) Unregister() error {
	r.m.mu.Lock()
	defer r.m.mu.Unlock()
	r.m.unregs++
	return nil
}

func (m *recMeter) Int64Counter(name string, _ ...metric.Int64CounterOption) (metric.Int64Counter, error) {
	return recCounter{m: m, name: name}, nil
}

func (m *recMeter) Float64Histogram(name string, _ ...metric.Float64HistogramOption) (metric.Float64Histogram, error) {
	return recHist{m: m, name: name}, nil
}

func (m *recMeter) Int64ObservableGauge(name string, _ ...metric.Int64ObservableGaugeOption) (metric.Int64ObservableGauge, error) {
	return recGauge{name: name}, nil
}

func (m *recMeter) RegisterCallback(cb metric.Callback, _ ...metric.Observable) (metric.Registration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.callbacks = append(m.callbacks, cb)
	return recRegistration{m: m}, nil
}

// counter is the value of a counter for exactly these attributes.
func (m *recMeter) counter(name string, kv ...attribute.KeyValue) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := attribute.NewSet(kv...)
	return m.counters[name][set.Equivalent()]
}

// histCount is how many values a histogram recorded for exactly these attributes.
func (m *recMeter) histCount(name string, kv ...attribute.KeyValue) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	set := attribute.NewSet(kv...)
	return len(m.hists[name][set.Equivalent()])
}

// recObserver collects gauge observations.
type recObserver struct {
	embedded.Observer
	got map[string]map[attribute.Distinct]int64
}

func (o *recObserver) ObserveFloat64(metric.Float64Observable, float64, ...metric.ObserveOption) {}

func (o *recObserver) ObserveInt64(obs metric.Int64Observable, v int64, opts ...metric.ObserveOption) {
	name := obs.(recGauge).name
	if o.got[name] == nil {
		o.got[name] = map[attribute.Distinct]int64{}
	}
	set := metric.NewObserveConfig(opts).Attributes()
	o.got[name][set.Equivalent()] = v
}

// collect runs the registered callbacks like a reader would.
func (m *recMeter) collect(t *testing.T) *recObserver {
	t.Helper()
	m.mu.Lock()
	cbs := append([]metric.Callback(nil), m.callbacks...)
	m.mu.Unlock()
	o := &recObserver{got: map[string]map[attribute.Distinct]int64{}}
	for _, cb := range cbs {
		if err := cb(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

var (
	_ metric.MeterProvider = (*recProvider)(nil)
	_ metric.Meter         = (*recMeter)(nil)
)
