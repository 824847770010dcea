package api

// Fuzz targets for what the api reads from a request before any database
// call: JSON bodies (bindJSON and each request type's validate), the
// cursors, and the query and path parameter parsers. Their seed corpora are
// in testdata/fuzz/<Target>/; `go test` replays them, `make fuzz` explores
// (docs/reliability.md, "Fuzzing").

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"log/slog"
	"maps"
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

		checkHandlerParams(t, c, rawQuery)
	})
}

// checkHandlerParams is FuzzQueryParams' part for the parsers of one
// handler's parameters (params.go). Each refusal is a 422 naming exactly
// its parameters; each accepted value is in its documented range or set
// (or the default when absent) and, written back canonically, parses to
// the same value.
func checkHandlerParams(t *testing.T, c *gin.Context, rawQuery string) {
	t.Helper()
	q := c.Request.URL.Query()
	canonical := func(name, v string) *gin.Context {
		return queryContext(url.Values{name: {v}}.Encode(), "")
	}

	// Whole numbers: count (prefetch) and depth (glitch tree), 1–10.
	for _, w := range []struct {
		name      string
		parse     func(*gin.Context) (int, error)
		most, def int
	}{{"count", prefetchCount, maxPrefetchCount, defaultPrefetchCount}, {"depth", treeDepth, maxTreeDepth, defaultTreeDepth}} {
		n, err := w.parse(c)
		if err != nil {
			requireParamError(t, err, w.name)
			continue
		}
		if n < 1 || n > w.most || (q.Get(w.name) == "" && n != w.def) {
			t.Fatalf("%s of %q = %d", w.name, rawQuery, n)
		}
		if n2, err := w.parse(canonical(w.name, strconv.Itoa(n))); err != nil || n2 != n {
			t.Fatalf("%s of %q = %d, but %d gives %d, %v", w.name, rawQuery, n, n, n2, err)
		}
	}

	// sort: latest (absent) or popular.
	if sort, err := glitchSort(c); err != nil {
		requireParamError(t, err, "sort")
	} else if !slices.Contains(glitchSorts, sort) || (!q.Has("sort") && sort != "latest") {
		t.Fatalf("glitchSort(%q) = %q", rawQuery, sort)
	} else if s2, err := glitchSort(canonical("sort", sort)); err != nil || s2 != sort {
		t.Fatalf("glitchSort(%q) = %q, but sent back gives %q, %v", rawQuery, sort, s2, err)
	}

	// Words: nil when absent, else one of the list.
	word := func(name string, got *string, allowed []string) {
		t.Helper()
		switch {
		case got == nil && q.Get(name) != "":
			t.Fatalf("%s of %q lost %q", name, rawQuery, q.Get(name))
		case got != nil && (*got != q.Get(name) || !slices.Contains(allowed, *got)):
			t.Fatalf("%s of %q accepted %q", name, rawQuery, *got)
		}
	}
	if jobType, status, err := aiJobFilter(c); err != nil {
		requireParamError(t, err, "job_type", "status")
	} else {
		word("job_type", jobType, lokiz.JobTypes)
		word("status", status, lokiz.JobStatuses)
		canon := url.Values{}
		if jobType != nil {
			canon.Set("job_type", *jobType)
		}
		if status != nil {
			canon.Set("status", *status)
		}
		j2, s2, err := aiJobFilter(queryContext(canon.Encode(), ""))
		if err != nil || !reflect.DeepEqual(j2, jobType) || !reflect.DeepEqual(s2, status) {
			t.Fatalf("aiJobFilter(%q) = %v, %v, but %q gives %v, %v, %v", rawQuery, jobType, status, canon.Encode(), j2, s2, err)
		}
	}
	for _, w := range []struct {
		name    string
		parse   func(*gin.Context) (*string, error)
		allowed []string
	}{{"transaction_type", creditTypeParam, lokiz.CreditTypes}, {"status", videoStatusParam, lokiz.VideoStatuses}} {
		v, err := w.parse(c)
		if err != nil {
			requireParamError(t, err, w.name)
			continue
		}
		word(w.name, v, w.allowed)
		if v != nil {
			if v2, err := w.parse(canonical(w.name, *v)); err != nil || v2 == nil || *v2 != *v {
				t.Fatalf("%s of %q = %q, but sent back gives %v, %v", w.name, rawQuery, *v, v2, err)
			}
		}
	}

	// owner_id: a UUID, canonical when sent back.
	var errs []lokiz.FieldError
	if owner := uuidParam(c, "owner_id", &errs); len(errs) > 0 {
		requireParamError(t, lokiz.ValidationError(errs...), "owner_id")
	} else if (owner == nil) != (q.Get("owner_id") == "") {
		t.Fatalf("uuidParam(%q) = %v", rawQuery, owner)
	} else if owner != nil {
		var e2 []lokiz.FieldError
		if o2 := uuidParam(canonical("owner_id", owner.String()), "owner_id", &e2); len(e2) > 0 || *o2 != *owner {
			t.Fatalf("uuidParam(%q) = %v, but sent back gives %v, %v", rawQuery, owner, o2, e2)
		}
	}

	// q of the admin lists: a LIKE pattern matching exactly the trimmed
	// (for users, lower-cased) text, within its length.
	for _, w := range []struct {
		parse func(*gin.Context, *[]lokiz.FieldError) *string
		text  func(string) string
		fits  func(string) bool
	}{
		{adminUserQuery, func(s string) string { return strings.ToLower(strings.TrimSpace(s)) },
			func(s string) bool { return len(s) <= maxAdminUserQueryBytes }},
		{adminVideoQuery, strings.TrimSpace,
			func(s string) bool { return utf8.RuneCountInString(s) <= maxAdminVideoQueryRunes }},
	} {
		var errs []lokiz.FieldError
		pat := w.parse(c, &errs)
		text := w.text(q.Get("q"))
		if len(errs) > 0 {
			requireParamError(t, lokiz.ValidationError(errs...), "q")
			if w.fits(text) {
				t.Fatalf("q %q refused within its length", text)
			}
			continue
		}
		if (pat == nil) != (text == "") || !w.fits(text) {
			t.Fatalf("q of %q = %v", rawQuery, pat)
		}
		if pat != nil {
			if lit, ok := likeLiteral(*pat); !ok || lit != text {
				t.Fatalf("q %q gives the pattern %q, which matches %q, %v", text, *pat, lit, ok)
			}
		}
	}

	// since: a seq ≥ 0 or a notification id, each stable when sent back.
	if seq, id, set, err := socketSinceParam(c); err != nil {
		requireParamError(t, err, "since")
	} else if set != (strings.TrimSpace(q.Get("since")) != "") || seq < 0 || (id != nil && seq != 0) {
		t.Fatalf("socketSinceParam(%q) = %d, %v, %v", rawQuery, seq, id, set)
	} else if set {
		back := strconv.FormatInt(seq, 10)
		if id != nil {
			back = id.String()
		}
		seq2, id2, set2, err := socketSinceParam(canonical("since", back))
		if err != nil || !set2 || seq2 != seq || !reflect.DeepEqual(id2, id) {
			t.Fatalf("socketSinceParam(%q) = %d, %v, but %q gives %d, %v, %v", rawQuery, seq, id, back, seq2, id2, err)
		}
	}

	// token: the query's, trimmed.
	if tok := socketQueryToken(c); tok != strings.TrimSpace(q.Get("token")) {
		t.Fatalf("socketQueryToken(%q) = %q", rawQuery, tok)
	}

	// job: a UUID or nothing (the webhook ignores the rest), stable.
	if id, ok := webhookJobParam(c); ok {
		if id2, ok2 := webhookJobParam(canonical("job", id.String())); !ok2 || id2 != id {
			t.Fatalf("webhookJobParam(%q) = %v, but sent back gives %v", rawQuery, id, id2)
		}
	}
}

