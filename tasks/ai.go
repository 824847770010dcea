package tasks

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
)

// AI task types (DESIGN.md §3, §4). Every one names a job and re-reads it:
// the job row decides what, if anything, is left to do.
const (
	// TypeAIRun creates the job's prediction (once: the id is stored before
	// anything else) and schedules the first poll.
	TypeAIRun = "ai:run"
	// TypeAIPoll reads the prediction; while it runs it records progress and
	// schedules the next poll, once it ended it settles the job. Polling is
	// the fallback for webhooks that never arrive.
	TypeAIPoll = "ai:poll"
	// TypeAIFinalize settles a job whose prediction ended: copies the output
	// into our storage and completes the job, or fails it with a refund.
	TypeAIFinalize = "ai:finalize"
	// TypeAICancel cancels the prediction of a job the user canceled.
	TypeAICancel = "ai:cancel"
	// TypeAIReconcile finds open jobs nobody is working on and resolves them.
	TypeAIReconcile = "ai:reconcile"
)

// Timeouts of one attempt of each AI task.
const (
	// AIRunTimeout covers a create with its 429 retries.
	AIRunTimeout = 5 * time.Minute
	// AIPollTimeout covers one read of a prediction.
	AIPollTimeout = time.Minute
	// AIFinalizeTimeout covers the download, probe, thumbnail and (for
	// sticker jobs) the splice.
	AIFinalizeTimeout = 15 * time.Minute
)

// AIJobPayload names one AI job; Poll numbers the polls of a job.
type AIJobPayload struct {
	JobID uuid.UUID `json:"job_id"`
	Poll  int       `json:"poll,omitempty"`
}

// NewAIRunTask runs a job on queue (QueueAI or QueueAIPriority).
func NewAIRunTask(jobID uuid.UUID, queue string) *asynq.Task {
	payload, _ := json.Marshal(AIJobPayload{JobID: jobID}) // cannot fail
	return newTask(TypeAIRun, payload,
		asynq.Queue(queue),
		asynq.TaskID(aiRunTaskID(jobID)),
		asynq.MaxRetry(8),
		asynq.Timeout(AIRunTimeout),
	)
}

// aiRunTaskID is the id of a job's run: one run per job.
func aiRunTaskID(jobID uuid.UUID) string { return TypeAIRun + ":" + jobID.String() }

// NewAIPollTask is poll number n of a job; tag makes the id unique when the
// reconciler asks for an extra poll ("r<tick>").
func NewAIPollTask(jobID uuid.UUID, queue string, n int, tag string) *asynq.Task {
	payload, _ := json.Marshal(AIJobPayload{JobID: jobID, Poll: n}) // cannot fail
	id := fmt.Sprintf("%s:%s:%d", TypeAIPoll, jobID, n)
	if tag != "" {
		id += ":" + tag
	}
	return newTask(TypeAIPoll, payload,
		asynq.Queue(queue),
		asynq.TaskID(id),
		asynq.MaxRetry(5),
		asynq.Timeout(AIPollTimeout),
	)
}

// NewAIFinalizeTask settles a job whose prediction ended.
func NewAIFinalizeTask(jobID uuid.UUID, queue string) *asynq.Task {
	payload, _ := json.Marshal(AIJobPayload{JobID: jobID}) // cannot fail
	return newTask(TypeAIFinalize, payload,
		asynq.Queue(queue),
		asynq.TaskID(TypeAIFinalize+":"+jobID.String()),
		asynq.MaxRetry(8),
		asynq.Timeout(AIFinalizeTimeout),
	)
}

// NewAICancelTask cancels a canceled job's prediction at Replicate.
func NewAICancelTask(jobID uuid.UUID) *asynq.Task {
	payload, _ := json.Marshal(AIJobPayload{JobID: jobID}) // cannot fail
	return newTask(TypeAICancel, payload,
		asynq.Queue(QueueCritical),
		asynq.TaskID(TypeAICancel+":"+jobID.String()),
		asynq.MaxRetry(10),
		asynq.Timeout(time.Minute),
	)
}

// NewAIReconcileTask is the periodic AI reconciler.
func NewAIReconcileTask() *asynq.Task {
	return newTask(TypeAIReconcile, []byte("{}"),
		asynq.Queue(QueueLow), asynq.MaxRetry(2), asynq.Timeout(5*time.Minute))
}

// ParseAIJobPayload decodes a task that names one AI job.
func ParseAIJobPayload(t *asynq.Task) (AIJobPayload, error) {
	var p AIJobPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.JobID == uuid.Nil {
		return p, fmt.Errorf("parse %s payload %q: %w", t.Type(), t.Payload(), asynq.SkipRetry)
	}
	return p, nil
}
