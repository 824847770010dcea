package tasks

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/attribute"

	"github.com/lokiz/lokiz/tracing"
)

// Enqueuer puts a task on a queue. *asynq.Client satisfies it as is.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Deleter takes a waiting task off its queue. *asynq.Inspector satisfies it.
type Deleter interface {
	DeleteTask(queue, id string) error
}

// Client enqueues the task types of this package through an Enqueuer, and
// takes them off their queue through a Deleter (see WithDeleter).
//
// Its methods treat asynq.ErrTaskIDConflict and asynq.ErrDuplicateTask as
// success: a task with that id (or uniqueness key) is already queued,
// running or retained, which is exactly what the caller asked for.
type Client struct {
	enqueuer Enqueuer
	deleter  Deleter
}

// NewClient returns a Client that enqueues through e.
func NewClient(e Enqueuer) *Client {
	return &Client{enqueuer: e}
}

// WithDeleter returns a copy of c that deletes queued tasks through d.
func (c *Client) WithDeleter(d Deleter) *Client {
	cc := *c
	cc.deleter = d
	return &cc
}

// DeleteAIRun takes the run of an AI job (NewAIRunTask) off queue while it
// waits there. A run that is not on the queue (done, deleted, never
// enqueued) is not an error; one that is running cannot be deleted and is
// reported as an error.
func (c *Client) DeleteAIRun(jobID uuid.UUID, queue string) error {
	if c.deleter == nil {
		return errors.New("delete ai run: the tasks client has no deleter")
	}
	err := c.deleter.DeleteTask(queue, aiRunTaskID(jobID))
	if err == nil || errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return nil
	}
	return fmt.Errorf("delete ai run %s: %w", jobID, err)
}

// Enqueue enqueues task with opts appended to the options its constructor
// set. It returns nil when the task is already enqueued.
func (c *Client) Enqueue(ctx context.Context, task *asynq.Task, opts ...asynq.Option) error {
	_, err := c.enqueue(ctx, task, opts...)
	if err == nil || errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	return fmt.Errorf("enqueue %s: %w", task.Type(), err)
}

// enqueue is the one call to the Enqueuer. Under a recording span (an api
// request, a running task) it makes the producer span and puts the trace
// context in the task's headers (tracing.StartEnqueue), so the task's run
// continues the same trace; a conflict with a task already queued is not a
// failure of the span.
func (c *Client) enqueue(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error) {
	if !tracing.Active(ctx) {
		return c.enqueuer.EnqueueContext(ctx, task, opts...)
	}
	ctx, span := tracing.StartEnqueue(ctx, task)
	info, err := c.enqueuer.EnqueueContext(ctx, task, opts...)
	tracing.EnqueuedAs(span, info)
	if errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		span.SetAttributes(attribute.Bool("lokiz.task.duplicate", true))
		span.End()
	} else {
		tracing.End(span, err)
	}
	return info, err
}

// newTask is asynq.NewTask with an empty header map, into which Enqueue
// writes the trace context: asynq keeps a task's options private, so a
// task cannot be rebuilt with headers after its constructor ran.
func newTask(typename string, payload []byte, opts ...asynq.Option) *asynq.Task {
	return asynq.NewTaskWithHeaders(typename, payload, map[string]string{}, opts...)
}
