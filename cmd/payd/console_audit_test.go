package main

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/paycenter/paycenter/cmd/payd/paydtest"
	"github.com/paycenter/paycenter/core"
)

// A back-office change is audited in its own transaction: when the transaction fails, neither
// the change nor its audit entry is there; when it commits, exactly one entry is, with the
// back-office user, and the service's own trail names the user too (the API's callers keep
// theirs).
func TestConsoleAuditIsInTheChangesTransaction(t *testing.T) {
	c := &consoleNode{t: t, node: paydtest.Start(t)}
	merchant, key := c.merchant("Audit Shop")
	c.user(key, "/v1/console_users", "owner@audit.test", core.RoleOwner, "")
	ep := c.apiOK("POST", "/v1/webhook_endpoints", key, "", map[string]any{"url": "https://audit.example/hooks", "enabled_events": []string{"*"}})["id"].(string)
	db := c.node.DB.Pool
	secret := func() string {
		t.Helper()
		var s []byte
		if err := db.QueryRow(t.Context(), `SELECT secret FROM webhook_endpoints WHERE id = $1`, ep).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return string(s)
	}
	before := secret()

	// The endpoint's own trail refuses the rotation's row: the rotation's transaction fails
	// after the audit entry was written in it.
	if _, err := db.Exec(t.Context(), `
		CREATE FUNCTION refuse_rotation() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.action = 'secret_rotated' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER refuse_rotation BEFORE INSERT ON webhook_endpoint_events FOR EACH ROW EXECUTE FUNCTION refuse_rotation();`); err != nil {
		t.Fatal(err)
	}
	b := c.browser()
	b.login("owner@audit.test", consolePassword)
	_, page := b.get("/dashboard/webhooks")
	if st, _ := b.post("/dashboard/webhooks/"+ep+"/roll", url.Values{"csrf": {b.csrf(page)}}); st < 500 {
		t.Fatalf("rotation with a failing transaction: %d, want a 5xx", st)
	}
	if n, _ := c.audited("webhook_endpoint.secret_rotated", ep); n != 0 || secret() != before {
		t.Fatalf("failed rotation: %d audit entries, secret changed %v; want none and unchanged", n, secret() != before)
	}

	if _, err := db.Exec(t.Context(), `DROP TRIGGER refuse_rotation ON webhook_endpoint_events; DROP FUNCTION refuse_rotation();`); err != nil {
		t.Fatal(err)
	}
	if st, _ := b.post("/dashboard/webhooks/"+ep+"/roll", url.Values{"csrf": {b.csrf(page)}}); st != http.StatusOK {
		t.Fatalf("rotation: %d", st)
	}
	if n, who := c.audited("webhook_endpoint.secret_rotated", ep); n != 1 || who != "owner@audit.test" || secret() == before {
		t.Fatalf("rotation: %d audit entries by %q, secret changed %v; want one by the owner", n, who, secret() != before)
	}
	trail := func() map[string]int {
		t.Helper()
		rows, err := db.Query(t.Context(), `SELECT actor FROM webhook_endpoint_events WHERE endpoint_id = $1 AND action = 'secret_rotated'`, ep)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]int{}
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				t.Fatal(err)
			}
			out[a]++
		}
		return out
	}
	owner := "console:" + c.userID("owner@audit.test")
	if got := trail(); len(got) != 1 || got[owner] != 1 {
		t.Fatalf("the endpoint's trail: %v, want one rotation by %s", got, owner)
	}

	// The API's rotation: the merchant in the endpoint's trail, nothing in the back office's.
	c.apiOK("POST", "/v1/webhook_endpoints/"+ep+"/rotate_secret", key, "", map[string]any{})
	if n, _ := c.audited("webhook_endpoint.secret_rotated", ep); n != 1 {
		t.Fatalf("an API rotation added a back-office audit entry: %d", n)
	}
	if got := trail(); got[owner] != 1 || got["merchant:"+merchant] != 1 {
		t.Fatalf("the endpoint's trail after an API rotation: %v", got)
	}
}
