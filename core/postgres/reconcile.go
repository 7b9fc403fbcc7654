package postgres

import (
	"context"
	"fmt"
	"sort"
	"time"

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
	return rep, nil
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
// reconciles it.
func (s *Service) ReconcileDay(ctx context.Context, ch core.Channel, day time.Time) (*core.ReconciliationReport, error) {
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
