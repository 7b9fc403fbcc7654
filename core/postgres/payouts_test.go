package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/postgres"
)

// Payout implements core.Payouter: each key pays once; a repeat answers with the payout's
// state. losePayouts loses the answers of executed payouts.
func (f *fakeChannel) Payout(_ context.Context, req core.PayoutRequest) (core.PayoutResult, error) {
	res := f.once(req.Key, func() any {
		f.payoutCalls++ // under f.mu (once holds it)
		out := f.payoutOutcome
		if out == "" {
			out = core.PayoutOutcomePaid
		}
		return core.PayoutResult{Found: true, Outcome: out, Reference: "bk_" + req.PayoutID}
	}).(core.PayoutResult)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.losePayouts > 0 {
		f.losePayouts--
		return core.PayoutResult{}, errors.New("payout answer lost")
	}
	return res, nil
}

// QueryPayout reports what the bank did with a payout's key.
func (f *fakeChannel) QueryPayout(_ context.Context, q core.PayoutQuery) (core.PayoutResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	res, ok := f.answers[q.Key].(core.PayoutResult)
	if !ok {
		return core.PayoutResult{}, nil
	}
	return res, nil
}

func (f *fakeChannel) payoutExecutions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.payoutCalls
}

// verify submits and approves e's merchant's KYC (bank account in EUR) and credits its
// available balance with an operator adjustment.
func (e *phaseEnv) verifyWithBalance(merchantID string, available int64) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.svc.SubmitKYC(ctx, merchantID, kycForm()); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.DecideKYC(ctx, merchantID, true, ""); err != nil {
		e.t.Fatal(err)
	}
	if available > 0 {
		if _, err := e.svc.CreateAdjustment(ctx, core.AdjustmentParams{Merchant: merchantID, Amount: available, Currency: "EUR", Reason: "opening float"}); err != nil {
			e.t.Fatal(err)
		}
	}
}

func (e *phaseEnv) payout(key string, amount int64) (*core.Payout, error) {
	e.t.Helper()
	reply, err := e.svc.CreatePayout(context.Background(), e.req(key, "/v1/payouts"), core.CreatePayoutParams{Amount: amount, Currency: "EUR"})
	if err != nil {
		return nil, err
	}
	if reply.Interim != nil {
		return reply.Interim.(*core.Payout), nil
	}
	var po core.Payout
	if err := decodeReply(reply, &po); err != nil {
		e.t.Fatalf("payout reply %s: %v", reply.Body, err)
	}
	return &po, nil
}

