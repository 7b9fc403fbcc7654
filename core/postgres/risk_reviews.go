package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/risk"
)

// openReview queues the review of a payment that has just entered requires_review.
func openReview(w *writeBatch, p *core.Payment) {
	var rule *string
	if p.Risk != nil {
		rule = p.Risk.Rule
	}
	w.queue(`INSERT INTO risk_reviews (payment_id, merchant_id, region, status, rule_id, opened_at)
		VALUES ($1, $2, $3, 'open', $4, $5) ON CONFLICT (payment_id) DO NOTHING`, p.ID, p.MerchantID, p.Region, rule, p.UpdatedAt)
}

const reviewColumns = `r.payment_id, r.merchant_id, r.status, r.rule_id, r.reason, r.closed_by, r.opened_at, r.closed_at,
	p.amount, p.currency, COALESCE((p.risk->>'score')::INT8, 0)`

func scanReview(row pgx.Row) (*risk.Review, error) {
	v := &risk.Review{Object: "review"}
	err := row.Scan(&v.Payment, &v.Merchant, &v.Status, &v.Rule, &v.Reason, &v.ClosedBy, &v.OpenedAt, &v.ClosedAt,
		&v.Amount, &v.Currency, &v.RiskScore)
	return v, err
}

// Reviews lists reviews in status (all with ""), oldest first, at most limit.
func (s *Service) Reviews(ctx context.Context, status string, limit int) ([]*risk.Review, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT `+reviewColumns+` FROM risk_reviews r JOIN payments p ON p.id = r.payment_id
		WHERE $1 = '' OR r.status = $1 ORDER BY r.opened_at, r.payment_id LIMIT $2`, status, limit)
	if err != nil {
		return nil, fmt.Errorf("list reviews: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (*risk.Review, error) { return scanReview(row) })
}

// ReviewQueue is the open reviews' count and the age of the oldest, for metrics.
func (s *Service) ReviewQueue(ctx context.Context) (int64, time.Duration, error) {
	var n int64
	var oldest *time.Time
	if err := s.db.Pool.QueryRow(ctx, `SELECT count(*), min(opened_at) FROM risk_reviews WHERE status = 'open'`).Scan(&n, &oldest); err != nil {
		return 0, 0, fmt.Errorf("review queue: %w", err)
	}
	if oldest == nil {
		return n, 0, nil
	}
	return n, s.now().Sub(*oldest), nil
}

func reviewNotFound(id string) error {
	return core.ParamError(core.CodeNotFound, "id", "No review of payment '%s'.", id)
}

// closeReview closes a payment's open review as approved or rejected, with the payment's
// transition (approve's move to requires_capture, reject's event), in one transaction with
// its audit entry. The review row's lock orders racing decisions: the first commits, the
// other finds the review closed (409 review_closed). The same decision again finds its own
// and is no error: it goes on to re-drive what follows (the capture or the void).
func (s *Service) closeReview(ctx context.Context, actor, id, decision, reason string) (*core.Payment, error) {
	var pay *core.Payment
	var moot error
	err := s.db.WriteTx(ctx, "review."+decision, func(tx pgx.Tx) error {
		moot = nil
		var merchantID, status string
		err := tx.QueryRow(ctx, `SELECT merchant_id, status FROM risk_reviews WHERE payment_id = $1 FOR UPDATE`, id).Scan(&merchantID, &status)
		if errNoRows(err) {
			return reviewNotFound(id)
		}
		if err != nil {
			return fmt.Errorf("read review: %w", err)
		}
		p, err := getPayment(ctx, tx, merchantID, id, true)
		if err != nil {
			return err
		}
		pay = p
		switch {
		case status == decision:
			return nil // decided already: re-drive what follows
		case status == risk.ReviewOpen && p.Status != core.StatusRequiresReview:
			// The merchant canceled the payment meanwhile: the review is moot.
			_, err := tx.Exec(ctx, `UPDATE risk_reviews SET status = 'rejected', reason = $2, closed_by = 'system', closed_at = $3
				WHERE payment_id = $1`, id, "payment "+string(p.Status), s.now())
			if err == nil {
				moot = &core.Error{Code: core.CodeReviewClosed, PaymentID: id,
					Message: fmt.Sprintf("Payment %s is %s: its review is closed.", id, p.Status)}
			}
			return err
		case status == risk.ReviewOpen:
		default:
			return &core.Error{Code: core.CodeReviewClosed, PaymentID: id,
				Message: fmt.Sprintf("The review of payment %s is closed: it was %s.", id, status)}
		}
		var ch core.Change
		if decision == risk.ReviewApproved {
			ch, err = p.ApproveReview(s.now())
		} else {
			ch, err = p.RejectReview()
		}
		if err != nil {
			return err
		}
		var w writeBatch
		if err := s.persist(&w, ch); err != nil {
			return err
		}
		if ch.Payment != nil {
			pay = ch.Payment
		}
		var rs *string
		if reason != "" {
			rs = &reason
		}
		w.queue(`UPDATE risk_reviews SET status = $2, reason = $3, closed_by = $4, closed_at = $5 WHERE payment_id = $1`,
			id, decision, rs, actor, s.now())
		if err := s.auditRisk(ctx, tx, actor, "review."+decision, "review", id, map[string]any{"reason": reason}); err != nil {
			return err
		}
		if err := s.consoleAudit(ctx, tx, "", "review."+decision, id, reason); err != nil {
			return err
		}
		return w.commit(ctx, tx)
	})
	if err != nil {
		return nil, coded(err)
	}
	if moot != nil {
		return nil, moot
	}
	return pay, nil
}

// ApproveReview approves a payment held for review: it is captured (through the capture
// operation, exactly once) when it asked for automatic capture, else it waits in
// requires_capture for the merchant's capture.
func (s *Service) ApproveReview(ctx context.Context, actor, id string) (*core.Payment, error) {
	pay, err := s.closeReview(ctx, actor, id, risk.ReviewApproved, "")
	if err != nil {
		return nil, err
	}
	if pay.CaptureMethod != core.CaptureAutomatic || pay.Status != core.StatusRequiresCapture {
		return pay, nil
	}
	return s.afterReview(ctx, pay, "capture", func(req core.IdempotentRequest) (core.Reply, error) {
		return s.CapturePayment(ctx, req, pay.ID, core.CaptureParams{})
	})
}

// RejectReview rejects a payment held for review: it is voided (through the cancel
// operation, exactly once) with cancellation_reason fraudulent.
func (s *Service) RejectReview(ctx context.Context, actor, id string, p risk.RejectParams) (*core.Payment, error) {
	pay, err := s.closeReview(ctx, actor, id, risk.ReviewRejected, p.Reason)
	if err != nil {
		return nil, err
	}
	if pay.Status != core.StatusRequiresReview {
		return pay, nil
	}
	return s.afterReview(ctx, pay, "cancel", func(req core.IdempotentRequest) (core.Reply, error) {
		return s.CancelPayment(ctx, req, pay.ID, core.CancelParams{CancellationReason: core.CancellationFraudulent})
	})
}

// afterReview runs the operation that follows a review's decision as an idempotent request
// of the platform's own, under a key no merchant can send (it has spaces), so that however
// often it is re-driven (a retried decision, the review worker) the channel is called once.
func (s *Service) afterReview(ctx context.Context, pay *core.Payment, op string, run func(core.IdempotentRequest) (core.Reply, error)) (*core.Payment, error) {
	var failure error
	req := core.IdempotentRequest{MerchantID: pay.MerchantID, Region: pay.Region, Key: "review " + op + " " + pay.ID,
		Method: http.MethodPost, Path: "/v1/payments/" + pay.ID + "/" + op,
		Render: func(v any, err error) core.Reply {
			if err != nil {
				e := core.AsError(err)
				b, _ := json.Marshal(map[string]string{"code": e.Code, "message": e.Message})
				return core.Reply{Status: http.StatusConflict, Body: b}
			}
			b, _ := json.Marshal(v)
			return core.Reply{Status: http.StatusOK, Body: b}
		}}
	rep, err := run(req)
	if err != nil {
		return nil, err
	}
	if rep.Interim == nil && rep.Status != http.StatusOK {
		var body struct{ Code, Message string }
		_ = json.Unmarshal(rep.Body, &body)
		if body.Code == "" {
			body.Code = core.CodeChannelUnavailable
		}
		failure = &core.Error{Code: body.Code, PaymentID: pay.ID, Message: body.Message}
	}
	cur, err := getPayment(ctx, s.db.Pool, pay.MerchantID, pay.ID, false)
	if err != nil {
		return nil, err
	}
	if failure != nil {
		s.log.WarnContext(ctx, "operation after a review decision refused", "payment", pay.ID, "op", op, "err", failure)
	}
	return cur, nil
}

// ReviewWorkerConfig configures the review worker.
type ReviewWorkerConfig struct {
	// MaxAge is how long a review may stay open before the worker rejects it. Default 72h.
	MaxAge time.Duration
	// Interval between runs. Default 1 minute.
	Interval time.Duration
}

func (c *ReviewWorkerConfig) withDefaults() {
	if c.MaxAge == 0 {
		c.MaxAge = 72 * time.Hour
	}
	if c.Interval == 0 {
		c.Interval = time.Minute
	}
}

// actorReviewWorker is the audit actor of the review worker.
const actorReviewWorker = "system:review-worker"

// SweepReviews rejects reviews open longer than maxAge (reason "expired"), and re-drives
// decided reviews whose capture or void did not happen (their node died in between). Rows
// are claimed with FOR UPDATE SKIP LOCKED, so nodes running it at once share the work. It
// returns how many reviews it acted on.
func (s *Service) SweepReviews(ctx context.Context, maxAge time.Duration) (int, error) {
	type item struct{ id, status string }
	var items []item
	err := s.db.WriteTx(ctx, "review.sweep", func(tx pgx.Tx) error {
		items = nil
		rows, err := tx.Query(ctx, `SELECT r.payment_id, r.status FROM risk_reviews r JOIN payments p ON p.id = r.payment_id
			WHERE (r.status = 'open' AND r.opened_at < $1)
				OR (r.status = 'approved' AND p.status = 'requires_capture' AND p.capture_method = 'automatic')
				OR (r.status = 'rejected' AND p.status = 'requires_review')
			ORDER BY r.opened_at LIMIT 100 FOR UPDATE OF r SKIP LOCKED`, s.now().Add(-maxAge))
		if err != nil {
			return err
		}
		items, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (item, error) {
			var it item
			err := row.Scan(&it.id, &it.status)
			return it, err
		})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("sweep reviews: %w", err)
	}
	n := 0
	for _, it := range items {
		var err error
		switch it.status {
		case risk.ReviewApproved:
			_, err = s.ApproveReview(ctx, actorReviewWorker, it.id)
		default:
			_, err = s.RejectReview(ctx, actorReviewWorker, it.id, risk.RejectParams{Reason: "expired"})
		}
		if err != nil && core.ErrorCode(err) != core.CodeReviewClosed {
			s.log.WarnContext(ctx, "review sweep", "payment", it.id, "err", err)
			continue
		}
		n++
	}
	return n, nil
}

// NewReviewWorker makes the worker that runs SweepReviews, and reaps old velocity
// counters, every cfg.Interval.
func NewReviewWorker(s *Service, cfg ReviewWorkerConfig) *Worker {
	cfg.withDefaults()
	return NewWorker("review worker", cfg.Interval, s.log, func(ctx context.Context) error {
		n, err := s.SweepReviews(ctx, cfg.MaxAge)
		if n > 0 {
			s.log.Info("review worker", "acted_on", n)
		}
		if _, rerr := s.ReapVelocity(ctx); rerr != nil && err == nil {
			err = rerr
		}
		return err
	})
}
