package main

// paybench -seed N loads a history of N payments before the measured runs, so that the
// runs measure what a payment costs once the tables hold months of it.
//
// What one payment really writes (a card payment with automatic capture, through the API):
// a payments row, its idempotency key (the stored reply), a sale journal of two
// ledger_entries, one outbox event (fanned out by the webhook worker: delivered_at set) and
// its merchant's merchant_volume slot. A manual capture adds an authorize journal and a
// capture journal (and a key for the capture), a void an authorize and a void journal, a
// refund its refunds row, its key, a refund journal and a refund.succeeded event; the rollup
// worker keeps console_daily_stats and console_rollup_days for the closed days. The seed
// writes the same rows, with the real ID formats (pay_<region>_<24 base32>, …), spread over
// the benchmark's merchants, the five channels, the statuses, five currencies and the past
// 90 days, in the order they were made (the heap is in time order, as a live table's is).
//
// Payment i's attributes are a pure function of (seed, i), so each table is written by its
// own COPY stream that regenerates the payments it needs. Streams are cut into chunks of
// seedChunk payments, each chunk one COPY (one short transaction), taken by seedWorkers
// connections. The secondary indexes of the loaded tables are dropped first and built again
// afterwards from their own definitions (the migrations' CREATE INDEX statements as
// pg_indexes holds them); primary keys and unique constraints stay during the load.

import (
	"context"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/paycenter/paycenter/core/postgres"
	"github.com/paycenter/paycenter/loadtest"
)

const (
	// seedSpan is how far back the seeded payments go.
	seedSpan = 90 * 24 * time.Hour
	// seedChunk is how many payments one COPY covers.
	seedChunk = 20000
	// seedVolumeSlots is merchant_volume's slots per merchant and currency (volumeSlots in
	// core/postgres/volume.go).
	seedVolumeSlots = 8
	// seedRefundShare is the share of succeeded payments refunded.
	seedRefundShare = 0.03
)

// seedTables are the tables a payment writes, in the order their chunks are loaded.
var seedTables = []string{"payments", "idempotency_keys", "ledger_entries", "outbox_events", "refunds"}

// seedMerchant is a merchant the history belongs to.
type seedMerchant struct {
	ID     string
	Region string
}

// seedPlan is what to load: payments From to To (their numbers, which make their
// references and keys unique across loads) over the merchants and the history that ends at
// Now.
type seedPlan struct {
	From, To  int
	Seed      uint64
	Merchants []seedMerchant
	Now       time.Time
}

// seedPayment is one seeded payment and everything it wrote.
type seedPayment struct {
	ID, MerchantID, Region     string
	Status, Channel, Currency  string
	CaptureMethod              string
	Amount, Capturable         int64
	Captured, Refunded         int64
	Fingerprint                string
	FailureCode, FailureMsg    string
	Reference                  string
	Created, Updated, Canceled time.Time
	// Journals in the order they were posted.
	Journals []seedJournal
	// Events, one per status change that raises one.
	Events []seedEvent
	// Refund, if any (one succeeded refund).
	Refund *seedRefund
	// Keys: the create's, then capture/cancel's, then the refund's.
	Keys []seedKey
}

type seedJournal struct {
	ID, Kind    string
	At          time.Time
	AvailableOn *time.Time
	RefundID    string
	Postings    []seedPosting
}

type seedPosting struct {
	Account string
	Amount  int64
}

type seedEvent struct {
	ID, Type, ObjectID string
	At                 time.Time
	Payload            []byte
}

type seedRefund struct {
	ID      string
	Amount  int64
	Created time.Time
	Updated time.Time
}

type seedKey struct {
	Key, Path  string
	PaymentID  string
	RefundID   string
	Status     int32
	Body       []byte
	Created    time.Time
	Updated    time.Time
	RequestKey [32]byte
}

var (
	seedCurrencies = []string{"USD", "EUR", "GBP", "JPY", "CNY"}
	// seedChannels and their weights, as the load generator's default mix.
	seedChannels = []struct {
		name   string
		weight int
	}{{"card", 60}, {"debit_card", 20}, {"wechat_pay", 8}, {"alipay", 7}, {"bank_transfer", 5}}
)

// idAlphabet is core's ID alphabet (Crockford-like base32, core/id.go).
const idAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// seedID makes an ID in core.NewID's format: prefix_region_ and 24 base32 characters
// (120 random bits).
func seedID(r *rand.Rand, prefix, region string) string {
	b := make([]byte, 0, len(prefix)+len(region)+26)
	b = append(b, prefix...)
	b = append(b, '_')
	b = append(b, region...)
	b = append(b, '_')
	for range 24 {
		b = append(b, idAlphabet[r.IntN(32)])
	}
	return string(b)
}

