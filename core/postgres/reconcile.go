package postgres

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paycenter/paycenter/core"
)

// Reconcile compares a channel's statement lines for day (UTC) with the platform's ledger:
// the charges (captures) and refunds it recorded for that channel's payments that day.
//
// Both sides are keyed by kind, payment and refund. A movement booked just before midnight on
// one side and just after on the other shows as missing on both days' reports; run the
// neighbouring day too before acting on a line near midnight.
func (s *Service) Reconcile(ctx context.Context, ch core.Channel, day time.Time, lines []core.StatementLine) (*core.ReconciliationReport, error) {
	from := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
	rows, err := s.db.Pool.Query(ctx, `
		SELECT CASE e.kind WHEN 'refund' THEN 'refund' ELSE 'charge' END, e.payment_id, COALESCE(e.refund_id, ''),
			SUM(CASE WHEN e.kind = 'refund' THEN -e.amount ELSE e.amount END), e.currency
		FROM ledger_entries e JOIN payments p ON p.id = e.payment_id
		WHERE p.channel = $1 AND e.account = $2 AND e.kind IN ('sale', 'capture', 'refund')
			AND e.created_at >= $3 AND e.created_at < $4
		GROUP BY 1, e.payment_id, e.refund_id, e.currency`,
		ch, core.AccountChannelReceivable, from, from.Add(24*time.Hour))
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	defer rows.Close()
	type key struct{ kind, payment, refund string }
	ours := map[key]core.ReconciliationLine{}
	for rows.Next() {
		var l core.ReconciliationLine
		if err := rows.Scan(&l.Kind, &l.PaymentID, &l.RefundID, &l.Amount, &l.Currency); err != nil {
			return nil, fmt.Errorf("reconcile: %w", err)
		}
		ours[key{l.Kind, l.PaymentID, l.RefundID}] = l
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	rep := &core.ReconciliationReport{Object: "reconciliation", Channel: ch, Date: from.Format("2006-01-02"),
		ChannelLines: len(lines), PlatformLines: len(ours), MissingOnPlatform: []core.ReconciliationLine{},
		MissingOnChannel: []core.ReconciliationLine{}, AmountMismatches: []core.ReconciliationMismatch{}}
	theirs := map[key]core.ReconciliationLine{}
	for _, l := range lines {
		k := key{l.Kind, l.PaymentID, l.RefundID}
		t := theirs[k]
		t.Kind, t.PaymentID, t.RefundID, t.Currency = l.Kind, l.PaymentID, l.RefundID, l.Currency
		t.Amount += l.Amount
		theirs[k] = t
	}
	for k, t := range theirs {
		o, ok := ours[k]
		switch {
		case !ok:
			rep.MissingOnPlatform = append(rep.MissingOnPlatform, t)
		case o.Amount != t.Amount || o.Currency != t.Currency:
			rep.AmountMismatches = append(rep.AmountMismatches, core.ReconciliationMismatch{Kind: k.kind, PaymentID: k.payment,
				RefundID: k.refund, Currency: o.Currency, PlatformAmount: o.Amount, ChannelAmount: t.Amount})
		default:
			rep.Matched++
		}
	}
	for k, o := range ours {
		if _, ok := theirs[k]; !ok {
			rep.MissingOnChannel = append(rep.MissingOnChannel, o)
		}
	}
	sortLines(rep.MissingOnPlatform)
	sortLines(rep.MissingOnChannel)
	sort.Slice(rep.AmountMismatches, func(i, j int) bool { return rep.AmountMismatches[i].PaymentID < rep.AmountMismatches[j].PaymentID })
	rep.Balanced = len(rep.MissingOnPlatform) == 0 && len(rep.MissingOnChannel) == 0 && len(rep.AmountMismatches) == 0
	if err := s.flagSettlements(ctx, ch, from, rep); err != nil {
		return nil, err
	}
	return rep, nil
}

// flagSettlements records a reconciliation on the settlement days it covers: every
// settlement whose day overlaps the statement's UTC day and whose merchant (and currency) a
// disagreeing line is about becomes mismatch, with the line in its detail; the other
// settlements overlapping the day become matched unless flagged before. A mismatch stays
// until an operator deals with it (reconciling again adds nothing twice).
func (s *Service) flagSettlements(ctx context.Context, ch core.Channel, from time.Time, rep *core.ReconciliationReport) error {
	to := from.Add(24 * time.Hour)
	type flag struct{ paymentID, currency, detail string }
	var flags []flag
	for _, l := range rep.MissingOnChannel {
		flags = append(flags, flag{l.PaymentID, l.Currency, fmt.Sprintf("%s %s: %s %s%s of %d missing on the channel's statement",
			ch, rep.Date, l.Kind, l.PaymentID, suffix(l.RefundID), l.Amount)})
	}
	for _, l := range rep.MissingOnPlatform {
		flags = append(flags, flag{l.PaymentID, l.Currency, fmt.Sprintf("%s %s: %s %s%s of %d missing on the platform",
			ch, rep.Date, l.Kind, l.PaymentID, suffix(l.RefundID), l.Amount)})
	}
	for _, m := range rep.AmountMismatches {
		flags = append(flags, flag{m.PaymentID, m.Currency, fmt.Sprintf("%s %s: %s %s%s: platform %d, channel %d",
			ch, rep.Date, m.Kind, m.PaymentID, suffix(m.RefundID), m.PlatformAmount, m.ChannelAmount)})
	}
	err := s.db.WriteTx(ctx, "settlement.reconcile", func(tx pgx.Tx) error {
		now := s.now()
		for _, f := range flags {
			rows, err := tx.Query(ctx, `SELECT st.id, COALESCE(st.reconciliation_detail, '[]'::JSONB) FROM settlements st
				JOIN payments p ON p.merchant_id = st.merchant_id AND p.id = $1
				WHERE st.currency = $2 AND st.day_start < $4 AND st.day_end > $3 FOR UPDATE OF st`, f.paymentID, f.currency, from, to)
			if err != nil {
				return err
			}
			type hit struct {
				id     string
				detail []string
			}
			var hits []hit
			for rows.Next() {
				var h hit
				if err := rows.Scan(&h.id, &h.detail); err != nil {
					rows.Close()
					return err
				}
				hits = append(hits, h)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, h := range hits {
				if !slices.Contains(h.detail, f.detail) {
					h.detail = append(h.detail, f.detail)
				}
				if _, err := tx.Exec(ctx, `UPDATE settlements SET reconciliation = $2, reconciliation_detail = $3, reconciled_at = $4 WHERE id = $1`,
					h.id, core.SettlementMismatch, h.detail, now); err != nil {
					return err
				}
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE settlements SET reconciliation = $3, reconciled_at = $4
			WHERE day_start < $2 AND day_end > $1 AND reconciliation IS NULL`, from, to, core.SettlementMatched, now); err != nil {
			return err
		}
		// A run from the back office is audited with its user when it is claimed
		// (runReconciliation).
		return nil
	})
	if err != nil {
		return fmt.Errorf("reconcile: flag settlements: %w", err)
	}
	return nil
}

func suffix(refundID string) string {
	if refundID == "" {
		return ""
	}
	return "/" + refundID
}

func sortLines(ls []core.ReconciliationLine) {
	sort.Slice(ls, func(i, j int) bool {
		if ls[i].PaymentID != ls[j].PaymentID {
			return ls[i].PaymentID < ls[j].PaymentID
		}
		return ls[i].RefundID < ls[j].RefundID
	})
}

// ReconcileDay fetches channel ch's statement for day from the service's gateway and
// reconciles it; the run is stored (reconciliation_runs) with the admin API's actor.
func (s *Service) ReconcileDay(ctx context.Context, ch core.Channel, day time.Time) (*core.ReconciliationReport, error) {
	_, rep, _, err := s.runReconciliation(ctx, actorOperator, nil, core.NewRandomID("key"), ch, day)
	return rep, err
}

// reconcileDay is ReconcileDay without storing the run.
func (s *Service) reconcileDay(ctx context.Context, ch core.Channel, day time.Time) (*core.ReconciliationReport, error) {
	st, ok := s.gw.(core.Statements)
	if !ok {
		return nil, core.Errorf(core.CodeChannelUnavailable, "The %s channel publishes no statements.", ch)
	}
	lines, err := st.Statement(ctx, ch, day)
	if err != nil {
		return nil, &core.Error{Code: core.CodeChannelUnavailable, Message: fmt.Sprintf("Could not fetch the %s statement: %v.", ch, err)}
	}
	return s.Reconcile(ctx, ch, day, lines)
}
