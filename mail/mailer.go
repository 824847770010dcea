package mail

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/tasks"
)

// Defaults of MailerConfig.
const (
	DefaultVerifyTTL    = 48 * time.Hour
	DefaultResetTTL     = 30 * time.Minute
	DefaultDigestPeriod = time.Hour
)

// MailerConfig is what the mail flows need besides the sender.
type MailerConfig struct {
	// PublicBaseURL is the api's address: the unsubscribe links point there.
	PublicBaseURL string
	// PublicWebURL is the web app's: verification links go to
	// /verify-email?token=…, reset links to /reset-password?token=…, and
	// notification mails link /notifications.
	PublicWebURL string
	// SecretKey signs the unsubscribe tokens (SECRET_KEY).
	SecretKey string
	// VerifyTTL and ResetTTL are the lifetimes of the links (48h, 30m).
	VerifyTTL, ResetTTL time.Duration
	// DigestPeriod (EMAIL_DIGEST_PERIOD, default 1h) is the least time
	// between two digests of one user.
	DigestPeriod time.Duration
}

// Mailer runs the mail tasks: it decides whether a mail goes out, renders
// it in the user's language and sends it.
type Mailer struct {
	store  *db.Store
	sender *Sender
	tasks  *tasks.Client
	cfg    MailerConfig
	log    *slog.Logger
}

// NewMailer returns a Mailer; zero durations take their defaults.
func NewMailer(store *db.Store, sender *Sender, tc *tasks.Client, cfg MailerConfig, logger *slog.Logger) *Mailer {
	if cfg.VerifyTTL == 0 {
		cfg.VerifyTTL = DefaultVerifyTTL
	}
	if cfg.ResetTTL == 0 {
		cfg.ResetTTL = DefaultResetTTL
	}
	if cfg.DigestPeriod == 0 {
		cfg.DigestPeriod = DefaultDigestPeriod
	}
	return &Mailer{store: store, sender: sender, tasks: tc, cfg: cfg, log: logger}
}

// DigestPeriod is the configured digest period.
func (m *Mailer) DigestPeriod() time.Duration { return m.cfg.DigestPeriod }

// UnsubscribeURL is the one-click unsubscribe link of a user.
func (m *Mailer) UnsubscribeURL(userID uuid.UUID) string {
	return m.cfg.PublicBaseURL + "/v1/email/unsubscribe?token=" + UnsubscribeToken([]byte(m.cfg.SecretKey), userID)
}

func mailable(u db.User) bool { return u.IsActive && u.DeletedAt == nil }

// SendVerification mails a verification link to the user's current
// address. A verified, disabled or deleted user gets nothing. Each attempt
// makes a new token: when SMTP accepted a message but the attempt failed
// after that, the retry's mail carries a second link, and both work.
func (m *Mailer) SendVerification(ctx context.Context, p tasks.EmailVerifyPayload, id string) error {
	u, err := m.store.UserByID(ctx, p.UserID)
	if db.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if !mailable(u) || u.EmailVerifiedAt != nil {
		return nil
	}
	token, hash := NewToken()
	if err := m.store.CreateEmailToken(ctx, u.ID, db.TokenVerifyEmail, u.Email, hash, time.Now().Add(m.cfg.VerifyTTL)); err != nil {
		return err
	}
	link := m.cfg.PublicWebURL + "/verify-email?token=" + url.QueryEscape(token)
	msg, err := Render(u.Email, id, VerificationContent(u.Language, u.Username, link, m.cfg.VerifyTTL))
	if err != nil {
		return err
	}
	return m.sender.Send(ctx, msg)
}

// SendPasswordReset mails a reset link to the address when an active user
// has it; an unknown address gets nothing (the api answered the same
// either way, before looking).
func (m *Mailer) SendPasswordReset(ctx context.Context, p tasks.EmailPasswordResetPayload, id string) error {
	u, err := m.store.UserGetByEmail(ctx, p.Email)
	if db.IsNotFound(err) {
		m.log.DebugContext(ctx, "password reset for an unknown address")
		return nil
	} else if err != nil {
		return fmt.Errorf("look up reset address: %w", err)
	}
	if !mailable(u) {
		return nil
	}
	token, hash := NewToken()
	if err := m.store.CreateEmailToken(ctx, u.ID, db.TokenPasswordReset, u.Email, hash, time.Now().Add(m.cfg.ResetTTL)); err != nil {
		return err
	}
	link := m.cfg.PublicWebURL + "/reset-password?token=" + url.QueryEscape(token)
	msg, err := Render(u.Email, id, PasswordResetContent(u.Language, u.Username, link, m.cfg.ResetTTL))
	if err != nil {
		return err
	}
	return m.sender.Send(ctx, msg)
}