// rng is payment i's own random source.
func (p *seedPlan) rng(i int) *rand.Rand {
	return rand.New(rand.NewPCG(p.Seed, uint64(i)*0x9e3779b97f4a7c15+1))
}

// payment makes payment i. Payments are evenly spread over the history in i's order, with
// jitter, so the heap is written in time order.
func (p *seedPlan) payment(i int) *seedPayment {
	r := p.rng(i)
	start := p.Now.Add(-seedSpan)
	step := seedSpan / time.Duration(max(p.To-p.From, 1))
	created := start.Add(step*time.Duration(i-p.From) + time.Duration(r.Int64N(int64(step)+1))).Truncate(time.Microsecond)
	m := p.Merchants[r.IntN(len(p.Merchants))]
	sp := &seedPayment{MerchantID: m.ID, Region: m.Region, Created: created}
	sp.ID = seedID(r, "pay", m.Region)
	sp.Currency = seedCurrencies[r.IntN(len(seedCurrencies))]
	w := r.IntN(100)
	for _, c := range seedChannels {
		if w < c.weight {
			sp.Channel = c.name
			break
		}
		w -= c.weight
	}
	sp.Amount = 100 + r.Int64N(99901)
	sp.Reference = "ord-" + strconv.Itoa(i)
	sp.CaptureMethod = "automatic"
	card := sp.Channel == "card" || sp.Channel == "debit_card"
	if card {
		// One card in about three payments is new; the rest come back (a pool per merchant).
		fp := make([]byte, 12)
		cr := rand.New(rand.NewPCG(p.Seed^0xcafe, uint64(r.IntN(max(p.To/3, 1)))))
		for j := range fp {
			fp[j] = byte(cr.Uint32())
		}
		sp.Fingerprint = hex.EncodeToString(fp)
	}
	// The payment's life: how it ended, which journals and events it wrote.
	u := r.Float64()
	answered := created.Add(time.Duration(5+r.IntN(400)) * time.Millisecond)
	if !card {
		answered = created.Add(time.Duration(20+r.IntN(600)) * time.Second) // the payer scanned or paid
	}
	keyCreate := seedKey{Key: "seed-" + strconv.Itoa(i), Path: "/v1/payments", PaymentID: sp.ID, Created: created}
	fillHash(r, &keyCreate)
	ev := func(typ string, at time.Time) {
		sp.Events = append(sp.Events, seedEvent{ID: seedID(r, "evt", m.Region), Type: typ, ObjectID: sp.ID, At: at})
	}
	jnl := func(kind string, at time.Time, avail *time.Time, ps ...seedPosting) {
		sp.Journals = append(sp.Journals, seedJournal{ID: seedID(r, "jnl", m.Region), Kind: kind, At: at, AvailableOn: avail, Postings: ps})
	}
	if !card {
		ev("payment.requires_action", created.Add(time.Duration(50+r.IntN(300))*time.Millisecond))
	}
	switch {
	case u < 0.06: // declined, or the payer never paid
		sp.Status = "failed"
		sp.Updated = answered
		if card {
			sp.FailureCode, sp.FailureMsg = "card_declined", "The card was declined."
		} else {
			sp.FailureCode, sp.FailureMsg = "payment_failed", "The payer did not complete the payment."
		}
		ev("payment.failed", answered)
	case card && u < 0.07: // authorised, not captured yet (recent ones) or held
		sp.Status, sp.CaptureMethod, sp.Capturable, sp.Updated = "requires_capture", "manual", sp.Amount, answered
		jnl("authorize", answered, nil, seedPosting{"channel_holds", sp.Amount}, seedPosting{"merchant_holds", -sp.Amount})
		ev("payment.requires_capture", answered)
	case card && u < 0.09: // authorised, then voided
		sp.CaptureMethod = "manual"
		jnl("authorize", answered, nil, seedPosting{"channel_holds", sp.Amount}, seedPosting{"merchant_holds", -sp.Amount})
		ev("payment.requires_capture", answered)
		voided := answered.Add(time.Duration(1+r.IntN(3600)) * time.Second)
		sp.Status, sp.Updated, sp.Canceled = "canceled", voided, voided
		jnl("void", voided, nil, seedPosting{"channel_holds", -sp.Amount}, seedPosting{"merchant_holds", sp.Amount})
		ev("payment.canceled", voided)
		k := seedKey{Key: "seed-" + strconv.Itoa(i) + "-cancel", Path: "/v1/payments/" + sp.ID + "/cancel", PaymentID: sp.ID, Created: voided}
		fillHash(r, &k)
		sp.Keys = append(sp.Keys, k)
	case card && u < 0.12: // authorised, then captured
		sp.CaptureMethod = "manual"
		jnl("authorize", answered, nil, seedPosting{"channel_holds", sp.Amount}, seedPosting{"merchant_holds", -sp.Amount})
		ev("payment.requires_capture", answered)
		captured := answered.Add(time.Duration(1+r.IntN(3600)) * time.Second)
		sp.Status, sp.Captured, sp.Updated = "succeeded", sp.Amount, captured
		avail := availableOn(captured)
		jnl("capture", captured, &avail, seedPosting{"channel_holds", -sp.Amount}, seedPosting{"merchant_holds", sp.Amount},
			seedPosting{"channel_receivable", sp.Amount}, seedPosting{"merchant_available", -sp.Amount})
		ev("payment.succeeded", captured)
		k := seedKey{Key: "seed-" + strconv.Itoa(i) + "-capture", Path: "/v1/payments/" + sp.ID + "/capture", PaymentID: sp.ID, Created: captured}
		fillHash(r, &k)
		sp.Keys = append(sp.Keys, k)
	case !card && u < 0.10: // the QR code or the transfer instructions expired
		expired := created.Add(2 * time.Hour)
		sp.Status, sp.Updated, sp.Canceled = "canceled", expired, expired
		ev("payment.canceled", expired)
	default:
		sp.Status, sp.Captured, sp.Updated = "succeeded", sp.Amount, answered
		avail := availableOn(answered)
		jnl("sale", answered, &avail, seedPosting{"channel_receivable", sp.Amount}, seedPosting{"merchant_available", -sp.Amount})
		ev("payment.succeeded", answered)
	}
	if sp.Status == "succeeded" && r.Float64() < seedRefundShare/0.88 {
		at := sp.Updated.Add(time.Duration(1+r.Int64N(int64(10*24*time.Hour/time.Second))) * time.Second)
		if at.Before(p.Now) {
			amount := sp.Captured
			if r.IntN(2) == 0 {
				amount = max(amount/2, 1)
			}
			ref := &seedRefund{ID: seedID(r, "re", m.Region), Amount: amount, Created: at, Updated: at.Add(time.Duration(5+r.IntN(400)) * time.Millisecond)}
			sp.Refund, sp.Refunded = ref, amount
			sp.Journals = append(sp.Journals, seedJournal{ID: seedID(r, "jnl", m.Region), Kind: "refund", At: ref.Updated, RefundID: ref.ID,
				Postings: []seedPosting{{"merchant_available", amount}, {"channel_receivable", -amount}}})
			sp.Events = append(sp.Events, seedEvent{ID: seedID(r, "evt", m.Region), Type: "refund.succeeded", ObjectID: ref.ID, At: ref.Updated})
			k := seedKey{Key: "seed-" + strconv.Itoa(i) + "-refund", Path: "/v1/refunds", PaymentID: sp.ID, RefundID: ref.ID, Created: at}
			fillHash(r, &k)
			sp.Keys = append(sp.Keys, k)
		}
	}
	sp.Keys = append([]seedKey{keyCreate}, sp.Keys...)
	sp.Keys[0].Updated = answered
	for j := range sp.Keys[1:] {
		sp.Keys[1+j].Updated = sp.Keys[1+j].Created.Add(10 * time.Millisecond)
	}
	if sp.Refund != nil {
		sp.Updated = sp.Refund.Updated
	}
	return sp
}

