package api

// Fuzz targets for what the api reads from a request before any database
// call: JSON bodies (bindJSON and each request type's validate), the
// cursors, and the query and path parameter parsers. Their seed corpora are
// in testdata/fuzz/<Target>/; `go test` replays them, `make fuzz` explores
// (docs/reliability.md, "Fuzzing").

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
)

// bodyCase is one request type bindJSON decodes. check is the extra shape
// check of the AI routes, which share one type with a validator per route.
type bodyCase struct {
	name  string
	new   func() any
	check func(any) []lokiz.FieldError
}

func bodyOf[T any](name string) bodyCase {
	return bodyCase{name: name, new: func() any { return new(T) }}
}

// bodyCases lists every type a handler passes to bindJSON. The fuzz input's
// first byte picks one (modulo the length), so the committed corpus depends
// on the order: append new types at the end, never reorder.
// TestBodyCasesCoverBindJSON checks the list against the handlers.
var bodyCases = func() []bodyCase {
	cases := []bodyCase{
		bodyOf[banRequest]("banRequest"),
		bodyOf[reasonRequest]("reasonRequest"),
		bodyOf[batchStatusRequest]("batchStatusRequest"),
		bodyOf[createAPIKeyRequest]("createAPIKeyRequest"),
		bodyOf[registerRequest]("registerRequest"),
		bodyOf[loginRequest]("loginRequest"),
		bodyOf[blockRequest]("blockRequest"),
		bodyOf[commentContent]("commentContent"),
		bodyOf[batchCommentsRequest]("batchCommentsRequest"),
		bodyOf[draftRequest]("draftRequest"),
		bodyOf[tokenRequest]("tokenRequest"),
		bodyOf[passwordResetRequest]("passwordResetRequest"),
		bodyOf[resetPasswordRequest]("resetPasswordRequest"),
		bodyOf[batchUsersRequest]("batchUsersRequest"),
		bodyOf[captureFramesRequest]("captureFramesRequest"),
		bodyOf[hashtagStatsRequest]("hashtagStatsRequest"),
		bodyOf[imageUploadRequest]("imageUploadRequest"),
		bodyOf[batchVideosRequest]("batchVideosRequest"),
		bodyOf[batchMarkReadRequest]("batchMarkReadRequest"),
		bodyOf[updateNotificationSettingsRequest]("updateNotificationSettingsRequest"),
		bodyOf[purchaseRequest]("purchaseRequest"),
		bodyOf[tossConfirmRequest]("tossConfirmRequest"),
		bodyOf[reportRequest]("reportRequest"),
		bodyOf[historyRequest]("historyRequest"),
		bodyOf[refreshRequest]("refreshRequest"),
		bodyOf[changePasswordRequest]("changePasswordRequest"),
		bodyOf[deleteAccountRequest]("deleteAccountRequest"),
		bodyOf[shareRequest]("shareRequest"),
		bodyOf[selectRangeRequest]("selectRangeRequest"),
		bodyOf[subscribeRequest]("subscribeRequest"),
		bodyOf[tossBillingRequest]("tossBillingRequest"),
		bodyOf[updateProfileRequest]("updateProfileRequest"),
		bodyOf[videoUploadRequest]("videoUploadRequest"),
		bodyOf[completeVideoRequest]("completeVideoRequest"),
		bodyOf[updateVideoRequest]("updateVideoRequest"),
		bodyOf[viewRequest]("viewRequest"),
		bodyOf[reportDecisionRequest]("reportDecisionRequest"),
	}
	// aiRequest: one case per job route, with that route's validator.
	for _, job := range slices.Sorted(func(yield func(string) bool) {
		for k := range aiRoutes {
			if !yield(k) {
				return
			}
		}
	}) {
		route := aiRoutes[job]
		cases = append(cases, bodyCase{name: "aiRequest/" + job, new: func() any { return new(aiRequest) },
			check: func(v any) []lokiz.FieldError { return route.validate(v.(*aiRequest)) }})
	}
	return cases
}()

