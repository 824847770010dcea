package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
)

// validator is implemented by request types with rules beyond JSON types.
type validator interface {
	validate() []lokiz.FieldError
}

// bindJSON decodes the body into dst, runs the user-text rule over every
// string in it (cleanBody, see text.go) and validates it. Unknown fields are
// ignored; malformed JSON, wrong types, bad text and failed rules become
// 422, an oversized body 413 (CONTRACT.md §1).
func bindJSON(c *gin.Context, dst any) error {
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return lokiz.Errorf(lokiz.ETOOLARGE, "request body is larger than %d bytes", tooBig.Limit)
		}
		return lokiz.Errorf(lokiz.EVALIDATION, "request body could not be read")
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return lokiz.ValidationError(fieldErr("a JSON object is required", "body"))
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return jsonError(err)
	}
	if fields := cleanBody(dst); len(fields) > 0 {
		return lokiz.ValidationError(fields...)
	}
	if v, ok := dst.(validator); ok {
		if fields := v.validate(); len(fields) > 0 {
			return lokiz.ValidationError(fields...)
		}
	}
	return nil
}

func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		e := lokiz.ValidationError(fieldErr(fmt.Sprintf("is not valid JSON (at byte %d)", syntax.Offset), "body"))
		e.Message = "request body is not valid JSON"
		return e
	case errors.As(err, &typ):
		loc := []any{"body"}
		if typ.Field != "" {
			for _, part := range strings.Split(typ.Field, ".") {
				loc = append(loc, part)
			}
		}
		msg := "must be " + jsonTypeName(typ.Type.Kind().String())
		if typ.Field == "" {
			msg = "must be a JSON object"
		}
		return lokiz.ValidationError(lokiz.FieldError{Loc: loc, Msg: msg})
	default:
		return lokiz.ValidationError(fieldErr("is not valid JSON", "body"))
	}
}

// jsonTypeName turns a Go kind into the JSON word a client understands.
func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	}
	return "of another type"
}

// Optional is a JSON field that distinguishes "absent" (Set=false) from
// "null" (Set=true, Null=true) from a value, so PATCH can clear fields.
type Optional[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON implements json.Unmarshaler; it is only called when the key is present.
func (o *Optional[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// Ptr returns nil for null or absent, else a pointer to the value.
func (o Optional[T]) Ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	v := o.Value
	return &v
}

// parseUUIDs parses a list of ids from a body field, naming each bad index.
func parseUUIDs(raw []string, field string) ([]uuid.UUID, []lokiz.FieldError) {
	ids := make([]uuid.UUID, 0, len(raw))
	var errs []lokiz.FieldError
	for i, s := range raw {
		id, err := uuid.Parse(s)
		if err != nil {
			errs = append(errs, fieldErr("must be a UUID", "body", field, i))
			continue
		}
		ids = append(ids, id)
	}
	return ids, errs
}

// parseIDBatch checks the id list of a batch route: present, at most max
// ids, each a UUID.
func parseIDBatch(raw []string, field string, max int) ([]uuid.UUID, []lokiz.FieldError) {
	if raw == nil {
		return nil, []lokiz.FieldError{fieldErr("is required", "body", field)}
	}
	if len(raw) > max {
		return nil, []lokiz.FieldError{fieldErr(fmt.Sprintf("must hold at most %d ids", max), "body", field)}
	}
	return parseUUIDs(raw, field)
}

// pathUUID parses the path parameter name as a UUID (any spelling uuid.Parse
// accepts; output is always canonical).
func pathUUID(c *gin.Context, name string) (uuid.UUID, error) {
	id, err := uuid.Parse(c.Param(name))
	if err != nil {
		return uuid.Nil, lokiz.ValidationError(fieldErr("must be a UUID", "path", name))
	}
	return id, nil
}