// bodies renders what the keys replay and the events carry (only the streams that write
// them pay for it).
func (sp *seedPayment) bodies() {
	card := sp.Fingerprint != ""
	// The create's key was answered with the payment as it stood after its first answer;
	// the stored reply is the payment as rendered (a decline is a 402 with the error).
	first := sp.Status
	if sp.CaptureMethod == "manual" {
		first = "requires_capture"
	} else if !card && sp.Status != "failed" {
		first = "requires_action"
	}
	body := sp.render(nil, first, sp.Keys[0].Updated)
	sp.Keys[0].Status, sp.Keys[0].Body = 200, body
	if sp.Status == "failed" && card {
		sp.Keys[0].Status = 402
		sp.Keys[0].Body = []byte(`{"error":{"type":"card_error","code":"card_declined","message":"The card was declined.","payment_id":"` + sp.ID + `"}}` + "\n")
	}
	for j := range sp.Keys[1:] {
		k := &sp.Keys[1+j]
		k.Status = 200
		if k.RefundID != "" {
			k.Body = sp.Refund.renderFor(sp)
		} else {
			k.Body = sp.render(nil, sp.Status, k.Updated)
		}
	}
	for j := range sp.Events {
		e := &sp.Events[j]
		if e.Type == "refund.succeeded" {
			e.Payload = sp.Refund.renderFor(sp)
		} else {
			e.Payload = sp.render(nil, strings.TrimPrefix(e.Type, "payment."), e.At)
		}
	}
}

// fillHash gives a key a request fingerprint (an HMAC-SHA256 in hex, as the real one).
func fillHash(r *rand.Rand, k *seedKey) {
	for j := 0; j < 32; j += 8 {
		v := r.Uint64()
		for b := range 8 {
			k.RequestKey[j+b] = byte(v >> (8 * b))
		}
	}
}

