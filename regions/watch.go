package regions

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/consul/api"
)

// Defaults shared by everything here that follows Consul with blocking queries.
const (
	defaultWaitTime = 30 * time.Second
	defaultRetryMin = 100 * time.Millisecond
	defaultRetryMax = 5 * time.Second
)

// blockingWatch runs one Consul blocking query over and over, the way Consul documents it:
// pass the last X-Consul-Index as WaitIndex, start over from 0 when the index goes backwards
// (a restarted or restored server), never pass 0 after the first answer, and back off
// exponentially while Consul does not answer.
type blockingWatch struct {
	what     string // for the log: "health of service payd", "key paycenter/regions/us-east/drain"
	waitTime time.Duration
	retryMin time.Duration
	retryMax time.Duration
	logger   *slog.Logger
}

// query runs one request with q. It handles the answer itself (and may shorten q.WaitTime),
// and returns the answer's metadata.
type queryFunc func(q *api.QueryOptions, reconnected bool) (*api.QueryMeta, error)

// run calls query until ctx is done. reconnected is true for the first answer after one or
// more failures.
func (w blockingWatch) run(ctx context.Context, query queryFunc) {
	var index uint64
	backoff := w.retryMin
	failures := 0
	for ctx.Err() == nil {
		q := (&api.QueryOptions{WaitIndex: index, WaitTime: w.waitTime}).WithContext(ctx)
		meta, err := query(q, failures > 0)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			// The agent may come back restarted, with an index far below ours: a blocking
			// query at our old index would then hang for the whole wait time. Start over.
			index = 0
			level := slog.LevelWarn
			if failures > 1 {
				level = slog.LevelDebug // one warning per outage is enough
			}
			w.logger.Log(ctx, level, "consul query failed; keeping the last known state",
				"watch", w.what, "err", err, "failures", failures, "retry_in", backoff)
			sleep(ctx, jitter(backoff))
			backoff = min(2*backoff, w.retryMax)
			continue
		}
		if failures > 0 {
			w.logger.Info("consul answers again", "watch", w.what, "after_failures", failures)
		}
		failures = 0
		backoff = w.retryMin
		if meta.LastIndex < index {
			index = 0 // went backwards: the next query returns at once with the new index
		} else {
			index = max(meta.LastIndex, 1) // an index of 0 would make every query return at once
		}
	}
}

// jitter returns d ± 20 %, so that many nodes retrying after one outage do not stay in step.
func jitter(d time.Duration) time.Duration {
	return d - d/5 + time.Duration(rand.Int64N(int64(d)/5*2+1))
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
