package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db/dbtest"
)

// suggestionsOf returns the "type:text" of each suggestion of an
// autocomplete answer.
func suggestionsOf(t *testing.T, res response) []string {
	t.Helper()
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	out := []string{}
	for _, s := range res.Body["suggestions"].([]any) {
		s := s.(map[string]any)
		out = append(out, s["type"].(string)+":"+s["text"].(string))
	}
	return out
}

func (e *testEnv) autocomplete(token, q string) response {
	e.t.Helper()
	return e.do(req{method: "GET", path: "/v1/search/autocomplete?q=" + url.QueryEscape(q), token: token})
}

// TestKeywordSuggestionsNeedMinSearchers: a query is suggested to others
// only once AUTOCOMPLETE_MIN_SEARCHERS (default 5) distinct users searched
// it; four are not enough, however often they search.
func TestKeywordSuggestionsNeedMinSearchers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	otherToken, _ := e.register("clinic_other")
	var searchers []string
	for i := range 5 {
		token, _ := e.register(fmt.Sprintf("clinic_%d", i))
		searchers = append(searchers, token)
	}
	search := func(token string) {
		t.Helper()
		res := e.do(req{method: "GET", path: "/v1/search/videos?q=" + url.QueryEscape("x clinic"), token: token})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	}
	for _, token := range searchers[:4] {
		search(token)
		search(token) // again: the same user counts once
	}
	// Moved to earlier days of the window, then searched again: still once.
	clinic0, err := e.store.UserGetByUsername(context.Background(), "clinic_0")
	require.NoError(t, err)
	dbtest.BackdateKeywordSearches(t, e.store, dbtest.KeywordSearchBackdate{User: clinic0.ID, Keyword: "x clinic", Days: 2})
	search(searchers[0])

	require.NotContains(t, suggestionsOf(t, e.autocomplete("", "x c")), "keyword:x clinic", "4 searchers: not suggested anonymously")
	require.NotContains(t, suggestionsOf(t, e.autocomplete(otherToken, "x c")), "keyword:x clinic", "nor to another user")

	search(searchers[4])
	// A new prefix: "x c" is cached for 30 s.
	res := e.autocomplete("", "x cl")
	require.Contains(t, suggestionsOf(t, res), "keyword:x clinic", "5 searchers: suggested")
	for _, s := range res.Body["suggestions"].([]any) {
		if s := s.(map[string]any); s["text"] == "x clinic" {
			require.Equal(t, float64(5), s["count"], "the count is the distinct searchers")
		}
	}
	require.Contains(t, suggestionsOf(t, e.autocomplete(otherToken, "x cl")), "keyword:x clinic", "to other users too")

	// One of them deletes it from their history: back to 4.
	res = e.do(req{method: "GET", path: "/v1/search/history", token: searchers[1]})
	id := res.Body["history"].([]any)[0].(map[string]any)["id"].(string)
	require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/search/history/" + id, token: searchers[1]}).Status)
	require.NotContains(t, suggestionsOf(t, e.autocomplete("", "x cli")), "keyword:x clinic", "a deleted search no longer counts")
}

// TestAutocompleteOwnHistoryIsPrivate: the caller's own recent searches are
// suggested to the caller alone, never through the shared cache.
func TestAutocompleteOwnHistoryIsPrivate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	aToken, _ := e.register("private_a")
	bToken, _ := e.register("private_b")
	res := e.do(req{method: "GET", path: "/v1/search?q=" + url.QueryEscape("X  Clinic"), token: aToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)

	res = e.autocomplete(aToken, "x cl")
	require.Equal(t, "miss", res.Header.Get("X-Cache"))
	require.Equal(t, []string{"history:X  Clinic"}, suggestionsOf(t, res), "the caller's own search, as typed")
	require.Equal(t, "private, max-age=30", res.Header.Get("Cache-Control"))

	res = e.autocomplete("", "x cl")
	require.Equal(t, "hit", res.Header.Get("X-Cache"), "the shared part was cached by A's call")
	require.Empty(t, suggestionsOf(t, res), "not for an anonymous caller")
	res = e.autocomplete(bToken, "x cl")
	require.Equal(t, "hit", res.Header.Get("X-Cache"))
	require.Empty(t, suggestionsOf(t, res), "not for another user right after")
	require.Empty(t, suggestionsOf(t, e.autocomplete(aToken, "#x cl")), "a hashtag prefix suggests no searches")

	// Cleared: no longer suggested, even to its author.
	require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/search/history/clear", token: aToken}).Status)
	require.Empty(t, suggestionsOf(t, e.autocomplete(aToken, "x cl")))
}

// TestOwnSearchSuggestedOnceAmongKeywords: a popular query that the caller
// also searched is given once, as the caller's own.
func TestOwnSearchSuggestedOnceAmongKeywords(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.AutocompleteMinSearchers = 2 })
	aToken, _ := e.register("both_a")
	bToken, _ := e.register("both_b")
	for _, token := range []string{aToken, bToken} {
		res := e.do(req{method: "POST", path: "/v1/search/history", token: token, body: map[string]any{"query": "kimchi stew"}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	}
	require.Equal(t, []string{"keyword:kimchi stew"}, suggestionsOf(t, e.autocomplete("", "kim")))
	require.Equal(t, []string{"history:kimchi stew"}, suggestionsOf(t, e.autocomplete(aToken, "kim")))
}

func TestSearchHistoryRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.SearchHistoryRateLimit = 3 })
	token, _ := e.register("history_limited")
	otherToken, _ := e.register("history_free")
	add := func(token, q string) response {
		return e.do(req{method: "POST", path: "/v1/search/history", token: token, body: map[string]any{"query": q}})
	}
	for i := range 3 {
		require.Equal(t, http.StatusOK, add(token, fmt.Sprint("query ", i)).Status)
	}
	res := add(token, "one too many")
	require.Equal(t, http.StatusTooManyRequests, res.Status, "%s", res.Raw)
	require.Equal(t, "rate_limited", errorCode(res))
	require.NotEmpty(t, res.Header.Get("Retry-After"))
	require.Len(t, e.do(req{method: "GET", path: "/v1/search/history", token: token}).Body["history"], 3, "a limited request records nothing")
	require.Equal(t, http.StatusOK, add(otherToken, "mine").Status, "the limit is per user")
	require.Equal(t, http.StatusUnauthorized, add("", "anonymous").Status)
}

