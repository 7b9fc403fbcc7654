package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	paysdk "github.com/paycenter/paycenter/sdk"
)

// RunConfig configures a run of experiments.
type RunConfig struct {
	// Duration is how long each experiment's load runs: a quarter before the fault, half
	// with it, a quarter after healing. Default 30s.
	Duration time.Duration
	// Clients is the number of concurrent SDK clients. Default 9 (three per region).
	Clients int
	// AbandonShare is DriverConfig.AbandonShare: the share of operations whose client makes
	// one attempt and goes away without a definitive answer, left to the recovery worker.
	// Default 0.25; negative: none.
	AbandonShare float64
	// SettleBound is how long after healing every client operation must have its definitive
	// answer and every payment be settled. Default 90s: a request on a killed node holds its
	// key for the 30 s lease; a payment whose client went away waits for the recovery
	// worker, which leaves it alone for 2 × lease (60 s) and sweeps every 5 s; a channel call
	// may take its 10 s timeout; and an opened breaker stays open 30 s. See DefaultSettleBound.
	SettleBound time.Duration
	// SteadyTimeout bounds the wait for the steady state before and after each experiment.
	// Default 120s.
	SteadyTimeout time.Duration
	// Region is the region node, region and database-link faults hit. Default the first.
	Region string
	// InjectCmd and HealCmd are the "external" experiment's commands; ExternalName names its
	// result ("external:NAME").
	InjectCmd, HealCmd, ExternalName string
	// HistoryDir, if set, receives each experiment's history as NAME.jsonl.
	HistoryDir string
	// Log receives progress. Default: nothing.
	Log io.Writer
	// Receiver, if set, is the merchants' webhook endpoint: each experiment registers one per
	// merchant, the receiver is down for the first half of every fault, and the delivery
	// invariant is checked. Nil: webhooks are not checked.
	Receiver *Receiver
	// DeliveryBound is how long after settling every event must have been delivered. Default
	// 75s: a delivery claimed by a node that was killed is due again after its 60 s claim lease.
	DeliveryBound time.Duration
}

// DefaultSettleBound is the default RunConfig.SettleBound: 2 × the 30 s lease (the recovery
// worker's minimum age) + 2 recovery sweeps of 5 s + a 10 s channel timeout + 10 s.
const DefaultSettleBound = 90 * time.Second

func (c *RunConfig) withDefaults(t *Target) {
	if c.Duration == 0 {
		c.Duration = 30 * time.Second
	}
	if c.Clients == 0 {
		c.Clients = 3 * len(t.Regions)
	}
	if c.SettleBound == 0 {
		c.SettleBound = DefaultSettleBound
	}
	if c.SteadyTimeout == 0 {
		c.SteadyTimeout = 120 * time.Second
	}
	if c.Region == "" {
		c.Region = t.Regions[0].Name
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	if c.DeliveryBound == 0 {
		c.DeliveryBound = 75 * time.Second
	}
}

// Result is one experiment's outcome and figures.
type Result struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Passed      bool   `json:"passed"`
	// Skipped says why the experiment did not run; Error why it could not complete.
	Skipped string `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`

	Operations   int `json:"operations"`
	Acknowledged int `json:"acknowledged"`
	Duplicates   int `json:"duplicates"`
	Lost         int `json:"lost"`
	// Stuck counts payments and refunds not settled at the bound, plus operations whose
	// client kept retrying without getting a definitive answer.
	Stuck int `json:"stuck"`
	// RTOMS is, for experiments that kill the database's primary (Env.Killed), the time from
	// the kill to the first acknowledged money-moving operation called after it; -1 if none
	// was. MissingAfterFailover counts acknowledged payments and refunds missing afterwards
	// (the checker's Lost, here after a failover: must be 0, RPO 0).
	RTOMS                int64 `json:"rto_ms,omitempty"`
	MissingAfterFailover int   `json:"missing_after_failover,omitempty"`
	// MaxGapMS is the client-visible gap of the clients homed in RunConfig.Region (the
	// region node, region and link faults hit): the time from the fault's injection to the
	// first acknowledged money-moving operation they called after it (see Figures). ByRegion
	// has every region's.
	MaxGapMS int64 `json:"max_gap_ms"`
	// P50FaultMS and P99FaultMS are the latencies (first call to definitive answer, retries
	// included) of the money-moving operations started while the fault was on.
	P50FaultMS int64 `json:"p50_fault_ms"`
	P99FaultMS int64 `json:"p99_fault_ms"`
	// SettleMS is the time from healing until every client had its answers and nothing was
	// in doubt in the database.
	SettleMS int64 `json:"settle_ms"`
	// DeliveredMS is the time from settling until every event had reached the receiver
	// (-1: not within RunConfig.DeliveryBound).
	DeliveredMS int64 `json:"delivered_ms,omitempty"`
	InjectAtMS  int64 `json:"inject_at_ms"`
	HealAtMS    int64 `json:"heal_at_ms"`
	// ByRegion breaks the figures down by the clients' home region.
	ByRegion map[string]RegionFigures `json:"by_region"`

	// Alerts are the alerts the platform raised from the fault on, with their time to
	// detect (alerts.go).
	Alerts []AlertSeen `json:"alerts,omitempty"`

	Merchants []Merchant `json:"merchants,omitempty"`
	Notes     []string   `json:"notes,omitempty"`
	Verdict   Verdict    `json:"verdict"`

	steadyAfter bool // the platform was steady when the experiment ended
}

