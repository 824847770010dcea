package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

type rootResponse struct {
	Message     string `json:"message"`
	Version     string `json:"version"`
	Environment string `json:"environment"`
}

func (s *Server) root(c *gin.Context) {
	c.JSON(http.StatusOK, rootResponse{Message: "Welcome to LOKIZ API", Version: s.cfg.Version, Environment: s.cfg.Env})
}

// health is liveness: the process serves HTTP. It checks no dependency, so an
// orchestrator never restarts the api because Postgres blinked.
func (s *Server) health(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "healthy"})
}

type readyResponse struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	Detail string            `json:"detail,omitempty"`
	Code   string            `json:"code,omitempty"`
}

// ready is readiness: Postgres and Redis answer and the process is not
// shutting down. A load balancer stops sending traffic on 503.
func (s *Server) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"postgres": "ok", "redis": "ok"}
	var failed []string
	if err := s.store.Ping(ctx); err != nil {
		checks["postgres"] = "unreachable"
		failed = append(failed, "postgres")
	}
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		checks["redis"] = "unreachable"
		failed = append(failed, "redis")
	}
	switch {
	case s.draining.Load():
		c.JSON(http.StatusServiceUnavailable, readyResponse{Status: "unavailable", Checks: checks,
			Detail: "the server is shutting down", Code: "unavailable"})
	case len(failed) > 0:
		detail := failed[0] + " is unreachable"
		if len(failed) == 2 {
			detail = "postgres and redis are unreachable"
		}
		c.JSON(http.StatusServiceUnavailable, readyResponse{Status: "unavailable", Checks: checks, Detail: detail, Code: "unavailable"})
	default:
		c.JSON(http.StatusOK, readyResponse{Status: "ready", Checks: checks})
	}
}