// requireParamError checks that err is a 422 whose fields are all query
// parameters among names.
func requireParamError(t *testing.T, err error, names ...string) {
	t.Helper()
	requireValidationError(t, err, "query")
	var le *lokiz.Error
	errors.As(err, &le)
	for _, fe := range le.Fields {
		if len(fe.Loc) != 2 || !slices.Contains(names, fmt.Sprint(fe.Loc[1])) {
			t.Fatalf("field error %#v names none of %q", fe, names)
		}
	}
}

// likeLiteral reads a LIKE pattern made by likePattern back into the text
// it matches; ok is false when it holds a bare wildcard or a dangling
// escape.
func likeLiteral(pat string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(pat); i++ {
		switch pat[i] {
		case '%', '_':
			return "", false
		case '\\':
			if i+1 == len(pat) || !strings.ContainsRune(`\%_`, rune(pat[i+1])) {
				return "", false
			}
			i++
		}
		b.WriteByte(pat[i])
	}
	return b.String(), true
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

// FuzzCleanParams sends a request with any path parameter and query
// string, read off the wire as the server reads it, through a gin engine
// with the cleanParams middleware in front of a handler that records what
// it is given. Properties:
//   - the request is refused exactly when some path or query value is
//     refused by lokiz.CleanText (one line), and the refusal is a 422 in the
//     contract's shape (detail, code validation_error, the request id) whose
//     fields name those parameters under path or query with CleanText's
//     message; nothing else (no 500) is answered;
//   - what the handler is given is, value for value, CleanText's output for
//     what was sent (the same keys, the same number of values), so every
//     value it reads is a fixed point of the rule.
func FuzzCleanParams(f *testing.F) {
	gin.SetMode(gin.TestMode)
	s := &Server{log: slog.New(slog.DiscardHandler)}
	type seen struct {
		path  string
		query url.Values
	}
	var got *seen
	r := gin.New()
	r.Use(withRequestID)
	r.GET("/v1/x/:id", s.cleanParams, func(c *gin.Context) {
		got = &seen{path: c.Param("id"), query: c.Request.URL.Query()}
		c.Status(http.StatusOK)
	})
	f.Fuzz(func(t *testing.T, pathValue, rawQuery string) {
		if pathValue == "" || strings.Contains(pathValue, "/") {
			pathValue = "p" + strings.ReplaceAll(pathValue, "/", "_") // one path segment, so the route matches
		}
		target := "/v1/x/" + url.PathEscape(pathValue)
		if rawQuery != "" {
			target += "?" + rawQuery
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + target + " HTTP/1.1\r\nHost: api.test\r\n\r\n")))
		if err != nil {
			return // the server answers 400 before any handler
		}
		sentPath := req.URL.Path[len("/v1/x/"):]
		sentQuery := req.URL.Query()
		var refused []lokiz.FieldError
		if _, problem := lokiz.CleanText(sentPath, lokiz.TextLine); problem != "" {
			refused = append(refused, lokiz.FieldError{Loc: []any{"path", "id"}, Msg: problem})
		}
		for _, key := range slices.Sorted(maps.Keys(sentQuery)) {
			for _, v := range sentQuery[key] {
				if _, problem := lokiz.CleanText(v, lokiz.TextLine); problem != "" {
					refused = append(refused, lokiz.FieldError{Loc: []any{"query", key}, Msg: problem})
				}
			}
		}

		got = nil
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK:
			if len(refused) > 0 || got == nil {
				t.Fatalf("%q passed although %+v", target, refused)
			}
			want, _ := lokiz.CleanText(sentPath, lokiz.TextLine)
			if got.path != want {
				t.Fatalf("%q: the handler got the path value %q, want %q", target, got.path, want)
			}
			if len(got.query) != len(sentQuery) {
				t.Fatalf("%q: the handler got the query %v, sent %v", target, got.query, sentQuery)
			}
			for key, values := range sentQuery {
				if len(got.query[key]) != len(values) {
					t.Fatalf("%q: the handler got %q = %q, sent %q", target, key, got.query[key], values)
				}
				for i, v := range values {
					want, _ := lokiz.CleanText(v, lokiz.TextLine)
					if g := got.query[key][i]; g != want {
						t.Fatalf("%q: the handler got %q = %q, want %q", target, key, g, want)
					}
				}
			}
		case http.StatusUnprocessableEntity:
			if got != nil || len(refused) == 0 {
				t.Fatalf("%q refused, handler reached %v, CleanText refuses %+v", target, got != nil, refused)
			}
			var body struct {
				Detail    string             `json:"detail"`
				Code      string             `json:"code"`
				Errors    []lokiz.FieldError `json:"errors"`
				RequestID string             `json:"request_id"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Detail == "" ||
				body.Code != lokiz.EVALIDATION || body.RequestID == "" || body.RequestID != w.Header().Get("X-Request-ID") {
				t.Fatalf("%q: refusal %s is not in the contract's shape (%v)", target, w.Body.Bytes(), err)
			}
			// The names go through JSON as the client reads them: a key
			// that is not UTF-8 arrives with U+FFFD in place of its bad
			// bytes, so the expectation takes the same trip.
			var wantRead []lokiz.FieldError
			wantJSON, _ := json.Marshal(refused)
			if err := json.Unmarshal(wantJSON, &wantRead); err != nil {
				t.Fatal(err)
			}
			wantJSON, _ = json.Marshal(wantRead)
			gotJSON, _ := json.Marshal(body.Errors)
			if !bytes.Equal(wantJSON, gotJSON) {
				t.Fatalf("%q: refusal names %s, want %s", target, gotJSON, wantJSON)
			}
		default:
			t.Fatalf("%q: status %d: %s", target, w.Code, w.Body.Bytes())
		}
	})
}