// Run runs the experiments one after another against t, restoring the platform after
// each, and returns their results.
func Run(ctx context.Context, t *Target, exps []Experiment, cfg RunConfig) []Result {
	cfg.withDefaults(t)
	var out []Result
	steady := false // the last experiment left the platform steady a moment ago
	for _, x := range exps {
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(cfg.Log, "chaos: %s: %s\n", x.Name, x.Description)
		r := runOne(ctx, t, x, cfg, steady)
		if r.Skipped == "" {
			steady = r.steadyAfter
		}
		switch {
		case r.Skipped != "":
			fmt.Fprintf(cfg.Log, "chaos: %s: skipped: %s\n", x.Name, r.Skipped)
		case r.Passed:
			fmt.Fprintf(cfg.Log, "chaos: %s: passed (%d operations, settled %d ms after healing)\n", x.Name, r.Operations, r.SettleMS)
		default:
			fmt.Fprintf(cfg.Log, "chaos: %s: FAILED %s (%d violations)\n", x.Name, r.Error, len(r.Verdict.Violations))
		}
		if r.Skipped == "" && r.RTOMS != 0 {
			fmt.Fprintf(cfg.Log, "chaos: %s: rto_ms=%d missing_after_failover=%d lost=%d duplicates=%d stuck=%d\n",
				x.Name, r.RTOMS, r.MissingAfterFailover, r.Lost, r.Duplicates, r.Stuck)
		}
		out = append(out, r)
	}
	return out
}

// RunOne runs one experiment: steady state, load, inject, heal, settle, verify, restore.
func RunOne(ctx context.Context, t *Target, x Experiment, cfg RunConfig) Result {
	cfg.withDefaults(t)
	return runOne(ctx, t, x, cfg, false)
}

