package media

import "errors"

// ErrNotVideo matches, under errors.Is, every error that says a file is not a
// playable video. Use errors.As with *NotVideoError to get the reason.
var ErrNotVideo = errors.New("not a playable video")

// NotVideoError reports that a file is not a video LOKIZ can play. Reason is
// a short sentence meant for the uploader (a video's failure_reason); Err,
// when set, holds the technical cause for logs.
type NotVideoError struct {
	Reason string
	Err    error
}

func notVideo(reason string, cause error) *NotVideoError {
	return &NotVideoError{Reason: reason, Err: cause}
}

// Error implements error.
func (e *NotVideoError) Error() string {
	if e.Err != nil {
		return "not a playable video: " + e.Reason + ": " + e.Err.Error()
	}
	return "not a playable video: " + e.Reason
}

// Is makes errors.Is(err, ErrNotVideo) true.
func (e *NotVideoError) Is(target error) bool { return target == ErrNotVideo }

// Unwrap returns the technical cause, if any.
func (e *NotVideoError) Unwrap() error { return e.Err }
