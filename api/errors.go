package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// statusByCode is the one table from error code to HTTP status.
var statusByCode = map[string]int{
	lokiz.EINVALID:             http.StatusBadRequest,
	lokiz.EUNAUTHORIZED:        http.StatusUnauthorized,
	lokiz.EINSUFFICIENTCREDITS: http.StatusPaymentRequired,
	lokiz.EFORBIDDEN:           http.StatusForbidden,
	lokiz.ENOTFOUND:            http.StatusNotFound,
	lokiz.ECONFLICT:            http.StatusConflict,
	lokiz.ETOOLARGE:            http.StatusRequestEntityTooLarge,
	lokiz.EVALIDATION:          http.StatusUnprocessableEntity,
	lokiz.ERATELIMITED:         http.StatusTooManyRequests,
	lokiz.EINTERNAL:            http.StatusInternalServerError,
	lokiz.ENOTIMPLEMENTED:      http.StatusNotImplemented,
	lokiz.EUNAVAILABLE:         http.StatusServiceUnavailable,
	codeMethodNotAllowed:       http.StatusMethodNotAllowed,
}

const codeMethodNotAllowed = "method_not_allowed"

// errorResponse is the contract's error shape (CONTRACT.md §1).
type errorResponse struct {
	Detail    string             `json:"detail"`
	Code      string             `json:"code"`
	Reason    string             `json:"reason,omitempty"`
	Errors    []lokiz.FieldError `json:"errors,omitempty"`
	RequestID string             `json:"request_id,omitempty"`
}

// StatusClientClosedRequest is the status recorded for a request whose
// client disconnected before the answer (nginx's 499).
const StatusClientClosedRequest = 499

// writeError answers err in the error shape and aborts the chain. Internal
// errors are logged here, once, with the request id; clients see only
// "internal error".
func (s *Server) writeError(c *gin.Context, err error) {
	code := lokiz.ErrorCode(err)
	if code == lokiz.EINTERNAL && errors.Is(c.Request.Context().Err(), context.Canceled) {
		// The client went away and the work it asked for was cut short:
		// not a server error. Recorded as nginx's 499 in the access log (at
		// INFO) and in lokiz_http_requests_total, never as a 500; nobody is
		// left to read a body.
		c.AbortWithStatus(StatusClientClosedRequest)
		return
	}
	if code == lokiz.EINTERNAL && overloaded(err) {
		// Every PostgreSQL (or Redis) connection of this process stayed busy
		// for the whole pool wait (DB_POOL_WAIT_TIMEOUT,
		// REDIS_POOL_TIMEOUT): shed the request at once with a short
		// Retry-After instead of queueing it without limit. Expected under
		// load, so a warning and a counter, not an error.
		s.log.WarnContext(c.Request.Context(), "overloaded: no connection free",
			slog.String("request_id", requestID(c)), slog.String("route", c.FullPath()), slog.Any("error", err))
		if s.overloads != nil {
			s.overloads.WithLabelValues(overloadedDependency(err)).Inc()
		}
		err = &lokiz.Error{Code: lokiz.EUNAVAILABLE, RetryAfter: 1, Reason: "overloaded",
			Message: "The service is busy; try again in a moment"}
		code = lokiz.EUNAVAILABLE
	}
	if code == lokiz.EINTERNAL && dependencyDown(err) {
		// PostgreSQL or Redis is down or restarting: 503 with a short
		// Retry-After, logged as a warning (the dependency's own alerts
		// page), not a 500 that blames the request or the code.
		s.log.WarnContext(c.Request.Context(), "dependency unavailable",
			slog.String("request_id", requestID(c)), slog.String("route", c.FullPath()), slog.Any("error", err))
		err = &lokiz.Error{Code: lokiz.EUNAVAILABLE, RetryAfter: 2, Reason: "dependency_unavailable",
			Message: "The service is briefly unavailable; try again in a moment"}
		code = lokiz.EUNAVAILABLE
	}
	status, ok := statusByCode[code]
	if !ok {
		status, code = http.StatusInternalServerError, lokiz.EINTERNAL
	}
	body := errorResponse{Detail: lokiz.ErrorMessage(err), Code: code, RequestID: requestID(c)}
	var le *lokiz.Error
	if errors.As(err, &le) {
		body.Errors = le.Fields
		body.Reason = le.Reason
		if le.RetryAfter > 0 {
			c.Header("Retry-After", strconv.Itoa(le.RetryAfter))
		}
	}
	if status == http.StatusUnauthorized {
		c.Header("WWW-Authenticate", `Bearer realm="lokiz"`)
	}
	if status >= 500 && code != lokiz.EUNAVAILABLE {
		s.log.ErrorContext(c.Request.Context(), "request failed",
			slog.String("request_id", body.RequestID), slog.String("route", c.FullPath()), slog.Any("error", err))
	}
	c.AbortWithStatusJSON(status, body)
}

// fieldErr is a shorthand for one validation problem.
func fieldErr(msg string, loc ...any) lokiz.FieldError {
	return lokiz.FieldError{Loc: loc, Msg: msg}
}

// oneOf is the message for a value outside the allowed words, which it
// lists from the root package's list, so the message never drifts from the
// rule.
func oneOf(allowed []string) string {
	return "must be one of " + strings.Join(allowed, ", ")
}

// overloaded reports whether err is a connection pool that had no free
// connection within its wait: PostgreSQL's (db.ErrPoolBusy) or Redis's
// (redis.ErrPoolTimeout).
func overloaded(err error) bool {
	return db.IsPoolBusy(err) || errors.Is(err, redis.ErrPoolTimeout)
}

// overloadedDependency names the pool behind an overloaded error, the label
// of lokiz_http_overloaded_total.
func overloadedDependency(err error) string {
	if db.IsPoolBusy(err) {
		return "postgres"
	}
	return "redis"
}

// dependencyDown reports whether err is PostgreSQL or Redis being out of
// reach: a connection refused, reset or closed, or a server that does not
// take work (db.IsUnavailable).
func dependencyDown(err error) bool {
	if db.IsUnavailable(err) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, net.ErrClosed)
}