// runOne is RunOne; steady says the platform was just seen steady (by the previous
// experiment's final check), so the first check can be skipped.
func runOne(ctx context.Context, t *Target, x Experiment, cfg RunConfig, steady bool) (res Result) {
	res = Result{Name: x.Name, Description: x.Description}
	if x.Name == "external" && cfg.ExternalName != "" {
		res.Name += ":" + cfg.ExternalName
		res.Description = fmt.Sprintf("%s: %s / %s", cfg.ExternalName, cfg.InjectCmd, cfg.HealCmd)
	}
	if missing := x.Missing(t, cfg.InjectCmd != ""); len(missing) > 0 {
		res.Skipped = fmt.Sprintf("needs %v", missing)
		return res
	}
	began := time.Now()
	logf := func(format string, args ...any) {
		fmt.Fprintf(cfg.Log, "chaos: %s: [%5.1fs] "+format+"\n", append([]any{x.Name, time.Since(began).Seconds()}, args...)...)
	}
	var notesMu sync.Mutex
	var observers sync.WaitGroup
	observeCtx, stopObservers := context.WithCancel(ctx)
	defer stopObservers()
	var h *History
	killAt := time.Duration(-1)
	env := &Env{Target: t, Region: cfg.Region, InjectCmd: cfg.InjectCmd, HealCmd: cfg.HealCmd,
		Killed: func() { killAt = h.Now() },
		Note: func(format string, args ...any) {
			notesMu.Lock()
			defer notesMu.Unlock()
			res.Notes = append(res.Notes, fmt.Sprintf(format, args...))
			logf(format, args...)
		},
		Observe: func(fn func(ctx context.Context)) {
			observers.Add(1)
			go func() {
				defer observers.Done()
				fn(observeCtx)
			}()
		}}

	// Steady state first.
	if steady {
		logf("steady (checked at the end of the previous experiment)")
	} else if err := t.WaitSteady(ctx, 15*time.Second); err != nil {
		logf("not steady (%v); restoring", err)
		if err := t.Restore(ctx, cfg.Log); err != nil {
			logf("restore: %v", err)
		}
		if err := t.WaitSteady(ctx, cfg.SteadyTimeout); err != nil {
			res.Error = "the platform is not in its steady state: " + err.Error()
			return res
		}
	}
	var merchants []Merchant
	suffix := time.Now().UTC().Format("20060102T150405")
	for _, r := range t.Regions {
		m, err := t.CreateMerchant(ctx, fmt.Sprintf("chaos %s %s %s", x.Name, r.Name, suffix), r.Name)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		merchants = append(merchants, m)
	}
	res.Merchants = merchants
	if cfg.Receiver != nil {
		for _, m := range merchants {
			c, err := paysdk.New(paysdk.Config{Endpoints: t.EndpointsFrom(m.Home), SecretKey: m.SecretKey})
			if err == nil {
				err = cfg.Receiver.Register(ctx, c, m.ID)
			}
			if err != nil {
				res.Error = err.Error()
				return res
			}
		}
	}
	logf("steady; merchants onboarded")

	h = NewHistory()
	dcfg := DriverConfig{Merchants: merchants, Endpoints: t.EndpointsFrom, Clients: cfg.Clients, ChannelSim: t.ChannelSim,
		AbandonShare: cfg.AbandonShare}
	if x.Load != nil {
		x.Load(&dcfg)
	}
	drv, err := NewDriver(dcfg, h)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	env.Driver = drv
	loadCtx, giveUp := context.WithCancel(ctx)
	defer giveUp()
	if err := drv.Start(loadCtx); err != nil {
		res.Error = err.Error()
		return res
	}
	warm := cfg.Duration / 4
	fault := max(cfg.Duration/2, x.MinFault)
	post := cfg.Duration - warm - cfg.Duration/2
	logf("load: %d clients; fault at +%s for %s", dcfg.Clients, warm, fault)
	sleep(ctx, warm)

	inject := h.Now()
	if err := x.Inject(ctx, env); err != nil {
		res.Error = "inject: " + err.Error()
		logf("inject: %v", err)
	}
	if cfg.Receiver != nil {
		cfg.Receiver.SetDown(true)
		sleep(ctx, inject+fault/2-h.Now())
		cfg.Receiver.SetDown(false)
	}
	sleep(ctx, inject+fault-h.Now())
	heal := h.Now()
	drv.StopAbandoning() // from healing on, the settle bound runs: clients see their operations through
	if err := x.Heal(ctx, env); err != nil {
		if res.Error == "" {
			res.Error = "heal: " + err.Error()
		}
		logf("heal: %v", err)
	}
	logf("healed %d ms after injecting", (h.Now() - inject).Milliseconds())
	sleep(ctx, post)
	drv.Stop()

	// Settle: clients finish their operations with their keys; the platform finishes the rest.
	deadline := h.Start().Add(heal + cfg.SettleBound)
	select {
	case <-drv.Done():
	case <-time.After(time.Until(deadline)):
		giveUp()
		<-drv.Done()
	}
	settled := h.Now()
	if conn, err := connect(ctx, t.DatabaseURL); err == nil {
		for {
			ids, err := InDoubt(ctx, conn, merchantIDs(merchants))
			if err == nil && len(ids) == 0 {
				ids, err = Unreflected(ctx, conn, t.ChannelSim, merchantIDs(merchants))
			}
			if err == nil && len(ids) == 0 {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				logf("still in doubt at the bound: %v %v", ids, errOrNil(err))
				break
			}
			sleep(ctx, 500*time.Millisecond)
		}
		settled = max(settled, h.Now())
		conn.Close(context.Background())
	}
	res.SettleMS = (settled - heal).Milliseconds()
	observed := make(chan struct{})
	go func() {
		observers.Wait()
		close(observed)
	}()
	select {
	case <-observed:
	case <-time.After(time.Until(deadline)):
		stopObservers()
		<-observed
	}
	logf("settled %d ms after healing", res.SettleMS)
	if n := drv.PayerErrors(); n > 0 {
		env.Note("%d wallet payments could not be paid at the simulator", n)
	}

	if n := resumedRequests(t, merchants, h.Start().Add(inject)); n > 0 {
		env.Note("%d requests were taken over from a recovery point after the fault (node logs)", n)
	}

	if cfg.Receiver != nil {
		res.DeliveredMS = awaitDeliveries(ctx, t, cfg.Receiver, merchantIDs(merchants), cfg.DeliveryBound)
		logf("webhooks delivered %d ms after settling", res.DeliveredMS)
	}
	finalReads(ctx, t, h, merchants)
	ops := h.Ops()
	if cfg.HistoryDir != "" {
		if err := writeHistory(cfg.HistoryDir, x.Name, h); err != nil {
			logf("history: %v", err)
		}
	}
	if ev, err := Gather(ctx, t, merchantIDs(merchants), ops, cfg.SettleBound); err != nil {
		// Checking half the evidence would report what is missing as lost: report the failure.
		res.Error = "gather evidence: " + err.Error()
	} else {
		if cfg.Receiver != nil {
			ev.Webhooks = cfg.Receiver.For(merchantIDs(merchants))
		}
		res.Verdict = Check(ev)
		logf("checked %d operations", res.Verdict.Operations)
	}
	if first := firstAckAfter(ops, heal); first >= 0 {
		env.Note("first acknowledged payment operation after healing: +%d ms", (first - heal).Milliseconds())
	}

	if killAt >= 0 {
		res.RTOMS = -1
		if first := firstAckCalledAfter(ops, killAt); first >= 0 {
			res.RTOMS = (first - killAt).Milliseconds()
		}
		res.MissingAfterFailover = res.Verdict.Lost
		env.Note("RTO: the first acknowledged payment operation called after the fault returned %d ms after it; acknowledged payments missing after failover: %d",
			res.RTOMS, res.MissingAfterFailover)
	}

	// Leave the platform as it was.
	if err := t.Restore(ctx, cfg.Log); err != nil {
		logf("restore: %v", err)
	}
	if err := t.WaitSteady(ctx, cfg.SteadyTimeout); err != nil {
		res.Verdict.violate("healthy-after", "%v", err)
	} else {
		res.steadyAfter = true
		logf("steady again")
	}

	if as, err := alertsSince(ctx, t, h.Start().Add(inject), h.Start().Add(heal)); err != nil {
		logf("alerts: %v", err)
	} else if res.Alerts = as; len(as) > 0 {
		logf("alerts: %s", alertLine(as))
	}

	v := &res.Verdict
	res.Operations, res.Acknowledged, res.Duplicates, res.Lost, res.Stuck = v.Operations, v.Acknowledged, v.Duplicates, v.Lost, v.Stuck+v.Unresolved
	res.InjectAtMS, res.HealAtMS = inject.Milliseconds(), heal.Milliseconds()
	f := Figures(ops, inject, heal, settled, cfg.Region)
	res.MaxGapMS, res.P50FaultMS, res.P99FaultMS, res.ByRegion = f.Gap.Milliseconds(), f.P50.Milliseconds(), f.P99.Milliseconds(), f.ByRegion
	res.Passed = res.Error == "" && v.Passed()
	return res
}

