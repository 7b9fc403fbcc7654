package console

import (
	"context"
	"time"

	"github.com/paycenter/paycenter/core"
	"github.com/paycenter/paycenter/core/risk"
)

// OperatorService is what the operator pages for AML cases, rule and list authoring,
// merchants' channels, limits and payouts, and stored reconciliation runs need. Each change
// takes the back-office user (by) and audits it with that user in the change's own
// transaction (core/postgres.Service implements it).
type OperatorService interface {
	AMLCases(ctx context.Context, status string, limit int) ([]*risk.Case, error)
	AMLCase(ctx context.Context, id string) (*risk.Case, error)
	ConsoleUpdateAMLCase(ctx context.Context, by *core.User, id string, p risk.CaseParams) (*risk.Case, error)
	RiskAudit(ctx context.Context, objectID string, limit int) ([]risk.AuditEntry, error)

	ConsoleCreateRiskRule(ctx context.Context, by *core.User, p risk.RuleParams) (*risk.RuleObject, error)
	ConsoleUpdateRiskRule(ctx context.Context, by *core.User, id string, p risk.RuleParams) (*risk.RuleObject, error)
	ConsoleCreateRiskList(ctx context.Context, by *core.User, p risk.ListParams) (*risk.ListObject, error)

	ConsoleSetChannel(ctx context.Context, by *core.User, merchantID string, ch core.Channel, enabled bool) (*core.ChannelAuthorization, error)
	ConsoleSetTransfersAllowed(ctx context.Context, by *core.User, merchantID string, allowed bool) error
	ConsoleMerchantLimits(ctx context.Context, merchantID string) (*core.MerchantLimits, error)
	ConsoleSetPayoutSchedule(ctx context.Context, by *core.User, merchantID string, p core.PayoutScheduleParams) (*core.PayoutSchedule, error)

	ConsoleReconcile(ctx context.Context, by *core.User, key string, ch core.Channel, day time.Time) (*core.ReconciliationRun, bool, error)
	ReconciliationRuns(ctx context.Context, limit int) ([]*core.ReconciliationRun, error)
	ReconciliationRun(ctx context.Context, id string) (*core.ReconciliationRun, []core.ReconciliationDifference, error)
}
