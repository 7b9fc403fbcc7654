package core

import "context"

// Actor is the back-office user on whose behalf a service method runs. The back office puts
// it in the request's context (WithActor); a service method that changes something writes
// the back-office audit entry of that change in its own transaction, with the user, and
// names the user in its own trail in place of the merchant or operator the API would be.
// Callers without one (the API, workers) keep their own actor.
type Actor struct {
	UserID     string
	MerchantID string // empty for an operator
}

type actorKey struct{}

// WithActor is ctx carrying the back-office user a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom is the back-office user ctx carries, if any.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok && a.UserID != ""
}