// availableOn is the default settlement terms' date (T+2 at midnight UTC; core.Terms).
func availableOn(at time.Time) time.Time {
	u := at.UTC()
	return time.Date(u.Year(), u.Month(), u.Day()+2, 0, 0, 0, 0, time.UTC)
}

// seedTerms is the terms a benchmark merchant's payments carry (no fee schedule).
const seedTerms = `{"fees": {"fixed": 0, "percent_bps": 0, "refund_fees": false}, "time_zone": "UTC", "delay_days": 2}`

// seedRisk is the risk assessment of an ordinary payment.
const seedRisk = `{"level": "normal", "score": 5, "outcome": "allowed"}`

func (sp *seedPayment) paymentMethod() string {
	if sp.Fingerprint != "" {
		return `{"type":"card","brand":"visa","last4":"4242","exp_month":12,"exp_year":2035,"fingerprint":"` + sp.Fingerprint + `"}`
	}
	return `{"type":"` + sp.Channel + `"}`
}

func rfc3339(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return strconv.AppendQuote(b, s)
}

// render is the payment as the API rendered it in status st at time at (the stored reply and
// the events' data.object).
func (sp *seedPayment) render(b []byte, st string, at time.Time) []byte {
	captured, capturable, refunded := int64(0), int64(0), int64(0)
	switch st {
	case "succeeded":
		captured = sp.Captured
	case "requires_capture":
		capturable = sp.Amount
	}
	b = append(b, `{"id":"`...)
	b = append(b, sp.ID...)
	b = append(b, `","object":"payment","status":"`...)
	b = append(b, st...)
	b = append(b, `","amount":`...)
	b = strconv.AppendInt(b, sp.Amount, 10)
	b = append(b, `,"amount_capturable":`...)
	b = strconv.AppendInt(b, capturable, 10)
	b = append(b, `,"amount_captured":`...)
	b = strconv.AppendInt(b, captured, 10)
	b = append(b, `,"amount_refunded":`...)
	b = strconv.AppendInt(b, refunded, 10)
	b = append(b, `,"currency":"`...)
	b = append(b, sp.Currency...)
	b = append(b, `","channel":"`...)
	b = append(b, sp.Channel...)
	b = append(b, `","capture_method":"`...)
	b = append(b, sp.CaptureMethod...)
	b = append(b, `","merchant_reference":"`...)
	b = append(b, sp.Reference...)
	b = append(b, `","description":"seeded history","customer":null,"payment_method":`...)
	b = append(b, sp.paymentMethod()...)
	b = append(b, `,"metadata":{},"region":"`...)
	b = append(b, sp.Region...)
	b = append(b, `","failure_code":`...)
	fc, fm := "", ""
	if st == "failed" {
		fc, fm = sp.FailureCode, sp.FailureMsg
	}
	b = appendNullable(b, fc)
	b = append(b, `,"failure_message":`...)
	b = appendNullable(b, fm)
	b = append(b, `,"next_action":null,"channel_reference":"sim_`...)
	b = append(b, sp.ID[len(sp.ID)-8:]...)
	b = append(b, `","created_at":`...)
	b = rfc3339(b, sp.Created)
	b = append(b, `,"updated_at":`...)
	b = rfc3339(b, at)
	b = append(b, `,"canceled_at":`...)
	if st == "canceled" {
		b = rfc3339(b, sp.Canceled)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"cancellation_reason":null,"risk":`...)
	b = append(b, seedRisk...)
	return append(b, "}\n"...)
}

func (r *seedRefund) renderFor(sp *seedPayment) []byte {
	b := append([]byte(nil), `{"id":"`...)
	b = append(b, r.ID...)
	b = append(b, `","object":"refund","amount":`...)
	b = strconv.AppendInt(b, r.Amount, 10)
	if sp != nil {
		b = append(b, `,"payment_id":"`...)
		b = append(b, sp.ID...)
		b = append(b, `","currency":"`...)
		b = append(b, sp.Currency...)
		b = append(b, '"')
	}
	b = append(b, `,"status":"succeeded","reason":"requested_by_customer","created_at":`...)
	b = rfc3339(b, r.Created)
	b = append(b, `,"updated_at":`...)
	b = rfc3339(b, r.Updated)
	return append(b, "}\n"...)
}

// volumeSlot is the merchant_volume slot of a payment ID (queueVolume's).
func volumeSlot(id string) int16 {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int16(h.Sum32() % seedVolumeSlots)
}

// seedColumns are the columns each table's COPY writes.
var seedColumns = map[string][]string{
	"payments": {"id", "merchant_id", "region", "status", "amount", "amount_capturable", "amount_captured", "amount_refunded",
		"amount_refund_pending", "currency", "channel", "capture_method", "merchant_reference", "description", "customer",
		"payment_method", "metadata", "failure_code", "failure_message", "next_action", "channel_reference",
		"cancellation_reason", "created_at", "updated_at", "canceled_at", "pending_op", "pending_amount",
		"recovery_attempts", "next_recovery_at", "risk", "terms"},
	"idempotency_keys": {"merchant_id", "idem_key", "region", "request_method", "request_path", "request_hash", "lock_token",
		"locked_until", "recovery_point", "payment_id", "refund_id", "response_status", "response_body", "created_at",
		"updated_at", "holder"},
	"ledger_entries": {"id", "journal_id", "merchant_id", "region", "account", "currency", "amount", "kind", "payment_id",
		"refund_id", "created_at", "available_on"},
	"outbox_events": {"id", "merchant_id", "region", "type", "object_id", "payload", "created_at", "attempts",
		"next_attempt_at", "delivered_at"},
	"refunds": {"id", "merchant_id", "region", "payment_id", "amount", "currency", "status", "reason", "failure_code",
		"channel_reference", "created_at", "updated_at"},
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// rows appends table's rows of payment sp to out.
func (sp *seedPayment) rows(table string, out [][]any) [][]any {
	switch table {
	case "payments":
		out = append(out, []any{sp.ID, sp.MerchantID, sp.Region, sp.Status, sp.Amount, sp.Capturable, sp.Captured, sp.Refunded,
			int64(0), sp.Currency, sp.Channel, sp.CaptureMethod, sp.Reference, "seeded history", nil,
			sp.paymentMethod(), "{}", nullString(sp.FailureCode), nullString(sp.FailureMsg), nil, "sim_" + sp.ID[len(sp.ID)-8:],
			nil, sp.Created, sp.Updated, nullTime(sp.Canceled), nil, nil,
			int32(0), nil, seedRisk, seedTerms})
	case "idempotency_keys":
		for _, k := range sp.Keys {
			out = append(out, []any{sp.MerchantID, k.Key, sp.Region, "POST", k.Path, hex.EncodeToString(k.RequestKey[:]), nil,
				nil, "finished", k.PaymentID, nullString(k.RefundID), k.Status, k.Body, k.Created,
				k.Updated, nil})
		}
	case "ledger_entries":
		for _, j := range sp.Journals {
			var avail any
			if j.AvailableOn != nil {
				avail = *j.AvailableOn
			}
			for n, p := range j.Postings {
				out = append(out, []any{j.ID + "." + strconv.Itoa(n), j.ID, sp.MerchantID, sp.Region, p.Account, sp.Currency, p.Amount,
					j.Kind, sp.ID, nullString(j.RefundID), j.At, avail})
			}
		}
	case "outbox_events":
		for _, e := range sp.Events {
			out = append(out, []any{e.ID, sp.MerchantID, sp.Region, e.Type, e.ObjectID, e.Payload, e.At, int32(1),
				e.At, e.At.Add(200 * time.Millisecond)})
		}
	case "refunds":
		if r := sp.Refund; r != nil {
			out = append(out, []any{r.ID, sp.MerchantID, sp.Region, sp.ID, r.Amount, sp.Currency, "succeeded",
				"requested_by_customer", nil, "sim_re_" + r.ID[len(r.ID)-8:], r.Created, r.Updated})
		}
	}
	return out
}

// seedResult is what a load took.
type seedResult struct {
	Rows         map[string]int64
	Load, Index  time.Duration
	Derived, Vac time.Duration
}

// seedTask is one COPY: table's rows of payments [from, to).
type seedTask struct {
	table    string
	from, to int
}

// seedHistoryInto loads plan into the database at url, with progress on out.
func seedHistoryInto(ctx context.Context, url string, plan seedPlan, workers int, out io.Writer) (seedResult, error) {
	res := seedResult{Rows: map[string]int64{}}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return res, err
	}
	cfg.MaxConns = int32(max(workers, 2))
	// The loader's own sessions: no statement timeout, memory for index builds; the rows are
	// generated against existing merchants and payments, so the foreign-key triggers are not
	// fired row by row (session_replication_role, the loader is the server's superuser).
	cfg.ConnConfig.RuntimeParams["statement_timeout"] = "0"
	cfg.ConnConfig.RuntimeParams["maintenance_work_mem"] = "1GB"
	cfg.ConnConfig.RuntimeParams["session_replication_role"] = "replica"
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return res, err
	}
	defer pool.Close()

	n := plan.To - plan.From
	// 1. Set the secondary indexes aside.
	indexes, err := secondaryIndexes(ctx, pool, seedTables)
	if err != nil {
		return res, err
	}
	for _, ix := range indexes {
		if _, err := pool.Exec(ctx, "DROP INDEX "+pgx.Identifier{ix.name}.Sanitize()); err != nil {
			return res, fmt.Errorf("seed: dropping %s: %w", ix.name, err)
		}
	}
	fmt.Fprintf(out, "seed: %d payments over %d merchants and %s, %d secondary indexes set aside for the load\n",
		n, len(plan.Merchants), seedSpan, len(indexes))

	// 2. COPY, chunk by chunk.
	start := time.Now()
	var tasks []seedTask
	for from := plan.From; from < plan.To; from += seedChunk {
		for _, t := range seedTables {
			tasks = append(tasks, seedTask{table: t, from: from, to: min(from+seedChunk, plan.To)})
		}
	}
	var done atomic.Int64 // payments whose every table is loaded ×len(seedTables)
	var rowsDone atomic.Int64
	var mu sync.Mutex
	volume := map[[3]string]int64{}
	taskCh := make(chan seedTask)
	errCh := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range taskCh {
				n, err := copyTask(ctx, pool, plan, t, func(sp *seedPayment) {
					if t.table == "payments" && sp.Status != "failed" && sp.Status != "canceled" {
						mu.Lock()
						volume[[3]string{sp.MerchantID, sp.Currency, strconv.Itoa(int(volumeSlot(sp.ID)))}] += sp.Amount
						mu.Unlock()
					}
				})
				if err != nil {
					errCh <- fmt.Errorf("seed: %s %d-%d: %w", t.table, t.from, t.to, err)
					return
				}
				rowsDone.Add(n)
				done.Add(int64(t.to - t.from))
				mu.Lock()
				res.Rows[t.table] += n
				mu.Unlock()
			}
		}()
	}
	stopProgress := make(chan struct{})
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-tick.C:
				el := time.Since(start)
				frac := float64(done.Load()) / float64(n*len(seedTables))
				eta := "?"
				if frac > 0 {
					eta = (time.Duration(float64(el)/frac) - el).Round(time.Second).String()
				}
				fmt.Fprintf(out, "seed: %5.1f %% of %d payments, %d rows, %.0f rows/s, %s elapsed, ETA %s\n",
					100*frac, n, rowsDone.Load(), float64(rowsDone.Load())/el.Seconds(), el.Round(time.Second), eta)
			}
		}
	}()
	var sendErr error