func merchantIDs(ms []Merchant) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.ID
	}
	return out
}

// finalReads reads every payment the clients created once more, after settling; the reads
// join the history (client -1) so the linearizability check covers the final states.
func finalReads(ctx context.Context, t *Target, h *History, merchants []Merchant) {
	byID := map[string]Merchant{}
	for _, m := range merchants {
		byID[m.ID] = m
	}
	sdks := map[string]*paysdk.Client{}
	hc := &http.Client{Timeout: 15 * time.Second}
	for _, m := range merchants {
		sdks[m.ID], _ = paysdk.New(paysdk.Config{Endpoints: t.EndpointsFrom(m.Home), SecretKey: m.SecretKey, HTTPClient: hc})
	}
	type job struct {
		m  Merchant
		id string
	}
	seen := map[string]bool{}
	var jobs []job
	for _, op := range h.Ops() {
		if op.Kind == OpCreate && op.PaymentID != "" && !seen[op.PaymentID] {
			seen[op.PaymentID] = true
			jobs = append(jobs, job{byID[op.Merchant], op.PaymentID})
		}
	}
	ch := make(chan job)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				readPayment(ctx, h, sdks[j.m.ID], -1, j.m, j.id)
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
}

// resumedRequests counts, in the local nodes' logs, requests of the merchants that a later
// attempt took over from a recovery point after since: evidence that a fault cut requests
// off halfway.
func resumedRequests(t *Target, merchants []Merchant, since time.Time) int {
	c, err := t.Cluster()
	if err != nil {
		return 0
	}
	mine := map[string]bool{}
	for _, m := range merchants {
		mine[m.ID] = true
	}
	n := 0
	for _, r := range c.Regions {
		for _, node := range r.Nodes {
			f, err := os.Open(node.Log)
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				line := sc.Bytes()
				if !bytes.Contains(line, []byte("resuming request from recovery point")) {
					continue
				}
				var l struct {
					Time     time.Time `json:"time"`
					Merchant string    `json:"merchant"`
				}
				if json.Unmarshal(line, &l) == nil && mine[l.Merchant] && l.Time.After(since) {
					n++
				}
			}
			f.Close()
		}
	}
	return n
}

