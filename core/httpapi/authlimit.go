package httpapi

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// AuthFailureLimit bounds failed authentications per source address, so that secret keys and
// the admin token cannot be guessed at speed. A source that used up its allowance is answered
// 429 rate_limited, with Retry-After, before its credentials are looked at, until the
// allowance refills; successful authentications cost nothing.
type AuthFailureLimit struct {
	// PerMinute is the sustained rate of failures allowed. Default 30.
	PerMinute int
	// Burst is how many failures may come at once. Default 20.
	Burst int
	// TrustedProxies are the addresses whose X-Forwarded-For names the source (payedge sets
	// it). Default none: the connection's address is the source.
	TrustedProxies []netip.Prefix
}

func (l AuthFailureLimit) withDefaults() AuthFailureLimit {
	if l.PerMinute == 0 {
		l.PerMinute = 30
	}
	if l.Burst == 0 {
		l.Burst = 20
	}
	return l
}

// maxAuthSources bounds the sources remembered; beyond it, sources whose allowance is full
// again are forgotten.
const maxAuthSources = 100_000

type authLimiter struct {
	cfg  AuthFailureLimit
	now  func() time.Time
	mu   sync.Mutex
	srcs map[netip.Addr]*authBucket
}

type authBucket struct {
	tokens float64
	at     time.Time
}

func newAuthLimiter(cfg AuthFailureLimit, now func() time.Time) *authLimiter {
	return &authLimiter{cfg: cfg.withDefaults(), now: now, srcs: map[netip.Addr]*authBucket{}}
}

func (l *authLimiter) rate() float64 { return float64(l.cfg.PerMinute) / 60 }

// refill brings b up to now; the caller holds l.mu.
func (l *authLimiter) refill(b *authBucket, now time.Time) {
	b.tokens = math.Min(float64(l.cfg.Burst), b.tokens+now.Sub(b.at).Seconds()*l.rate())
	b.at = now
}

// blocked reports whether src used up its failures, and if so when it may try again.
func (l *authLimiter) blocked(src netip.Addr) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.srcs[src]
	if !ok {
		return false, 0
	}
	l.refill(b, l.now())
	if b.tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - b.tokens) / l.rate() * float64(time.Second))
}

// failed records a failed authentication from src.
func (l *authLimiter) failed(src netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	b, ok := l.srcs[src]
	if !ok {
		if len(l.srcs) >= maxAuthSources {
			for a, o := range l.srcs {
				if l.refill(o, now); o.tokens >= float64(l.cfg.Burst) {
					delete(l.srcs, a)
				}
			}
		}
		b = &authBucket{tokens: float64(l.cfg.Burst), at: now}
		l.srcs[src] = b
	}
	l.refill(b, now)
	b.tokens--
}

// source is the address a request comes from: the connection's, or, from a trusted proxy,
// the last address of X-Forwarded-For.
func (l *authLimiter) source(r *http.Request) netip.Addr {
	addr := hostAddr(r.RemoteAddr)
	if !addr.IsValid() || len(l.cfg.TrustedProxies) == 0 {
		return addr
	}
	trusted := false
	for _, p := range l.cfg.TrustedProxies {
		trusted = trusted || p.Contains(addr)
	}
	if xff := r.Header.Values("X-Forwarded-For"); trusted && len(xff) > 0 {
		last := xff[len(xff)-1]
		if i := strings.LastIndexByte(last, ','); i >= 0 {
			last = last[i+1:]
		}
		if a := hostAddr(strings.TrimSpace(last)); a.IsValid() {
			return a
		}
	}
	return addr
}

// hostAddr parses "ip:port" or "ip".
func hostAddr(s string) netip.Addr {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
