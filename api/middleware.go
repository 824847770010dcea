package api

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lokiz/lokiz"
)

// MaxBodyBytes is the largest request body the api reads (CONTRACT.md §1).
const MaxBodyBytes = 1 << 20

const ctxRequestID = "lokiz.request_id"

func requestID(c *gin.Context) string { return c.GetString(ctxRequestID) }

// withRequestID accepts a sane X-Request-ID from a proxy or makes one, and
// echoes it on the response so a client can quote it.
func withRequestID(c *gin.Context) {
	id := c.GetHeader("X-Request-ID")
	if !validRequestID(id) {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	c.Set(ctxRequestID, id)
	c.Header("X-Request-ID", id)
	c.Next()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// recoverPanics turns a panic into a logged 500 in the error shape.
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v) // the client went away; let net/http handle it
			}
			s.log.ErrorContext(c.Request.Context(), "panic serving request",
				slog.String("request_id", requestID(c)), slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			if c.Writer.Written() {
				c.Abort()
				return
			}
			c.AbortWithStatusJSON(http.StatusInternalServerError, errorResponse{
				Detail: "internal error", Code: lokiz.EINTERNAL, RequestID: requestID(c)})
		}
	}()
	c.Next()
}

// accessLog writes one line per request.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	attrs := []slog.Attr{
		slog.String("request_id", requestID(c)),
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", c.Writer.Status()),
		slog.Int64("duration_ms", time.Since(start).Milliseconds()),
		slog.Int("bytes", c.Writer.Size()),
		slog.String("ip", c.ClientIP()),
	}
	if id := traceID(c); id != "" {
		attrs = append(attrs, slog.String("trace_id", id))
	}
	if u, ok := currentUser(c); ok {
		attrs = append(attrs, slog.String("user_id", u.ID.String()))
		if u.APIKeyID != uuid.Nil {
			attrs = append(attrs, slog.String("api_key_id", u.APIKeyID.String()))
		}
	}
	// A 503 is an answer we chose (a dependency down, a feature off, a
	// full server), logged where it was decided: a warning here. Other 5xx
	// are errors.
	level := slog.LevelInfo
	switch st := c.Writer.Status(); {
	case st == http.StatusServiceUnavailable:
		level = slog.LevelWarn
	case st >= 500:
		level = slog.LevelError
	}
	s.log.LogAttrs(c.Request.Context(), level, "http request", attrs...)
}

// httpMetrics holds the api's Prometheus instruments.
type httpMetrics struct {
	requests  *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	overloads *prometheus.CounterVec
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lokiz_http_requests_total",
			Help: "HTTP requests served by the api, by method, route template and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lokiz_http_request_duration_seconds",
			Help:    "Time to serve an HTTP request, by method, route template and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route", "status"}),
		overloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lokiz_http_overloaded_total",
			Help: "Requests shed with 503 overloaded because a connection pool (postgres or redis) had no free connection within its wait.",
		}, []string{"dependency"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.overloads} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register http metrics: %w", err)
		}
	}
	for _, dep := range []string{"postgres", "redis"} {
		m.overloads.WithLabelValues(dep) // exported at 0 before the first shed request
	}
	return m, nil
}

// observe records every request under its route template (never the raw
// path, which would explode the label set).
func (m *httpMetrics) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := strconv.Itoa(c.Writer.Status())
	m.requests.WithLabelValues(c.Request.Method, route, status).Inc()
	m.duration.WithLabelValues(c.Request.Method, route, status).Observe(time.Since(start).Seconds())
}

// limitBody refuses bodies over MaxBodyBytes: at once when Content-Length
// says so, otherwise when the reader passes the limit.
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.ContentLength > MaxBodyBytes {
		s.writeError(c, lokiz.Errorf(lokiz.ETOOLARGE, "request body is larger than %d bytes", MaxBodyBytes))
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, MaxBodyBytes)
	c.Next()
}

// cors answers preflights and sets the CORS headers for allowed origins.
// Credentials are never allowed: auth travels in the Authorization header.
func (s *Server) cors(c *gin.Context) {
	origin := c.GetHeader("Origin")
	if origin == "" {
		c.Next()
		return
	}
	allowAll := slices.Contains(s.cfg.CORSOrigins, "*")
	if !allowAll && !slices.Contains(s.cfg.CORSOrigins, origin) {
		c.Next()
		return
	}
	h := c.Writer.Header()
	if allowAll {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	}
	h.Set("Access-Control-Expose-Headers", "X-Request-ID, Retry-After")
	if c.Request.Method == http.MethodOptions && c.GetHeader("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS")
		if reqHeaders := c.GetHeader("Access-Control-Request-Headers"); reqHeaders != "" {
			h.Set("Access-Control-Allow-Headers", reqHeaders)
		} else {
			h.Set("Access-Control-Allow-Headers", strings.Join([]string{"Authorization", "Content-Type", "X-Request-ID"}, ", "))
		}
		h.Set("Access-Control-Max-Age", "600")
		c.AbortWithStatus(http.StatusNoContent)
		return
	}
	c.Next()
}
