package tasks

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
)

// TypeForYouRefresh computes a user's next personalized ranking ahead of
// their next first page (package foryou).
const TypeForYouRefresh = "foryou:refresh"

// UserPayload names one user.
type UserPayload struct {
	UserID uuid.UUID `json:"user_id"`
}

// NewForYouRefreshTask refreshes one user's ranking. Its id is the user's,
// so the first pages a user loads while one refresh waits queue nothing
// more.
func NewForYouRefreshTask(userID uuid.UUID) *asynq.Task {
	payload, _ := json.Marshal(UserPayload{UserID: userID}) // cannot fail
	return newTask(TypeForYouRefresh, payload,
		asynq.Queue(QueueDefault),
		asynq.TaskID(TypeForYouRefresh+":"+userID.String()),
		asynq.MaxRetry(1),
		asynq.Timeout(30*time.Second),
	)
}

// ParseUserPayload decodes a task that names one user.
func ParseUserPayload(t *asynq.Task) (UserPayload, error) {
	var p UserPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.UserID == uuid.Nil {
		return p, fmt.Errorf("parse %s payload %q: %w", t.Type(), t.Payload(), asynq.SkipRetry)
	}
	return p, nil
}
