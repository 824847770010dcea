package lokiz_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/lokiz/lokiz"
)

func TestErrorCodeAndMessage(t *testing.T) {
	t.Parallel()
	err := lokiz.Errorf(lokiz.ECONFLICT, "username %q is taken", "bob")
	if lokiz.ErrorCode(err) != lokiz.ECONFLICT || lokiz.ErrorMessage(err) != `username "bob" is taken` {
		t.Fatalf("unexpected %v", err)
	}
	wrapped := fmt.Errorf("outer: %w", err)
	if lokiz.ErrorCode(wrapped) != lokiz.ECONFLICT {
		t.Fatal("code must survive wrapping")
	}
	plain := errors.New("pq: relation does not exist")
	if lokiz.ErrorCode(plain) != lokiz.EINTERNAL || lokiz.ErrorMessage(plain) != "internal error" {
		t.Fatal("unknown errors must become internal and hide their text")
	}
	if lokiz.ErrorCode(nil) != "" {
		t.Fatal("nil has no code")
	}
	v := lokiz.ValidationError(lokiz.FieldError{Loc: []any{"body", "timestamps", 3}, Msg: "out of range"})
	if v.Message != "timestamps[3]: out of range" {
		t.Fatalf("validation message: %q", v.Message)
	}
}
