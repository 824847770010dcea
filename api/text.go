package api

import (
	"encoding/json"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/lokiz/lokiz"
)

// User text passes lokiz.CleanText in two places that no handler can skip:
// bindJSON runs it over every string of a decoded body (cleanBody), and the
// /v1 group runs it over every query and path parameter (cleanParams). The
// cleaned (NFC) value replaces the one received; bad text is a 422 naming
// the field.
//
// A body field's kind comes from its `text` struct tag: `text:"multiline"`
// (comments, bios, captions, reasons, prompts), `text:"name"` (username,
// display name), `text:"raw"` (left exactly as sent: passwords, which are
// compared byte for byte with their hash). Untagged strings are one line.
// A field named password, or ending in _password, is raw without a tag.
// A json.RawMessage (a draft's editing state) is the client's own JSON: it is
// kept as sent, but may not hold what Postgres' jsonb refuses, \u0000 and
// unpaired surrogate escapes.

// optionalValue lets cleanBody reach inside Optional[T].
type optionalValue interface{ optionalValue() reflect.Value }

func (o *Optional[T]) optionalValue() reflect.Value { return reflect.ValueOf(&o.Value).Elem() }

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// cleanBody cleans every string reachable from dst (a pointer to the
// decoded body) and reports the fields it refused.
func cleanBody(dst any) []lokiz.FieldError {
	var errs []lokiz.FieldError
	cleanValue(reflect.ValueOf(dst), []any{"body"}, lokiz.TextLine, &errs)
	return errs
}

func cleanValue(v reflect.Value, loc []any, kind lokiz.TextKind, errs *[]lokiz.FieldError) {
	if v.CanAddr() {
		if o, ok := v.Addr().Interface().(optionalValue); ok {
			cleanValue(o.optionalValue(), loc, kind, errs)
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return
		}
		if v.Kind() == reflect.Interface {
			// A string inside an interface cannot be set in place.
			inner := v.Elem()
			if inner.Kind() == reflect.String {
				if clean, ok := cleanString(inner.String(), loc, kind, errs); ok && v.CanSet() {
					v.Set(reflect.ValueOf(clean).Convert(inner.Type()))
				}
				return
			}
			if inner.Kind() != reflect.Pointer {
				cp := reflect.New(inner.Type()).Elem()
				cp.Set(inner)
				cleanValue(cp, loc, kind, errs)
				if v.CanSet() {
					v.Set(cp)
				}
				return
			}
			cleanValue(inner, loc, kind, errs)
			return
		}
		cleanValue(v.Elem(), loc, kind, errs)
	case reflect.String:
		if clean, ok := cleanString(v.String(), loc, kind, errs); ok && v.CanSet() {
			v.SetString(clean)
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, _, _ := strings.Cut(tag, ",")
			fieldLoc := loc
			if !(f.Anonymous && name == "") {
				if name == "" {
					name = f.Name
				}
				fieldLoc = append(append([]any{}, loc...), name)
			}
			fieldKind := lokiz.TextLine
			switch f.Tag.Get("text") {
			case "raw":
				continue
			case "multiline":
				fieldKind = lokiz.TextMultiline
			case "name":
				fieldKind = lokiz.TextName
			default:
				if name == "password" || strings.HasSuffix(name, "_password") {
					continue
				}
				if f.Anonymous {
					fieldKind = kind
				}
			}
			cleanValue(v.Field(i), fieldLoc, fieldKind, errs)
		}
	case reflect.Slice, reflect.Array:
		if v.Type() == rawMessageType {
			if v.Len() > 0 {
				if msg := jsonbProblem(v.Bytes()); msg != "" {
					*errs = append(*errs, lokiz.FieldError{Loc: loc, Msg: msg})
				}
			}
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return // bytes, not text
		}
		for i := range v.Len() {
			cleanValue(v.Index(i), append(append([]any{}, loc...), i), kind, errs)
		}
	case reflect.Map:
		// Keys are one line, and cleaned like values: a key sent in
		// another normalization form is stored in NFC. The entries are
		// read first, as the map changes under its keys.
		type entry struct{ key, val reflect.Value }
		entries := make([]entry, 0, v.Len())
		for iter := v.MapRange(); iter.Next(); {
			val := reflect.New(v.Type().Elem()).Elem()
			val.Set(iter.Value())
			entries = append(entries, entry{iter.Key(), val})
		}
		for _, e := range entries {
			elemLoc := append(append([]any{}, loc...), e.key.Interface())
			key := e.key
			if key.Kind() == reflect.String {
				clean, ok := cleanString(key.String(), elemLoc, lokiz.TextLine, errs)
				if !ok {
					continue
				}
				if clean != key.String() {
					if v.MapIndex(reflect.ValueOf(clean).Convert(key.Type())).IsValid() {
						*errs = append(*errs, lokiz.FieldError{Loc: elemLoc, Msg: "must not repeat another key in another spelling"})
						continue
					}
					v.SetMapIndex(key, reflect.Value{})
					key = reflect.New(key.Type()).Elem()
					key.SetString(clean)
				}
			}
			cleanValue(e.val, elemLoc, kind, errs)
			v.SetMapIndex(key, e.val)
		}
	}
}

