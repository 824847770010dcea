package api

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/apikey"
	"github.com/lokiz/lokiz/db"
)

// tokenIssuer signs and verifies access tokens: HS256 JWTs with sub, sid
// (the session), iat, exp.
type tokenIssuer struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

// accessClaims are an access token's claims: sid names the session the
// token belongs to, which the auth check reads on every request.
type accessClaims struct {
	SessionID string `json:"sid"`
	jwt.RegisteredClaims
}

func (ti tokenIssuer) issue(userID, sessionID uuid.UUID) (string, time.Time, error) {
	now := ti.now()
	exp := now.Add(ti.ttl)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, accessClaims{
		SessionID: sessionID.String(),
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   userID.String(),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	})
	signed, err := tok.SignedString(ti.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return signed, exp, nil
}

var errBadToken = lokiz.Errorf(lokiz.EUNAUTHORIZED, "Could not validate credentials")

// verify checks the signature and times of raw and returns its user and
// session. A token without a sid (issued before sessions existed) is
// refused: it could never be revoked.
func (ti tokenIssuer) verify(raw string) (userID, sessionID uuid.UUID, expiresAt time.Time, err error) {
	var claims accessClaims
	_, err = jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return ti.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second),
		jwt.WithTimeFunc(ti.now),
	)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return uuid.Nil, uuid.Nil, time.Time{}, &lokiz.Error{Code: lokiz.EUNAUTHORIZED, Message: "Token has expired", Reason: "token_expired"}
		}
		return uuid.Nil, uuid.Nil, time.Time{}, errBadToken
	}
	if userID, err = uuid.Parse(claims.Subject); err != nil {
		return uuid.Nil, uuid.Nil, time.Time{}, errBadToken
	}
	if sessionID, err = uuid.Parse(claims.SessionID); err != nil {
		return uuid.Nil, uuid.Nil, time.Time{}, errBadToken
	}
	return userID, sessionID, claims.ExpiresAt.Time, nil
}

// caller is the authenticated user of a request.
type caller struct {
	ID   uuid.UUID
	Role string
	// SessionID is the session the access token names; uuid.Nil when the
	// caller presented an API key.
	SessionID uuid.UUID
	// APIKeyID is the API key the caller presented; uuid.Nil for an access
	// token.
	APIKeyID uuid.UUID
	// ExpiresAt is when the access token expires (zero for an API key).
	ExpiresAt time.Time
}

const ctxCaller = "lokiz.caller"

func currentUser(c *gin.Context) (caller, bool) {
	v, ok := c.Get(ctxCaller)
	if !ok {
		return caller{}, false
	}
	u, ok := v.(caller)
	return u, ok
}

// mustUser returns the caller of a route behind requireAuth.
func mustUser(c *gin.Context) caller {
	u, ok := currentUser(c)
	if !ok {
		panic("api: mustUser on a route without requireAuth")
	}
	return u
}

// optionalUserID returns the caller's id, or nil for anonymous requests.
func optionalUserID(c *gin.Context) *uuid.UUID {
	if u, ok := currentUser(c); ok {
		return &u.ID
	}
	return nil
}

// authenticate resolves the bearer token (an access token, or an API key:
// see authenticateAPIKey) to an active user and a live
// session. Every request reads both in one query, so a ban, a logout or a
// password change takes effect on the next request.
func (s *Server) authenticate(c *gin.Context) (caller, error) {
	header := c.GetHeader("Authorization")
	if header == "" {
		return caller{}, lokiz.Errorf(lokiz.EUNAUTHORIZED, "Not authenticated")
	}
	scheme, raw, ok := strings.Cut(header, " ")
	raw = strings.TrimSpace(raw)
	if !ok || !strings.EqualFold(scheme, "bearer") || raw == "" {
		return caller{}, lokiz.Errorf(lokiz.EUNAUTHORIZED, "Authorization header must be 'Bearer <token>'")
	}
	u, err := s.authenticateBearer(c, raw)
	if err == nil {
		s.touchActivity(u.ID)
		s.pinBeforeWrite(c, u.ID) // read-your-writes (api/replica.go)
	}
	return u, err
}

// touchActivity counts user as active today (DAU/WAU/MAU, package
// activity): a map lookup here, the Redis call at most once per user per
// few minutes and never in the request. Every authenticated request counts
// (authenticate), and so does an opened notification socket, whose token
// may come in the query (notificationSocket).
func (s *Server) touchActivity(user uuid.UUID) {
	if !s.cfg.ActivityDisabled {
		s.activity.Touch(user)
	}
}

// authenticateBearer resolves a presented token, from the Authorization
// header or (the WebSocket) the query.
func (s *Server) authenticateBearer(c *gin.Context, raw string) (caller, error) {
	if apikey.Looks(raw) {
		return s.authenticateAPIKey(c, raw)
	}
	id, sid, exp, err := s.tokens.verify(raw)
	if err != nil {
		return caller{}, err
	}
	row, err := s.store.SessionAuth(c.Request.Context(), db.SessionAuthParams{SessionID: sid, UserID: id})
	if db.IsNotFound(err) {
		return caller{}, &lokiz.Error{Code: lokiz.EUNAUTHORIZED, Message: "Session not found", Reason: "session_not_found"}
	} else if err != nil {
		return caller{}, fmt.Errorf("load token session: %w", err)
	}
	if !row.IsActive {
		return caller{}, &lokiz.Error{Code: lokiz.EUNAUTHORIZED, Message: "This account has been disabled", Reason: "account_disabled"}
	}
	if row.Revoked {
		return caller{}, &lokiz.Error{Code: lokiz.EUNAUTHORIZED, Message: "This session has ended", Reason: "session_revoked"}
	}
	return caller{ID: row.ID, Role: row.Role, SessionID: sid, ExpiresAt: exp}, nil
}

// requireAuth rejects requests without a valid token of an active user and
// a live session (401).
func (s *Server) requireAuth(c *gin.Context) {
	u, err := s.authenticate(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Set(ctxCaller, u)
	c.Next()
}

// optionalAuth identifies the caller when a token is sent and lets requests
// without an Authorization header through as anonymous. A header that is
// sent is checked like on any other route: a malformed, expired or revoked
// token is 401, never a silent anonymous answer (the client would show a
// signed-out page to a user who believes they are signed in).
func (s *Server) optionalAuth(c *gin.Context) {
	if c.GetHeader("Authorization") != "" {
		u, err := s.authenticate(c)
		if err != nil {
			s.writeError(c, err)
			return
		}
		c.Set(ctxCaller, u)
	}
	c.Next()
}
