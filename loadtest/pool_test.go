package loadtest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// Concurrent reservations never exceed what was captured, releases give amounts back, and
// a payment with nothing left leaves the pool.
func TestRefundPool(t *testing.T) {
	p := newRefundPool(1000)
	captured := map[string]int64{}
	for i := range 50 {
		id := fmt.Sprintf("pay_%d", i)
		captured[id] = int64(100 + i)
		p.add(id, i%3, captured[id], uint64(i))
	}
	var mu sync.Mutex
	reserved := map[string]int64{}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 0))
			for range 2000 {
				item, amt, ok := p.take(r.Uint64(), func(left int64) int64 { return 1 + r.Int64N(left) })
				if !ok {
					return
				}
				if r.IntN(4) == 0 { // a refund that certainly failed
					p.release(item, amt)
					continue
				}
				mu.Lock()
				reserved[item.paymentID] += amt
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for id, amt := range reserved {
		if amt > captured[id] {
			t.Errorf("%s: %d reserved of %d captured", id, amt, captured[id])
		}
	}
	if p.size() != 0 {
		t.Errorf("%d payments left in the pool after 16000 takes", p.size())
	}
	var total, want int64
	for id := range captured {
		total += reserved[id]
		want += captured[id]
	}
	if total != want {
		t.Errorf("reserved %d in all, want everything captured (%d)", total, want)
	}
	if _, _, ok := p.take(0, func(l int64) int64 { return l }); ok {
		t.Error("take from an empty pool succeeded")
	}
}

func TestRefundPoolBounded(t *testing.T) {
	p := newRefundPool(3)
	for i := range 10 {
		p.add(fmt.Sprintf("pay_%d", i), 0, 10, uint64(i))
	}
	if p.size() != 3 {
		t.Errorf("size %d, want 3", p.size())
	}
	p.add("zero", 0, 0, 0)
	if p.size() != 3 {
		t.Error("a payment with nothing captured entered the pool")
	}
}

func TestKnownPayments(t *testing.T) {
	k := newKnownPayments(3)
	if _, ok := k.pick(0); ok {
		t.Error("pick from an empty set")
	}
	for i := range 5 {
		k.add(fmt.Sprintf("pay_%d", i), i)
	}
	seen := map[string]bool{}
	for i := range 30 {
		p, ok := k.pick(uint64(i))
		if !ok {
			t.Fatal("pick failed")
		}
		seen[p.id] = true
	}
	if len(seen) != 3 || seen["pay_0"] || seen["pay_1"] {
		t.Errorf("picked %v, want the 3 most recent", seen)
	}
}
