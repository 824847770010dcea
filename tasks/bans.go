package tasks

import (
	"time"

	"github.com/hibiken/asynq"
)

// TypeBansExpire lifts every timed ban whose end has passed (issue 15): the
// user's account and content come back by themselves, each with an audit
// row whose actor is none. A login after the end lifts that user's ban at
// once; this sweep covers everyone else within a minute.
const TypeBansExpire = "bans:expire"

// NewBansExpireTask is the periodic lift of ended bans. The lift is
// idempotent (a lifted ban is no longer found), so a retry or a second run
// is harmless.
func NewBansExpireTask() *asynq.Task {
	return newTask(TypeBansExpire, []byte("{}"),
		asynq.Queue(QueueDefault), asynq.MaxRetry(2), asynq.Timeout(time.Minute))
}