// decodeBody runs bindJSON (and the case's extra check) over body.
func decodeBody(bc bodyCase, body []byte) (any, error) {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	dst := bc.new()
	if err := bindJSON(c, dst); err != nil {
		return nil, err
	}
	if bc.check != nil {
		if fields := bc.check(dst); len(fields) > 0 {
			return nil, lokiz.ValidationError(fields...)
		}
	}
	return dst, nil
}

// FuzzRequestBody feeds any bytes to every request type (the first input
// picks the type). Properties:
//   - a refusal is a 422 validation error whose fields are all in the body
//     (never an internal error, never a panic);
//   - what is accepted already satisfies the user-text rule: cleaning it
//     again finds nothing to refuse and changes nothing;
//   - what is accepted, encoded back to JSON (canonical form, below) and
//     decoded and validated again, is accepted and equal, unexported fields
//     (the parsed ids) included: the validators' normalization is stable
//     and no decoder accepts what its validator would refuse.
func FuzzRequestBody(f *testing.F) {
	gin.SetMode(gin.TestMode)
	f.Fuzz(func(t *testing.T, kind uint8, body []byte) {
		bc := bodyCases[int(kind)%len(bodyCases)]
		got, err := decodeBody(bc, body)
		if err != nil {
			requireValidationError(t, err, "body")
			return
		}
		first := canonicalBody(t, got)
		if fields := cleanBody(got); len(fields) > 0 {
			t.Fatalf("%s: accepted %q, but the text rule refuses it on a second pass: %v", bc.name, body, fields)
		}
		if again := canonicalBody(t, got); !bytes.Equal(first, again) {
			t.Fatalf("%s: the text rule changed accepted text on a second pass:\n%s\n%s", bc.name, first, again)
		}
		enc := exportedJSON(t, got)
		got2, err := decodeBody(bc, enc)
		if err != nil {
			t.Fatalf("%s: accepted %q, but not its re-encoding %s: %v", bc.name, body, enc, err)
		}
		if second := canonicalBody(t, got2); !bytes.Equal(first, second) {
			t.Fatalf("%s: decoding the re-encoding gives another value:\n%s\n%s", bc.name, first, second)
		}
	})
}

// requireValidationError checks that err is a 422 naming fields under loc.
func requireValidationError(t *testing.T, err error, loc string) {
	t.Helper()
	var le *lokiz.Error
	if !errors.As(err, &le) || le.Code != lokiz.EVALIDATION {
		t.Fatalf("refusal is not a validation error: %#v", err)
	}
	if len(le.Fields) == 0 {
		t.Fatalf("validation error names no field: %#v", le)
	}
	for _, fe := range le.Fields {
		if len(fe.Loc) == 0 || fe.Loc[0] != loc || fe.Msg == "" {
			t.Fatalf("field error %#v is not under %q or has no message", fe, loc)
		}
	}
}

// exportedJSON encodes a decoded request as a client would send it: absent
// Optionals and nil pointers left out, null Optionals as null.
func exportedJSON(t *testing.T, v any) []byte {
	t.Helper()
	out, _ := jsonValue(reflect.ValueOf(v), false)
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatalf("encode %#v: %v", v, err)
	}
	return b
}

// canonicalBody is exportedJSON plus the unexported fields (what validate
// parsed), for comparing two decoded values.
func canonicalBody(t *testing.T, v any) []byte {
	t.Helper()
	out, _ := jsonValue(reflect.ValueOf(v), true)
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatalf("encode %#v: %v", v, err)
	}
	return b
}

var timeType = reflect.TypeFor[time.Time]()

