package tasks

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
)

// Enqueuer puts a task on a queue. *asynq.Client satisfies it as is.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Client enqueues the task types of this package through an Enqueuer.
//
// Its methods treat asynq.ErrTaskIDConflict and asynq.ErrDuplicateTask as
// success: a task with that id (or uniqueness key) is already queued,
// running or retained, which is exactly what the caller asked for.
type Client struct {
	enqueuer Enqueuer
}

// NewClient returns a Client that enqueues through e.
func NewClient(e Enqueuer) *Client {
	return &Client{enqueuer: e}
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
