package loadtest

import "sync"

// refundable is a captured card payment with money left to refund.
type refundable struct {
	paymentID string
	merchant  int   // index into the executor's merchants
	left      int64 // captured, less refunds sent or reserved
	pos       int   // index in refundPool.items, -1 when not in the pool
}

// refundPool tracks what is left to refund on the payments this run captured. A refund
// reserves its amount before it is sent (take) and gives it back only when it certainly
// did not happen (release), so concurrent refunds never ask for more than was captured,
// even when some outcomes are unknown.
type refundPool struct {
	mu    sync.Mutex
	items []*refundable
	max   int
}

func newRefundPool(max int) *refundPool { return &refundPool{max: max} }

// add offers a captured payment. When the pool is full, the entry at slot pick%len is
// replaced (forgotten, never refunded by this run).
func (p *refundPool) add(paymentID string, merchant int, captured int64, pick uint64) {
	if captured <= 0 {
		return
	}
	r := &refundable{paymentID: paymentID, merchant: merchant, left: captured}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.items) >= p.max {
		i := int(pick % uint64(len(p.items)))
		p.items[i].pos = -1
		r.pos = i
		p.items[i] = r
		return
	}
	r.pos = len(p.items)
	p.items = append(p.items, r)
}

// take picks the payment at slot pick%len and reserves amount(left) of it, which must be in
// [1, left]. A payment with nothing left leaves the pool. ok is false when the pool is empty.
func (p *refundPool) take(pick uint64, amount func(left int64) int64) (r *refundable, amt int64, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.items) == 0 {
		return nil, 0, false
	}
	r = p.items[int(pick%uint64(len(p.items)))]
	amt = max(1, min(amount(r.left), r.left))
	r.left -= amt
	if r.left == 0 {
		p.remove(r)
	}
	return r, amt, true
}

// release gives back a reservation whose refund certainly did not happen.
func (p *refundPool) release(r *refundable, amt int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r.left += amt
	if r.pos < 0 && len(p.items) < p.max {
		r.pos = len(p.items)
		p.items = append(p.items, r)
	}
}

func (p *refundPool) remove(r *refundable) {
	last := p.items[len(p.items)-1]
	p.items[r.pos] = last
	last.pos = r.pos
	p.items = p.items[:len(p.items)-1]
	r.pos = -1
}

// size is the number of payments with money left to refund.
func (p *refundPool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.items)
}

// knownPayment is a payment this run created.
type knownPayment struct {
	id       string
	merchant int
}

// knownPayments remembers the most recent payments created, for get operations.
type knownPayments struct {
	mu   sync.Mutex
	ring []knownPayment
	next int
	full bool
}

func newKnownPayments(n int) *knownPayments { return &knownPayments{ring: make([]knownPayment, n)} }

func (k *knownPayments) add(id string, merchant int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.ring[k.next] = knownPayment{id: id, merchant: merchant}
	k.next++
	if k.next == len(k.ring) {
		k.next, k.full = 0, true
	}
}

// pick returns the payment at slot pick%n of the n remembered; ok is false when none is.
func (k *knownPayments) pick(pick uint64) (knownPayment, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := k.next
	if k.full {
		n = len(k.ring)
	}
	if n == 0 {
		return knownPayment{}, false
	}
	return k.ring[int(pick%uint64(n))], true
}
