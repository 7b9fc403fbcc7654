package core

// IdempotentRequest is one money-moving request with its Idempotency-Key, scoped to the
// merchant that sent it.
type IdempotentRequest struct {
	MerchantID string
	// Region is the merchant's home region, where the key's row lives.
	Region string
	Key    string
	Method string
	Path   string
	// Render turns the operation's result, or its coded error, into the response the client
	// gets. The response is stored with the key in the same transaction as the operation's
	// last change, so a replay returns it byte for byte.
	Render func(v any, err error) Reply
}

// Reply is an HTTP-agnostic stored response: a status code and a body.
type Reply struct {
	Status   int
	Body     []byte
	Replayed bool // true when this reply was stored by an earlier request with the same key
}
