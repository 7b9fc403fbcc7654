package postgres

import (
	"context"

	"github.com/paycenter/paycenter/core"
)

// ConsoleMerchantRegion is a merchant's home region: where a payout the back office asks for
// keeps its idempotency key, as the API's (which reads it from the authenticated merchant).
func (s *Service) ConsoleMerchantRegion(ctx context.Context, merchantID string) (string, error) {
	var region string
	err := s.db.Pool.QueryRow(ctx, `SELECT region FROM merchants WHERE id = $1`, merchantID).Scan(&region)
	if errNoRows(err) {
		return "", core.ParamError(core.CodeNotFound, "merchant", "No such merchant: '%s'.", merchantID)
	}
	if err != nil {
		return "", core.Internal(err)
	}
	return region, nil
}
