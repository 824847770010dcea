package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/session"
	"github.com/lokiz/lokiz/tasks"
)

// publishRevoked announces ended sessions on session.Channel. The database
// already refuses their tokens; the event only lets a holder of an open
// socket close it sooner, so a failure is logged, not answered.
func (s *Server) publishRevoked(ctx context.Context, userID uuid.UUID, ids []uuid.UUID, reason string) {
	err := session.Publish(context.WithoutCancel(ctx), s.rdb, session.Revoked{UserID: userID, SessionIDs: ids, Reason: reason})
	if err != nil {
		s.log.WarnContext(ctx, "publish session revocation", "error", err, "user_id", userID, "sessions", len(ids))
	}
}

// logout ends the session of the presented token; the caller's other
// sessions go on.
func (s *Server) logout(c *gin.Context) {
	me := mustUser(c)
	ids, err := s.store.RevokeSession(c.Request.Context(), me.ID, me.SessionID, db.RevokeLogout)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.publishRevoked(c.Request.Context(), me.ID, ids, db.RevokeLogout)
	c.Status(http.StatusNoContent)
}

// logoutAll ends every session of the caller, this one included.
func (s *Server) logoutAll(c *gin.Context) {
	me := mustUser(c)
	ids, err := s.store.RevokeUserSessions(c.Request.Context(), me.ID, db.RevokeLogoutAll)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.publishRevoked(c.Request.Context(), me.ID, ids, db.RevokeLogoutAll)
	c.Status(http.StatusNoContent)
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

func (r *refreshRequest) validate() []lokiz.FieldError {
	return bodyTokenErrors(r.RefreshToken, "refresh_token")
}

// bodyTokenErrors checks a secret token sent in the body field field (a
// refresh, verification or reset token): present, and not longer than any
// token we issue.
func bodyTokenErrors(token, field string) []lokiz.FieldError {
	if token == "" {
		return []lokiz.FieldError{fieldErr("is required", "body", field)}
	}
	if len(token) > 200 {
		return []lokiz.FieldError{fieldErr("is too long", "body", field)}
	}
	return nil
}

// refresh exchanges a refresh token for a new access token and a new refresh
// token of the same session. The presented token is used up: presenting it
// again ends the session (reuse detection) and is 401.
func (s *Server) refresh(c *gin.Context) {
	ctx := c.Request.Context()
	var req refreshRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	next, nextHash := session.NewRefreshToken()
	res, err := s.store.RotateRefresh(ctx, session.HashRefreshToken(req.RefreshToken), nextHash,
		s.tokens.now().Add(s.cfg.RefreshTokenTTL))
	if len(res.Revoked) > 0 {
		// The reused token's session, whoever holds it now.
		s.log.WarnContext(ctx, "refresh token reused: session revoked", "session_id", res.Revoked[0])
		s.publishRevoked(ctx, res.RevokedUserID, res.Revoked, db.RevokeRefreshReuse)
	}
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.respondWithSession(c, http.StatusOK, res.User, res.Session, next)
}

// checkPassword loads the caller and verifies their current password
// before a sensitive change. Attempts are limited per user (PasswordRateLimit per
// PasswordRateWindow, counted whether right or wrong), so a stolen access
// token cannot be used to guess the password. A wrong password is 403: the
// caller is authenticated, the token is fine, and a 401 would make clients
// sign the user out.
func (s *Server) checkPassword(c *gin.Context, password string) error {
	u, err := s.store.UserByID(c.Request.Context(), mustUser(c).ID)
	if err != nil {
		return err
	}
	ok, retry, err := s.limiter.allow(c.Request.Context(), "password:"+u.ID.String(), s.cfg.PasswordRateLimit, s.cfg.PasswordRateWindow)
	if err != nil {
		// As for login: without Redis the check still runs, at bcrypt's pace.
		s.log.WarnContext(c.Request.Context(), "rate limiter unavailable", "error", err)
	} else if !ok {
		secs := retryAfterSecs(retry)
		return &lokiz.Error{Code: lokiz.ERATELIMITED, RetryAfter: secs,
			Message: fmt.Sprintf("Too many password attempts; try again in %d seconds", secs)}
	}
	if u.HashedPassword == "" || bcrypt.CompareHashAndPassword([]byte(u.HashedPassword), []byte(password)) != nil {
		return &lokiz.Error{Code: lokiz.EFORBIDDEN, Message: "Current password is incorrect", Reason: "wrong_password"}
	}
	return nil
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (r *changePasswordRequest) validate() []lokiz.FieldError {
	var errs []lokiz.FieldError
	if r.CurrentPassword == "" {
		errs = append(errs, fieldErr("is required", "body", "current_password"))
	}
	if r.NewPassword == "" {
		errs = append(errs, fieldErr("is required", "body", "new_password"))
	} else if msg := lokiz.ValidatePassword(r.NewPassword); msg != "" {
		errs = append(errs, fieldErr(msg, "body", "new_password"))
	}
	return errs
}

// changePassword sets a new password, ends every session of the caller
// (this one included) and answers a fresh session's tokens.
func (s *Server) changePassword(c *gin.Context) {
	ctx := c.Request.Context()
	me := mustUser(c)
	var req changePasswordRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.checkPassword(c, req.CurrentPassword); err != nil {
		s.writeError(c, err)
		return
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.NewPassword), s.cfg.BcryptCost)
	if err != nil {
		s.writeError(c, fmt.Errorf("hash password: %w", err))
		return
	}
	params, refresh := s.newSession(c, me.ID)
	u, sess, revoked, err := s.store.ChangePassword(ctx, me.ID, string(hash), params)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.publishRevoked(ctx, me.ID, revoked, db.RevokePasswordChange)
	s.respondWithSession(c, http.StatusOK, u, sess, refresh)
}

type deleteAccountRequest struct {
	Password string `json:"password"`
}

func (r *deleteAccountRequest) validate() []lokiz.FieldError {
	if r.Password == "" {
		return []lokiz.FieldError{fieldErr("is required", "body", "password")}
	}
	return nil
}

// deleteMe deletes the caller's account: at once its sessions end and its
// profile, videos, comments and likes leave every read (db.DeleteAccount);
// the account:erase task then erases its data and stored objects. A lost
// task is enqueued again by accounts:reconcile.
func (s *Server) deleteMe(c *gin.Context) {
	ctx := c.Request.Context()
	me := mustUser(c)
	var req deleteAccountRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	if err := s.checkPassword(c, req.Password); err != nil {
		s.writeError(c, err)
		return
	}
	revoked, err := s.store.DeleteAccount(ctx, me.ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.publishRevoked(ctx, me.ID, revoked, db.RevokeAccountDeleted)
	if err := s.tasks.Enqueue(context.WithoutCancel(ctx), tasks.NewAccountEraseTask(me.ID)); err != nil {
		// The account is deleted; the reconciler enqueues the erasure.
		s.log.WarnContext(ctx, "enqueue account erase", "error", err, "user_id", me.ID)
	}
	c.Status(http.StatusNoContent)
}

// Defaults of the per-user password check limit.
const (
	defaultPasswordRateLimit  = 10
	defaultPasswordRateWindow = 15 * time.Minute
)
