package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
)

// moreNodes are Service instances beside e's on the same database, as other nodes are.
func (e *phaseEnv) moreNodes(n int) []*postgres.Service {
	e.t.Helper()
	out := []*postgres.Service{e.svc}
	for range n {
		svc, err := postgres.NewService(e.db, e.ch, postgres.Config{Region: "us-east", SecretKey: bytes.Repeat([]byte("k"), 32),
			Lease: testLease, ChannelTimeout: 5 * time.Second, Now: e.clock.Now})
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, svc)
	}
	return out
}

func (e *phaseEnv) available(merchantID, currency string) int64 {
	e.t.Helper()
	b, err := e.svc.Balance(context.Background(), merchantID)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, l := range b.Data {
		if l.Currency == currency {
			return l.Available
		}
	}
	return 0
}

// A transfer moves available money once per key and never more than is available; bad
// input names its param and writes nothing; reversals from several nodes at once never move
// back more than the transfer.
func TestTransferAndConcurrentReversalsNeverMoveMoreThanTheTransfer(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	platform := e.merchant
	dest, err := e.svc.CreateMerchant(ctx, "Seller", "us-east")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateAdjustment(ctx, core.AdjustmentParams{Merchant: platform.ID, Amount: 10_000, Currency: "USD", Reason: "opening float"}); err != nil {
		t.Fatal(err)
	}
	treq := func(key string) core.IdempotentRequest { return e.req(key, "/v1/transfers") }
	params := core.CreateTransferParams{Amount: 6000, Currency: "USD", Destination: dest.ID}
	if _, err := e.svc.CreateTransfer(ctx, treq("t-0"), params); core.ErrorCode(err) != core.CodeForbidden {
		t.Fatalf("transfer before an operator allowed it: %v, want forbidden", err)
	}
	if err := e.svc.SetTransfersAllowed(ctx, platform.ID, true); err != nil {
		t.Fatal(err)
	}
	entries := e.count("ledger_entries")
	for _, c := range []struct {
		p     core.CreateTransferParams
		param string
	}{
		{core.CreateTransferParams{Amount: -5, Currency: "USD", Destination: dest.ID}, "amount"},
		{core.CreateTransferParams{Amount: 5, Currency: "XYZ", Destination: dest.ID}, "currency"},
		{core.CreateTransferParams{Amount: 5, Currency: "USD", Destination: "mer_us-east_nobody"}, "destination"},
		{core.CreateTransferParams{Amount: 5, Currency: "USD", Destination: platform.ID}, "destination"},
		{core.CreateTransferParams{Amount: 10_001, Currency: "USD", Destination: dest.ID}, "amount"},
	} {
		_, err := e.svc.CreateTransfer(ctx, treq(fmt.Sprintf("bad-%s-%d", c.param, c.p.Amount)), c.p)
		if ce := core.AsError(err); err == nil || ce.Param != c.param {
			t.Errorf("%+v: %v, want an error naming %s", c.p, err, c.param)
		}
	}
	if n := e.count("transfers"); n != 0 || e.count("ledger_entries") != entries {
		t.Fatalf("bad transfers wrote %d transfers and %d postings", n, e.count("ledger_entries")-entries)
	}

	tr, err := e.svc.CreateTransfer(ctx, treq("t-1"), params)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.svc.CreateTransfer(ctx, treq("t-1"), params)
	if err != nil || again.ID != tr.ID {
		t.Fatalf("retry: %+v, %v; want transfer %s again", again, err, tr.ID)
	}
	other := params
	other.Amount = 1
	if _, err := e.svc.CreateTransfer(ctx, treq("t-1"), other); core.ErrorCode(err) != core.CodeIdempotencyKeyReused {
		t.Fatalf("same key, other amount: %v", err)
	}
	if got := [2]int64{e.available(platform.ID, "USD"), e.available(dest.ID, "USD")}; got != [2]int64{4000, 6000} {
		t.Fatalf("after the transfer: available %v, want [4000 6000] minor units", got)
	}
	if _, err := e.svc.ReverseTransfer(ctx, e.req("r-bad", "/v1/transfers/x/reversals"), tr.ID, core.CreateReversalParams{Amount: ptr(int64(-1))}); core.AsError(err).Param != "amount" {
		t.Fatalf("negative reversal: %v", err)
	}

	// 30 reversals of 1000 from three nodes at once: exactly six fit in 6000.
	nodes := e.moreNodes(2)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ok      int
		refused = map[string]int{}
	)
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := nodes[i%len(nodes)].ReverseTransfer(ctx, e.req(fmt.Sprintf("r-%d", i), "/v1/transfers/"+tr.ID+"/reversals"),
				tr.ID, core.CreateReversalParams{Amount: ptr(int64(1000))})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				ok++
			} else {
				refused[core.ErrorCode(err)]++
			}
		}()
	}
	wg.Wait()
	if ok != 6 || refused[core.CodeAmountTooLarge] != 24 {
		t.Fatalf("%d reversals succeeded, refused %v; want 6 and 24 amount_too_large", ok, refused)
	}
	got, err := e.svc.Transfer(ctx, platform.ID, tr.ID)
	if err != nil || got.AmountReversed != 6000 {
		t.Fatalf("transfer after reversals: %+v, %v", got, err)
	}
	if got := [2]int64{e.available(platform.ID, "USD"), e.available(dest.ID, "USD")}; got != [2]int64{10_000, 0} {
		t.Fatalf("after the reversals: available %v, want [10000 0]", got)
	}
	txns, err := e.svc.BalanceTransactions(ctx, dest.ID, core.BalanceTransactionFilter{Type: core.TxnTransferReversal, Limit: 100})
	if err != nil || len(txns.Data) != 6 || txns.Data[0].Net != -1000 || txns.Data[0].Source != tr.ID {
		t.Fatalf("destination's reversal transactions: %+v, %v", txns, err)
	}
	e.requireBalancedLedger()
}

