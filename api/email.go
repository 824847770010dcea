package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/mail"
	"github.com/lokiz/lokiz/tasks"
)

// resetAddressWindow is the window of the per-address reset limit.
const resetAddressWindow = time.Hour

var errMailOff = &lokiz.Error{Code: lokiz.EUNAVAILABLE, Message: "E-mail is not configured on this server", Reason: "email_unavailable"}

// enqueueVerification asks the worker for a verification mail. The
// account exists already, so a failure is logged: the user can ask again.
func (s *Server) enqueueVerification(ctx context.Context, userID uuid.UUID) {
	if !s.cfg.EmailEnabled {
		return
	}
	if err := s.tasks.Enqueue(context.WithoutCancel(ctx), tasks.NewEmailVerifyTask(userID, uuid.New())); err != nil {
		s.log.WarnContext(ctx, "enqueue verification mail", "error", err, "user_id", userID)
	}
}

type statusResponse struct {
	Status string `json:"status"`
}

// requestVerification mails the caller a new verification link (session
// only; EmailRequestLimit per hour). An address already verified is 409.
func (s *Server) requestVerification(c *gin.Context) {
	ctx := c.Request.Context()
	if !s.cfg.EmailEnabled {
		s.writeError(c, errMailOff)
		return
	}
	u, err := s.store.UserByID(ctx, mustUser(c).ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if u.EmailVerifiedAt != nil {
		s.writeError(c, &lokiz.Error{Code: lokiz.ECONFLICT, Message: "This e-mail address is already verified", Reason: "email_already_verified"})
		return
	}
	if err := s.tasks.Enqueue(ctx, tasks.NewEmailVerifyTask(u.ID, uuid.New())); err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, statusResponse{Status: "sent"})
}

type tokenRequest struct {
	Token string `json:"token"`
}

func (r *tokenRequest) validate() []lokiz.FieldError { return bodyTokenErrors(r.Token, "token") }

// verifyEmail uses a verification token (no session: the token is the
// credential) and answers the user, now verified. With
// WelcomeCreditsAfterVerification the welcome credits arrive here, once.
func (s *Server) verifyEmail(c *gin.Context) {
	ctx := c.Request.Context()
	var req tokenRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	u, err := s.store.VerifyEmail(ctx, mail.HashToken(req.Token), s.cfg.WelcomeCreditsAfterVerification)
	if err != nil {
		s.writeError(c, err)
		return
	}
	me, err := s.loadMe(ctx, u)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(http.StatusOK, me)
}

type passwordResetRequest struct {
	Email string `json:"email"`
}

func (r *passwordResetRequest) validate() []lokiz.FieldError {
	r.Email = lokiz.NormalizeEmail(r.Email)
	if msg := lokiz.ValidateEmail(r.Email); msg != "" {
		return []lokiz.FieldError{fieldErr(msg, "body", "email")}
	}
	return nil
}

// requestPasswordReset answers 202 whether or not a user has the address:
// it looks nothing up, it only enqueues a task, and the worker mails a link
// when the address is an active user's. Requests are limited per IP
// (AuthRateLimit, 429) and per address (EmailRequestLimit per hour; past
// it the request is dropped silently, so the limit tells nothing either).
func (s *Server) requestPasswordReset(c *gin.Context) {
	ctx := c.Request.Context()
	var req passwordResetRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	if !s.cfg.EmailEnabled {
		s.writeError(c, errMailOff)
		return
	}
	sum := sha256.Sum256([]byte(req.Email))
	ok, _, err := s.limiter.allow(ctx, "reset-addr:"+hex.EncodeToString(sum[:]), s.cfg.EmailRequestLimit, resetAddressWindow)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if ok {
		if err := s.tasks.Enqueue(ctx, tasks.NewEmailPasswordResetTask(req.Email, uuid.New())); err != nil {
			s.writeError(c, err)
			return
		}
	}
	c.JSON(http.StatusAccepted, statusResponse{Status: "accepted"})
}

type resetPasswordRequest struct {
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
}

func (r *resetPasswordRequest) validate() []lokiz.FieldError {
	errs := (&tokenRequest{Token: r.Token}).validate()
	if r.NewPassword == "" {
		errs = append(errs, fieldErr("is required", "body", "new_password"))
	} else if msg := lokiz.ValidatePassword(r.NewPassword); msg != "" {
		errs = append(errs, fieldErr(msg, "body", "new_password"))
	}
	return errs
}

