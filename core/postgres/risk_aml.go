package postgres

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/risk"
)

// AMLWorkerConfig configures the AML detectors' worker.
type AMLWorkerConfig struct {
	// Detectors' thresholds (see risk.AMLConfig for the defaults).
	Thresholds risk.AMLConfig
	// SanctionsFile is a sanctions list in the OFAC SDN CSV layout; empty: no screening.
	SanctionsFile string
	// Interval between runs. Default 10 minutes.
	Interval time.Duration
	// Lookback is how far back a run reads settled payments. Default 31 days (the high
	// volume window and a day).
	Lookback time.Duration
}

func (c *AMLWorkerConfig) withDefaults() {
	c.Thresholds = c.Thresholds.WithDefaults()
	if c.Interval == 0 {
		c.Interval = 10 * time.Minute
	}
	if c.Lookback == 0 {
		c.Lookback = c.Thresholds.VolumeWindow + 24*time.Hour
	}
}

// actorAML is the audit actor of the detectors.
const actorAML = "system:aml"

// maxAMLPayments bounds the settled payments one run reads.
const maxAMLPayments = 200_000

// LoadSanctions reads a sanctions list file in the OFAC SDN CSV layout.
func LoadSanctions(path string) (*risk.SanctionsList, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sanctions list: %w", err)
	}
	defer f.Close()
	return risk.ParseSDN(f)
}

// RunAML runs every detector once over the settled payments of the lookback period, and
// opens a case for each new finding (a finding's dedup key opens it once, however many runs
// or nodes find it). It returns the cases it opened.
func (s *Service) RunAML(ctx context.Context, cfg AMLWorkerConfig, sanctions *risk.SanctionsList) ([]risk.Case, error) {
	cfg.withDefaults()
	now := s.now()
	rows, err := s.db.Pool.Query(ctx, `
		SELECT p.id, p.merchant_id, p.amount_captured, p.currency, p.updated_at, p.customer, p.payment_method,
			COALESCE(r.refunded, 0), r.first_at
		FROM payments p
		LEFT JOIN (SELECT payment_id, sum(amount) AS refunded, min(updated_at) AS first_at FROM refunds
			WHERE status = 'succeeded' GROUP BY payment_id) r ON r.payment_id = p.id
		WHERE p.amount_captured > 0 AND p.created_at > $1 ORDER BY p.created_at LIMIT $2`, now.Add(-cfg.Lookback), maxAMLPayments)
	if err != nil {
		return nil, fmt.Errorf("aml: read payments: %w", err)
	}
	var txns []risk.Settled
	var names []risk.ScreenedName
	seenPayer := map[string]bool{}
	for rows.Next() {
		var (
			t  risk.Settled
			p  core.Payment
			id string
		)
		if err := rows.Scan(&id, &t.MerchantID, &t.Amount, &t.Currency, &t.CapturedAt, &p.Customer, &p.PaymentMethod,
			&t.Refunded, &t.FirstRefundAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("aml: read payments: %w", err)
		}
		t.PaymentID, t.Payer = id, risk.PayerOf(&p)
		if p.Customer != nil && p.Customer.Name != "" && t.Payer != "" && !seenPayer[t.MerchantID+t.Payer] {
			seenPayer[t.MerchantID+t.Payer] = true
			names = append(names, risk.ScreenedName{Kind: "payer", Name: p.Customer.Name, MerchantID: t.MerchantID, Subject: t.Payer})
		}
		txns = append(txns, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("aml: read payments: %w", err)
	}
	var cases []risk.Case
	cases = append(cases, risk.DetectStructuring(cfg.Thresholds, txns)...)
	cases = append(cases, risk.DetectRapidMovement(cfg.Thresholds, txns)...)
	cases = append(cases, risk.DetectHighVolume(cfg.Thresholds, txns, now)...)
	if sanctions != nil {
		// Merchants by their name and, once they submitted KYC, their legal name and their
		// representative's name (each its own subject, so each match is its own case).
		mrows, err := s.db.Pool.Query(ctx, `SELECT m.id, m.name, COALESCE(k.details->>'legal_name', ''),
				COALESCE(k.details->'representative'->>'name', '')
			FROM merchants m LEFT JOIN merchant_kyc k ON k.merchant_id = m.id ORDER BY m.id`)
		if err != nil {
			return nil, fmt.Errorf("aml: read merchants: %w", err)
		}
		for mrows.Next() {
			var id, name, legal, rep string
			if err := mrows.Scan(&id, &name, &legal, &rep); err != nil {
				mrows.Close()
				return nil, err
			}
			names = append(names, risk.ScreenedName{Kind: "merchant", Name: name, MerchantID: id, Subject: id})
			if legal != "" && !strings.EqualFold(legal, name) {
				names = append(names, risk.ScreenedName{Kind: "legal_name", Name: legal, MerchantID: id, Subject: id + ":legal_name"})
			}
			if rep != "" {
				names = append(names, risk.ScreenedName{Kind: "representative", Name: rep, MerchantID: id, Subject: id + ":representative"})
			}
		}
		mrows.Close()
		if err := mrows.Err(); err != nil {
			return nil, err
		}
		cases = append(cases, risk.DetectSanctions(sanctions, names)...)
	}
	var opened []risk.Case
	for _, c := range cases {
		c.ID, c.Object, c.Status, c.OpenedAt, c.UpdatedAt = core.NewRandomID(risk.PrefixCase), "aml_case", risk.CaseOpen, now, now
		var inserted bool
		err := s.db.WriteTx(ctx, "aml.case.open", func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `INSERT INTO aml_cases (id, kind, subject, merchant_id, status, detail, dedup_key, opened_at, updated_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (dedup_key) DO NOTHING`,
				c.ID, c.Kind, c.Subject, c.Merchant, c.Status, c.Detail, c.DedupKey, now)
			if err != nil {
				return err
			}
			inserted = tag.RowsAffected() == 1
			if !inserted {
				return nil
			}
			return s.auditRisk(ctx, tx, actorAML, "case.opened", "aml_case", c.ID, map[string]any{"kind": c.Kind, "subject": c.Subject})
		})
		if err != nil {
			return opened, fmt.Errorf("aml: open case: %w", err)
		}
		if inserted {
			s.risk.metrics().cases.Add(ctx, 1, metric.WithAttributes(attribute.String("kind", c.Kind)))
			opened = append(opened, c)
		}
	}
	return opened, nil
}

