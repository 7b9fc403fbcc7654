package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/paycenter/paycenter/core"
)

// TestKeysCannotBeMintedWithoutEnd: a roll replaces the key it is made with, so rolling the
// same key again is refused, and the live keys of a merchant stay few.
func TestKeysCannotBeMintedWithoutEnd(t *testing.T) {
	e := newEnv(t)
	_, k0 := e.merchant("Acme")
	roll := func(key string, grace int) *resp {
		e.clock.Advance(time.Second) // keys are listed newest first
		return e.call("POST", "/v1/api_keys/roll", key, "", map[string]any{"expire_current_in": grace})
	}
	first := e.expect(roll(k0, 3600), 200)
	if first.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("a new secret key answered with Cache-Control %q", first.Header.Get("Cache-Control"))
	}
	for i := 0; i < 29; i++ {
		requireError(t, roll(k0, 3600), 403, core.CodeForbidden, "")
	}
	live := func() int {
		var n int
		if err := e.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM api_keys WHERE expires_at IS NULL OR expires_at > $1`, e.clock.Now()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := live(); n != 2 {
		t.Fatalf("%d live keys after 30 rolls of one key, want 2 (it and its replacement)", n)
	}
	// Chained rolls with grace stop at the limit; a roll without grace still works.
	key := first.str("secret_key")
	for live() < core.MaxLiveAPIKeys {
		key = e.expect(roll(key, 3600), 200).str("secret_key")
	}
	requireError(t, roll(key, 3600), 403, core.CodeForbidden, "")
	key = e.expect(roll(key, 0), 200).str("secret_key")
	if n := live(); n != core.MaxLiveAPIKeys {
		t.Fatalf("%d live keys, want %d", n, core.MaxLiveAPIKeys)
	}
	e.expect(e.call("GET", "/v1/merchant", k0, "", nil), 200) // still in its grace period

	t.Run("list", func(t *testing.T) {
		r := e.expect(e.call("GET", "/v1/api_keys", key, "", nil), 200)
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control %q", r.Header.Get("Cache-Control"))
		}
		data, _ := r.get("data").([]any)
		if len(data) != core.MaxLiveAPIKeys {
			t.Fatalf("%d keys listed: %s", len(data), r.Body)
		}
		newest := data[0].(map[string]any)
		if newest["current"] != true || newest["last4"] != key[len(key)-4:] || newest["prefix"] != key[:10] || newest["expires_at"] != nil {
			t.Fatalf("newest key listed as %v", newest)
		}
		for _, d := range data[1:] {
			if d.(map[string]any)["expires_at"] == nil || d.(map[string]any)["current"] == true {
				t.Fatalf("older key listed as %v", d)
			}
		}
		if bytesContain(r.Body, key) {
			t.Fatal("the listing shows a secret key")
		}
	})

	t.Run("revoke", func(t *testing.T) {
		data, _ := e.expect(e.call("GET", "/v1/api_keys", key, "", nil), 200).get("data").([]any)
		oldest := data[len(data)-1].(map[string]any)["id"].(string)
		current := data[0].(map[string]any)["id"].(string)
		e.expect(e.call("POST", "/v1/api_keys/"+oldest+"/revoke", key, "", nil), 200)
		requireError(t, e.call("GET", "/v1/merchant", k0, "", nil), 401, core.CodeUnauthenticated, "")
		requireError(t, e.call("POST", "/v1/api_keys/"+oldest+"/revoke", key, "", nil), 404, core.CodeNotFound, "id")
		requireError(t, e.call("POST", "/v1/api_keys/"+current+"/revoke", key, "", nil), 403, core.CodeForbidden, "")
		requireError(t, e.call("POST", "/v1/api_keys/key_0123456789abcdef01234567/revoke", key, "", nil), 404, core.CodeNotFound, "id")
	})

	t.Run("operator revokes all", func(t *testing.T) {
		id := e.expect(e.call("GET", "/v1/merchant", key, "", nil), 200).str("id")
		r := e.expect(e.call("POST", "/v1/admin/merchants/"+id+"/api_keys/revoke_all", testAdminToken, "", nil), 200)
		if r.Header.Get("Cache-Control") != "no-store" || r.str("secret_key") == "" {
			t.Fatalf("revoke_all: %v %s", r.Header, r.Body)
		}
		requireError(t, e.call("GET", "/v1/merchant", key, "", nil), 401, core.CodeUnauthenticated, "")
		e.expect(e.call("GET", "/v1/merchant", r.str("secret_key"), "", nil), 200)
		if n := live(); n != 1 {
			t.Fatalf("%d live keys after revoke_all, want the new one", n)
		}
	})

	t.Run("audited", func(t *testing.T) {
		rows, err := e.db.Pool.Query(context.Background(), `SELECT action, actor, count(*) FROM api_key_events GROUP BY action, actor`)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for rows.Next() {
			var action, actor string
			var n int
			if err := rows.Scan(&action, &actor, &n); err != nil {
				t.Fatal(err)
			}
			if actor != "operator" {
				actor = "key"
			}
			got[action+" by "+actor] += n
		}
		want := map[string]int{
			"created by operator":             2, // onboarding, revoke_all
			"created by key":                  core.MaxLiveAPIKeys,
			"rolled by key":                   core.MaxLiveAPIKeys,
			"revoked by key":                  1,
			"revoked_by_operator by operator": core.MaxLiveAPIKeys - 1,
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("audit: %d %q, want %d (all: %v)", got[k], k, n, got)
			}
		}
	})
}

func bytesContain(b []byte, s string) bool { return strings.Contains(string(b), s) }

// TestCardFingerprintsArePerMerchant: the same card has one fingerprint within a merchant's
// payments and another at a different merchant, so merchants cannot link customers.
func TestCardFingerprintsArePerMerchant(t *testing.T) {
	e := newEnv(t)
	_, a := e.merchant("Acme")
	_, b := e.merchant("Bolt")
	fp := func(key, ref string) string {
		return e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment(ref, 1000, visaOK, core.CaptureAutomatic)), 200).str("payment_method.fingerprint")
	}
	a1, a2, b1 := fp(a, "fp-a1"), fp(a, "fp-a2"), fp(b, "fp-b1")
	if a1 == "" || a1 != a2 || a1 == b1 {
		t.Fatalf("fingerprints: merchant A %q and %q, merchant B %q", a1, a2, b1)
	}
}

// TestListRefunds: a merchant's refunds, newest first, paged, by payment; never another's.
func TestListRefunds(t *testing.T) {
	e := newEnv(t)
	_, key := e.merchant("Acme")
	_, other := e.merchant("Bolt")
	pay := func(key, ref string) string {
		return e.expect(e.call("POST", "/v1/payments", key, newKey(), cardPayment(ref, 9000, visaOK, core.CaptureAutomatic)), 200).str("id")
	}
	p1, p2 := pay(key, "lr-1"), pay(key, "lr-2")
	pay(other, "lr-3")
	var ids []string
	for _, p := range []string{p1, p1, p2} {
		e.clock.Advance(time.Second)
		ids = append(ids, e.expect(e.call("POST", "/v1/refunds", key, newKey(), map[string]any{"payment": p, "amount": 1000}), 200).str("id"))
	}
	page := func(key, q string) (got []string, more bool) {
		r := e.expect(e.call("GET", "/v1/refunds"+q, key, "", nil), 200)
		data, _ := r.get("data").([]any)
		for _, d := range data {
			got = append(got, d.(map[string]any)["id"].(string))
		}
		more, _ = r.get("has_more").(bool)
		return got, more
	}
	first, more := page(key, "?limit=2")
	if len(first) != 2 || !more || first[0] != ids[2] || first[1] != ids[1] {
		t.Fatalf("first page %v (more %v), refunds %v", first, more, ids)
	}
	rest, more := page(key, "?limit=2&starting_after="+first[1])
	if len(rest) != 1 || more || rest[0] != ids[0] {
		t.Fatalf("second page %v (more %v)", rest, more)
	}
	if byPayment, _ := page(key, "?payment="+p1); len(byPayment) != 2 {
		t.Fatalf("refunds of %s: %v", p1, byPayment)
	}
	if theirs, _ := page(other, ""); len(theirs) != 0 {
		t.Fatalf("another merchant lists %v", theirs)
	}
	requireError(t, e.call("GET", "/v1/refunds?starting_after="+ids[0], other, "", nil), 404, core.CodeNotFound, "starting_after")
	requireError(t, e.call("GET", "/v1/refunds?status=x", key, "", nil), 400, core.CodeParameterUnknown, "status")
}