// resetPassword uses a reset token: the new password is set, every session
// of the user ends (and their sockets are told), and the user signs in
// again. 204.
func (s *Server) resetPassword(c *gin.Context) {
	ctx := c.Request.Context()
	var req resetPasswordRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.NewPassword), s.cfg.BcryptCost)
	if err != nil {
		s.writeError(c, fmt.Errorf("hash password: %w", err))
		return
	}
	u, revoked, err := s.store.ResetPassword(ctx, mail.HashToken(req.Token), string(hash))
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.publishRevoked(ctx, u.ID, revoked, db.RevokePasswordChange)
	c.Status(http.StatusNoContent)
}

var errBadUnsubscribe = &lokiz.Error{Code: lokiz.EINVALID, Message: "This unsubscribe link is not valid", Reason: "invalid_token"}

// unsubscribeUser checks the link's token and returns the user it names.
func (s *Server) unsubscribeUser(c *gin.Context) (uuid.UUID, error) {
	id, err := mail.ParseUnsubscribeToken([]byte(s.cfg.SecretKey), c.Query("token"))
	if err != nil {
		return uuid.Nil, errBadUnsubscribe
	}
	return id, nil
}

var unsubscribePageTmpl = template.Must(template.New("unsub").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>LOKIZ</title></head>
<body style="font-family:sans-serif;max-width:480px;margin:48px auto;padding:0 16px">
{{if .Done}}<h1>Unsubscribed · 수신 거부 완료</h1>
<p>LOKIZ will not send you notification e-mails any more. You can turn them on again in your notification settings.</p>
<p>이제 LOKIZ 알림 메일을 보내지 않습니다. 알림 설정에서 다시 켤 수 있습니다.</p>
{{else}}<h1>Unsubscribe · 수신 거부</h1>
<p>Stop all LOKIZ notification e-mails? Account mails (verification, password reset) still arrive.</p>
<p>LOKIZ 알림 메일을 모두 그만 받으시겠습니까? 계정 메일(인증, 비밀번호 재설정)은 계속 발송됩니다.</p>
<form method="post" action="{{.Action}}"><input type="hidden" name="source" value="page">
<button type="submit" style="padding:10px 18px">Unsubscribe · 수신 거부</button></form>{{end}}
</body></html>`))

// unsubscribePage is the page behind the link in a mail's footer: it
// changes nothing and asks for a POST. A bad token is 400.
func (s *Server) unsubscribePage(c *gin.Context) {
	if _, err := s.unsubscribeUser(c); err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(http.StatusOK)
	_ = unsubscribePageTmpl.Execute(c.Writer, map[string]any{"Action": c.Request.URL.RequestURI()})
}

// unsubscribe is the one-click unsubscribe of RFC 8058: a POST to the
// List-Unsubscribe URL, with no session (the URL's signed token names the
// user), turns every notification mail of that user off (the e-mail
// setting; the per-type settings and account mails are untouched) and
// answers 200. The mail client's body (List-Unsubscribe=One-Click) is not
// needed. Repeating it is harmless.
func (s *Server) unsubscribe(c *gin.Context) {
	id, err := s.unsubscribeUser(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	ctx := c.Request.Context()
	if _, err := s.store.UserByID(ctx, id); lokiz.ErrorCode(err) == lokiz.ENOTFOUND {
		// The user is gone: nothing will be mailed to them.
		c.JSON(http.StatusOK, unsubscribeResponse{Email: false})
		return
	} else if err != nil {
		s.writeError(c, err)
		return
	}
	off := false
	if _, err := s.store.NotificationSettingsUpdate(ctx, db.NotificationSettingsUpdateParams{UserID: id, Email: &off}); err != nil {
		s.writeError(c, err)
		return
	}
	if c.PostForm("source") == "page" {
		c.Header("Content-Type", "text/html; charset=utf-8")
		c.Status(http.StatusOK)
		_ = unsubscribePageTmpl.Execute(c.Writer, map[string]any{"Done": true})
		return
	}
	c.JSON(http.StatusOK, unsubscribeResponse{Email: false})
}

type unsubscribeResponse struct {
	// Email is the e-mail notification setting now: false.
	Email bool `json:"email"`
}
