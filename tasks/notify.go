package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
)

// TypeNotify delivers one notification: the worker re-reads the current
// state (blocks, the recipient's settings, whether the like, follow or
// comment still exists), stores the row and pushes it to the recipient.
const TypeNotify = "notify:deliver"

// NotifyTimeout bounds one delivery attempt (a few queries and a PUBLISH).
const NotifyTimeout = 30 * time.Second

// Notification types a NotifyPayload may carry.
const (
	NotifyLike        = "like"
	NotifyComment     = "comment"
	NotifyCommentLike = "comment_like"
	NotifyFollow      = "follow"
	NotifyGlitch      = "glitch"
	NotifyAIJob       = "ai_job"
)

// NotifyPayload names the event behind a notification; the worker reloads
// everything else. Which ids a type carries:
//
//   - like: actor liked video_id of recipient
//   - comment: actor wrote comment_id on video_id of recipient
//   - comment_like: actor liked comment_id (of recipient), video_id optional
//   - follow: actor followed recipient
//   - glitch: actor glitched video_id of recipient; ai_job_id (the glitch
//     job) tells two glitches of the same video apart
//   - ai_job: ai_job_id of recipient finished; no actor; message optional
type NotifyPayload struct {
	Type        string     `json:"type"`
	RecipientID uuid.UUID  `json:"recipient_id"`
	ActorID     *uuid.UUID `json:"actor_id,omitempty"`
	VideoID     *uuid.UUID `json:"video_id,omitempty"`
	CommentID   *uuid.UUID `json:"comment_id,omitempty"`
	AIJobID     *uuid.UUID `json:"ai_job_id,omitempty"`
	Message     *string    `json:"message,omitempty"`
	// OutboxID is the notification_outbox row the delivery settles
	// (migration 00032); the delivery deletes it with the notification. It
	// is no part of the event's identity (taskID).
	OutboxID *uuid.UUID `json:"outbox_id,omitempty"`
}

// validate checks the ids each type needs.
func (p NotifyPayload) validate() error {
	if p.RecipientID == uuid.Nil {
		return fmt.Errorf("recipient_id is required")
	}
	need := func(name string, id *uuid.UUID) error {
		if id == nil || *id == uuid.Nil {
			return fmt.Errorf("%s notification needs %s", p.Type, name)
		}
		return nil
	}
	var errs []error
	switch p.Type {
	case NotifyLike:
		errs = append(errs, need("actor_id", p.ActorID), need("video_id", p.VideoID))
	case NotifyComment:
		errs = append(errs, need("actor_id", p.ActorID), need("video_id", p.VideoID), need("comment_id", p.CommentID))
	case NotifyCommentLike:
		errs = append(errs, need("actor_id", p.ActorID), need("comment_id", p.CommentID))
	case NotifyFollow:
		errs = append(errs, need("actor_id", p.ActorID))
	case NotifyGlitch:
		errs = append(errs, need("actor_id", p.ActorID), need("video_id", p.VideoID))
	case NotifyAIJob:
		errs = append(errs, need("ai_job_id", p.AIJobID))
	default:
		return fmt.Errorf("unknown notification type %q", p.Type)
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if p.Message != nil && len([]rune(*p.Message)) > 500 {
		return fmt.Errorf("message is longer than 500 characters")
	}
	return nil
}

// taskID is the identity of the event: the type, recipient, actor and
// target ids. Enqueueing the same event again while it is queued (a like,
// unlike and like within seconds) is then a no-op. Grouping does not change
// it: likes, follows and glitches are grouped when delivered (each event is
// its own task that joins the open group), so 100 likes are 100 tasks, and
// a repeat that gets past the TaskID is still counted once by the group.
func (p NotifyPayload) taskID() string {
	part := func(id *uuid.UUID) string {
		if id == nil {
			return "-"
		}
		return id.String()
	}
	return strings.Join([]string{TypeNotify, p.Type, p.RecipientID.String(),
		part(p.ActorID), part(p.VideoID), part(p.CommentID), part(p.AIJobID)}, ":")
}

// NewNotifyTask returns a notify:deliver task on QueueDefault with 5 retries,
// a 30 s timeout and a TaskID made from the event's identity. A payload that
// lacks the ids its type needs is an error.
func NewNotifyTask(p NotifyPayload) (*asynq.Task, error) {
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("new %s task: %w", TypeNotify, err)
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("new %s task: %w", TypeNotify, err)
	}
	return newTask(TypeNotify, payload,
		asynq.Queue(QueueDefault),
		asynq.TaskID(p.taskID()),
		asynq.MaxRetry(5),
		asynq.Timeout(NotifyTimeout),
	), nil
}

