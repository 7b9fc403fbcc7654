package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/paycenter/paycenter/loadtest"
)

// benchRules are the rules -risk-rules saves, platform-wide: two velocity counters on the
// card (both in the payment's transaction), list lookups and attribute checks. None matches
// a benchmark payment, so every rule is evaluated on every payment and every payment is
// still made.
func benchRules(n int) []map[string]any {
	exprs := []string{
		`velocity("card.fingerprint", "10m").count > 1000000`,
		`velocity("card.fingerprint", "1h").amount > 1000000000000`,
		`in_list("bench_blocked_cards", card.fingerprint)`,
		`in_list("bench_blocked_emails", customer.email)`,
		`in_list("bench_blocked_ips", customer.ip)`,
		`amount > 90000000`,
		`currency == "XTS"`,
		`card.brand == "unknown" && amount > 500000`,
		`metadata["risk"] == "block"`,
		`customer.email endsWith "@bench-blocked.invalid"`,
		`risk_score > 98`,
		`channel == "card" && card.country == "ZZ"`,
	}
	var out []map[string]any
	for i := 0; i < n; i++ {
		e := exprs[i%len(exprs)]
		if i >= len(exprs) { // variants of the rules without counters
			e = fmt.Sprintf(`(%s) && amount != %d`, exprs[2+i%(len(exprs)-2)], i)
		}
		action := "block"
		if i%5 == 4 {
			action = "review"
		}
		out = append(out, map[string]any{"name": fmt.Sprintf("bench-%02d", i), "action": action, "expression": e})
	}
	return out
}

// seedRules saves -risk-rules rules (and the lists they use) through the first region's
// endpoint.
func seedRules(ctx context.Context, target loadtest.Target, n int) error {
	post := func(path string, body any) error {
		b, _ := json.Marshal(body)
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.Regions[0].Endpoint+path, bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+target.AdminToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusOK {
			var e struct{ Error struct{ Message string } }
			_ = json.NewDecoder(res.Body).Decode(&e)
			return fmt.Errorf("POST %s: %d %s", path, res.StatusCode, e.Error.Message)
		}
		return nil
	}
	for _, l := range []map[string]any{
		{"name": "bench_blocked_cards", "item_type": "card_fingerprint"},
		{"name": "bench_blocked_emails", "item_type": "email"},
		{"name": "bench_blocked_ips", "item_type": "ip"},
	} {
		if err := post("/v1/admin/risk/lists", l); err != nil {
			return err
		}
	}
	for _, r := range benchRules(n) {
		if err := post("/v1/admin/risk/rules", r); err != nil {
			return err
		}
	}
	return nil
}
