package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// TypeCreditsAudit is the periodic ledger audit: it reports every user whose
// users.credits differs from the sum of their credit_transactions
// (DESIGN.md §3.5). It changes nothing, so running it twice is harmless.
const TypeCreditsAudit = "credits:audit"

// CreditsAuditPayload is the payload of TypeCreditsAudit. It is empty: the
// audit always covers every user. It is a struct so fields can be added.
type CreditsAuditPayload struct{}

// NewCreditsAuditTask returns a credits:audit task on QueueLow with 3 retries
// and a 2-minute timeout. It has no TaskID of its own: the scheduler gives
// each run a tick-scoped one, and an on-demand audit may run beside it.
func NewCreditsAuditTask() *asynq.Task {
	payload, _ := json.Marshal(CreditsAuditPayload{}) // cannot fail: empty struct
	return newTask(TypeCreditsAudit, payload,
		asynq.Queue(QueueLow),
		asynq.MaxRetry(3),
		asynq.Timeout(2*time.Minute),
	)
}

// ParseCreditsAudit decodes t's payload. An empty payload is accepted; one
// that is not a JSON object returns an error wrapping asynq.SkipRetry, since
// retrying cannot fix it.
func ParseCreditsAudit(t *asynq.Task) (CreditsAuditPayload, error) {
	var p CreditsAuditPayload
	if len(t.Payload()) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return p, fmt.Errorf("parse %s payload: %w: %w", TypeCreditsAudit, err, asynq.SkipRetry)
	}
	return p, nil
}

// EnqueueCreditsAudit enqueues an on-demand ledger audit.
func (c *Client) EnqueueCreditsAudit(ctx context.Context) error {
	return c.Enqueue(ctx, NewCreditsAuditTask())
}
