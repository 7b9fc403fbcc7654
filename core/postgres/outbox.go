package postgres

import (
	"context"
	"fmt"

	"github.com/paycenter/paycenter/core"
)

// emit queues an event for the outbox, so it exists if and only if the change it describes
// commits. Its payload is the object's state after the change.
func (s *Service) emit(w *writeBatch, e core.OutboxEvent) {
	now := s.now()
	w.queue(`
		INSERT INTO outbox_events (id, merchant_id, region, type, object_id, payload, created_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
		core.NewID(core.PrefixEvent, e.Region), e.MerchantID, e.Region, e.Type, e.ObjectID, e.Object, now)
}

// Events lists the outbox events about one object, oldest first.
func (s *Service) Events(ctx context.Context, merchantID, objectID string) ([]core.Event, error) {
	rows, err := s.db.Pool.Query(ctx, `SELECT id, type, object_id, payload, created_at FROM outbox_events
		WHERE merchant_id = $1 AND object_id = $2 ORDER BY created_at, id`, merchantID, objectID)
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	defer rows.Close()
	out := []core.Event{}
	for rows.Next() {
		e := core.Event{Object: "event"}
		if err := rows.Scan(&e.ID, &e.Type, &e.ObjectID, &e.Data.Object, &e.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
