package main

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/paycenter/paycenter/core"
)

func (e *env) customer(key string, body map[string]any) string {
	e.t.Helper()
	return e.expect(e.call("POST", "/v1/customers", key, "", body), 200).str("id")
}

func (e *env) walletBalance(key, cus, cur string) int64 {
	e.t.Helper()
	return e.expect(e.call("GET", "/v1/customers/"+cus, key, "", nil), 200).num("balances." + cur)
}

func cardTopUp(amount int64) map[string]any {
	p := cardPayment("", amount, visaOK, core.CaptureAutomatic)
	delete(p, "merchant_reference")
	delete(p, "capture_method")
	p["currency"] = "cny"
	return p
}

func walletPayment(cus, ref string, amount int64) map[string]any {
	return map[string]any{"amount": amount, "currency": "cny", "channel": "wallet", "merchant_reference": ref,
		"payment_method": map[string]any{"wallet": map[string]any{"customer": cus}}}
}

// A top-up through WeChat Pay credits the wallet only when the notification arrives, and
// once, however often the notification is delivered.
func TestTopUpByWeChatPayCreditsOnceOnNotification(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	cus := e.customer(key, map[string]any{"email": "payer@example.com", "phone": "+8613800138000", "language": "zh"})
	top := e.expect(e.call("POST", "/v1/customers/"+cus+"/top_ups", key, newKey(), map[string]any{
		"amount": 5000, "currency": "cny", "channel": "wechat_pay"}), 200)
	if top.str("status") != "requires_action" {
		t.Fatalf("top-up: %s", top.Body)
	}
	if b := e.walletBalance(key, cus, "CNY"); b != 0 {
		t.Fatalf("balance %d before the notification, want 0", b)
	}
	n := core.Notification{Channel: core.ChannelWeChatPay, EventID: "wx-evt-1", PaymentID: top.str("id"),
		Outcome: core.OutcomeCaptured, Amount: 5000, Currency: "CNY", Reference: "wx-1"}
	second := e.secondNode()
	var wg sync.WaitGroup
	applied := make(chan bool, 3)
	for i := range 3 { // delivered three times, two of them at once through two nodes
		node := e
		if i == 1 {
			node = second
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := node.svc.ApplyNotification(context.Background(), n)
			if err != nil {
				t.Error(err)
			}
			applied <- ok
		}()
	}
	wg.Wait()
	close(applied)
	count := 0
	for ok := range applied {
		if ok {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("notification applied %d times, want 1", count)
	}
	if b := e.walletBalance(key, cus, "CNY"); b != 5000 {
		t.Fatalf("balance %d after the notification, want 5000", b)
	}
	txs := e.expect(e.call("GET", "/v1/customers/"+cus+"/balance_transactions", key, "", nil), 200)
	data, _ := txs.get("data").([]any)
	if len(data) != 1 || data[0].(map[string]any)["type"] != "top_up" || data[0].(map[string]any)["balance_after"].(float64) != 5000 {
		t.Fatalf("balance transactions: %s", txs.Body)
	}
	e.requireBalancedLedger()
}

// 20 concurrent wallet payments of 10 on a balance of 100 through three nodes: exactly 10
// succeed, the others are 402 insufficient_funds, the balance ends at 0 and is never
// negative; a refund goes back to the wallet.
func TestConcurrentWalletPaymentsNeverOverdraw(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	cus := e.customer(key, map[string]any{"email": "payer@example.com"})
	top := e.expect(e.call("POST", "/v1/customers/"+cus+"/top_ups", key, newKey(), cardTopUp(100)), 200)
	if b := e.walletBalance(key, cus, "CNY"); b != 100 {
		t.Fatalf("balance %d after a card top-up of 100, want 100", b)
	}
	// A top-up's money is in the wallet: it is not refunded through the channel.
	if r := e.call("POST", "/v1/refunds", key, newKey(), map[string]any{"payment": top.str("id"), "amount": 10}); r.Status != 400 || r.str("error.param") != "payment" {
		t.Fatalf("refund of a top-up: %d %s", r.Status, r.Body)
	}
	nodes := []*env{e, e.secondNode(), e.secondNode()}
	var wg sync.WaitGroup
	statuses := make(chan *resp, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- nodes[i%3].call("POST", "/v1/payments", key, newKey(), walletPayment(cus, fmt.Sprintf("w-%d", i), 10))
		}()
	}
	wg.Wait()
	close(statuses)
	ok, short := 0, 0
	var paid string
	for r := range statuses {
		switch {
		case r.Status == 200 && r.str("status") == "succeeded":
			ok++
			paid = r.str("id")
		case r.Status == 402 && r.str("error.code") == core.CodeInsufficientFunds:
			short++
		default:
			t.Errorf("wallet payment: %d %s", r.Status, r.Body)
		}
	}
	if ok != 10 || short != 10 {
		t.Fatalf("%d succeeded and %d refused for insufficient funds, want 10 and 10", ok, short)
	}
	if b := e.walletBalance(key, cus, "CNY"); b != 0 {
		t.Fatalf("balance %d, want 0", b)
	}
	var negative int
	if err := e.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM customer_balance_transactions WHERE balance_after < 0`).Scan(&negative); err != nil || negative != 0 {
		t.Fatalf("%d balance transactions below zero (err %v)", negative, err)
	}
	e.requireBalancedLedger()

	e.expect(e.call("POST", "/v1/refunds", key, newKey(), map[string]any{"payment": paid, "amount": 4}), 200)
	if b := e.walletBalance(key, cus, "CNY"); b != 4 {
		t.Fatalf("balance %d after a refund of 4, want 4", b)
	}
	rep := e.requireBalancedLedger()
	if len(rep.WalletMismatches) != 0 {
		t.Fatalf("wallet mismatches: %v", rep.WalletMismatches)
	}
}

// Bad input is a 4xx naming the param and writes nothing.
func TestPayerBadInputWritesNothing(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	_, other := e.merchant("Other")
	theirs := e.customer(other, map[string]any{"name": "Theirs"})
	e.expect(e.call("POST", "/v1/customers/"+theirs+"/top_ups", other, newKey(), cardTopUp(100)), 200)
	mine := e.customer(key, map[string]any{"name": "Mine"})
	before := func() [4]int {
		return [4]int{e.count("customers"), e.count("payments"), e.count("customer_balance_transactions"), e.count("idempotency_keys")}
	}
	want := before()
	for _, tc := range []struct {
		path, param string
		status      int
		body        map[string]any
	}{
		{"/v1/customers", "email", 400, map[string]any{"email": "payer.example.com"}},
		{"/v1/customers", "phone", 400, map[string]any{"phone": "13800138000"}},
		{"/v1/customers", "language", 400, map[string]any{"language": "fr"}},
		{"/v1/customers/" + mine + "/top_ups", "amount", 400, map[string]any{"amount": 0, "currency": "cny", "channel": "wechat_pay"}},
		{"/v1/customers/" + mine + "/top_ups", "channel", 400, map[string]any{"amount": 10, "currency": "cny", "channel": "wallet"}},
		{"/v1/payments", "payment_method.wallet.customer", 400, walletPayment(theirs, "steal-1", 10)},
		{"/v1/payments", "payment_method.wallet.customer", 400, walletPayment("", "steal-2", 10)},
	} {
		r := e.call("POST", tc.path, key, newKey(), tc.body)
		if r.Status != tc.status || r.str("error.param") != tc.param {
			t.Errorf("POST %s %v: %d %s, want %d naming %s", tc.path, tc.body, r.Status, r.Body, tc.status, tc.param)
		}
	}
	e.expect(e.call("POST", "/v1/customers/"+theirs+"/top_ups", key, newKey(), cardTopUp(10)), 404)
	// The risk verification routes know customers too: another merchant's cus_ ID is 404.
	e.expect(e.call("POST", "/v1/customers/"+theirs+"/phone_verifications", key, "", map[string]any{"phone": "+8613800138000"}), 404)
	e.expect(e.call("GET", "/v1/customers/"+theirs+"/verification", key, "", nil), 404)
	e.expect(e.call("GET", "/v1/customers/"+mine+"/verification", key, "", nil), 200)
	if got := before(); got != want {
		t.Fatalf("rows (customers, payments, balance transactions, keys) %v after bad input, want %v", got, want)
	}
	if b := e.walletBalance(other, theirs, "CNY"); b != 100 {
		t.Fatalf("the other merchant's customer's balance is %d, want 100", b)
	}
}

// A deleted customer's personal fields are erased; the money trail stays.
func TestDeleteCustomerRedactsAndKeepsMoney(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	cus := e.customer(key, map[string]any{"email": "payer@example.com", "phone": "+14155550100", "name": "Pat", "metadata": map[string]any{"k": "v"}})
	e.expect(e.call("POST", "/v1/customers/"+cus+"/top_ups", key, newKey(), cardTopUp(300)), 200)
	up := e.expect(e.call("POST", "/v1/customers/"+cus, key, "", map[string]any{"name": "Pat Lee"}), 200)
	if up.str("name") != "Pat Lee" || up.str("email") != "payer@example.com" {
		t.Fatalf("update: %s", up.Body)
	}
	del := e.expect(e.call("DELETE", "/v1/customers/"+cus, key, "", nil), 200)
	if del.get("email") != nil || del.get("phone") != nil || del.get("name") != nil || del.get("deleted") != true || del.num("balances.CNY") != 300 {
		t.Fatalf("deleted: %s", del.Body)
	}
	list := e.expect(e.call("GET", "/v1/customers", key, "", nil), 200)
	if d, _ := list.get("data").([]any); len(d) != 0 {
		t.Fatalf("list after delete: %s", list.Body)
	}
	e.expect(e.call("POST", "/v1/payments", key, newKey(), walletPayment(cus, "after-delete", 10)), 400)
	txs := e.expect(e.call("GET", "/v1/customers/"+cus+"/balance_transactions", key, "", nil), 200)
	if d, _ := txs.get("data").([]any); len(d) != 1 {
		t.Fatalf("balance transactions after delete: %s", txs.Body)
	}
	e.requireBalancedLedger()
}