// jsonValue turns v into plain JSON values; ok is false for a value to
// leave out.
func jsonValue(v reflect.Value, unexported bool) (out any, ok bool) {
	if v.CanAddr() {
		if o, isOpt := v.Addr().Interface().(optionalValue); isOpt {
			switch {
			case !v.FieldByName("Set").Bool():
				return nil, false
			case v.FieldByName("Null").Bool():
				return nil, true
			}
			return jsonValue(o.optionalValue(), unexported)
		}
	}
	switch {
	case v.Kind() == reflect.Pointer:
		if v.IsNil() {
			return nil, false
		}
		return jsonValue(v.Elem(), unexported)
	case v.Type() == rawMessageType:
		if v.Len() == 0 {
			return nil, false
		}
		var buf bytes.Buffer
		if err := json.Compact(&buf, v.Bytes()); err != nil {
			return "invalid raw JSON: " + err.Error(), true
		}
		return json.RawMessage(buf.Bytes()), true
	case v.Kind() == reflect.Struct && v.Type() != timeType:
		m := map[string]any{}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				if unexported {
					m["~"+f.Name] = fmt.Sprint(v.Field(i))
				}
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			if fv, ok := jsonValue(v.Field(i), unexported); ok {
				m[name] = fv
			}
		}
		return m, true
	}
	return v.Interface(), true
}

// TestBodyCasesCoverBindJSON fails when a handler binds a type that
// FuzzRequestBody does not reach: every `var x T` bound by bindJSON(c, &x)
// in a non-test file must be in bodyCases.
func TestBodyCasesCoverBindJSON(t *testing.T) {
	listed := map[string]bool{}
	for _, bc := range bodyCases {
		name, _, _ := strings.Cut(bc.name, "/")
		listed[name] = true
	}
	bound := boundTypes(t)
	if len(bound) == 0 {
		t.Fatal("found no bindJSON call: the scan is broken")
	}
	for _, typ := range bound {
		if !listed[typ] {
			t.Errorf("bindJSON decodes %s, which FuzzRequestBody's bodyCases does not list", typ)
		}
	}
	for _, job := range []string{lokiz.JobI2VTemplate, lokiz.JobGlitchAnimate, lokiz.JobGlitchReplace, lokiz.JobStickerToReality, lokiz.JobMusic} {
		if !slices.ContainsFunc(bodyCases, func(bc bodyCase) bool { return bc.name == "aiRequest/"+job }) {
			t.Errorf("no body case for the AI route %s", job)
		}
	}
}

// FuzzCursor decodes any string as each of the three cursor kinds.
// Properties, for each kind that accepts it: encoding the decoded cursor
// gives a canonical string that decodes to the same cursor and is its own
// canonical form (encode(decode(x)) is a fixed point, and
// decode(encode(c)) == c).
func FuzzCursor(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		if c, ok := decodeCursor(s); ok {
			canon := c.encode()
			back, ok := decodeCursor(canon)
			if !ok || !back.At.Equal(c.At) || back.ID != c.ID {
				t.Fatalf("keyset cursor %q decodes to %v, whose encoding %q decodes to %v, %v", s, c, canon, back, ok)
			}
			if again := back.encode(); again != canon {
				t.Fatalf("keyset cursor %q: canonical form %q is not stable (%q)", s, canon, again)
			}
		}
		if c, ok := decodeRankCursor(s); ok {
			canon := c.encode()
			back, ok := decodeRankCursor(canon)
			if !ok || back != c || back.encode() != canon {
				t.Fatalf("rank cursor %q decodes to %v, whose encoding %q decodes to %v, %v", s, c, canon, back, ok)
			}
		}
		if c, ok := decodeReviewCursor(s); ok {
			canon := c.encode()
			back, ok := decodeReviewCursor(canon)
			if !ok || !sameReviewCursor(back, c) || back.encode() != canon {
				t.Fatalf("review cursor %q decodes to %v, whose encoding %q decodes to %v, %v", s, c, canon, back, ok)
			}
		}
		if c, ok := decodeTrendCursor(s); ok {
			if c.Offset < 0 || c.Snapshot == "" {
				t.Fatalf("trend cursor %q decodes to %v", s, c)
			}
			canon := c.encode()
			back, ok := decodeTrendCursor(canon)
			if !ok || back != c || back.encode() != canon {
				t.Fatalf("trend cursor %q decodes to %v, whose encoding %q decodes to %v, %v", s, c, canon, back, ok)
			}
		}
	})
}

