package worker

import (
	"context"
	"log/slog"

	"github.com/hibiken/asynq"

	"github.com/lokiz/lokiz/mail"
	"github.com/lokiz/lokiz/tasks"
)

// EmailHandlers run the e-mail tasks through a mail.Mailer. Without one
// (no SMTP_HOST in production) every e-mail task is dropped: the api then
// refuses verification and reset requests, and notifications are not
// mailed.
type EmailHandlers struct {
	mailer *mail.Mailer
	log    *slog.Logger
}

// NewEmailHandlers returns the handlers; mailer may be nil.
func NewEmailHandlers(mailer *mail.Mailer, logger *slog.Logger) *EmailHandlers {
	return &EmailHandlers{mailer: mailer, log: logger}
}

// Register adds the e-mail task types to mux.
func (h *EmailHandlers) Register(mux *asynq.ServeMux) {
	mux.HandleFunc(tasks.TypeEmailVerify, h.verify)
	mux.HandleFunc(tasks.TypeEmailPasswordReset, h.passwordReset)
	mux.HandleFunc(tasks.TypeEmailNotify, h.notify)
	mux.HandleFunc(tasks.TypeEmailDigest, h.digest)
}

func (h *EmailHandlers) off(ctx context.Context, t *asynq.Task) bool {
	if h.mailer == nil {
		h.log.DebugContext(ctx, "mail is off (no SMTP_HOST): task dropped", "task_type", t.Type())
		return true
	}
	return false
}

func taskID(ctx context.Context) string {
	id, _ := asynq.GetTaskID(ctx)
	return id
}

func (h *EmailHandlers) verify(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.ParseEmailVerify(t)
	if err != nil || h.off(ctx, t) {
		return err
	}
	return h.mailer.SendVerification(ctx, p, taskID(ctx))
}

func (h *EmailHandlers) passwordReset(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.ParseEmailPasswordReset(t)
	if err != nil || h.off(ctx, t) {
		return err
	}
	return h.mailer.SendPasswordReset(ctx, p, taskID(ctx))
}

func (h *EmailHandlers) notify(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.ParseEmailNotify(t)
	if err != nil || h.off(ctx, t) {
		return err
	}
	return h.mailer.Notify(ctx, p)
}

func (h *EmailHandlers) digest(ctx context.Context, t *asynq.Task) error {
	p, err := tasks.ParseEmailDigest(t)
	if err != nil || h.off(ctx, t) {
		return err
	}
	return h.mailer.SendDigest(ctx, p)
}

// enqueueEmail hands a delivered notification to the e-mail queue. The
// notification is stored and pushed already, so a failure here is logged
// and does not fail (and so repeat) the delivery: that notification's mail
// is lost.
func (h *NotifyHandler) enqueueEmail(ctx context.Context, p tasks.NotifyPayload) {
	task, err := tasks.NewEmailNotifyTask(p)
	if err == nil {
		err = tasks.NewClient(asynq.NewClientFromRedisClient(h.rdb)).Enqueue(ctx, task)
	}
	if err != nil {
		h.log.WarnContext(ctx, "enqueue notification mail", "error", err, "type", p.Type, "user_id", p.RecipientID)
	}
}
