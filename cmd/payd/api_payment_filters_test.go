package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core"
)

// GET /v1/payments takes the payments page's filters (channel, amount range, customer) with
// status and creation time, pages them by key, and refuses a bad value naming its parameter.
func TestAPIPaymentListFilters(t *testing.T) {
	c := &consoleNode{t: t, node: paydtest.Start(t)}
	_, key := c.merchant("API Filter Shop")
	var all []string // oldest first
	byAmount := map[int64]string{}
	for i, amount := range []int64{500, 1500, 2500, 3500, 4500} {
		body := cardPayment("af-"+string(rune('a'+i)), amount, visaOK, core.CaptureAutomatic)
		if i%2 == 0 {
			body["customer"] = map[string]any{"id": "cust-bo", "email": "bo@example.com"}
		}
		id := c.apiOK("POST", "/v1/payments", key, core.RandomToken(16), body)["id"].(string)
		all = append(all, id)
		byAmount[amount] = id
	}
	wallet := c.apiOK("POST", "/v1/payments", key, core.RandomToken(16), map[string]any{
		"amount": 4200, "currency": "cny", "channel": "alipay", "merchant_reference": "af-wallet"})["id"].(string)

	list := func(q string) ([]string, bool) {
		t.Helper()
		var ids []string
		after := ""
		for page := 0; ; page++ {
			qq, err := url.ParseQuery(q)
			if err != nil {
				t.Fatal(err)
			}
			qq.Set("limit", "2")
			if after != "" {
				qq.Set("starting_after", after)
			}
			l := c.apiOK("GET", "/v1/payments?"+qq.Encode(), key, "", nil)
			for _, p := range l["data"].([]any) {
				ids = append(ids, p.(map[string]any)["id"].(string))
			}
			if l["has_more"] != true {
				return ids, page > 0
			}
			after = ids[len(ids)-1]
		}
	}
	newestFirst := func(ids ...string) []string {
		out := slices.Clone(ids)
		slices.Reverse(out)
		return out
	}
	for _, tc := range []struct {
		q     string
		want  []string
		paged bool // more than one page of 2
	}{
		{"amount[gte]=2500", newestFirst(byAmount[2500], byAmount[3500], byAmount[4500], wallet), true},
		{"channel=card&amount[gte]=2500", newestFirst(byAmount[2500], byAmount[3500], byAmount[4500]), true},
		{"amount[gte]=1500&amount[lte]=3500", newestFirst(byAmount[1500], byAmount[2500], byAmount[3500]), true},
		{"customer=cust-bo", newestFirst(byAmount[500], byAmount[2500], byAmount[4500]), true},
		{"customer=bo@example.com&amount[lte]=2500", newestFirst(byAmount[500], byAmount[2500]), false},
		{"channel=alipay", []string{wallet}, false},
		{"channel=wechat_pay", nil, false},
		{"status=succeeded&channel=card", newestFirst(all...), true},
	} {
		got, paged := list(tc.q)
		if !slices.Equal(got, tc.want) || paged != tc.paged {
			t.Errorf("%s: %v (paged %v), want %v (paged %v)", tc.q, got, paged, tc.want, tc.paged)
		}
	}
	// The wallet payment is in the amount range too: amount filters any currency's minor units.
	if got, _ := list("amount[gte]=4000&amount[lte]=4400"); !slices.Equal(got, []string{wallet}) {
		t.Errorf("amount 4000..4400: %v, want the wallet payment %s", got, wallet)
	}

	for _, tc := range []struct{ q, param string }{
		{"amount[gte]=-1", "amount[gte]"},
		{"amount[lte]=12.5", "amount[lte]"},
		{"amount[gte]=100000000", "amount[gte]"},
		{"amount[gte]=3000&amount[lte]=2000", "amount[lte]"},
		{"channel=paypal", "channel"},
		{"customer=", "customer"},
		{"created[gte]=2026-02-01T00:00:00Z&created[lte]=2026-01-01T00:00:00Z", "created[lte]"},
		{"amount[min]=1", "amount[min]"},
	} {
		st, b := c.api("GET", "/v1/payments?"+tc.q, key, "", nil)
		var e struct {
			Error struct{ Code, Param string }
		}
		_ = json.Unmarshal(b, &e)
		if st != http.StatusBadRequest || e.Error.Param != tc.param {
			t.Errorf("%s: %d %s, want 400 naming %s", tc.q, st, b, tc.param)
		}
	}
}
