package postgres

import (
	"testing"
	"time"
)

func TestMerchantAverageIsKeptForItsTTL(t *testing.T) {
	var r riskState
	if _, ok := r.cachedAverage("mer_1", "USD"); ok {
		t.Fatal("an average never read is cached")
	}
	r.keepAverage("mer_1", "USD", 1234)
	if a, ok := r.cachedAverage("mer_1", "USD"); !ok || a != 1234 {
		t.Fatalf("cachedAverage = %d, %v; want 1234, true", a, ok)
	}
	if _, ok := r.cachedAverage("mer_1", "EUR"); ok {
		t.Fatal("another currency's average is cached")
	}
	// Past its TTL, the average is read again.
	r.averages["mer_1 USD"] = merchantAverage{amount: 1234, at: time.Now().Add(-merchantAverageTTL)}
	if _, ok := r.cachedAverage("mer_1", "USD"); ok {
		t.Fatal("an average past its TTL is used")
	}
	// A full map drops the expired entries.
	for i := 0; i < 10000; i++ {
		r.averages[string(rune('a'+i%26))+time.Duration(i).String()] = merchantAverage{at: time.Now().Add(-2 * merchantAverageTTL)}
	}
	r.keepAverage("mer_2", "USD", 1)
	if len(r.averages) != 1 {
		t.Fatalf("%d averages kept after a full map's expired ones were dropped, want 1", len(r.averages))
	}
}
