package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core"
)

var regexpNext = regexp.MustCompile(`id="next" href="([^"]+)"`)

// The payments page filters by channel, amount range and customer in the query, keeps its
// keyset paging, and exports what it shows.
func TestConsolePaymentFilters(t *testing.T) {
	c := &consoleNode{t: t, node: paydtest.Start(t)}
	_, key := c.merchant("Filter Shop")
	c.user(key, "/v1/console_users", "analyst@filters.test", core.RoleAnalyst, "")
	var small, large, ana []string
	for i, amount := range []int64{500, 1500, 2500, 3500, 4500, 5500} {
		body := cardPayment("f-"+string(rune('a'+i)), amount, visaOK, core.CaptureAutomatic)
		if i%2 == 0 {
			body["customer"] = map[string]any{"id": "cust-ana", "email": "ana@example.com"}
		}
		id := c.apiOK("POST", "/v1/payments", key, core.RandomToken(16), body)["id"].(string)
		if amount < 3000 {
			small = append(small, id)
		} else {
			large = append(large, id)
		}
		if i%2 == 0 {
			ana = append(ana, id)
		}
	}
	b := c.browser()
	b.login("analyst@filters.test", consolePassword)
	shows := func(page string, ids []string) bool {
		for _, id := range ids {
			if !strings.Contains(page, `/dashboard/payments/`+id+`"`) {
				return false
			}
		}
		return true
	}
	for _, tc := range []struct {
		q        string
		in, out  []string
		exported int
	}{
		{"amount_min=3000", large, small, 3},
		{"amount_max=2999", small, large, 3},
		{"amount_min=1000&amount_max=4000", []string{small[1], small[2], large[0]}, []string{small[0], large[1], large[2]}, 3},
		{"customer=cust-ana", ana, []string{small[1], large[0], large[2]}, 3},
		{"customer=ana@example.com&amount_min=2000", []string{ana[1], ana[2]}, []string{ana[0]}, 2},
		{"channel=alipay", nil, append(append([]string{}, small...), large...), 0},
	} {
		st, page := b.get("/dashboard/payments?" + tc.q)
		if st != 200 || !shows(page, tc.in) {
			t.Fatalf("payments?%s: %d, want %v shown", tc.q, st, tc.in)
		}
		for _, id := range tc.out {
			if shows(page, []string{id}) {
				t.Fatalf("payments?%s shows %s", tc.q, id)
			}
		}
		_, csvBody := b.get("/dashboard/exports/payments.csv?" + tc.q)
		if n := strings.Count(strings.TrimSpace(csvBody), "\n"); n != tc.exported {
			t.Fatalf("export of payments?%s: %d rows, want %d", tc.q, n, tc.exported)
		}
	}
	// Keyset paging keeps the filter: with 33 large payments the first page (25) leaves out
	// the three oldest, which the next page ("Older payments") shows.
	for i := range 30 {
		c.apiOK("POST", "/v1/payments", key, core.RandomToken(16), cardPayment("f-more-"+strconv.Itoa(i), 9000, visaOK, core.CaptureAutomatic))
	}
	st, page := b.get("/dashboard/payments?amount_min=3000")
	next := regexpNext.FindStringSubmatch(page)
	if st != 200 || next == nil || shows(page, large) {
		t.Fatalf("first page of 33 large payments: %d, next link %v, the three oldest shown %v", st, next != nil, shows(page, large))
	}
	st, page = b.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if st != 200 || !shows(page, large) || shows(page, small) || !strings.Contains(next[1], "amount_min=3000") {
		t.Fatalf("second page: %d, want the three oldest large payments and none of the small", st)
	}
	for _, q := range []string{"amount_min=ten", "amount_max=-5", "customer=" + strings.Repeat("x", 300)} {
		param := strings.SplitN(q, "=", 2)[0]
		if st, page := b.get("/dashboard/payments?" + q); st != 400 || !strings.Contains(page, param) {
			t.Fatalf("payments?%.40s: %d, want 400 naming %s", q, st, param)
		}
	}
}