// ParseNotify decodes t's payload; a malformed or incomplete one returns an
// error wrapping asynq.SkipRetry.
func ParseNotify(t *asynq.Task) (NotifyPayload, error) {
	var p NotifyPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return p, fmt.Errorf("parse %s payload: %w: %w", TypeNotify, err, asynq.SkipRetry)
	}
	if err := p.validate(); err != nil {
		return p, fmt.Errorf("parse %s payload: %w: %w", TypeNotify, err, asynq.SkipRetry)
	}
	return p, nil
}

// EnqueueNotify enqueues the delivery of one notification. Enqueueing the
// same event while it is still queued returns nil and adds nothing.
func (c *Client) EnqueueNotify(ctx context.Context, p NotifyPayload) error {
	task, err := NewNotifyTask(p)
	if err != nil {
		return err
	}
	return c.Enqueue(ctx, task)
}

// taskInfoGetter reads a task's state; *asynq.Inspector, the usual Deleter,
// is one.
type taskInfoGetter interface {
	GetTaskInfo(queue, id string) (*asynq.TaskInfo, error)
}

// RequeueNotify enqueues the delivery of an event that is still owed (the
// outbox drain). Like EnqueueNotify, a task of the same event that is
// waiting, retrying or running is left to deliver it; but one that asynq
// archived (its retries spent) never runs again, so it is deleted and the
// delivery enqueued afresh. That needs the client's Deleter to be an
// *asynq.Inspector (WithDeleter); without one an archived task stays.
func (c *Client) RequeueNotify(ctx context.Context, p NotifyPayload) error {
	task, err := NewNotifyTask(p)
	if err != nil {
		return err
	}
	_, err = c.enqueue(ctx, task)
	if err == nil || errors.Is(err, asynq.ErrDuplicateTask) {
		return nil
	}
	if !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s: %w", TypeNotify, err)
	}
	insp, ok := c.deleter.(taskInfoGetter)
	if !ok {
		return nil
	}
	info, err := insp.GetTaskInfo(QueueDefault, p.taskID())
	switch {
	case errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound):
		// Gone since the conflict (it ran): enqueue again below.
	case err != nil:
		return fmt.Errorf("requeue %s: %w", TypeNotify, err)
	case info.State != asynq.TaskStateArchived:
		return nil
	default:
		err := c.deleter.DeleteTask(QueueDefault, p.taskID())
		if err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return fmt.Errorf("requeue %s: delete the archived task: %w", TypeNotify, err)
		}
	}
	return c.Enqueue(ctx, task)
}

// TypeNotifyOutbox enqueues the delivery of every notification_outbox row
// that is older than NOTIFICATION_OUTBOX_AGE and due (migration 00032): the
// notifications whose fast-path task was lost. The scheduler runs it every
// minute.
const TypeNotifyOutbox = "notify:outbox"

// NewNotifyOutboxTask is the periodic outbox drain, on QueueDefault next to
// the deliveries it enqueues.
func NewNotifyOutboxTask() *asynq.Task {
	return newTask(TypeNotifyOutbox, []byte("{}"),
		asynq.Queue(QueueDefault), asynq.MaxRetry(2), asynq.Timeout(2*time.Minute))
}
