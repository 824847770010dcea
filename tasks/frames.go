package tasks

import (
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
)

// TypeFramesReconcile resumes frame captures whose task was lost, fails
// those that never finish and deletes frames past their age.
const TypeFramesReconcile = "frames:reconcile"

// NewFramesReconcileTask is the periodic frames reconciler.
func NewFramesReconcileTask() *asynq.Task {
	return newTask(TypeFramesReconcile, []byte("{}"),
		asynq.Queue(QueueLow), asynq.MaxRetry(2), asynq.Timeout(5*time.Minute))
}

// NewFramesCaptureRequeueTask is the reconciler's attempt n (from 1) at a
// capture: a task id of its own, so it runs even when the first task is
// archived, and enqueueing attempt n twice is a no-op.
func NewFramesCaptureRequeueTask(captureID uuid.UUID, n int) *asynq.Task {
	t := NewFramesCaptureTask(captureID)
	return newTask(t.Type(), t.Payload(),
		asynq.Queue(QueueMedia),
		asynq.TaskID(TypeFramesCapture+":"+captureID.String()+":r"+strconv.Itoa(n)),
		asynq.MaxRetry(3),
		asynq.Timeout(2*time.Minute),
	)
}
