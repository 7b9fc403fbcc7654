package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// Stored reconciliation runs (00020): every run of a channel's day, from the back office or
// the admin API, is a reconciliation_runs row (who, when, the counts) with its differences.

const runColumns = `id, channel, day, actor, status, channel_lines, platform_lines, matched, differences, error, started_at, finished_at`

func scanRun(row pgx.Row) (*core.ReconciliationRun, error) {
	r := &core.ReconciliationRun{}
	var day time.Time
	err := row.Scan(&r.ID, &r.Channel, &day, &r.Actor, &r.Status, &r.ChannelLines, &r.PlatformLines, &r.Matched,
		&r.Differences, &r.Error, &r.StartedAt, &r.FinishedAt)
	r.Date = day.Format(time.DateOnly)
	return r, err
}

// ConsoleReconcile runs the reconciliation of channel ch's day as back-office user by, and
// stores it. key is the form's idempotency key: a second request with the same key (a double
// click, a resubmitted form) starts nothing and answers the run the first one started
// (existing true), finished or still running. The run's start is audited with the user in
// the transaction that records it.
func (s *Service) ConsoleReconcile(ctx context.Context, by *core.User, key string, ch core.Channel, day time.Time) (run *core.ReconciliationRun, existing bool, err error) {
	// The run's "by" names the user as the runs list shows it; the audit entries name its ID.
	run, _, existing, err = s.runReconciliation(ctx, by.Email, by, key, ch, day)
	return run, existing, err
}

// runReconciliation claims key for a new run (or finds the run that has it), reconciles,
// and records the outcome. by, if not nil, is the back-office user, audited in the claim's
// transaction. A run whose statement could not be had is stored as failed, and err says why.
func (s *Service) runReconciliation(ctx context.Context, actor string, by *core.User, key string, ch core.Channel, day time.Time) (*core.ReconciliationRun, *core.ReconciliationReport, bool, error) {
	if !ch.Valid() {
		return nil, nil, false, core.ParamError(core.CodeParameterInvalid, "channel", "channel must be one of the platform's channels.")
	}
	if key == "" || len(key) > 255 {
		return nil, nil, false, core.ParamError(core.CodeParameterInvalid, "idempotency_key", "idempotency_key must be 1 to 255 characters.")
	}
	day = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	var run *core.ReconciliationRun
	existing := false
	err := s.db.WriteTx(ctx, "reconciliation.run.start", func(tx pgx.Tx) error {
		existing = false
		now := s.now()
		id := core.NewRandomID(core.PrefixReconciliationRun)
		r, err := scanRun(tx.QueryRow(ctx, `INSERT INTO reconciliation_runs (id, idem_key, channel, day, actor, status, started_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (idem_key) DO NOTHING RETURNING `+runColumns,
			id, key, ch, day, actor, core.RunRunning, now))
		if errNoRows(err) {
			existing = true
			run, err = scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM reconciliation_runs WHERE idem_key = $1`, key))
			return err
		}
		if err != nil {
			return err
		}
		run = r
		if by != nil {
			return s.audit(ctx, tx, by.ID, "", "reconciliation.run", r.ID, fmt.Sprintf("%s %s", ch, r.Date))
		}
		return nil
	})
	if err != nil {
		return nil, nil, false, coded(err)
	}
	if existing {
		return run, nil, true, nil
	}
	// The run goes on, and its outcome is recorded, with a context of its own: a request
	// cancelled meanwhile (the first of a double click, whose page the browser dropped) still
	// finishes the run it started.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	rep, repErr := s.reconcileDay(rctx, ch, day)
	status, msg := core.RunFailed, ""
	var diffs []core.ReconciliationDifference
	if repErr != nil {
		msg = core.AsError(repErr).Message
	} else {
		diffs = rep.Differences()
		status = core.RunBalanced
		if !rep.Balanced {
			status = core.RunDifferences
		}
	}
	err = s.db.WriteTx(rctx, "reconciliation.run.finish", func(tx pgx.Tx) error {
		if _, err := tx.Exec(rctx, `DELETE FROM reconciliation_differences WHERE run_id = $1`, run.ID); err != nil {
			return err
		}
		for i, d := range diffs {
			if _, err := tx.Exec(rctx, `INSERT INTO reconciliation_differences (run_id, n, kind, line_kind, payment_id, refund_id,
				currency, platform_amount, channel_amount) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
				run.ID, i, d.Kind, d.LineKind, d.PaymentID, d.RefundID, d.Currency, d.PlatformAmount, d.ChannelAmount); err != nil {
				return err
			}
		}
		var cl, pl, matched int
		if rep != nil {
			cl, pl, matched = rep.ChannelLines, rep.PlatformLines, rep.Matched
		}
		r, err := scanRun(tx.QueryRow(rctx, `UPDATE reconciliation_runs SET status = $2, channel_lines = $3, platform_lines = $4,
			matched = $5, differences = $6, error = $7, finished_at = $8 WHERE id = $1 RETURNING `+runColumns,
			run.ID, status, cl, pl, matched, len(diffs), msg, s.now()))
		if err != nil {
			return err
		}
		run = r
		return nil
	})
	if err != nil {
		return nil, nil, false, coded(err)
	}
	return run, rep, false, repErr
}

// ReconciliationRuns lists the stored runs, newest first, at most limit.
func (s *Service) ReconciliationRuns(ctx context.Context, limit int) ([]*core.ReconciliationRun, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+runColumns+` FROM reconciliation_runs ORDER BY started_at DESC, id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, core.Internal(err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*core.ReconciliationRun, error) { return scanRun(row) })
	if err != nil {
		return nil, core.Internal(err)
	}
	return out, nil
}

// ReconciliationRun is one stored run with its differences.
func (s *Service) ReconciliationRun(ctx context.Context, id string) (*core.ReconciliationRun, []core.ReconciliationDifference, error) {
	run, err := scanRun(s.db.Pool.QueryRow(ctx, `SELECT `+runColumns+` FROM reconciliation_runs WHERE id = $1`, id))
	if errNoRows(err) {
		return nil, nil, core.ParamError(core.CodeNotFound, "id", "No such reconciliation run: '%s'.", id)
	}
	if err != nil {
		return nil, nil, core.Internal(err)
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT kind, line_kind, payment_id, refund_id, currency, platform_amount, channel_amount
		FROM reconciliation_differences WHERE run_id = $1 ORDER BY n`, id)
	if err != nil {
		return nil, nil, core.Internal(err)
	}
	diffs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (core.ReconciliationDifference, error) {
		var d core.ReconciliationDifference
		err := row.Scan(&d.Kind, &d.LineKind, &d.PaymentID, &d.RefundID, &d.Currency, &d.PlatformAmount, &d.ChannelAmount)
		return d, err
	})
	if err != nil {
		return nil, nil, core.Internal(err)
	}
	return run, diffs, nil
}
