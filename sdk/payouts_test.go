package paysdk

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

// The merchant's payout and settlement calls: paths, query, the Idempotency-Key of a payout
// kept across a retry after a 202, decoded answers, a CSV download kept as sent, refusals
// as *Error.
func TestPayoutAndSettlementCalls(t *testing.T) {
	po := &Payout{Object: "payout", ID: "po_us-east_1", Amount: 500, Currency: "EUR", Status: PayoutPaid,
		Destination: PayoutDestination{BankCode: "37040044", Last4: "3000", HolderName: "Acme"}}
	srv := newFake(t, func(n int, w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/payouts" && strings.Contains(r.Header.Get("Idempotency-Key"), "refused"):
			apiError(w, http.StatusForbidden, "invalid_request_error", "kyc_required", "Payouts need a verified merchant.", 0)
		case r.Method == http.MethodPost && r.URL.Path == "/v1/payouts" && n == 0:
			pending := *po
			pending.Status = PayoutPending
			reply(w, http.StatusAccepted, &pending)
		case r.URL.Path == "/v1/payouts" && r.Method == http.MethodPost, r.URL.Path == "/v1/payouts/po_us-east_1":
			reply(w, http.StatusOK, po)
		case r.URL.Path == "/v1/payouts":
			reply(w, http.StatusOK, &List[*Payout]{Object: "list", Data: []*Payout{po}, HasMore: true})
		case r.URL.Path == "/v1/merchant/payout_schedule":
			reply(w, http.StatusOK, &PayoutSchedule{Object: "payout_schedule", Merchant: "mer_1", Interval: "weekly", WeeklyAnchor: "friday", DelayDays: 2})
		case r.URL.Path == "/v1/settlements/st_1/lines.csv":
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("balance_transaction,created_at\njnl_1,2026-11-25T10:00:00Z\n"))
		case r.URL.Path == "/v1/settlements/st_1":
			reply(w, http.StatusOK, &Settlement{Object: "settlement", ID: "st_1", Reconciliation: "mismatch", ReconciliationDetail: []string{"x"}})
		case r.URL.Path == "/v1/settlements":
			reply(w, http.StatusOK, &List[*Settlement]{Object: "list", Data: []*Settlement{{ID: "st_1"}}})
		default:
			http.NotFound(w, r)
		}
	})
	c := newClient(t, srv.URL)
	ctx := context.Background()
	got, err := c.CreatePayout(ctx, CreatePayoutParams{Amount: 500, Currency: "EUR"}, WithIdempotencyKey("po-1"))
	if err != nil || got.Status != PayoutPaid || got.Destination.Last4 != "3000" {
		t.Fatalf("CreatePayout = %+v, %v", got, err)
	}
	if keys := srv.keys(); len(keys) != 2 || keys[0] != "po-1" || keys[1] != "po-1" {
		t.Errorf("the payout's retry after a 202 sent keys %v, want po-1 twice", keys)
	}
	var e *Error
	if _, err := c.CreatePayout(ctx, CreatePayoutParams{Amount: 5, Currency: "EUR"}, WithIdempotencyKey("refused")); !errors.As(err, &e) || e.Code != "kyc_required" {
		t.Errorf("refused payout: %v, want kyc_required", err)
	}
	if p, err := c.GetPayout(ctx, "po_us-east_1"); err != nil || p.ID != po.ID {
		t.Errorf("GetPayout = %+v, %v", p, err)
	}
	if _, err := c.GetPayout(ctx, ""); !errors.As(err, &e) || e.Param != "id" {
		t.Errorf("GetPayout without an ID: %v", err)
	}
	list, err := c.ListPayouts(ctx, PayoutFilter{Status: PayoutPaid, Limit: 5, StartingAfter: "po_us-east_0"})
	if err != nil || len(list.Data) != 1 || !list.HasMore {
		t.Errorf("ListPayouts = %+v, %v", list, err)
	}
	reqs := srv.requests()
	if q := reqs[len(reqs)-1].Query; q != "limit=5&starting_after=po_us-east_0&status=paid" {
		t.Errorf("ListPayouts query %q", q)
	}
	if sc, err := c.PayoutSchedule(ctx); err != nil || sc.WeeklyAnchor != "friday" || sc.DelayDays != 2 {
		t.Errorf("PayoutSchedule = %+v, %v", sc, err)
	}
	if sts, err := c.ListSettlements(ctx, 3); err != nil || len(sts.Data) != 1 {
		t.Errorf("ListSettlements = %+v, %v", sts, err)
	}
	if st, err := c.GetSettlement(ctx, "st_1"); err != nil || st.Reconciliation != "mismatch" {
		t.Errorf("GetSettlement = %+v, %v", st, err)
	}
	csv, err := c.SettlementLinesCSV(ctx, "st_1")
	if err != nil || !strings.HasPrefix(string(csv), "balance_transaction,created_at\njnl_1,") {
		t.Errorf("SettlementLinesCSV = %q, %v", csv, err)
	}
}

// The operators' review calls: the KYC queue, a merchant's (or the platform's) fees, the
// settlements reconciliation flagged.
func TestAdminReviewCalls(t *testing.T) {
	srv := newFake(t, func(_ int, w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/admin/kyc":
			reply(w, http.StatusOK, &List[*KYC]{Object: "list", Data: []*KYC{{Merchant: "mer_1", Status: "pending"}}})
		case "/v1/admin/merchants/mer_1/fees", "/v1/admin/fees":
			reply(w, http.StatusOK, &List[*FeeSchedule]{Object: "list", Data: []*FeeSchedule{{Merchant: "*", Channel: "*", PercentBps: 250}}})
		case "/v1/admin/settlements":
			reply(w, http.StatusOK, &List[*Settlement]{Object: "list", Data: []*Settlement{{ID: "st_1", Reconciliation: "mismatch"}}})
		default:
			http.NotFound(w, r)
		}
	})
	a := newAdmin(t, srv.URL)
	ctx := context.Background()
	if q, err := a.KYCSubmissions(ctx, "pending", 20); err != nil || len(q.Data) != 1 || q.Data[0].Status != "pending" {
		t.Errorf("KYCSubmissions = %+v, %v", q, err)
	}
	if fs, err := a.Fees(ctx, "mer_1"); err != nil || len(fs.Data) != 1 || fs.Data[0].PercentBps != 250 {
		t.Errorf("Fees = %+v, %v", fs, err)
	}
	if _, err := a.Fees(ctx, "*"); err != nil {
		t.Errorf("platform fees: %v", err)
	}
	if sts, err := a.ReviewSettlements(ctx, SettlementFilter{Reconciliation: "mismatch", Limit: 5}); err != nil || len(sts.Data) != 1 {
		t.Errorf("ReviewSettlements = %+v, %v", sts, err)
	}
	var paths []string
	for _, s := range srv.requests() {
		paths = append(paths, s.Path+"?"+s.Query)
	}
	want := []string{"/v1/admin/kyc?limit=20&status=pending", "/v1/admin/merchants/mer_1/fees?", "/v1/admin/fees?", "/v1/admin/settlements?limit=5&reconciliation=mismatch"}
	if strings.Join(paths, " ") != strings.Join(want, " ") {
		t.Errorf("requests %v, want %v", paths, want)
	}
}
