package worker

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/tasks"
)

// maxReportedMismatches caps the per-user lines of one audit, so a bug that
// breaks many balances yields a readable report instead of a log flood.
const maxReportedMismatches = 100

// CreditsAuditHandler runs tasks.TypeCreditsAudit: it reports, at ERROR, every
// user whose balance differs from the sum of their ledger. It repairs
// nothing, since which side is wrong needs a human.
type CreditsAuditHandler struct {
	store  *db.Store
	logger *slog.Logger
}

// NewCreditsAuditHandler returns the credits:audit handler.
func NewCreditsAuditHandler(store *db.Store, logger *slog.Logger) *CreditsAuditHandler {
	return &CreditsAuditHandler{store: store, logger: logger}
}

// ProcessTask implements asynq.Handler. Mismatches are a finding, not a
// failure, so it returns nil when it found some; only a failed query is
// returned, to be retried.
func (h *CreditsAuditHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	if _, err := tasks.ParseCreditsAudit(t); err != nil {
		return err
	}
	rows, err := h.store.CreditLedgerMismatches(ctx)
	if err != nil {
		return fmt.Errorf("credits audit: list ledger mismatches: %w", err)
	}
	taskID, _ := asynq.GetTaskID(ctx)
	for i, r := range rows {
		if i == maxReportedMismatches {
			h.logger.ErrorContext(ctx, "credit ledger mismatches not listed",
				"task_id", taskID, "count", len(rows)-i, "total", len(rows))
			break
		}
		h.logger.ErrorContext(ctx, "credit ledger mismatch",
			"task_id", taskID,
			"user_id", r.ID.String(),
			"balance", r.Credits,
			"ledger_total", r.LedgerTotal,
		)
	}
	return nil
}