// FuzzCursorEncode builds cursors from fuzzed fields. Property:
// decode(encode(c)) == c, for every cursor the api can make: keyset times
// in years 0–9999 (RFC 3339 has four-digit years; created_at values are
// far inside), any rank, any snapshot name without "|" (the names the
// ranking workers make: trending.<n>, foryou.<n>) and any offset ≥ 0.
func FuzzCursorEncode(f *testing.F) {
	f.Fuzz(func(t *testing.T, sec, nsec int64, idBytes []byte, rank int64, snap string, offset int) {
		var id uuid.UUID
		copy(id[:], idBytes)
		at := time.Unix(sec, nsec)
		if y := at.UTC().Year(); y >= 0 && y <= 9999 {
			c := cursor{At: at, ID: id}
			back, ok := decodeCursor(c.encode())
			if !ok || !back.At.Equal(at) || back.ID != id {
				t.Fatalf("keyset cursor %v → %q → %v, %v", c, c.encode(), back, ok)
			}
		}
		rc := rankCursor{Rank: rank, ID: id}
		if back, ok := decodeRankCursor(rc.encode()); !ok || back != rc {
			t.Fatalf("rank cursor %v → %q → %v, %v", rc, rc.encode(), back, ok)
		}
		if y := at.UTC().Year(); y >= 1 && y <= 9999 {
			rv := reviewCursor{AsOf: at, Open: rank, FirstAt: at.Add(-time.Second), Target: id, At: at, ID: id}
			if back, ok := decodeReviewCursor(rv.encode()); !ok || !sameReviewCursor(back, rv) {
				t.Fatalf("review cursor %v → %q → %v, %v", rv, rv.encode(), back, ok)
			}
		}
		if snap != "" && !strings.Contains(snap, "|") && offset >= 0 {
			tc := trendCursor{Snapshot: snap, Offset: offset}
			if back, ok := decodeTrendCursor(tc.encode()); !ok || back != tc {
				t.Fatalf("trend cursor %v → %q → %v, %v", tc, tc.encode(), back, ok)
			}
		}
	})
}

// queryContext is a request to "/x?<rawQuery>" with one path parameter id.
func queryContext(rawQuery, pathID string) *gin.Context {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/x", RawQuery: rawQuery}, Header: http.Header{}}
	c.Params = gin.Params{{Key: "id", Value: pathID}}
	return c
}

