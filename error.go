package lokiz

import (
	"errors"
	"fmt"
)

// Error codes. Each maps to one HTTP status in the api error writer; the code
// string itself is sent to clients as the "code" field.
const (
	ECONFLICT            = "conflict"             // 409: duplicate or state no longer allows the action
	EFORBIDDEN           = "forbidden"            // 403: authenticated but not allowed
	EINSUFFICIENTCREDITS = "insufficient_credits" // 402
	EINTERNAL            = "internal"             // 500: never shown in detail to clients
	EINVALID             = "invalid"              // 400: a business rule was violated
	ENOTFOUND            = "not_found"            // 404: absent or not visible to the caller
	ENOTIMPLEMENTED      = "not_implemented"      // 501: a capability that is deliberately closed
	ERATELIMITED         = "rate_limited"         // 429
	ETOOLARGE            = "payload_too_large"    // 413
	EUNAUTHORIZED        = "unauthorized"         // 401
	EUNAVAILABLE         = "unavailable"          // 503: a dependency is down
	EVALIDATION          = "validation_error"     // 422: malformed input, wrong types, out of range
)

// FieldError names one invalid input value. Loc follows the contract:
// ["body","username"], ["query","page_size"], ["path","user_id"].
type FieldError struct {
	Loc []any  `json:"loc"`
	Msg string `json:"msg"`
}

// Error is the application error. Message is safe to show to end users;
// anything internal stays in the wrapped chain and in logs only.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
	// RetryAfter, in seconds, is sent as the Retry-After header with rate_limited.
	RetryAfter int
	// Reason is an optional machine-readable refinement of Code that clients may
	// branch on (for example "account_disabled" under unauthorized).
	Reason string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("lokiz error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ValidationError returns a validation_error carrying field errors. The
// message is the first field's message, so that "detail" reads well alone.
func ValidationError(fields ...FieldError) *Error {
	msg := "request is not valid"
	if len(fields) > 0 {
		msg = fmt.Sprintf("%s: %s", locString(fields[0].Loc), fields[0].Msg)
	}
	return &Error{Code: EVALIDATION, Message: msg, Fields: fields}
}

func locString(loc []any) string {
	s := ""
	for i, part := range loc {
		if i == 0 && len(loc) > 1 {
			continue // "body"/"query"/"path" reads as noise in a sentence
		}
		switch p := part.(type) {
		case int:
			s += fmt.Sprintf("[%d]", p)
		default:
			if s != "" {
				s += "."
			}
			s += fmt.Sprint(p)
		}
	}
	if s == "" {
		return "body"
	}
	return s
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err; anything that is not an
// *Error becomes "internal error".
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
