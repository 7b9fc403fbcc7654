package postgres

import (
	"context"
	"log/slog"
	"time"

	"github.com/paycenter/paycenter/core"
)

// Worker runs a piece of background work periodically, in every node. The work itself must
// be safe to run on several nodes at once (leases, FOR UPDATE SKIP LOCKED).
type Worker struct {
	name     string
	interval time.Duration
	log      *slog.Logger
	fn       func(context.Context) error
	cancel   context.CancelFunc
	done     chan struct{}
	// drain, if set, is waited for on Stop after the last run: work a run started in the
	// background (webhook attempts in flight).
	drain func()
}

// NewWorker makes a worker that runs fn every interval once started.
func NewWorker(name string, interval time.Duration, log *slog.Logger, fn func(context.Context) error) *Worker {
	return &Worker{name: name, interval: interval, log: log, fn: fn}
}

// Start starts the worker; it stops on Stop or when ctx ends.
func (w *Worker) Start(ctx context.Context) {
	ctx, w.cancel = context.WithCancel(ctx)
	w.done = make(chan struct{})
	go func() {
		defer close(w.done)
		t := time.NewTicker(w.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := w.fn(ctx); err != nil && ctx.Err() == nil {
					w.log.Warn(w.name, "err", err)
				}
			}
		}
	}()
}

// Stop stops the worker and waits for a run in progress to end.
func (w *Worker) Stop() {
	if w.cancel != nil {
		w.cancel()
		<-w.done
		if w.drain != nil {
			w.drain()
		}
	}
}

// NewRecoverer makes the in-doubt recovery worker: Recover every cfg.Interval against q, then
// RecoverPayouts through the service's bank gateway.
func NewRecoverer(s *Service, q core.Querier, cfg RecoveryConfig) *Worker {
	cfg.withDefaults(s.cfg.Lease)
	return NewWorker("in-doubt recovery", cfg.Interval, s.log, func(ctx context.Context) error {
		st, err := s.Recover(ctx, q, cfg)
		if st.Examined > 0 {
			s.log.Info("in-doubt recovery", "examined", st.Examined, "resolved", st.Resolved, "waiting", st.Waiting, "errors", st.Errors)
		}
		if err != nil {
			return err
		}
		// Payouts through the bank, by the same rules (payouts.go).
		st, err = s.RecoverPayouts(ctx, cfg)
		if st.Examined > 0 {
			s.log.Info("payout recovery", "examined", st.Examined, "resolved", st.Resolved, "waiting", st.Waiting, "errors", st.Errors)
		}
		return err
	})
}
