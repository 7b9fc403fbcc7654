package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paycenter/paycenter/core"
)

// An invitation's token used by several requests at once creates one user; the others find
// it used.
func TestConsoleInvitationIsUsedOnceUnderConcurrency(t *testing.T) {
	e := newPhaseEnv(t)
	ctx := context.Background()
	_, token, err := e.svc.CreateConsoleInvitation(ctx, "usr_test", core.InviteParams{Email: "ana@example.com", Role: core.RoleAnalyst, Merchant: e.merchant.ID})
	if err != nil {
		t.Fatal(err)
	}
	var ok, gone atomic.Int32
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.svc.AcceptConsoleInvitation(ctx, token, "correct horse battery staple")
			switch {
			case err == nil:
				ok.Add(1)
			case core.ErrorCode(err) == core.CodeNotFound:
				gone.Add(1)
			default:
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || gone.Load() != 3 || e.count("console_users") != 1 {
		t.Fatalf("%d accepted, %d refused, %d users; want 1, 3, 1", ok.Load(), gone.Load(), e.count("console_users"))
	}
	if _, _, err := e.svc.CreateConsoleInvitation(ctx, "usr_test", core.InviteParams{Email: "ana@example.com", Role: core.RoleAdmin, Merchant: e.merchant.ID}); core.ErrorCode(err) != core.CodeParameterInvalid {
		t.Fatalf("inviting an existing user: %v", err)
	}
}
