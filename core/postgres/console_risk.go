package postgres

import (
	"context"
	"time"

	"github.com/paycenter/paycenter/core"
)

// ConsoleRiskListItems lists a risk list's entries in order of value (at most limit, read
// in the primary key's order).
func (s *Service) ConsoleRiskListItems(ctx context.Context, id string, limit int) ([]core.RiskListItem, error) {
	var one int
	err := s.db.Pool.QueryRow(ctx, `SELECT 1 FROM risk_lists WHERE id = $1`, id).Scan(&one)
	if errNoRows(err) {
		return nil, core.ParamError(core.CodeNotFound, "id", "No such risk list: '%s'.", id)
	}
	if err != nil {
		return nil, core.Internal(err)
	}
	rows, err := s.db.Pool.Query(ctx, `SELECT value, created_at FROM risk_list_items WHERE list_id = $1
		ORDER BY value LIMIT $2`, id, limit)
	if err != nil {
		return nil, core.Internal(err)
	}
	defer rows.Close()
	out := []core.RiskListItem{}
	for rows.Next() {
		var it core.RiskListItem
		var at time.Time
		if err := rows.Scan(&it.Value, &at); err != nil {
			return nil, core.Internal(err)
		}
		it.CreatedAt = at
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, core.Internal(err)
	}
	return out, nil
}