// cleanString applies the rule to one value, recording a refusal at loc.
func cleanString(s string, loc []any, kind lokiz.TextKind, errs *[]lokiz.FieldError) (string, bool) {
	clean, problem := lokiz.CleanText(s, kind)
	if problem != "" {
		*errs = append(*errs, lokiz.FieldError{Loc: loc, Msg: problem})
		return "", false
	}
	return clean, true
}

// jsonbProblem reports what Postgres' jsonb would refuse in a syntactically
// valid JSON text: the escape \u0000 and a \u escape of half a surrogate pair.
func jsonbProblem(raw []byte) string {
	const msg = "must not contain \\u0000 or unpaired surrogate escapes"
	inString := false
	for i := 0; i < len(raw); i++ {
		b := raw[i]
		if !inString {
			inString = b == '"'
			continue
		}
		switch b {
		case '"':
			inString = false
		case '\\':
			if i+1 < len(raw) && raw[i+1] == 'u' {
				r, ok := hex4(raw, i+2)
				if !ok {
					return msg
				}
				switch {
				case r == 0:
					return msg
				case r >= 0xd800 && r <= 0xdbff:
					next, ok := rune(0), i+7 < len(raw) && raw[i+6] == '\\' && raw[i+7] == 'u'
					if ok {
						next, ok = hex4(raw, i+8)
					}
					if !ok || next < 0xdc00 || next > 0xdfff {
						return msg
					}
					i += 11
					continue
				case r >= 0xdc00 && r <= 0xdfff:
					return msg
				}
				i += 5
				continue
			}
			i++ // the escaped character
		}
	}
	return ""
}

// hex4 reads four hex digits at raw[at:].
func hex4(raw []byte, at int) (rune, bool) {
	if at+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, b := range raw[at : at+4] {
		switch {
		case b >= '0' && b <= '9':
			r = r<<4 | rune(b-'0')
		case b >= 'a' && b <= 'f':
			r = r<<4 | rune(b-'a'+10)
		case b >= 'A' && b <= 'F':
			r = r<<4 | rune(b-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// cleanParams runs the rule over every path and query parameter of a /v1
// request, before any handler reads them: refused text is a 422 naming the
// parameter, and NFC replaces what was sent. Parameters are one line.
func (s *Server) cleanParams(c *gin.Context) {
	var errs []lokiz.FieldError
	for i, p := range c.Params {
		if clean, ok := cleanString(p.Value, []any{"path", p.Key}, lokiz.TextLine, &errs); ok {
			c.Params[i].Value = clean
		}
	}
	if c.Request.URL.RawQuery != "" {
		query := c.Request.URL.Query()
		changed := false
		for _, key := range slices.Sorted(maps.Keys(query)) {
			values := query[key]
			for i, v := range values {
				clean, ok := cleanString(v, []any{"query", key}, lokiz.TextLine, &errs)
				if ok && clean != v {
					values[i], changed = clean, true
				}
			}
		}
		if changed && len(errs) == 0 {
			c.Request.URL.RawQuery = query.Encode()
		}
	}
	if len(errs) > 0 {
		s.writeError(c, lokiz.ValidationError(errs...))
		return
	}
	c.Next()
}