// FuzzQueryParams runs every query and path parser over any query string
// and path parameter. Properties: a refusal is a 422 naming query (or path)
// fields; what is accepted is inside the documented ranges; and the
// accepted values, written back into a canonical query, parse to the same
// values (so the parsers refuse nothing they produce).
func FuzzQueryParams(f *testing.F) {
	gin.SetMode(gin.TestMode)
	f.Fuzz(func(t *testing.T, rawQuery, pathID string) {
		c := queryContext(rawQuery, pathID)
		q := c.Request.URL.Query()

		// parsePage: page_size 1–50 (default 20) and a keyset cursor.
		if p, err := parsePage(c); err != nil {
			requireValidationError(t, err, "query")
		} else {
			if p.Size < 1 || p.Size > maxPageSize {
				t.Fatalf("parsePage(%q) size %d", rawQuery, p.Size)
			}
			canon := url.Values{"page_size": {strconv.Itoa(p.Size)}}
			if p.Cursor != nil {
				canon.Set("cursor", p.Cursor.encode())
			}
			p2, err := parsePage(queryContext(canon.Encode(), ""))
			if err != nil || p2.Size != p.Size || (p.Cursor == nil) != (p2.Cursor == nil) ||
				p.Cursor != nil && (!p.Cursor.At.Equal(p2.Cursor.At) || p.Cursor.ID != p2.Cursor.ID) {
				t.Fatalf("parsePage(%q) = %+v, but its canonical query %q gives %+v, %v", rawQuery, p, canon.Encode(), p2, err)
			}
		}

		// offsetPage: page 1–100000 (default 1), page_size 1–100 (default 20).
		if page, size, err := offsetPage(c); err != nil {
			requireValidationError(t, err, "query")
		} else {
			if page < 1 || page > offsetMaxPage || size < 1 || size > offsetMaxPageSize {
				t.Fatalf("offsetPage(%q) = %d, %d", rawQuery, page, size)
			}
			canon := url.Values{"page": {strconv.Itoa(page)}, "page_size": {strconv.Itoa(size)}}.Encode()
			if p2, s2, err := offsetPage(queryContext(canon, "")); err != nil || p2 != page || s2 != size {
				t.Fatalf("offsetPage(%q) = %d, %d, but %q gives %d, %d, %v", rawQuery, page, size, canon, p2, s2, err)
			}
		}

		// limitParam: 1–100, the default when absent.
		if n, err := limitParam(c, 20); err != nil {
			requireValidationError(t, err, "query")
		} else if n < 1 || n > 100 || (q.Get("limit") == "" && n != 20) {
			t.Fatalf("limitParam(%q) = %d", rawQuery, n)
		}

		// parseSeconds: a finite number.
		if secs, set, err := parseSeconds(c, "start_time", false); err != nil {
			requireValidationError(t, err, "query")
		} else if math.IsNaN(secs) || math.IsInf(secs, 0) || set != (q.Get("start_time") != "") {
			t.Fatalf("parseSeconds(%q) = %v, %v", rawQuery, secs, set)
		} else if set {
			canon := url.Values{"start_time": {strconv.FormatFloat(secs, 'g', -1, 64)}}.Encode()
			if s2, _, err := parseSeconds(queryContext(canon, ""), "start_time", true); err != nil || s2 != secs {
				t.Fatalf("parseSeconds(%q) = %v, but %q gives %v, %v", rawQuery, secs, canon, s2, err)
			}
		}

		// enumParam: nil when absent, else accepted only when allowed.
		var errs []lokiz.FieldError
		status := enumParam(c, "status", adminUserStatuses, &errs)
		switch {
		case status == nil && q.Get("status") != "":
			t.Fatalf("enumParam(%q) lost the value", rawQuery)
		case status != nil && len(errs) == 0 && !slices.Contains(adminUserStatuses, *status):
			t.Fatalf("enumParam(%q) accepted %q", rawQuery, *status)
		case status != nil && len(errs) > 0 && slices.Contains(adminUserStatuses, *status):
			t.Fatalf("enumParam(%q) refused %q", rawQuery, *status)
		}

		// auditFilter: ids, known words, and a time range with to after from.
		if params, errs := auditFilter(c); len(errs) > 0 {
			requireValidationError(t, lokiz.ValidationError(errs...), "query")
		} else {
			if params.FromAt != nil && params.ToAt != nil && !params.ToAt.After(*params.FromAt) {
				t.Fatalf("auditFilter(%q) accepted from %v, to %v", rawQuery, params.FromAt, params.ToAt)
			}
			if params.Action != nil && !slices.Contains(db.AuditActions, *params.Action) ||
				params.TargetType != nil && !slices.Contains(db.AuditTargetTypes, *params.TargetType) {
				t.Fatalf("auditFilter(%q) accepted an unknown word: %+v", rawQuery, params)
			}
			canon := url.Values{}
			for name, tm := range map[string]*time.Time{"from": params.FromAt, "to": params.ToAt} {
				if tm != nil {
					canon.Set(name, tm.Format(time.RFC3339Nano))
				}
			}
			for name, id := range map[string]*uuid.UUID{"admin_id": params.AdminID, "target_id": params.TargetID} {
				if id != nil {
					canon.Set(name, id.String())
				}
			}
			for name, w := range map[string]*string{"action": params.Action, "target_type": params.TargetType} {
				if w != nil {
					canon.Set(name, *w)
				}
			}
			p2, errs := auditFilter(queryContext(canon.Encode(), ""))
			if len(errs) > 0 || !sameTime(params.FromAt, p2.FromAt) || !sameTime(params.ToAt, p2.ToAt) ||
				!reflect.DeepEqual(params.AdminID, p2.AdminID) || !reflect.DeepEqual(params.TargetID, p2.TargetID) ||
				!reflect.DeepEqual(params.Action, p2.Action) || !reflect.DeepEqual(params.TargetType, p2.TargetType) {
				t.Fatalf("auditFilter(%q) = %+v, but %q gives %+v, %v", rawQuery, params, canon.Encode(), p2, errs)
			}
		}

		// parseSnapshotPage: ok means a trending cursor (or none) and a size.
		if size, cur, ok, err := parseSnapshotPage(c, 0); err != nil {
			requireValidationError(t, err, "query")
		} else if ok && (size < 1 || size > maxPageSize || cur.Offset < 0) {
			t.Fatalf("parseSnapshotPage(%q) = %d, %+v", rawQuery, size, cur)
		}

		// searchQuery: 1–100 characters of valid UTF-8 after trimming.
		if sq, err := searchQuery(c); err != nil {
			requireValidationError(t, err, "query")
		} else if sq == "" || sq != strings.TrimSpace(sq) || !utf8.ValidString(sq) || utf8.RuneCountInString(sq) > maxQueryRunes {
			t.Fatalf("searchQuery(%q) = %q", rawQuery, sq)
		}

		// feedAlgorithm: a known algorithm; following only for a caller
		// (there is none here: 401).
		if alg, err := feedAlgorithm(c, "latest", false); err != nil {
			var le *lokiz.Error
			if errors.As(err, &le) && le.Code == lokiz.EUNAUTHORIZED {
				if q.Get("algorithm") != "following" {
					t.Fatalf("feedAlgorithm(%q): 401 for %q", rawQuery, q.Get("algorithm"))
				}
			} else {
				requireValidationError(t, err, "query")
			}
		} else if !feedAlgorithms[alg] || alg == "following" {
			t.Fatalf("feedAlgorithm(%q) = %q without a caller", rawQuery, alg)
		}

		// pathUUID: a canonical id, stable when sent back.
		if id, err := pathUUID(c, "id"); err != nil {
			requireValidationError(t, err, "path")
		} else if id2, err := pathUUID(queryContext("", id.String()), "id"); err != nil || id2 != id {
			t.Fatalf("pathUUID(%q) = %v, but its canonical form gives %v, %v", pathID, id, id2, err)
		}
	})
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// FuzzJSONBProblem checks the scan that keeps from a draft's state what
// Postgres' jsonb refuses. Property: on valid JSON, it reports a problem
// exactly when the text holds the escape \u0000 or a \u escape of an
// unpaired surrogate half, as found by a second, independent reading (the
// standard decoder's token stream cannot see escapes, so this one walks
// every string token itself).
func FuzzJSONBProblem(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			_ = jsonbProblem(raw) // must not panic on anything
			return
		}
		got := jsonbProblem(raw) != ""
		want := hasBadEscape(raw)
		if got != want {
			t.Fatalf("jsonbProblem(%q) reports %v, want %v", raw, got, want)
		}
	})
}

