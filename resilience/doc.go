// Package resilience protects the payment center from failing payment channels, and the
// channels and the platform from too many requests (DESIGN.md §5).
//
// # Gateway: breaker, limiter, timeout, retries, metrics
//
// Gateway decorates the core.Gateway of one region. Every call is made for one channel
// (the request's Channel), and each channel has its own circuit breaker
// (github.com/sony/gobreaker/v2) and rate limiter (golang.org/x/time/rate), so a failing
// card acquirer does not stop Alipay. A call:
//
//  1. is refused at once with ErrBreakerOpen when the channel's breaker is open, or half-open
//     with all its probes in flight;
//  2. takes one unit of the channel's quota, waiting at most the channel's MaxWait (default
//     50 ms) and never past the caller's deadline, else is refused with ErrRateLimited;
//  3. runs with the channel's timeout (default 10 s);
//  4. reports its result to the breaker and to the metrics.
//
// The Gateway is the one layer that owns the per-call timeout. Every call kind runs under
// it: Authorize, Capture, Void and Refund once, QueryPayment per attempt, and Statement
// (outside the breaker and the limiter) under the channel's StatementTimeout (default
// 30 s). The channel adapters it wraps add no per-call timeout of their own, only a far
// longer transport-level safety net for calls made without a deadline
// (channelauth.DefaultResponseHeaderTimeout, cardacq's RequestTimeout); one number per
// channel, here, is what an operator tunes (payd's -channel-timeout).
//
// ErrBreakerOpen and ErrRateLimited wrap core.ErrNotExecuted: the channel was not called, so
// the caller knows that nothing happened (and Failover may try another acquirer).
//
// The breaker trips when, over a rolling window (default 30 s in 10 buckets), at least
// MinRequests calls (default 20) completed and the share of failures reached FailureRatio
// (default 0.5). It stays open for CoolDown (default 30 s), then lets HalfOpenProbes calls
// through (default 3): as many successes close it, one failure opens it again. A failure is
// an error from the channel: a timeout, a lost response, a refused connection (including
// core.ErrNotExecuted from the channel itself). A business answer is a success: a declined
// card (AuthorizeResult.Outcome declined) and a refused capture or refund (OpResult.OK
// false) show that the channel works. Calls refused by the limiter and calls whose caller
// cancelled its context count as neither.
//
// A timeout is an unknown outcome, not a failed payment: the error goes back to the payment
// logic, which learns the outcome later with QueryPayment or by re-driving the call with the
// same channel key. That is why only QueryPayment, a read, is retried here (capped, jittered
// exponential backoff); Authorize, Capture, Void and Refund are tried once (see
// Gateway.Capture for the reasons).
//
// Metrics go to the global OpenTelemetry meter provider (or Config.MeterProvider): the
// paycenter.channel.calls counter by region, gateway, channel, op and outcome (ok, error,
// breaker_open, rate_limited), the paycenter.channel.latency histogram in milliseconds and
// the paycenter.channel.breaker.state gauge (0 closed, 1 half-open, 2 open). Gateway.State
// gives a breaker's state to health output and Config.OnStateChange reports transitions.
//
// gobreaker reads the wall clock itself and cannot take an injected clock, so the cool-down
// and the window are plain durations: tests use short ones.
//
// # Failover: a second acquirer for a channel
//
// Failover spreads a channel over ordered acquirers (each usually a Gateway of its own). An
// authorisation moves to the next acquirer only when the previous one certainly did nothing
// (core.ErrNotExecuted); an unknown outcome never fails over, since that could charge the
// payer twice. The acquirer that authorised is written into the returned Reference as a
// prefix ("acq2:" + ref), and captures, voids, refunds and queries follow it there.
//
// # MerchantLimiter: API quotas per merchant
//
// MerchantLimiter is for the HTTP layer: a token bucket per merchant, defaults from the
// config and overrides set at run time, with an answer for Retry-After, and bounded memory
// (idle limiters are evicted, and at most MaxMerchants are kept).
package resilience
