package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/mail"
	"github.com/lokiz/lokiz/session"
)

type registerRequest struct {
	Username string `json:"username" text:"name"`
	Email    string `json:"email"`
	Password string `json:"password"`
	// Language (optional, en or ko) is the language of the user's mail;
	// without it the Accept-Language header decides, and English otherwise.
	Language string `json:"language"`
}

func (r *registerRequest) validate() []lokiz.FieldError {
	r.Username = lokiz.NormalizeUsername(r.Username)
	r.Email = lokiz.NormalizeEmail(r.Email)
	var errs []lokiz.FieldError
	if r.Username == "" {
		errs = append(errs, fieldErr("is required", "body", "username"))
	} else if msg := lokiz.ValidateUsername(r.Username); msg != "" {
		errs = append(errs, fieldErr(msg, "body", "username"))
	}
	if msg := lokiz.ValidateEmail(r.Email); msg != "" {
		errs = append(errs, fieldErr(msg, "body", "email"))
	}
	if r.Password == "" {
		errs = append(errs, fieldErr("is required", "body", "password"))
	} else if msg := lokiz.ValidatePassword(r.Password); msg != "" {
		errs = append(errs, fieldErr(msg, "body", "password"))
	}
	if r.Language != "" && r.Language != mail.LangEnglish && r.Language != mail.LangKorean {
		errs = append(errs, fieldErr("must be en or ko", "body", "language"))
	}
	return errs
}

// loginRequest accepts email or username: the original frontend sends
// {username, password}, the original backend wanted {email, password}.
type loginRequest struct {
	Email    string `json:"email"`
	Username string `json:"username"`
	Password string `json:"password"`
}

func (r *loginRequest) validate() []lokiz.FieldError {
	r.Email = lokiz.NormalizeEmail(r.Email)
	r.Username = lokiz.NormalizeUsername(r.Username)
	var errs []lokiz.FieldError
	if r.Email == "" && r.Username == "" {
		errs = append(errs, fieldErr("email or username is required", "body", "email"))
	}
	if r.Password == "" {
		errs = append(errs, fieldErr("is required", "body", "password"))
	}
	return errs
}

// tokenResponse is the answer of register, login, refresh and password
// change: a new access token and a new refresh token of one session.
type tokenResponse struct {
	AccessToken      string       `json:"access_token"`
	TokenType        string       `json:"token_type"`
	ExpiresAt        time.Time    `json:"expires_at"`
	ExpiresIn        int64        `json:"expires_in"`
	RefreshToken     string       `json:"refresh_token"`
	RefreshExpiresAt time.Time    `json:"refresh_expires_at"`
	User             userResponse `json:"user"`
}

func (s *Server) register(c *gin.Context) {
	ctx := c.Request.Context()
	var req registerRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(req.Password), s.cfg.BcryptCost)
	if err != nil {
		s.writeError(c, fmt.Errorf("hash password: %w", err))
		return
	}
	lang := req.Language
	if lang == "" {
		lang = mail.LangFromAcceptLanguage(c.GetHeader("Accept-Language"))
	}
	u, err := s.store.RegisterUser(ctx, db.RegisterUserParams{
		Username: req.Username, Email: req.Email, HashedPassword: string(hash), Language: lang,
		WelcomeOnVerification: s.cfg.WelcomeCreditsAfterVerification,
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.enqueueVerification(ctx, u.ID) // api/email.go
	s.respondWithToken(c, http.StatusCreated, u)
}

// dummyHash is compared against when no user matches, so that an unknown
// account takes as long to reject as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("lokiz-timing-equaliser"), 12)

var errBadLogin = lokiz.Errorf(lokiz.EUNAUTHORIZED, "Incorrect email or password")

func (s *Server) login(c *gin.Context) {
	ctx := c.Request.Context()
	var req loginRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	u, err := s.findLoginUser(ctx, req)
	if db.IsNotFound(err) {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(req.Password))
		s.writeError(c, errBadLogin)
		return
	} else if err != nil {
		s.writeError(c, err)
		return
	}
	if bcrypt.CompareHashAndPassword([]byte(u.HashedPassword), []byte(req.Password)) != nil {
		s.writeError(c, errBadLogin)
		return
	}
	if !u.IsActive && u.BannedAt != nil {
		if u, err = s.liftEndedBan(ctx, u); err != nil {
			s.writeError(c, err)
			return
		}
	}
	if !u.IsActive {
		s.writeError(c, inactiveError(u))
		return
	}
	s.respondWithToken(c, http.StatusOK, u)
}