// hasBadEscape walks the string tokens of valid JSON and reports a \u0000
// or a lone surrogate escape.
func hasBadEscape(raw []byte) bool {
	for i := 0; i < len(raw); i++ {
		if raw[i] != '"' {
			continue
		}
		// A string token: read its escapes until the closing quote.
		var units []rune
		for i++; raw[i] != '"'; i++ {
			if raw[i] != '\\' {
				units = append(units, -1) // any non-escape breaks a pair
				continue
			}
			i++
			if raw[i] != 'u' {
				units = append(units, -1)
				continue
			}
			n, _ := strconv.ParseUint(string(raw[i+1:i+5]), 16, 32)
			units = append(units, rune(n))
			i += 4
		}
		for j := 0; j < len(units); j++ {
			u := units[j]
			switch {
			case u == 0:
				return true
			case u >= 0xd800 && u <= 0xdbff:
				if j+1 >= len(units) || units[j+1] < 0xdc00 || units[j+1] > 0xdfff {
					return true
				}
				j++
			case u >= 0xdc00 && u <= 0xdfff:
				return true
			}
		}
	}
	return false
}

// FuzzCleanBody runs the text rule over a body of strings in each kind of
// field (tags line, multiline, name, raw, a password by name, a map, a
// slice, an Optional and a raw JSON message). Properties: a refusal names a
// body field; what passes is a fixed point of lokiz.CleanText in its
// field's kind; raw fields are left byte for byte; map keys and values are
// one line.
func FuzzCleanBody(f *testing.F) {
	type body struct {
		Line     string            `json:"line"`
		Multi    *string           `json:"multi" text:"multiline"`
		Name     Optional[string]  `json:"name" text:"name"`
		Raw      string            `json:"raw" text:"raw"`
		Password string            `json:"password"`
		NewPass  string            `json:"new_password"`
		Tags     []string          `json:"tags"`
		Meta     map[string]string `json:"meta"`
		Any      any               `json:"any"`
		State    json.RawMessage   `json:"state"`
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var b body
		if json.Unmarshal(raw, &b) != nil {
			return
		}
		orig := b
		if fields := cleanBody(&b); len(fields) > 0 {
			requireValidationError(t, lokiz.ValidationError(fields...), "body")
			return
		}
		fixed := func(s string, kind lokiz.TextKind, what string) {
			if clean, problem := lokiz.CleanText(s, kind); problem != "" || clean != s {
				t.Fatalf("%s %q passed the text rule but is not clean (%q, %q)", what, s, clean, problem)
			}
		}
		fixed(b.Line, lokiz.TextLine, "line")
		if b.Multi != nil {
			fixed(*b.Multi, lokiz.TextMultiline, "multi")
		}
		fixed(b.Name.Value, lokiz.TextName, "name")
		for _, s := range b.Tags {
			fixed(s, lokiz.TextLine, "tag")
		}
		for k, v := range b.Meta {
			fixed(k, lokiz.TextLine, "map key")
			fixed(v, lokiz.TextLine, "map value")
		}
		if s, ok := b.Any.(string); ok {
			fixed(s, lokiz.TextLine, "any")
		}
		if b.Raw != orig.Raw || b.Password != orig.Password || b.NewPass != orig.NewPass || !bytes.Equal(b.State, orig.State) {
			t.Fatalf("raw fields changed: %+v → %+v", orig, b)
		}
		if len(b.State) > 0 && jsonbProblem(b.State) != "" {
			t.Fatalf("state %q passed with a jsonb problem", b.State)
		}
	})
}

