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

// Reply is a money-moving request's answer. A final one is the response Render made (a
// status and a body, opaque to the store), stored with the key and replayed byte for byte.
// An interim one carries only the object as it stands (Interim): the outcome is not known
// yet (the channel did not answer), nothing is stored, and a retry with the same key
// finishes the request; the API layer alone decides how to show it.
type Reply struct {
	Status   int
	Body     []byte
	Replayed bool // true when this reply was stored by an earlier request with the same key
	// Interim, when not nil, is the object of a request whose outcome is unknown.
	Interim any
}
