package tasks

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
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
	_, err := c.enqueuer.EnqueueContext(ctx, task, opts...)
	if err == nil || errors.Is(err, asynq.ErrTaskIDConflict) || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	return fmt.Errorf("enqueue %s: %w", task.Type(), err)
}
