package api

import (
	"context"

	"github.com/gin-gonic/gin"

	"github.com/lokiz/lokiz/db"
)

// Routes exposes the route table to the external tests.
func (s *Server) Routes() gin.RoutesInfo { return s.engine.Routes() }

// HandleForTest mounts an extra route behind the full middleware chain.
func (s *Server) HandleForTest(method, path string, fn func()) {
	s.engine.Handle(method, path, func(c *gin.Context) { fn() })
}

// SetAfterSocketRegister makes every socket run f between its registration
// with the hub and its catch-up read (the seam tests publish there).
func SetAfterSocketRegister(s *Server, f func()) {
	if f == nil {
		s.afterSocketRegister.Store(nil)
		return
	}
	s.afterSocketRegister.Store(&f)
}

// ActivityOf is the server's active-user tracker (tests wait for its
// background adds).
func ActivityOf(s *Server) interface{ Wait() } { return s.activity }

// ResetAdminStatsCache drops the cached GET /v1/admin/stats answer.
func ResetAdminStatsCache(s *Server) {
	s.statsCache.mu.Lock()
	s.statsCache.body = nil
	s.statsCache.mu.Unlock()
}

// NotifyForTest is the handlers' post-commit enqueue of owed notifications.
func (s *Server) NotifyForTest(ctx context.Context, rows []db.NotificationOutbox) {
	s.notify(ctx, rows)
}

// ReadOnlyPosts are the POST routes that do not pin their caller to the
// primary (api/replica.go).
var ReadOnlyPosts = readOnlyPosts

// ReadPinPrefix starts the read-your-writes keys.
const ReadPinPrefix = readPinPrefix
