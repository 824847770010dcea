package tasks

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
)

// E-mail task types, all on QueueEmail. Each logical mail has a TaskID and
// the task is retained after it ran (emailRetention), so enqueueing the
// same mail again within that time is a no-op and a retry is the only way
// the same mail is attempted twice.
const (
	// TypeEmailVerify mails a verification link to a user's address.
	TypeEmailVerify = "email:verify"
	// TypeEmailPasswordReset mails a password-reset link to an address, if
	// a user has it; nothing happens otherwise.
	TypeEmailPasswordReset = "email:password_reset"
	// TypeEmailNotify turns one delivered notification into mail: a comment
	// or an AI job is mailed at once, a like, follow or glitch waits for the
	// recipient's digest.
	TypeEmailNotify = "email:notify"
	// TypeEmailDigest mails a user's waiting likes, follows and glitches,
	// once per digest period.
	TypeEmailDigest = "email:digest"
)

// emailRetention is how long a finished e-mail task keeps its TaskID.
const emailRetention = 24 * time.Hour

// emailTimeout bounds one attempt (a few queries and an SMTP session).
const emailTimeout = 2 * time.Minute

// emailMaxRetry spreads attempts over several hours (asynq's exponential
// backoff), enough to ride out an SMTP provider's outage.
const emailMaxRetry = 10

// EmailVerifyPayload asks for a verification mail; RequestID tells two
// requests apart (each is one logical mail).
type EmailVerifyPayload struct {
	UserID    uuid.UUID `json:"user_id"`
	RequestID uuid.UUID `json:"request_id"`
}

// NewEmailVerifyTask returns the task of one verification mail.
func NewEmailVerifyTask(userID, requestID uuid.UUID) *asynq.Task {
	b, _ := json.Marshal(EmailVerifyPayload{UserID: userID, RequestID: requestID})
	return newTask(TypeEmailVerify, b, emailOpts(TypeEmailVerify+":"+userID.String()+":"+requestID.String())...)
}

// ParseEmailVerify decodes the payload; a bad one wraps asynq.SkipRetry.
func ParseEmailVerify(t *asynq.Task) (EmailVerifyPayload, error) {
	var p EmailVerifyPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.UserID == uuid.Nil {
		return p, fmt.Errorf("parse %s payload: %w", TypeEmailVerify, asynq.SkipRetry)
	}
	return p, nil
}

// EmailPasswordResetPayload asks for a reset mail to Email (normalized).
// The api enqueues it whether or not the address is known, so its answer
// and timing say nothing; the worker looks the address up.
type EmailPasswordResetPayload struct {
	Email     string    `json:"email"`
	RequestID uuid.UUID `json:"request_id"`
}

// NewEmailPasswordResetTask returns the task of one reset request.
func NewEmailPasswordResetTask(email string, requestID uuid.UUID) *asynq.Task {
	b, _ := json.Marshal(EmailPasswordResetPayload{Email: email, RequestID: requestID})
	return newTask(TypeEmailPasswordReset, b, emailOpts(TypeEmailPasswordReset+":"+requestID.String())...)
}

// ParseEmailPasswordReset decodes the payload; a bad one wraps asynq.SkipRetry.
func ParseEmailPasswordReset(t *asynq.Task) (EmailPasswordResetPayload, error) {
	var p EmailPasswordResetPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.Email == "" {
		return p, fmt.Errorf("parse %s payload: %w", TypeEmailPasswordReset, asynq.SkipRetry)
	}
	return p, nil
}

// NewEmailNotifyTask returns the mail task of a delivered notification;
// its TaskID is the notification event's.
func NewEmailNotifyTask(p NotifyPayload) (*asynq.Task, error) {
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("new %s task: %w", TypeEmailNotify, err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("new %s task: %w", TypeEmailNotify, err)
	}
	return newTask(TypeEmailNotify, b, emailOpts(EmailNotifyTaskID(p))...), nil
}

// EmailNotifyTaskID is the TaskID of a notification's mail task, also the
// identity of the event in a digest.
func EmailNotifyTaskID(p NotifyPayload) string { return "email:" + p.taskID() }

// EmailDigestTaskID is the TaskID of userID's digest for the period ending
// at until.
func EmailDigestTaskID(userID uuid.UUID, until time.Time) string {
	return TypeEmailDigest + ":" + userID.String() + ":" + strconv.FormatInt(until.Unix(), 10)
}

// ParseEmailNotify decodes the payload; a bad one wraps asynq.SkipRetry.
func ParseEmailNotify(t *asynq.Task) (NotifyPayload, error) {
	var p NotifyPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return p, fmt.Errorf("parse %s payload: %w: %w", TypeEmailNotify, err, asynq.SkipRetry)
	}
	if err := p.validate(); err != nil {
		return p, fmt.Errorf("parse %s payload: %w: %w", TypeEmailNotify, err, asynq.SkipRetry)
	}
	return p, nil
}

// EmailDigestPayload names a user's digest of the period ending at Until.
type EmailDigestPayload struct {
	UserID uuid.UUID `json:"user_id"`
	Until  time.Time `json:"until"`
}

// DigestPeriodEnd is the end of the digest period that holds t: periods
// are aligned to multiples of period since the zero time, the same in
// every process.
func DigestPeriodEnd(t time.Time, period time.Duration) time.Time {
	return t.UTC().Truncate(period).Add(period)
}

// NewEmailDigestTask returns the digest of userID for the period ending at
// until, processed at until. Its TaskID is the user and the period, and it
// is retained for a period after it ran, so at most one digest per user per
// period is ever sent, however many events ask for it.
func NewEmailDigestTask(userID uuid.UUID, until time.Time, period time.Duration) *asynq.Task {
	b, _ := json.Marshal(EmailDigestPayload{UserID: userID, Until: until.UTC()})
	id := EmailDigestTaskID(userID, until)
	return newTask(TypeEmailDigest, b,
		asynq.Queue(QueueEmail), asynq.TaskID(id), asynq.MaxRetry(emailMaxRetry),
		asynq.Timeout(emailTimeout), asynq.ProcessAt(until), asynq.Retention(max(period, time.Hour)))
}

// ParseEmailDigest decodes the payload; a bad one wraps asynq.SkipRetry.
func ParseEmailDigest(t *asynq.Task) (EmailDigestPayload, error) {
	var p EmailDigestPayload
	if err := json.Unmarshal(t.Payload(), &p); err != nil || p.UserID == uuid.Nil || p.Until.IsZero() {
		return p, fmt.Errorf("parse %s payload: %w", TypeEmailDigest, asynq.SkipRetry)
	}
	return p, nil
}

func emailOpts(id string) []asynq.Option {
	return []asynq.Option{asynq.Queue(QueueEmail), asynq.TaskID(id), asynq.MaxRetry(emailMaxRetry),
		asynq.Timeout(emailTimeout), asynq.Retention(emailRetention)}
}
