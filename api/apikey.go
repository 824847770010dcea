package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/apikey"
	"github.com/lokiz/lokiz/db"
)

// Personal API keys (issue 13): an enterprise user makes keys that a
// program presents as `Authorization: Bearer lkz_live_…` where an access
// token is expected. A key acts as its user on every authenticated route
// except those that manage the account's access or money (requireSession),
// and is rate limited on its own (APIKeyRateLimit per minute).

// Defaults of the API key settings.
const (
	defaultAPIKeyRateLimit  = 300
	defaultAPIKeyMaxPerUser = 10
)

var errAPIKeyMalformed = &lokiz.Error{Code: lokiz.EUNAUTHORIZED, Reason: "invalid_api_key",
	Message: "Malformed API key: it must read lkz_live_ followed by the rest of the key as it was shown when it was created"}

// authenticateAPIKey resolves a bearer token that starts like an API key:
// a well-formed key of a live enterprise account (db.AuthenticateAPIKey),
// within its per-key rate limit. Anything else is 401; a spent limit is
// 429 with Retry-After.
func (s *Server) authenticateAPIKey(c *gin.Context, raw string) (caller, error) {
	ctx := c.Request.Context()
	lookup, ok := apikey.Parse(raw)
	if !ok {
		return caller{}, errAPIKeyMalformed
	}
	k, err := s.store.AuthenticateAPIKey(ctx, lookup, apikey.Hash(raw), s.tokens.now())
	if err != nil {
		return caller{}, err
	}
	ok, retry, err := s.limiter.allow(ctx, "apikey:"+k.KeyID.String(), s.cfg.APIKeyRateLimit, time.Minute)
	if err != nil {
		// As for every limit: without Redis the request goes on.
		s.log.WarnContext(ctx, "rate limiter unavailable", "error", err)
	} else if !ok {
		secs := retryAfterSecs(retry)
		return caller{}, &lokiz.Error{Code: lokiz.ERATELIMITED, RetryAfter: secs, Reason: "api_key_rate_limited",
			Message: fmt.Sprintf("This API key made more than %d requests in a minute; try again in %d seconds", s.cfg.APIKeyRateLimit, secs)}
	}
	return caller{ID: k.UserID, Role: k.Role, APIKeyID: k.KeyID}, nil
}

// requireSession is requireAuth for the routes an API key may not use:
// managing API keys, sessions (logout), the password, deleting the account
// and payments. A leaked key must not be able to lock its owner out, make
// itself permanent or spend money; those need a signed-in person. A key
// there is 403, reason api_key_not_allowed.
func (s *Server) requireSession(c *gin.Context) {
	u, err := s.authenticate(c)
	if err != nil {
		s.writeError(c, err)
		return
	}
	if u.APIKeyID != uuid.Nil {
		s.writeError(c, &lokiz.Error{Code: lokiz.EFORBIDDEN, Reason: "api_key_not_allowed",
			Message: "API keys cannot manage API keys, sessions, the password, payments or the account; sign in and use an access token"})
		return
	}
	c.Set(ctxCaller, u)
	c.Next()
}

// apiKeyResponse is a key as its owner sees it: never the secret or its
// hash. Prefix is the public start of the key ("lkz_live_<lookup>"), to
// tell keys apart.
type apiKeyResponse struct {
	ID         uuid.UUID  `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	Active     bool       `json:"is_active"`
}

func toAPIKeyResponse(k db.APIKey) apiKeyResponse {
	return apiKeyResponse{
		ID: k.ID, Name: k.Name, Prefix: apikey.Prefix + k.LookupID, CreatedAt: k.CreatedAt.UTC(),
		LastUsedAt: utc(k.LastUsedAt), RevokedAt: utc(k.RevokedAt), Active: k.RevokedAt == nil,
	}
}

// createdAPIKeyResponse is the answer of POST /v1/api-keys, the only one
// that carries the key itself.
type createdAPIKeyResponse struct {
	apiKeyResponse
	Key string `json:"key"`
}

type createAPIKeyRequest struct {
	Name string `json:"name"`
}

func (r *createAPIKeyRequest) validate() []lokiz.FieldError {
	r.Name = strings.TrimSpace(r.Name)
	switch n := len([]rune(r.Name)); {
	case n == 0:
		return []lokiz.FieldError{fieldErr("is required", "body", "name")}
	case n > 100:
		return []lokiz.FieldError{fieldErr("must be at most 100 characters", "body", "name")}
	}
	return nil
}

// createAPIKey makes a key for an enterprise caller and answers it once.
func (s *Server) createAPIKey(c *gin.Context) {
	var req createAPIKeyRequest
	if err := bindJSON(c, &req); err != nil {
		s.writeError(c, err)
		return
	}
	k := apikey.New()
	key, err := s.store.CreateAPIKey(c.Request.Context(), db.NewAPIKeyParams{
		UserID: mustUser(c).ID, Name: req.Name, LookupID: k.LookupID, SecretHash: k.Hash,
		MaxLive: s.cfg.APIKeyMaxPerUser, Now: s.tokens.now(),
	})
	if err != nil {
		s.writeError(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusCreated, createdAPIKeyResponse{apiKeyResponse: toAPIKeyResponse(key), Key: k.Token})
}

// listAPIKeys answers the caller's keys, newest first.
func (s *Server) listAPIKeys(c *gin.Context) {
	keys, err := s.store.ListAPIKeys(c.Request.Context(), mustUser(c).ID)
	if err != nil {
		s.writeError(c, err)
		return
	}
	out := make([]apiKeyResponse, len(keys))
	for i, k := range keys {
		out[i] = toAPIKeyResponse(k)
	}
	c.JSON(http.StatusOK, gin.H{"api_keys": out})
}

// revokeAPIKey revokes one of the caller's keys; another user's key is 404.
func (s *Server) revokeAPIKey(c *gin.Context) {
	id, err := pathUUID(c, "key_id")
	if err != nil {
		s.writeError(c, err)
		return
	}
	if _, err := s.store.RevokeAPIKey(c.Request.Context(), mustUser(c).ID, id); err != nil {
		s.writeError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}