send:
	for _, t := range tasks {
		select {
		case taskCh <- t:
		case sendErr = <-errCh:
			break send
		case <-ctx.Done():
			sendErr = ctx.Err()
			break send
		}
	}
	close(taskCh)
	wg.Wait()
	close(stopProgress)
	<-progressDone
	if sendErr == nil {
		select {
		case sendErr = <-errCh:
		default:
		}
	}
	if sendErr != nil {
		return res, sendErr
	}
	res.Load = time.Since(start)
	var total int64
	for _, n := range res.Rows {
		total += n
	}
	fmt.Fprintf(out, "seed: loaded %d rows in %s (%.0f rows/s): %s\n", total, res.Load.Round(time.Second),
		float64(total)/res.Load.Seconds(), rowCounts(res.Rows))

	// 3. The indexes, from their own definitions, two at a time.
	start = time.Now()
	if err := buildIndexes(ctx, pool, indexes, workers, out); err != nil {
		return res, err
	}
	res.Index = time.Since(start)
	fmt.Fprintf(out, "seed: %d indexes built in %s\n", len(indexes), res.Index.Round(time.Second))

	// 4. The counters and rollups the payments' transactions and the rollup worker keep.
	start = time.Now()
	if err := seedDerived(ctx, pool, plan, volume); err != nil {
		return res, err
	}
	res.Derived = time.Since(start)

	// 5. VACUUM (visibility map, hint bits, statistics) and a checkpoint, as a table that has
	// lived with autovacuum would be.
	start = time.Now()
	for _, t := range append(seedTables, "merchant_volume", "console_daily_stats", "console_rollup_days") {
		if _, err := pool.Exec(ctx, "VACUUM (ANALYZE) "+t); err != nil {
			return res, fmt.Errorf("seed: vacuum %s: %w", t, err)
		}
	}
	if _, err := pool.Exec(ctx, "CHECKPOINT"); err != nil {
		return res, fmt.Errorf("seed: checkpoint: %w", err)
	}
	res.Vac = time.Since(start)
	fmt.Fprintf(out, "seed: counters and rollups %s, vacuum and checkpoint %s\n", res.Derived.Round(time.Millisecond), res.Vac.Round(time.Second))
	return res, nil
}

