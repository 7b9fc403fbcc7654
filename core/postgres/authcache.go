package postgres

import (
	"sync"
	"time"

	"github.com/paycenter/paycenter/core"
)

// authCache remembers, for a short time, the merchants that secret keys authenticated on
// this node, so that a merchant's every request does not cost the database a lookup. It is
// keyed by the key's hash, never the key. A key's own expiry (a rolled key's grace period)
// is still checked at every use; what the cache can delay, by at most its TTL, is a change
// made through another node: a key rolled there with no grace keeps working here until its
// entry ages out. Only successes are cached: a new key works at once.
type authCache struct {
	ttl time.Duration
	max int

	mu      sync.Mutex
	entries map[string]authEntry
	// gen counts drops: a lookup that began before a drop does not cache what it read.
	gen uint64
}

type authEntry struct {
	merchant core.Merchant
	expires  *time.Time // the key's expiry, if rolled
	until    time.Time  // when this entry stops being trusted
}

func newAuthCache(ttl time.Duration, max int) *authCache {
	if ttl <= 0 {
		return nil
	}
	return &authCache{ttl: ttl, max: max, entries: map[string]authEntry{}}
}

// get returns the cached merchant for keyHash at now: ok is false if there is none (or it
// aged out), live reports whether the key itself has not expired.
func (c *authCache) get(keyHash string, now time.Time) (m core.Merchant, live, ok bool) {
	if c == nil {
		return m, false, false
	}
	c.mu.Lock()
	e, ok := c.entries[keyHash]
	c.mu.Unlock()
	if !ok || !now.Before(e.until) {
		return m, false, false
	}
	return e.merchant, e.expires == nil || e.expires.After(now), true
}

// generation is taken before a database lookup and handed to put with its result.
func (c *authCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put remembers a successful authentication at now, read by a lookup that began at
// generation gen: if a key was dropped since, what it read may predate the drop, and is not
// kept.
func (c *authCache) put(keyHash string, m core.Merchant, expires *time.Time, now time.Time, gen uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if len(c.entries) >= c.max {
		// Drop what has aged out; if that is not enough, about half of the rest (Go's map
		// order is random), so that a full cache never sends every merchant to the
		// database at once.
		for k, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max/2 {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[keyHash] = authEntry{merchant: m, expires: expires, until: now.Add(c.ttl)}
}

// drop forgets keyHash (its key was rolled on this node).
func (c *authCache) drop(keyHash string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	delete(c.entries, keyHash)
	c.gen++
	c.mu.Unlock()
}