// An operator's debit may not take a balance below zero unless the adjustment allows it;
// every adjustment is audited.
func TestAdjustmentsAreAuditedAndStayAboveZeroUnlessAllowed(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	m := e.merchant.ID
	if _, err := e.svc.CreateAdjustment(ctx, core.AdjustmentParams{Merchant: m, Amount: 500, Currency: "JPY", Reason: "goodwill"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.CreateAdjustment(ctx, core.AdjustmentParams{Merchant: m, Amount: -501, Currency: "JPY", Reason: "chargeback"}); core.ErrorCode(err) != core.CodeBalanceInsufficient {
		t.Fatalf("debit below zero: %v, want balance_insufficient", err)
	}
	for _, c := range []struct {
		p     core.AdjustmentParams
		param string
	}{
		{core.AdjustmentParams{Merchant: m, Amount: 0, Currency: "JPY", Reason: "x"}, "amount"},
		{core.AdjustmentParams{Merchant: m, Amount: 5, Currency: "JPY"}, "reason"},
		{core.AdjustmentParams{Merchant: "mer_us-east_nobody", Amount: 5, Currency: "JPY", Reason: "x"}, "merchant"},
	} {
		if _, err := e.svc.CreateAdjustment(ctx, c.p); core.AsError(err).Param != c.param {
			t.Errorf("%+v: %v, want an error naming %s", c.p, err, c.param)
		}
	}
	if _, err := e.svc.CreateAdjustment(ctx, core.AdjustmentParams{Merchant: m, Amount: -501, Currency: "JPY", Reason: "chargeback", AllowNegative: true}); err != nil {
		t.Fatal(err)
	}
	if a := e.available(m, "JPY"); a != -1 {
		t.Fatalf("available %d JPY, want -1", a)
	}
	if n := e.count("adjustments"); n != 2 || e.count("merchant_ops_events") != 2 {
		t.Fatalf("%d adjustments, %d audit rows; want 2 and 2", n, e.count("merchant_ops_events"))
	}
	e.requireBalancedLedger()
}

func ptr[T any](v T) *T { return &v }