// copyTask runs one COPY.
func copyTask(ctx context.Context, pool *pgxpool.Pool, plan seedPlan, t seedTask, each func(*seedPayment)) (int64, error) {
	i := t.from
	var buf [][]any
	src := pgx.CopyFromFunc(func() ([]any, error) {
		for len(buf) == 0 {
			if i >= t.to {
				return nil, nil
			}
			sp := plan.payment(i)
			i++
			if t.table == "idempotency_keys" || t.table == "outbox_events" {
				sp.bodies()
			}
			each(sp)
			buf = sp.rows(t.table, buf[:0])
		}
		row := buf[0]
		buf = buf[1:]
		return row, nil
	})
	return pool.CopyFrom(ctx, pgx.Identifier{t.table}, seedColumns[t.table], src)
}

func rowCounts(m map[string]int64) string {
	var parts []string
	for _, t := range seedTables {
		parts = append(parts, fmt.Sprintf("%s %d", t, m[t]))
	}
	return strings.Join(parts, ", ")
}

// seedIndex is a secondary index and its definition.
type seedIndex struct{ name, def string }

// secondaryIndexes lists the indexes of tables that back no constraint (primary keys and
// unique constraints stay).
func secondaryIndexes(ctx context.Context, pool *pgxpool.Pool, tables []string) ([]seedIndex, error) {
	rows, err := pool.Query(ctx, `SELECT i.indexname, i.indexdef FROM pg_indexes i
		WHERE i.schemaname = 'public' AND i.tablename = ANY($1)
			AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)
		ORDER BY i.tablename, i.indexname`, tables)
	if err != nil {
		return nil, fmt.Errorf("seed: indexes: %w", err)
	}
	var out []seedIndex
	for rows.Next() {
		var ix seedIndex
		if err := rows.Scan(&ix.name, &ix.def); err != nil {
			return nil, err
		}
		out = append(out, ix)
	}
	return out, rows.Err()
}

