package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
)

// requireNoErrorLogs fails when the api logged at ERROR level: bad input is
// the client's problem, never an operator's.
func (e *testEnv) requireNoErrorLogs(t *testing.T) {
	t.Helper()
	for _, rec := range e.logs.Lines(t, "") {
		require.NotEqual(t, "ERROR", rec["level"], "bad input must not log an error: %v", rec)
	}
}

// requireTextRefused checks a 422 whose errors name loc.
func requireTextRefused(t *testing.T, res response, loc ...any) {
	t.Helper()
	require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Raw)
	require.Equal(t, "validation_error", errorCode(res))
	errs, _ := res.Body["errors"].([]any)
	require.NotEmpty(t, errs, "%s", res.Raw)
	require.Equal(t, loc, errs[0].(map[string]any)["loc"], "%s", res.Raw)
}

// TestNULIsRefused sends a NUL byte through every kind of input that once
// carried it to Postgres (a 500 and an ERROR line per request).
func TestNULIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ownerToken, owner := e.register("nul_owner")
	token, _ := e.register("nul_user")
	video := e.video(owner, dbtest.VideoOpts{})
	cm := e.do(req{method: "POST", path: "/v1/comments/videos/" + video, token: token, body: map[string]any{"content": "fine"}})
	require.Equal(t, http.StatusCreated, cm.Status, "%s", cm.Raw)
	commentID := cm.Body["id"].(string)

	cases := []struct {
		name string
		req  req
		loc  []any
	}{
		{"Comment", req{method: "POST", path: "/v1/comments/videos/" + video, token: token, body: map[string]any{"content": "a\x00b"}}, []any{"body", "content"}},
		{"CommentEdit", req{method: "PATCH", path: "/v1/comments/" + commentID, token: token, body: map[string]any{"content": "a\x00b"}}, []any{"body", "content"}},
		{"ReportReason", req{method: "POST", path: "/v1/videos/" + video + "/report", token: token, body: map[string]any{"report_type": "spam", "reason": "a\x00b"}}, []any{"body", "reason"}},
		{"ModerationReportReason", req{method: "POST", path: "/v1/moderation/report", token: token, body: map[string]any{"reported_user_id": owner, "report_type": "spam", "reason": "a\x00b"}}, []any{"body", "reason"}},
		{"SearchQuery", req{method: "GET", path: "/v1/search?q=a%00b", token: token}, []any{"query", "q"}},
		{"SearchUsersQuery", req{method: "GET", path: "/v1/search/users?q=a%00b"}, []any{"query", "q"}},
		{"SearchVideosQuery", req{method: "GET", path: "/v1/search/videos?q=a%00b"}, []any{"query", "q"}},
		{"Autocomplete", req{method: "GET", path: "/v1/search/autocomplete?q=a%00b"}, []any{"query", "q"}},
		{"SearchHistoryEntry", req{method: "POST", path: "/v1/search/history", token: token, body: map[string]any{"query": "a\x00b"}}, []any{"body", "query"}},
		{"HashtagPath", req{method: "GET", path: "/v1/hashtags/a%00b/videos"}, []any{"path", "hashtag_name"}},
		{"HashtagBatchBody", req{method: "POST", path: "/v1/hashtags/batch-stats", body: map[string]any{"hashtag_names": []string{"ok", "a\x00b"}}}, []any{"body", "hashtag_names", float64(1)}},
		{"VideoCaption", req{method: "PATCH", path: "/v1/videos/" + video, token: ownerToken, body: map[string]any{"caption": "a\x00b"}}, []any{"body", "caption"}},
		{"VideoTitle", req{method: "PATCH", path: "/v1/videos/" + video, token: ownerToken, body: map[string]any{"title": "a\x00b"}}, []any{"body", "title"}},
		{"DraftTitle", req{method: "POST", path: "/v1/videos/draft", token: token, body: map[string]any{"title": "a\x00b"}}, []any{"body", "title"}},
		{"DraftState", req{method: "POST", path: "/v1/videos/draft", token: token, body: `{"title": "t", "state": {"layers": [{"text": "a\u0000b"}]}}`}, []any{"body", "state"}},
		{"DraftStateLoneSurrogate", req{method: "POST", path: "/v1/videos/draft", token: token, body: `{"title": "t", "state": {"text": "a\ud800b"}}`}, []any{"body", "state"}},
		{"Bio", req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"bio": "a\x00b"}}, []any{"body", "bio"}},
		{"QueryOfAnyRoute", req{method: "GET", path: "/v1/notifications/unread-count?x=a%00b", token: token}, []any{"query", "x"}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			requireTextRefused(t, e.do(tt.req), tt.loc...)
		})
	}
	e.requireNoErrorLogs(t)

	// Nothing was stored.
	var n int
	require.NoError(t, e.store.Pool().QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM comments WHERE content <> 'fine') + (SELECT count(*) FROM reports) +
		        (SELECT count(*) FROM search_history) + (SELECT count(*) FROM drafts)`).Scan(&n))
	require.Zero(t, n)

	// The draft state is otherwise kept as sent: an escaped backslash
	// before "u0000" is text, a surrogate pair is one emoji, controls are
	// the client's business.
	state := `{"text":"a\\u0000b \ud83d\ude00","tab":"\t\u001b"}`
	res := e.do(req{method: "POST", path: "/v1/videos/draft", token: token, body: `{"title": "t", "state": ` + state + `}`})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	require.Equal(t, map[string]any{"text": "a\\u0000b \U0001f600", "tab": "\t\x1b"}, res.Body["state"])
}

// TestControlAndBidiAreRefused covers the rest of the rule: controls other
// than newline and tab, bidi overrides anywhere, newlines in one-line
// fields, and invisible characters in names.
func TestControlAndBidiAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, owner := e.register("bidi_owner")
	token, _ := e.register("bidi_user")
	video := e.video(owner, dbtest.VideoOpts{})

	cases := []struct {
		name string
		req  req
		loc  []any
	}{
		{"CommentEscape", req{method: "POST", path: "/v1/comments/videos/" + video, token: token, body: map[string]any{"content": "red \x1b[31m"}}, []any{"body", "content"}},
		{"CommentC1", req{method: "POST", path: "/v1/comments/videos/" + video, token: token, body: map[string]any{"content": "a\u0085b"}}, []any{"body", "content"}},
		{"CommentRLO", req{method: "POST", path: "/v1/comments/videos/" + video, token: token, body: map[string]any{"content": "see gnp.\u202eexe"}}, []any{"body", "content"}},
		{"ReasonIsolate", req{method: "POST", path: "/v1/videos/" + video + "/report", token: token, body: map[string]any{"report_type": "spam", "reason": "a\u2066b"}}, []any{"body", "reason"}},
		{"SearchRLO", req{method: "GET", path: "/v1/search/users?q=%E2%80%AEab"}, []any{"query", "q"}},
		{"SearchNewline", req{method: "GET", path: "/v1/search/users?q=a%0Ab"}, []any{"query", "q"}},
		{"RegisterUsernameRLO", req{method: "POST", path: "/v1/auth/register", body: map[string]any{"username": "adm\u202eni", "email": "rlo@example.com", "password": "password-rlo"}}, []any{"body", "username"}},
		{"RegisterUsernameZWSP", req{method: "POST", path: "/v1/auth/register", body: map[string]any{"username": "ad\u200bmin", "email": "zw@example.com", "password": "password-zw"}}, []any{"body", "username"}},
		{"DisplayNameRLO", req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"display_name": "Bob\u202e"}}, []any{"body", "display_name"}},
		{"DisplayNameZWSP", req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"display_name": "ad\u200bmin"}}, []any{"body", "display_name"}},
		{"DisplayNameHangulFiller", req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"display_name": "\u3164"}}, []any{"body", "display_name"}},
		{"BioRLO", req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"bio": "hi\u202e"}}, []any{"body", "bio"}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			res := e.do(tt.req)
			requireTextRefused(t, res, tt.loc...)
			require.Contains(t, errorDetail(res), tt.loc[len(tt.loc)-1], "the detail names the field")
		})
	}
	e.requireNoErrorLogs(t)

	// What the rule allows: line breaks in multi-line text, a zero-width
	// space in a comment, an emoji ZWJ sequence in a display name.
	res := e.do(req{method: "POST", path: "/v1/comments/videos/" + video, token: token, body: map[string]any{"content": "two\nlines\tand a zero\u200bwidth space"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	res = e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"display_name": "Bob \U0001f3f3\ufe0f\u200d\U0001f308", "bio": "line\r\nline"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, "Bob \U0001f3f3\ufe0f\u200d\U0001f308", res.Body["display_name"])
	require.Equal(t, "line\nline", res.Body["bio"])
}

// TestTextIsStoredNFC: a decomposed "é" (e + U+0301) is stored, answered
// and searched as the precomposed one, in bodies and in query parameters.
func TestTextIsStoredNFC(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, owner := e.register("nfc_owner")
	token, _ := e.register("nfc_user")
	video := e.video(owner, dbtest.VideoOpts{})

	res := e.do(req{method: "POST", path: "/v1/comments/videos/" + video, token: token, body: map[string]any{"content": "cafe\u0301"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	require.Equal(t, "caf\u00e9", res.Body["content"])
	var stored string
	require.NoError(t, e.store.Pool().QueryRow(context.Background(), `SELECT content FROM comments WHERE id = $1`, res.Body["id"]).Scan(&stored))
	require.Equal(t, "caf\u00e9", stored)

	res = e.do(req{method: "PATCH", path: "/v1/users/me", token: token, body: map[string]any{"display_name": "Jose\u0301"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, "Jos\u00e9", res.Body["display_name"])

	// The query parameter is normalised before the search and the history
	// see it: the precomposed display name is found by a decomposed query.
	res = e.do(req{method: "GET", path: "/v1/search/users?q=jose%CC%81", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Len(t, res.Body["users"], 1, "%s", res.Raw)
	res = e.do(req{method: "GET", path: "/v1/search/history", token: token})
	require.Equal(t, "jos\u00e9", res.Body["history"].([]any)[0].(map[string]any)["query"])
	e.requireNoErrorLogs(t)
}
