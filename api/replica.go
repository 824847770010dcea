package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz/db"
)

// Read replica routing (DATABASE_READ_URL, db/replica.go).
//
// The route table puts replicaRead on the feed, search, profile and list
// routes: their read statements may go to the replica. Everything else,
// and every check that answers "did my action apply" (like, follow and
// bookmark checks, the caller's own account), reads the primary.
//
// Read-your-writes: a signed-in caller's mutating request pins that
// caller's reads to the primary for Config.ReadAfterWrite (a Redis key
// with that TTL, so every api process sees it), set before the handler
// runs so the answer never reaches the client first, and set again after
// a write that took longer than half the window. A replica route whose
// request wrote (search remembers the query) pins the caller too. With no
// replica configured none of this runs: no Redis call, no context value.

// readPinPrefix starts the read-your-writes keys: readPinPrefix + user id.
const readPinPrefix = "lokiz:read-pin:"

// readOnlyPosts are the POST routes that only read (batch lookups): they
// do not pin their caller to the primary.
var readOnlyPosts = map[string]bool{
	"/v1/users/batch-info":      true,
	"/v1/videos/batch-metadata": true,
	"/v1/likes/check-batch":     true,
	"/v1/follows/check-batch":   true,
	"/v1/comments/batch-info":   true,
	"/v1/ai/jobs/batch-status":  true,
	"/v1/hashtags/batch-stats":  true,
}

// routesReplica reports whether reads may use a replica at all.
func (s *Server) routesReplica() bool {
	return s.store.Replica() != nil && s.cfg.ReadAfterWrite > 0
}

// replicaRead lets the route's read statements go to the read replica,
// unless the caller wrote within the read-your-writes window (or Redis
// cannot say: the primary is the safe answer).
func (s *Server) replicaRead(c *gin.Context) {
	if !s.routesReplica() {
		c.Next()
		return
	}
	ctx := c.Request.Context()
	u, signedIn := currentUser(c)
	pinned := false
	if signedIn {
		n, err := s.rdb.Exists(ctx, readPinPrefix+u.ID.String()).Result()
		if err != nil {
			s.log.WarnContext(ctx, "read-your-writes check failed; reading the primary", "error", err)
		}
		pinned = err != nil || n > 0
	}
	rctx := db.AllowReplica(ctx, pinned)
	c.Request = c.Request.WithContext(rctx)
	c.Next()
	if signedIn && db.Wrote(rctx) {
		s.pinReads(ctx, u.ID)
	}
}

// mutating reports whether c's request may change state for its caller.
func mutating(c *gin.Context) bool {
	switch c.Request.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return !readOnlyPosts[c.FullPath()]
}

// pinBeforeWrite pins a signed-in caller's reads to the primary as their
// mutating request starts (authenticate calls it).
func (s *Server) pinBeforeWrite(c *gin.Context, user uuid.UUID) {
	if s.routesReplica() && mutating(c) {
		s.pinReads(c.Request.Context(), user)
	}
}

// pinAfterSlowWrite renews the pin after a mutating request that took more
// than half the window, so the window always counts from near its end.
func (s *Server) pinAfterSlowWrite(c *gin.Context) {
	if !s.routesReplica() {
		c.Next()
		return
	}
	start := time.Now()
	c.Next()
	if time.Since(start) < s.cfg.ReadAfterWrite/2 || !mutating(c) {
		return
	}
	if u, ok := currentUser(c); ok {
		s.pinReads(c.Request.Context(), u.ID)
	}
}

// pinReads sends user's replica-allowed reads to the primary for the
// read-your-writes window. It outlives a client that went away: the write
// may still have committed.
func (s *Server) pinReads(ctx context.Context, user uuid.UUID) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
	defer cancel()
	if err := s.rdb.Set(ctx, readPinPrefix+user.String(), 1, s.cfg.ReadAfterWrite).Err(); err != nil {
		s.log.WarnContext(ctx, "read-your-writes pin not set; the caller may read the replica before it has their change",
			"user_id", user, "error", err)
	}
}