// buildIndexes creates the indexes again, workers at a time.
func buildIndexes(ctx context.Context, pool *pgxpool.Pool, indexes []seedIndex, workers int, out io.Writer) error {
	ch := make(chan seedIndex)
	errs := make(chan error, len(indexes))
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ix := range ch {
				t0 := time.Now()
				if _, err := pool.Exec(ctx, ix.def); err != nil {
					errs <- fmt.Errorf("seed: %s: %w", ix.name, err)
					continue
				}
				fmt.Fprintf(out, "seed: index %s in %s\n", ix.name, time.Since(t0).Round(100*time.Millisecond))
			}
		}()
	}
	for _, ix := range indexes {
		ch <- ix
	}
	close(ch)
	wg.Wait()
	close(errs)
	return <-errs
}

// seedDerived writes the merchants' volume counters and the back office's rollups of the
// closed days the rollup worker keeps (35 days, RollupConfig's default), as they stand once
// the history is in.
func seedDerived(ctx context.Context, pool *pgxpool.Pool, plan seedPlan, volume map[[3]string]int64) error {
	region := map[string]string{}
	for _, m := range plan.Merchants {
		region[m.ID] = m.Region
	}
	b := &pgx.Batch{}
	for k, amount := range volume {
		slot, _ := strconv.Atoi(k[2])
		b.Queue(`INSERT INTO merchant_volume (merchant_id, currency, slot, region, amount) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (merchant_id, currency, slot) DO UPDATE SET amount = merchant_volume.amount + EXCLUDED.amount`,
			k[0], k[1], int16(slot), region[k[0]], amount)
	}
	if err := pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("seed: merchant_volume: %w", err)
	}
	today := plan.Now.UTC().Truncate(24 * time.Hour)
	from := today.AddDate(0, 0, -35)
	ids := make([]string, 0, len(plan.Merchants))
	for _, m := range plan.Merchants {
		ids = append(ids, m.ID)
	}
	// The same groups as the worker's liveStats, per merchant, day, channel, region and
	// currency (paidStatuses: succeeded, requires_capture).
	if _, err := pool.Exec(ctx, `
		INSERT INTO console_daily_stats (merchant_id, day, channel, payment_region, currency, region,
			payments, succeeded, volume, refunds, refunded)
		SELECT g.merchant_id, g.day, g.channel, g.region, g.currency, m.region,
			sum(g.n), sum(g.paid), sum(g.volume), sum(g.rn), sum(g.rv)
		FROM (
			SELECT merchant_id, (created_at AT TIME ZONE 'UTC')::DATE AS day, channel, region, currency,
				count(*) AS n, count(*) FILTER (WHERE status IN ('succeeded', 'requires_capture')) AS paid,
				COALESCE(sum(amount) FILTER (WHERE status IN ('succeeded', 'requires_capture')), 0) AS volume,
				0 AS rn, 0 AS rv
			FROM payments WHERE merchant_id = ANY($1) AND created_at >= $2 AND created_at < $3 GROUP BY 1, 2, 3, 4, 5
			UNION ALL
			SELECT r.merchant_id, (r.created_at AT TIME ZONE 'UTC')::DATE, p.channel, r.region, r.currency,
				0, 0, 0, count(*), sum(r.amount)
			FROM refunds r JOIN payments p ON p.id = r.payment_id
			WHERE r.merchant_id = ANY($1) AND r.created_at >= $2 AND r.created_at < $3 AND r.status = 'succeeded'
			GROUP BY 1, 2, 3, 4, 5) g
		JOIN merchants m ON m.id = g.merchant_id
		GROUP BY g.merchant_id, g.day, g.channel, g.region, g.currency, m.region
		ON CONFLICT (merchant_id, day, channel, payment_region, currency) DO UPDATE SET
			payments = EXCLUDED.payments, succeeded = EXCLUDED.succeeded, volume = EXCLUDED.volume,
			refunds = EXCLUDED.refunds, refunded = EXCLUDED.refunded`, ids, from, today); err != nil {
		return fmt.Errorf("seed: console_daily_stats: %w", err)
	}
	if _, err := pool.Exec(ctx, `
		INSERT INTO console_rollup_days (merchant_id, day, region, computed_at)
		SELECT m.id, d::DATE, m.region, $4 FROM merchants m, generate_series($2::TIMESTAMPTZ, $3::TIMESTAMPTZ - INTERVAL '1 day', INTERVAL '1 day') d
		WHERE m.id = ANY($1)
		ON CONFLICT (merchant_id, day) DO UPDATE SET computed_at = EXCLUDED.computed_at`, ids, from, today, plan.Now); err != nil {
		return fmt.Errorf("seed: console_rollup_days: %w", err)
	}
	return nil
}

