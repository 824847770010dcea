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
	"github.com/lokiz/lokiz/db"
)

// tokenIssuer signs and verifies access tokens: HS256 JWTs with sub, iat, exp.
type tokenIssuer struct {
	key []byte
	ttl time.Duration
	now func() time.Time
}

func (ti tokenIssuer) issue(userID uuid.UUID) (string, time.Time, error) {
	now := ti.now()
	exp := now.Add(ti.ttl)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Subject:   userID.String(),
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	})
	signed, err := tok.SignedString(ti.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return signed, exp, nil
}

var errBadToken = lokiz.Errorf(lokiz.EUNAUTHORIZED, "Could not validate credentials")

func (ti tokenIssuer) verify(raw string) (uuid.UUID, error) {
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return ti.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second),
		jwt.WithTimeFunc(ti.now),
	)
	if err != nil {
		if errors.Is(err, jwt.ErrTokenExpired) {
			return uuid.Nil, &lokiz.Error{Code: lokiz.EUNAUTHORIZED, Message: "Token has expired", Reason: "token_expired"}
		}
		return uuid.Nil, errBadToken
	}
	id, err := uuid.Parse(claims.Subject)
	if err != nil {
		return uuid.Nil, errBadToken
	}
	return id, nil
}

// caller is the authenticated user of a request.
type caller struct {
	ID   uuid.UUID
	Role string
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

// authenticate resolves the bearer token to an active user. Every request
// reads the user's row, so a ban takes effect on the next request.
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
	id, err := s.tokens.verify(raw)
	if err != nil {
		return caller{}, err
	}
	row, err := s.store.UserGetAuth(c.Request.Context(), id)
	if db.IsNotFound(err) {
		return caller{}, lokiz.Errorf(lokiz.EUNAUTHORIZED, "User not found")
	} else if err != nil {
		return caller{}, fmt.Errorf("load token user: %w", err)
	}
	if !row.IsActive {
		return caller{}, &lokiz.Error{Code: lokiz.EUNAUTHORIZED, Message: "This account has been disabled", Reason: "account_disabled"}
	}
	return caller{ID: row.ID, Role: row.Role}, nil
}

// requireAuth rejects requests without a valid token of an active user (401).
func (s *Server) requireAuth(c *gin.Context) {
	u, err := s.authenticate(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Set(ctxCaller, u)
	c.Next()
}

// optionalAuth identifies the caller when a valid token is sent and treats
// every failure as anonymous, as the original did for these routes.
func (s *Server) optionalAuth(c *gin.Context) {
	if c.GetHeader("Authorization") != "" {
		if u, err := s.authenticate(c); err == nil {
			c.Set(ctxCaller, u)
		} else if lokiz.ErrorCode(err) == lokiz.EINTERNAL {
			s.writeError(c, err)
			return
		}
	}
	c.Next()
}
