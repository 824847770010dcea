package tasks

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
)

// Account task types.
const (
	// TypeAccountErase erases a deleted account's personal data and stored
	// objects, keeping its anonymised row for the credit ledger.
	TypeAccountErase = "account:erase"
	// TypeAccountsReconcile enqueues the erasure of deleted accounts whose
	// task was lost.
	TypeAccountsReconcile = "accounts:reconcile"
)

// AccountEraseTimeout bounds one erase attempt; a large account takes
// several, each continuing where the last stopped.
const AccountEraseTimeout = 10 * time.Minute

// NewAccountEraseTask erases one deleted account. The TaskID (one per
// user) makes enqueueing it again (the reconciler) a no-op while it is
// queued. Retries are many: the task waits for the account's running AI
// jobs to end before it finishes.
func NewAccountEraseTask(userID uuid.UUID) *asynq.Task {
	payload, _ := json.Marshal(UserPayload{UserID: userID}) // cannot fail
	return newTask(TypeAccountErase, payload,
		asynq.Queue(QueueLow),
		asynq.TaskID(TypeAccountErase+":"+userID.String()),
		asynq.MaxRetry(20),
		asynq.Timeout(AccountEraseTimeout),
	)
}

// NewAccountsReconcileTask is the periodic account-erasure reconciler.
func NewAccountsReconcileTask() *asynq.Task {
	return newTask(TypeAccountsReconcile, []byte("{}"),
		asynq.Queue(QueueLow), asynq.MaxRetry(2), asynq.Timeout(2*time.Minute))
}
