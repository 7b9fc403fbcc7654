package paysdk

// CallOption adjusts one money-moving call (CreatePayment, CapturePayment, CancelPayment,
// CreateRefund).
type CallOption func(*callOptions)

type callOptions struct {
	key    string
	keySet bool
	info   *ResponseInfo
}

// WithIdempotencyKey makes the call use key as its Idempotency-Key instead of a generated
// one. Use it to make an operation idempotent across process restarts: derive the key from
// something durable (an order ID and the operation) and send the same key when repeating
// the operation. A key must be 1 to 255 printable ASCII characters without spaces; a call
// with any other key fails with code idempotency_key_invalid before anything is sent.
func WithIdempotencyKey(key string) CallOption {
	return func(o *callOptions) { o.key, o.keySet = key, true }
}

// WithResponseInfo makes the call fill *info when it returns, whether or not it succeeded.
func WithResponseInfo(info *ResponseInfo) CallOption {
	return func(o *callOptions) { o.info = info }
}

// ResponseInfo describes how a call was answered.
type ResponseInfo struct {
	// Status is the HTTP status of the answer returned; 0 if the call ended without one (a
	// network error, a cancelled context) or sent nothing. It is 202 when the retries ran
	// out while the outcome was still unknown.
	Status int
	// Replayed is true when the server answered with the reply it had stored for an
	// earlier request with the same Idempotency-Key (the Idempotent-Replayed header): an
	// earlier call with a key given by WithIdempotencyKey, or an earlier attempt of this
	// call whose answer was lost.
	Replayed bool
	// Endpoint is the Config.Endpoints entry (without a trailing slash) that gave the answer
	// returned, or the last one tried if none answered.
	Endpoint string
	// Attempts is how many requests the call sent, counting the first.
	Attempts int
	// IdempotencyKey is the key the call sent, empty for calls that send none.
	IdempotencyKey string
	// RequestID is the server's ID of the request that gave the answer (Request-Id header).
	RequestID string
	// Region is the region of the node that answered (Payd-Region header).
	Region string
}

// collect applies opts.
func collect(opts []CallOption) callOptions {
	var o callOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// localFailure ends a call that failed before sending anything.
func localFailure(opts []CallOption, err error) error {
	if o := collect(opts); o.info != nil {
		*o.info = ResponseInfo{}
	}
	return err
}