// digestTypes are the notification types mailed in the digest, never one
// by one.
var digestTypes = map[string]bool{
	tasks.NotifyLike: true, tasks.NotifyCommentLike: true, tasks.NotifyFollow: true, tasks.NotifyGlitch: true,
}

// Notify handles a delivered notification. Nothing is mailed unless the
// recipient is active with a verified address and both the e-mail setting
// and the type's setting are on. A comment or an AI job is mailed now; a
// like, follow or glitch is kept for the recipient's digest, which is
// scheduled for the end of the current digest period.
func (m *Mailer) Notify(ctx context.Context, p tasks.NotifyPayload) error {
	id := tasks.EmailNotifyTaskID(p)
	r, err := m.store.EmailRecipient(ctx, db.EmailRecipientParams{ID: p.RecipientID, Type: p.Type})
	if db.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if !r.Mailable || !r.Enabled {
		return nil
	}
	if digestTypes[p.Type] {
		if err := m.store.EmailDigestItemAdd(ctx, db.EmailDigestItemAddParams{
			UserID: p.RecipientID, EventKey: id, Type: p.Type, ActorID: p.ActorID, VideoID: p.VideoID,
		}); err != nil {
			return fmt.Errorf("add digest item: %w", err)
		}
		until := tasks.DigestPeriodEnd(time.Now(), m.cfg.DigestPeriod)
		return m.tasks.Enqueue(ctx, tasks.NewEmailDigestTask(p.RecipientID, until, m.cfg.DigestPeriod))
	}
	facts, err := m.store.EmailNotificationFacts(ctx, db.EmailNotificationFactsParams{
		ActorID: p.ActorID, VideoID: p.VideoID, CommentID: p.CommentID, AIJobID: p.AIJobID,
	})
	if err != nil {
		return fmt.Errorf("load notification facts: %w", err)
	}
	link, unsub := m.cfg.PublicWebURL+"/notifications", m.UnsubscribeURL(r.ID)
	var c Content
	switch p.Type {
	case tasks.NotifyComment:
		if facts.CommentText == "" {
			return nil // deleted since
		}
		c = CommentContent(r.Language, facts.ActorUsername, facts.VideoTitle, facts.CommentText, link, unsub)
	case tasks.NotifyAIJob:
		msg := ""
		if p.Message != nil {
			msg = *p.Message
		}
		c = AIJobContent(r.Language, facts.AiJobStatus, msg, link, unsub)
	default:
		return nil
	}
	msg, err := Render(r.Email, id, c)
	if err != nil {
		return err
	}
	return m.sender.Send(ctx, msg)
}

// SendDigest mails the user's waiting likes, follows and glitches up to
// p.Until, then forgets them. A user who may not be mailed any more (e-mail
// turned off, unsubscribed, disabled, deleted) gets nothing and the events
// are dropped. When the SMTP server accepted the mail but the attempt
// failed before the events were dropped, the retry mails them again.
func (m *Mailer) SendDigest(ctx context.Context, p tasks.EmailDigestPayload) error {
	id := tasks.EmailDigestTaskID(p.UserID, p.Until)
	r, err := m.store.EmailRecipient(ctx, db.EmailRecipientParams{ID: p.UserID, Type: "digest"})
	if db.IsNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	items, err := m.store.EmailDigestItems(ctx, db.EmailDigestItemsParams{UserID: p.UserID, Until: p.Until})
	if err != nil {
		return fmt.Errorf("load digest items: %w", err)
	}
	if len(items) == 0 {
		return nil
	}
	keys := make([]string, len(items))
	events := make([]DigestEvent, len(items))
	for i, it := range items {
		keys[i] = it.EventKey
		events[i] = DigestEvent{Type: it.Type, Actor: deref(it.ActorUsername), VideoTitle: deref(it.VideoTitle)}
	}
	if r.Mailable && r.Enabled {
		msg, err := Render(r.Email, id, DigestContent(r.Language, events, m.cfg.PublicWebURL+"/notifications", m.UnsubscribeURL(r.ID)))
		if err != nil {
			return err
		}
		if err := m.sender.Send(ctx, msg); err != nil {
			return err
		}
	}
	if err := m.store.EmailDigestItemsDelete(ctx, db.EmailDigestItemsDeleteParams{UserID: p.UserID, EventKeys: keys}); err != nil {
		return fmt.Errorf("drop digest items: %w", err)
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