const caseColumns = `id, kind, subject, merchant_id, status, detail, opened_at, updated_at`

func scanCase(row pgx.Row) (*risk.Case, error) {
	c := &risk.Case{Object: "aml_case"}
	err := row.Scan(&c.ID, &c.Kind, &c.Subject, &c.Merchant, &c.Status, &c.Detail, &c.OpenedAt, &c.UpdatedAt)
	return c, err
}

// AMLCases lists cases in status (all with ""), newest first, at most limit.
func (s *Service) AMLCases(ctx context.Context, status string, limit int) ([]*risk.Case, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+caseColumns+` FROM aml_cases WHERE $1 = '' OR status = $1
		ORDER BY opened_at DESC, id DESC LIMIT $2`, status, limit)
	if err != nil {
		return nil, fmt.Errorf("list aml cases: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*risk.Case, error) { return scanCase(row) })
}

// UpdateAMLCase moves a case to another status, with the analyst's note in the audit trail.
func (s *Service) UpdateAMLCase(ctx context.Context, actor, id string, p risk.CaseParams) (*risk.Case, error) {
	return s.updateAMLCase(ctx, actor, id, p, nil)
}

// updateAMLCase is UpdateAMLCase; after, if not nil, runs in the change's transaction with
// the case before and after.
func (s *Service) updateAMLCase(ctx context.Context, actor, id string, p risk.CaseParams, after func(tx pgx.Tx, before, c *risk.Case) error) (*risk.Case, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var out *risk.Case
	err := s.db.WriteTx(ctx, "aml.case.update", func(tx pgx.Tx) error {
		before, err := scanCase(tx.QueryRow(ctx, `SELECT `+caseColumns+` FROM aml_cases WHERE id = $1 FOR UPDATE`, id))
		if errNoRows(err) {
			return core.ParamError(core.CodeNotFound, "id", "No such AML case: '%s'.", id)
		}
		if err != nil {
			return fmt.Errorf("read aml case: %w", err)
		}
		if out, err = scanCase(tx.QueryRow(ctx, `UPDATE aml_cases SET status = $2, updated_at = $3 WHERE id = $1 RETURNING `+caseColumns,
			id, p.Status, s.now())); err != nil {
			return fmt.Errorf("update aml case: %w", err)
		}
		if err := s.auditRisk(ctx, tx, actor, "case."+p.Status, "aml_case", id, map[string]any{"from": before.Status, "to": p.Status, "note": p.Note}); err != nil {
			return err
		}
		if after != nil {
			return after(tx, before, out)
		}
		return nil
	})
	if err != nil {
		return nil, coded(err)
	}
	return out, nil
}

// claimJob takes a job's lease for ttl if no live holder has it, so that one node runs it.
func (s *Service) claimJob(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var ok bool
	err := s.db.WriteTx(ctx, "risk.job.claim", func(tx pgx.Tx) error {
		now := s.now()
		tag, err := tx.Exec(ctx, `INSERT INTO risk_jobs (name, holder, locked_until) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET holder = $2, locked_until = $3
			WHERE risk_jobs.locked_until IS NULL OR risk_jobs.locked_until < $4 OR risk_jobs.holder = $2`,
			name, holder, now.Add(ttl), now)
		ok = err == nil && tag.RowsAffected() == 1
		return err
	})
	return ok, err
}

// NewAMLWorker makes the worker that runs the detectors every cfg.Interval, on one node at a
// time (a lease in risk_jobs). sanctions may be nil: no screening.
func NewAMLWorker(s *Service, cfg AMLWorkerConfig, sanctions *risk.SanctionsList) *Worker {
	cfg.withDefaults()
	// A node's lease is its own: a random name, kept for the worker's life.
	holder := core.NewRandomID("aml")
	return NewWorker("aml detectors", cfg.Interval, s.log, func(ctx context.Context) error {
		ok, err := s.claimJob(ctx, "aml", holder, cfg.Interval)
		if err != nil || !ok {
			return err
		}
		opened, err := s.RunAML(ctx, cfg, sanctions)
		if len(opened) > 0 {
			s.log.Info("aml cases opened", "count", len(opened))
		}
		return err
	})
}