func writeHistory(dir, name string, h *History) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(dir, name+".jsonl"))
	if err != nil {
		return err
	}
	if err := h.WriteJSONLines(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// firstAckAfter is the return time of the first acknowledged money-moving operation that
// returned at or after t, or -1.
func firstAckAfter(ops []Op, t time.Duration) time.Duration {
	first := time.Duration(-1)
	for _, op := range ops {
		if op.Client >= 0 && op.Kind.Moves() && op.Acked() && op.Return >= t && (first < 0 || op.Return < first) {
			first = op.Return
		}
	}
	return first
}

// firstAckCalledAfter is the return time of the first acknowledged money-moving operation
// called at or after t, or -1: work that began after a kill and succeeded.
func firstAckCalledAfter(ops []Op, t time.Duration) time.Duration {
	first := time.Duration(-1)
	for _, op := range ops {
		if op.Client >= 0 && op.Kind.Moves() && op.Acked() && op.Call >= t && (first < 0 || op.Return < first) {
			first = op.Return
		}
	}
	return first
}

// RegionFigures are one client region's figures.
type RegionFigures struct {
	Operations   int   `json:"operations"`
	Acknowledged int   `json:"acknowledged"`
	GapMS        int64 `json:"gap_ms"`
	P99FaultMS   int64 `json:"p99_fault_ms"`
}

// FaultFigures are the latency figures of an experiment.
type FaultFigures struct {
	Gap, P50, P99 time.Duration
	ByRegion      map[string]RegionFigures
}

// Figures computes the client-visible gap and the latency percentiles during the fault
// from a history: inject and heal are the fault's start and end, end the end of the
// experiment, region the clients whose gap is the headline figure.
//
// A region's gap is the time from inject to the first acknowledged money-moving operation
// called by that region's clients at or after inject (end − inject if none was): the
// first success of work that began under the fault. An operation already in flight does
// not count, since it may have done its work before the fault landed; clients blocked in
// such an operation delay their next call, which is part of what they see. The
// percentiles are those of the latencies (first call to definitive answer, retries
// included) of money-moving operations called between inject and heal.
func Figures(ops []Op, inject, heal, end time.Duration, region string) FaultFigures {
	f := FaultFigures{ByRegion: map[string]RegionFigures{}}
	first := map[string]time.Duration{}
	lat := map[string][]time.Duration{}
	var all []time.Duration
	for _, op := range ops {
		if op.Client < 0 {
			continue
		}
		rf := f.ByRegion[op.Region]
		rf.Operations++
		if op.Acked() {
			rf.Acknowledged++
		}
		f.ByRegion[op.Region] = rf
		if _, ok := first[op.Region]; !ok {
			first[op.Region] = -1
		}
		if !op.Kind.Moves() || op.Call < inject {
			continue
		}
		if op.Acked() && (first[op.Region] < 0 || op.Return < first[op.Region]) {
			first[op.Region] = op.Return
		}
		if op.Call <= heal {
			lat[op.Region] = append(lat[op.Region], op.Latency())
			all = append(all, op.Latency())
		}
	}
	gapOf := func(first time.Duration) time.Duration {
		if first < 0 {
			return max(0, end-inject)
		}
		return first - inject
	}
	for r, rf := range f.ByRegion {
		rf.GapMS = gapOf(first[r]).Milliseconds()
		rf.P99FaultMS = percentile(lat[r], 0.99).Milliseconds()
		f.ByRegion[r] = rf
	}
	if v, ok := first[region]; ok {
		f.Gap = gapOf(v)
	}
	f.P50, f.P99 = percentile(all, 0.50), percentile(all, 0.99)
	return f
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}