// boundTypes lists the type of every variable passed as bindJSON(c, &x) in
// the package's non-test files.
func boundTypes(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			types := map[string]string{}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.ValueSpec:
					for _, id := range n.Names {
						types[id.Name] = exprString(n.Type)
					}
				case *ast.CallExpr:
					if id, ok := n.Fun.(*ast.Ident); !ok || id.Name != "bindJSON" || len(n.Args) != 2 {
						return true
					}
					var arg *ast.Ident
					if u, ok := n.Args[1].(*ast.UnaryExpr); ok && u.Op == token.AND {
						arg, _ = u.X.(*ast.Ident)
					}
					if arg == nil {
						t.Errorf("%s: bindJSON(c, %s): FuzzRequestBody can only check &variable", name, exprString(n.Args[1]))
						return true
					}
					out = append(out, types[arg.Name])
				}
				return true
			})
		}
	}
	return out
}

func exprString(e ast.Expr) string {
	switch e := e.(type) {
	case nil:
		return "<none>"
	case *ast.Ident:
		return e.Name
	}
	return fmt.Sprintf("%T", e)
}

// sameReviewCursor compares two review-queue cursors, times by instant.
func sameReviewCursor(a, b reviewCursor) bool {
	return a.AsOf.Equal(b.AsOf) && a.Open == b.Open && a.FirstAt.Equal(b.FirstAt) && a.Target == b.Target &&
		a.At.Equal(b.At) && a.ID == b.ID
}