// seedMerchants are the benchmark's merchants as the seed's owners.
func seedMerchants(ms []loadtest.Merchant) []seedMerchant {
	out := make([]seedMerchant, len(ms))
	for i, m := range ms {
		out[i] = seedMerchant{ID: m.ID, Region: m.HomeRegion}
	}
	return out
}

// checkSeededLedger runs the ledger check (the service method behind GET
// /v1/admin/ledger/check, without the serving node's statement timeout, which a check of
// millions of entries exceeds) and fails unless it balances.
func checkSeededLedger(ctx context.Context, url string, out io.Writer) error {
	db, err := postgres.Open(ctx, url, 2)
	if err != nil {
		return fmt.Errorf("ledger check: %w", err)
	}
	defer db.Close()
	svc, err := postgres.NewService(db, nil, postgres.Config{Region: "us-east", SecretKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		return fmt.Errorf("ledger check: %w", err)
	}
	t0 := time.Now()
	r, err := svc.CheckLedger(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "ledger check:   balanced=%v journals=%d entries=%d (%s)\n", r.Balanced, r.Journals, r.Entries, time.Since(t0).Round(time.Millisecond))
	if !r.Balanced {
		return fmt.Errorf("the seeded ledger does not check: %d unbalanced journals %v, %d payment mismatches %v, balances %v %v",
			len(r.UnbalancedJournals), r.UnbalancedJournals, len(r.PaymentMismatches), r.PaymentMismatches, r.BalanceMismatches, r.NegativeBalances)
	}
	return nil
}

// reapSeeded runs the idempotency key reaper and the event reaper once, through the service
// methods their workers call (payd runs them every 10 minutes and every hour), and prints
// what they deleted and how long it took, then vacuums what they emptied.
func reapSeeded(ctx context.Context, url string, out io.Writer) error {
	db, err := postgres.Open(ctx, url, 2)
	if err != nil {
		return fmt.Errorf("reapers: %w", err)
	}
	defer db.Close()
	svc, err := postgres.NewService(db, nil, postgres.Config{Region: "us-east", SecretKey: []byte(strings.Repeat("k", 32))})
	if err != nil {
		return fmt.Errorf("reapers: %w", err)
	}
	t0 := time.Now()
	keys, err := svc.ReapKeys(ctx)
	if err != nil {
		return err
	}
	t1 := time.Now()
	events, err := svc.ReapEvents(ctx)
	if err != nil {
		return err
	}
	t2 := time.Now()
	for _, t := range []string{"idempotency_keys", "outbox_events"} {
		if _, err := db.Pool.Exec(ctx, "VACUUM (ANALYZE) "+t); err != nil {
			return fmt.Errorf("reapers: vacuum %s: %w", t, err)
		}
	}
	fmt.Fprintf(out, "reapers:        %d idempotency keys older than 24 h deleted in %s (%.0f/s), %d events older than 30 days in %s (%.0f/s); vacuum %s\n",
		keys, t1.Sub(t0).Round(time.Millisecond), float64(keys)/t1.Sub(t0).Seconds(),
		events, t2.Sub(t1).Round(time.Millisecond), float64(events)/t2.Sub(t1).Seconds(), time.Since(t2).Round(time.Millisecond))
	return nil
}