// TestSharesCountOnce: shares cannot pump the counter.
func TestSharesCountOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.ShareRateLimit = 1000 })
	ownerToken, owner := e.register("pumped_owner")
	token, _ := e.register("pumper")
	id := e.video(owner, dbtest.VideoOpts{})
	share := func(token string, body any) response {
		t.Helper()
		res := e.do(req{method: "POST", path: "/v1/videos/" + id + "/share", token: token, body: body})
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
		require.Equal(t, "http://localhost:8000/v/"+id, res.Body["share_url"], "the link is always given")
		return res
	}
	count := func() float64 {
		return e.do(req{method: "GET", path: "/v1/videos/" + id + "/share-count"}).Body["share_count"].(float64)
	}

	res := share("", nil)
	require.Equal(t, true, res.Body["counted"])
	for range 24 {
		res = share("", map[string]any{"platform": "twitter"})
		require.Equal(t, false, res.Body["counted"])
		require.Equal(t, float64(1), res.Body["share_count"])
	}
	require.Equal(t, float64(1), count(), "25 anonymous shares from one IP add 1")
	e.ip = "10.255.0.1"
	require.Equal(t, true, share("", nil).Body["counted"], "another IP counts")
	require.Equal(t, float64(2), count())

	for range 5 {
		share(token, map[string]any{"platform": "kakaotalk"})
	}
	require.Equal(t, float64(3), count(), "one user, one platform, five times: 1")
	for _, p := range []string{"instagram", "instagram", "twitter", "other"} {
		share(token, map[string]any{"platform": p})
	}
	res = share(token, nil)
	require.Equal(t, false, res.Body["counted"], "no platform is other, already counted")
	require.Equal(t, float64(6), res.Body["share_count"], "at most one per platform")
	require.Equal(t, float64(6), e.do(req{method: "GET", path: "/v1/videos/" + id}).Body["share_count"])
	res = e.do(req{method: "GET", path: "/v1/videos/" + id + "/share-count", token: ownerToken})
	require.Equal(t, map[string]any{"other": float64(3), "kakaotalk": float64(1), "instagram": float64(1), "twitter": float64(1)},
		res.Body["by_platform"], "two anonymous and the user's other")
}

func TestShareRateLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.ShareRateLimit = 2 })
	_, owner := e.register("share_limit_owner")
	token, _ := e.register("share_limited")
	id := e.video(owner, dbtest.VideoOpts{})
	for _, p := range []string{"twitter", "line"} {
		res := e.do(req{method: "POST", path: "/v1/videos/" + id + "/share", token: token, body: map[string]any{"platform": p}})
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	}
	res := e.do(req{method: "POST", path: "/v1/shares/videos/" + id, token: token, body: map[string]any{"platform": "email"}})
	require.Equal(t, http.StatusTooManyRequests, res.Status, "%s", res.Raw)
	require.Equal(t, "rate_limited", errorCode(res))
	require.NotEmpty(t, res.Header.Get("Retry-After"))
	for range 2 {
		require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/videos/" + id + "/share"}).Status, "anonymous callers have their own bucket")
	}
	res = e.do(req{method: "POST", path: "/v1/videos/" + id + "/share"})
	require.Equal(t, http.StatusTooManyRequests, res.Status, "%s", res.Raw)
}

// TestAnonymousViewsPerIP: changing only the User-Agent counts at most
// VIEW_ANON_PER_IP (default 3) anonymous views per video and IP a day;
// signed-in viewers count as before.
func TestAnonymousViewsPerIP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, owner := e.register("ua_owner")
	id := e.video(owner, dbtest.VideoOpts{})
	other := e.video(owner, dbtest.VideoOpts{})
	view := func(video, token, ua string) response {
		t.Helper()
		res := e.do(req{method: "POST", path: "/v1/videos/" + video + "/view", token: token, headers: map[string]string{"User-Agent": ua}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		return res
	}
	for i := range 10 {
		res := view(id, "", fmt.Sprint("agent-", i))
		require.Equal(t, i < 3, res.Body["counted"], "view %d", i)
	}
	require.Equal(t, float64(3), e.do(req{method: "GET", path: "/v1/videos/" + id}).Body["view_count"])
	require.Equal(t, true, view(other, "", "agent-9").Body["counted"], "the cap is per video")

	e.ip = "10.254.0.1"
	require.Equal(t, true, view(id, "", "agent-0").Body["counted"], "another IP counts")

	for i := range 5 {
		token, _ := e.register(fmt.Sprint("ua_viewer_", i))
		require.Equal(t, true, view(id, token, "agent-0").Body["counted"], "signed-in viewers are not capped")
	}
	require.Equal(t, float64(9), e.do(req{method: "GET", path: "/v1/videos/" + id}).Body["view_count"])
}