func (e *phaseEnv) requireLedgerProofs() {
	e.t.Helper()
	r, err := e.svc.CheckLedger(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	if !r.Balanced {
		e.t.Fatalf("ledger check failed: %+v", r)
	}
}

// 20 concurrent payouts, from three nodes, against a balance that covers 5: exactly 5 are
// made and paid, the others refused with balance_insufficient naming amount and writing
// nothing; the available balance ends at zero, never went below it, and the ledger balances.
func TestConcurrentPayoutsNeverExceedTheAvailableBalance(t *testing.T) {
	e := newPhaseEnv(t)
	e.verifyWithBalance(e.merchant.ID, 5*1000)
	nodes := e.moreNodes(2)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		paid     int
		refused  int
		failures []error
	)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc := nodes[i%len(nodes)]
			reply, err := svc.CreatePayout(context.Background(), e.req(fmt.Sprintf("po-%d", i), "/v1/payouts"),
				core.CreatePayoutParams{Amount: 1000, Currency: "EUR"})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil && reply.Status == 200:
				paid++
			case core.ErrorCode(err) == core.CodeBalanceInsufficient && core.AsError(err).Param == "amount":
				refused++
			default:
				failures = append(failures, fmt.Errorf("reply %+v, err %v", reply, err))
			}
		}()
	}
	wg.Wait()
	if len(failures) > 0 || paid != 5 || refused != 15 {
		t.Fatalf("paid %d, refused %d, other %v; want 5 and 15", paid, refused, failures)
	}
	if n := e.count("payouts"); n != 5 {
		t.Errorf("%d payouts stored, want 5", n)
	}
	if n := e.ch.payoutExecutions(); n != 5 {
		t.Errorf("the bank paid %d payouts, want 5", n)
	}
	if a := e.available(e.merchant.ID, "EUR"); a != 0 {
		t.Errorf("available %d after the payouts, want 0", a)
	}
	e.requireLedgerProofs()
	list, err := e.svc.Payouts(context.Background(), e.merchant.ID, core.PayoutFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, po := range list.Data {
		if po.Status != core.PayoutPaid || po.Destination.Last4 != "3000" {
			t.Errorf("payout %+v, want paid to …3000", po)
		}
	}
	bts, err := e.svc.BalanceTransactions(context.Background(), e.merchant.ID, core.BalanceTransactionFilter{Type: core.TxnPayout, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(bts.Data) != 5 || bts.Data[0].Net != -1000 || bts.Data[0].Type != core.TxnPayout {
		t.Errorf("payout balance transactions %+v, want 5 of -1000", bts.Data)
	}
}

// A payout whose bank answer was lost stays pending with its key open; the recovery worker
// asks the bank by the payout ID and finishes it: paid once, one bank payout, one event.
func TestLostPayoutAnswerIsFinishedByRecoveryPaidOnce(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	e.verifyWithBalance(e.merchant.ID, 3000)
	e.ch.losePayouts = 1
	po, err := e.payout("lost", 2000)
	if err != nil {
		t.Fatal(err)
	}
	if po.Status != core.PayoutPending {
		t.Fatalf("payout with a lost answer is %s, want pending", po.Status)
	}
	if a := e.available(e.merchant.ID, "EUR"); a != 1000 {
		t.Errorf("available %d while the payout is pending, want 1000 (reserved)", a)
	}
	cfg := postgres.RecoveryConfig{Interval: time.Second}
	// Too soon: the request's own retry gets the first go.
	if st, err := e.svc.RecoverPayouts(ctx, cfg); err != nil || st.Examined != 0 {
		t.Fatalf("recovery before MinAge: %+v, %v", st, err)
	}
	e.clock.Advance(2*testLease + time.Second)
	st, err := e.svc.RecoverPayouts(ctx, cfg)
	if err != nil || st.Resolved != 1 {
		t.Fatalf("recovery: %+v, %v; want one resolved", st, err)
	}
	got, err := e.svc.Payout(ctx, e.merchant.ID, po.ID)
	if err != nil || got.Status != core.PayoutPaid {
		t.Fatalf("after recovery: %+v, %v; want paid", got, err)
	}
	// The client's retry replays the outcome and pays nothing more; so does a second sweep.
	e.clock.Advance(time.Hour)
	if again, err := e.payout("lost", 2000); err != nil || again.ID != po.ID || again.Status != core.PayoutPaid {
		t.Fatalf("retry: %+v, %v", again, err)
	}
	if st, err := e.svc.RecoverPayouts(ctx, cfg); err != nil || st.Resolved != 0 {
		t.Fatalf("second sweep: %+v, %v", st, err)
	}
	if n := e.ch.payoutExecutions(); n != 1 {
		t.Errorf("the bank paid %d times, want 1", n)
	}
	events, err := e.svc.Events(ctx, e.merchant.ID, po.ID)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, ev := range events {
		types = append(types, ev.Type)
	}
	if fmt.Sprint(types) != fmt.Sprint([]string{core.EventPayoutCreated, core.EventPayoutPaid}) {
		t.Errorf("events %v, want created then paid", types)
	}
	e.requireLedgerProofs()
}

// A paid payout the bank returns puts its money back to available once, with one
// payout_failure balance transaction and one payout.failed event, however often the return
// notification comes.
func TestReturnedPayoutRestoresFundsOnce(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	e.verifyWithBalance(e.merchant.ID, 3000)
	po, err := e.payout("ret", 2500)
	if err != nil || po.Status != core.PayoutPaid {
		t.Fatalf("payout: %+v, %v", po, err)
	}
	if a := e.available(e.merchant.ID, "EUR"); a != 500 {
		t.Fatalf("available %d after the payout, want 500", a)
	}
	ret := core.PayoutResult{Found: true, Outcome: core.PayoutOutcomeReturned, FailureCode: "account_closed", FailureMessage: "The account is closed."}
	for i, want := range []bool{true, false} {
		moved, err := e.svc.ApplyPayoutResult(ctx, po.ID, ret)
		if err != nil || moved != want {
			t.Fatalf("return notification %d: moved %v, %v; want %v", i+1, moved, err, want)
		}
	}
	if a := e.available(e.merchant.ID, "EUR"); a != 3000 {
		t.Errorf("available %d after the return, want 3000", a)
	}
	got, _ := e.svc.Payout(ctx, e.merchant.ID, po.ID)
	if got.Status != core.PayoutFailed || got.FailureCode == nil || *got.FailureCode != "account_closed" {
		t.Errorf("returned payout %+v, want failed with account_closed", got)
	}
	bts, err := e.svc.BalanceTransactions(ctx, e.merchant.ID, core.BalanceTransactionFilter{Type: core.TxnPayoutFailure, Limit: 10})
	if err != nil || len(bts.Data) != 1 || bts.Data[0].Net != 2500 || bts.Data[0].Source != po.ID {
		t.Errorf("payout_failure transactions %+v, %v; want one of +2500 from %s", bts, err, po.ID)
	}
	events, _ := e.svc.Events(ctx, e.merchant.ID, po.ID)
	failed := 0
	for _, ev := range events {
		if ev.Type == core.EventPayoutFailed {
			failed++
		}
	}
	if failed != 1 {
		t.Errorf("%d payout.failed events, want 1", failed)
	}
	e.requireLedgerProofs()
}

// A payout the bank fails outright gives the money back at once.
func TestFailedPayoutRestoresFunds(t *testing.T) {
	e := newPhaseEnv(t)
	e.verifyWithBalance(e.merchant.ID, 3000)
	e.ch.payoutOutcome = core.PayoutOutcomeFailed
	po, err := e.payout("fail", 1200)
	if err != nil || po.Status != core.PayoutFailed {
		t.Fatalf("payout: %+v, %v; want failed", po, err)
	}
	if a := e.available(e.merchant.ID, "EUR"); a != 3000 {
		t.Errorf("available %d after a failed payout, want 3000", a)
	}
	e.requireLedgerProofs()
}

// Bad input names its param and writes nothing: a negative or zero amount, an unknown
// currency, one not the bank account's, more than available; an unverified merchant is
// refused with kyc_required; another merchant's payout is not found.
func TestPayoutBadInputNamesTheParamAndWritesNothing(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	other, err := e.svc.CreateMerchant(ctx, "Other", "us-east")
	if err != nil {
		t.Fatal(err)
	}
	// Unverified, with money: kyc_required.
	if _, err := e.svc.CreateAdjustment(ctx, core.AdjustmentParams{Merchant: e.merchant.ID, Amount: 5000, Currency: "EUR", Reason: "float"}); err != nil {
		t.Fatal(err)
	}
	snapshot := func() [4]int {
		return [4]int{e.count("payouts"), e.count("ledger_entries"), e.count("idempotency_keys"), e.count("outbox_events")}
	}
	before := snapshot()
	if _, err := e.payout("unverified", 100); core.ErrorCode(err) != core.CodeKYCRequired {
		t.Errorf("unverified merchant: %v, want kyc_required", err)
	}
	e.verifyWithBalance(e.merchant.ID, 0)
	before = snapshot()
	for _, c := range []struct {
		p     core.CreatePayoutParams
		param string
	}{
		{core.CreatePayoutParams{Amount: -100, Currency: "EUR"}, "amount"},
		{core.CreatePayoutParams{Amount: 0, Currency: "EUR"}, "amount"},
		{core.CreatePayoutParams{Amount: 100, Currency: "XYZ"}, "currency"},
		{core.CreatePayoutParams{Amount: 100, Currency: "USD"}, "currency"},
		{core.CreatePayoutParams{Amount: 5001, Currency: "EUR"}, "amount"},
	} {
		_, err := e.svc.CreatePayout(ctx, e.req(fmt.Sprintf("bad-%d-%s", c.p.Amount, c.p.Currency), "/v1/payouts"), c.p)
		if ce := core.AsError(err); err == nil || ce.Param != c.param {
			t.Errorf("%+v: %v, want an error naming %s", c.p, err, c.param)
		}
	}
	if after := snapshot(); after != before {
		t.Errorf("bad payouts wrote rows: %v → %v (payouts, ledger entries, keys, events)", before, after)
	}
	po, err := e.payout("good", 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Payout(ctx, other.ID, po.ID); core.ErrorCode(err) != core.CodeNotFound || core.AsError(err).Param != "id" {
		t.Errorf("another merchant's payout: %v, want not found naming id", err)
	}
}

func decodeReply(r core.Reply, v any) error {
	if r.Status != 200 {
		return fmt.Errorf("status %d: %s", r.Status, r.Body)
	}
	return json.Unmarshal(r.Body, v)
}

// The automatic schedule pays once per period even with two nodes' workers running it at
// the same time, again in the next period, never on a weekly schedule's other days, and
// holds back money that became available within delay_days.
func TestAutomaticPayoutsOncePerPeriodWithTwoWorkers(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	e.verifyWithBalance(e.merchant.ID, 4000)
	nodes := e.moreNodes(1)
	if _, err := e.svc.SetPayoutSchedule(ctx, e.merchant.ID, false, core.PayoutScheduleParams{Interval: "hourly"}); core.AsError(err).Param != "interval" {
		t.Fatalf("bad interval: %v, want an error naming interval", err)
	}
	if _, err := e.svc.SetPayoutSchedule(ctx, e.merchant.ID, false, core.PayoutScheduleParams{Interval: core.ScheduleDaily}); err != nil {
		t.Fatal(err)
	}
	runBoth := func() int {
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for _, svc := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 3 {
					n, err := svc.RunPayoutSchedules(ctx)
					if err != nil {
						t.Error(err)
					}
					mu.Lock()
					total += n
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		return total
	}
	if n := runBoth(); n != 1 {
		t.Errorf("first period: %d payouts made, want 1", n)
	}
	if n := e.count("payouts"); n != 1 {
		t.Fatalf("first period: %d payouts stored, want 1", n)
	}
	if a := e.available(e.merchant.ID, "EUR"); a != 0 {
		t.Errorf("available %d after the automatic payout, want 0", a)
	}
	// The next day: money came in; one more payout.
	e.clock.Advance(24 * time.Hour)
	if _, err := e.svc.CreateAdjustment(ctx, core.AdjustmentParams{Merchant: e.merchant.ID, Amount: 1500, Currency: "EUR", Reason: "sales"}); err != nil {
		t.Fatal(err)
	}
	if n := runBoth(); n != 1 || e.count("payouts") != 2 {
		t.Errorf("second period: %d made, %d stored; want 1 and 2", n, e.count("payouts"))
	}
	// Weekly on another weekday than today: nothing due; delay_days holds today's money back.
	e.clock.Advance(24 * time.Hour)
	if _, err := e.svc.CreateAdjustment(ctx, core.AdjustmentParams{Merchant: e.merchant.ID, Amount: 900, Currency: "EUR", Reason: "sales"}); err != nil {
		t.Fatal(err)
	}
	other := core.WeekdayName((e.clock.Now().Weekday() + 1) % 7)
	if _, err := e.svc.SetPayoutSchedule(ctx, e.merchant.ID, true, core.PayoutScheduleParams{Interval: core.ScheduleWeekly, WeeklyAnchor: other}); err != nil {
		t.Fatal(err)
	}
	if n := runBoth(); n != 0 {
		t.Errorf("weekly schedule on its off day made %d payouts", n)
	}
	two := 2
	if _, err := e.svc.SetPayoutSchedule(ctx, e.merchant.ID, true, core.PayoutScheduleParams{Interval: core.ScheduleDaily, DelayDays: &two}); err != nil {
		t.Fatal(err)
	}
	if n := runBoth(); n != 0 {
		t.Errorf("money available for less than delay_days was paid out (%d payouts)", n)
	}
	e.clock.Advance(2*24*time.Hour + time.Minute)
	if n := runBoth(); n != 1 {
		t.Errorf("after delay_days: %d payouts, want 1", n)
	}
	list, err := e.svc.Payouts(ctx, e.merchant.ID, core.PayoutFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var amounts []int64
	for _, po := range list.Data {
		if !po.Automatic || po.Status != core.PayoutPaid {
			t.Errorf("automatic payout %+v", po)
		}
		amounts = append(amounts, po.Amount)
	}
	if fmt.Sprint(amounts) != "[900 1500 4000]" {
		t.Errorf("automatic payouts %v, want [900 1500 4000]", amounts)
	}
	if n := e.ch.payoutExecutions(); n != 3 {
		t.Errorf("the bank paid %d payouts, want 3", n)
	}
	e.requireLedgerProofs()
}

// The ledger check proves no balance went negative except through an operator's
// allow_negative adjustment, and that payouts' postings agree with their statuses: a forged
// overdrawing payout journal and a payout whose status was changed behind the ledger's back
// are both reported.
func TestLedgerProvesBalancesNeverWentNegative(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	e.verifyWithBalance(e.merchant.ID, 1000)
	e.clock.Advance(time.Second)
	if _, err := e.svc.CreateAdjustment(ctx, core.AdjustmentParams{Merchant: e.merchant.ID, Amount: -1500, Currency: "EUR",
		Reason: "chargeback", AllowNegative: true}); err != nil {
		t.Fatal(err)
	}
	e.requireLedgerProofs() // -500, allowed by the operator
	e.clock.Advance(time.Second)
	if _, err := e.svc.CreateAdjustment(ctx, core.AdjustmentParams{Merchant: e.merchant.ID, Amount: 2000, Currency: "EUR", Reason: "top up"}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	po, err := e.payout("all", 1500)
	if err != nil || po.Status != core.PayoutPaid {
		t.Fatalf("payout: %+v, %v", po, err)
	}
	e.requireLedgerProofs()

	// A payout journal nobody checked against the balance (written around the service).
	e.clock.Advance(time.Second)
	at := e.clock.Now()
	if _, err := e.db.Pool.Exec(ctx, `INSERT INTO ledger_entries (id, journal_id, merchant_id, region, account, currency, amount, kind, created_at, available_on, source_id)
		VALUES ('jnl_forged.0', 'jnl_forged', $1, 'us-east', 'merchant_available', 'EUR', 700, 'payout', $2, $2, 'po_forged'),
			('jnl_forged.1', 'jnl_forged', $1, 'us-east', 'payouts_in_transit', 'EUR', -700, 'payout', $2, $2, 'po_forged')`, e.merchant.ID, at); err != nil {
		t.Fatal(err)
	}
	r, err := e.svc.CheckLedger(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Balanced || len(r.NegativeBalances) != 1 || len(r.BalanceMismatches) != 0 {
		t.Fatalf("forged overdraft: %+v, want one negative balance", r)
	}
	if _, err := e.db.Pool.Exec(ctx, `DELETE FROM ledger_entries WHERE journal_id = 'jnl_forged'`); err != nil {
		t.Fatal(err)
	}
	// A payout marked failed without its money coming back.
	if _, err := e.db.Pool.Exec(ctx, `UPDATE payouts SET status = 'failed' WHERE id = $1`, po.ID); err != nil {
		t.Fatal(err)
	}
	if r, err = e.svc.CheckLedger(ctx); err != nil || r.Balanced || len(r.BalanceMismatches) != 1 {
		t.Fatalf("payout status behind the ledger's back: %+v, %v; want one mismatch", r, err)
	}
}

// A payout the bank keeps in transit stays in_transit (its money reserved) until the bank
// says paid; the recovery worker's query learns it.
func TestDelayedPayoutIsPaidWhenTheBankSaysSo(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	e.verifyWithBalance(e.merchant.ID, 3000)
	e.ch.payoutOutcome = core.PayoutOutcomeInTransit
	po, err := e.payout("slow", 1000)
	if err != nil || po.Status != core.PayoutInTransit {
		t.Fatalf("payout: %+v, %v; want in_transit", po, err)
	}
	cfg := postgres.RecoveryConfig{Interval: time.Second}
	e.clock.Advance(2*testLease + time.Second)
	if st, err := e.svc.RecoverPayouts(ctx, cfg); err != nil || st.Waiting != 1 {
		t.Fatalf("sweep while in transit: %+v, %v; want one waiting", st, err)
	}
	e.ch.mu.Lock()
	e.ch.answers[core.PayoutKey(po.ID)] = core.PayoutResult{Found: true, Outcome: core.PayoutOutcomePaid, Reference: "bk_" + po.ID}
	e.ch.mu.Unlock()
	e.clock.Advance(time.Minute) // past the payout's backoff
	if st, err := e.svc.RecoverPayouts(ctx, cfg); err != nil || st.Resolved != 1 {
		t.Fatalf("sweep once paid: %+v, %v; want one resolved", st, err)
	}
	if got, _ := e.svc.Payout(ctx, e.merchant.ID, po.ID); got.Status != core.PayoutPaid {
		t.Errorf("payout %+v, want paid", got)
	}
	if a := e.available(e.merchant.ID, "EUR"); a != 2000 {
		t.Errorf("available %d, want 2000", a)
	}
	e.requireLedgerProofs()
}