// liftEndedBan lifts u's timed ban when it has ended (the scheduler's
// sweep does the same for everyone, every minute; this spares the user the
// wait) and returns u as it is now.
func (s *Server) liftEndedBan(ctx context.Context, u db.User) (db.User, error) {
	if u.BannedUntil == nil || u.BannedUntil.After(time.Now()) {
		return u, nil
	}
	lifted, err := s.store.LiftExpiredBan(ctx, u.ID, time.Now())
	if err != nil {
		return u, err
	}
	if u, err = s.store.UserByID(ctx, u.ID); err != nil {
		return u, err
	}
	if lifted {
		s.syncUserMedia(ctx, u)
	}
	return u, nil
}

// inactiveError is why an inactive account may not sign in: banned (with
// the end of the ban, when it has one) or otherwise disabled.
func inactiveError(u db.User) error {
	if u.BannedAt == nil {
		return &lokiz.Error{Code: lokiz.EFORBIDDEN, Message: "This account has been disabled", Reason: "account_disabled"}
	}
	msg := "This account is banned"
	if u.BannedUntil != nil {
		msg += " until " + u.BannedUntil.UTC().Format(time.RFC3339)
	}
	if u.BanReason != nil {
		msg += ": " + *u.BanReason
	}
	return &lokiz.Error{Code: lokiz.EFORBIDDEN, Message: msg, Reason: "account_banned"}
}

// findLoginUser looks the account up by email, or by username; a username
// field holding an address is treated as an email (login forms say "email
// or username").
func (s *Server) findLoginUser(ctx context.Context, req loginRequest) (db.User, error) {
	switch {
	case req.Email != "":
		return s.store.UserGetByEmail(ctx, req.Email)
	case strings.Contains(req.Username, "@"):
		return s.store.UserGetByEmail(ctx, lokiz.NormalizeEmail(req.Username))
	default:
		return s.store.UserGetByUsername(ctx, req.Username)
	}
}

// newSession returns the parameters of a session opened by this request,
// with a fresh refresh token.
func (s *Server) newSession(c *gin.Context, userID uuid.UUID) (db.NewSessionParams, string) {
	refresh, hash := session.NewRefreshToken()
	return db.NewSessionParams{
		UserID:      userID,
		RefreshHash: hash,
		ExpiresAt:   s.tokens.now().Add(s.cfg.RefreshTokenTTL),
		UserAgent:   c.GetHeader("User-Agent"),
		IP:          c.ClientIP(),
	}, refresh
}

// respondWithToken opens a session for u and answers its tokens.
func (s *Server) respondWithToken(c *gin.Context, status int, u db.User) {
	params, refresh := s.newSession(c, u.ID)
	sess, err := s.store.CreateSession(c.Request.Context(), params)
	if err != nil {
		s.writeError(c, err)
		return
	}
	s.respondWithSession(c, status, u, sess, refresh)
}

// respondWithSession answers an access token for sess and its refresh
// token, with the user.
func (s *Server) respondWithSession(c *gin.Context, status int, u db.User, sess db.Session, refresh string) {
	token, exp, err := s.tokens.issue(u.ID, sess.ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	me, err := s.loadMe(c.Request.Context(), u)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.JSON(status, tokenResponse{
		AccessToken:      token,
		TokenType:        "bearer",
		ExpiresAt:        exp.UTC(),
		ExpiresIn:        int64(time.Until(exp).Seconds()),
		RefreshToken:     refresh,
		RefreshExpiresAt: sess.ExpiresAt.UTC(),
		User:             me,
	})
}
