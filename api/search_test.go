package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db/dbtest"
)

func TestSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, me := e.register("searcher")
	_, minji := e.register("minji_dance")
	_, other := e.register("minjiwon")
	_, blocked := e.register("minji_blocked")
	dbtest.SetUser(t, e.store, uuid.MustParse(minji), dbtest.UserChange{DisplayName: new("민지")})
	dbtest.Block(t, e.store, dbtest.BlockOpts{Blocker: uuid.MustParse(blocked), Blocked: uuid.MustParse(me)})
	public := e.video(minji, dbtest.VideoOpts{Caption: "오늘의 댄스 #dance 100% fun_time"})
	e.video(minji, dbtest.VideoOpts{Private: true, Caption: "오늘의 비밀 댄스"}) // never found by others
	res := e.do(req{method: "PATCH", path: "/v1/videos/" + public, token: e.tokenFor(uuid.MustParse(minji)), body: map[string]any{"caption": "오늘의 댄스 #dance 100% fun_time"}})
	require.Equal(t, http.StatusOK, res.Status)

	names := func(res response) []string {
		var out []string
		for _, u := range res.Body["users"].([]any) {
			out = append(out, u.(map[string]any)["username"].(string))
		}
		return out
	}
	res = e.do(req{method: "GET", path: "/v1/search/users?q=minji", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.ElementsMatch(t, []string{"minji_dance", "minjiwon"}, names(res), "the user who blocked the caller is left out")
	res = e.do(req{method: "GET", path: "/v1/search/users?q=" + url.QueryEscape("민지")})
	require.Equal(t, []string{"minji_dance"}, names(res), "Korean display names match")
	_ = other

	res = e.do(req{method: "GET", path: "/v1/search/videos?q=" + url.QueryEscape("댄스")})
	require.Equal(t, http.StatusOK, res.Status)
	require.Len(t, res.Body["videos"], 1, "the private video never appears")
	require.Equal(t, public, res.Body["videos"].([]any)[0].(map[string]any)["id"])
	res = e.do(req{method: "GET", path: "/v1/search/videos?q=" + url.QueryEscape("0%")})
	require.Len(t, res.Body["videos"], 1, "% is literal")
	res = e.do(req{method: "GET", path: "/v1/search/videos?q=" + url.QueryEscape("f_n")})
	require.Empty(t, res.Body["videos"], "_ is literal too")

	res = e.do(req{method: "GET", path: "/v1/search/?q=dance", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, "dance", res.Body["hashtags"].([]any)[0].(map[string]any)["name"])

	res = e.do(req{method: "GET", path: "/v1/search/autocomplete?q=min", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	sugg := res.Body["suggestions"].([]any)
	require.Equal(t, "user", sugg[0].(map[string]any)["type"])
	for _, s := range sugg {
		require.NotEqual(t, "@minji_blocked", s.(map[string]any)["text"])
	}
	res = e.do(req{method: "GET", path: "/v1/search/autocomplete?q=%40minji", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	var texts []string
	for _, s := range res.Body["suggestions"].([]any) {
		texts = append(texts, s.(map[string]any)["text"].(string))
	}
	require.Equal(t, []string{"@minji_dance", "@minjiwon"}, texts, "byte order of the names; the blocker left out")
	res = e.do(req{method: "GET", path: "/v1/search/autocomplete?q=%23da"})
	require.Equal(t, "#dance", res.Body["suggestions"].([]any)[0].(map[string]any)["text"])
	res = e.do(req{method: "GET", path: "/v1/search/autocomplete?q=dan"})
	var kinds []string
	for _, s := range res.Body["suggestions"].([]any) {
		kinds = append(kinds, s.(map[string]any)["type"].(string))
	}
	require.NotContains(t, kinds, "keyword", "'dance' was searched by one user only: not suggested to others")

	// History: recorded, deduplicated, newest first, removable.
	res = e.do(req{method: "GET", path: "/v1/search/history", token: token})
	hist := res.Body["history"].([]any)
	require.Equal(t, "dance", hist[0].(map[string]any)["query"])
	require.Len(t, hist, 2, "dance and minji (autocomplete and anonymous searches are not recorded)")
	res = e.do(req{method: "POST", path: "/v1/search/history", token: token, body: map[string]any{"query": "  MINJI "}})
	require.Equal(t, http.StatusOK, res.Status)
	hist = res.Body["history"].([]any)
	require.Len(t, hist, 2, "deduplicated by the normalized query")
	require.Equal(t, "MINJI", hist[0].(map[string]any)["query"])
	id := hist[1].(map[string]any)["id"].(string)
	require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/search/history/" + id, token: token}).Status)
	require.Equal(t, http.StatusNotFound, e.do(req{method: "DELETE", path: "/v1/search/history/" + id, token: token}).Status)
	require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/search/history/clear", token: token}).Status)
	require.Empty(t, e.do(req{method: "GET", path: "/v1/search/history", token: token}).Body["history"])

	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "GET", path: "/v1/search/users?q="}).Status)
	require.Equal(t, http.StatusUnauthorized, e.do(req{method: "GET", path: "/v1/search/history"}).Status)
}

func TestSearchHistoryCap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, _ := e.register("manysearch")
	for i := range 55 {
		res := e.do(req{method: "POST", path: "/v1/search/history", token: token, body: map[string]any{"query": "q" + uuid.NewString()[:8] + string(rune('a'+i%26))}})
		require.Equal(t, http.StatusOK, res.Status)
	}
	require.Len(t, e.do(req{method: "GET", path: "/v1/search/history", token: token}).Body["history"], 50, "the oldest are dropped")
}

// TestKeywordSuggestionCounts: keyword suggestions rank queries by the
// distinct users who searched them over the last KeywordDays days; one
// user searching again, on the same day or another, adds nothing, and
// deleting the search from one's history takes it back.
func TestKeywordSuggestionCounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.AutocompleteMinSearchers = 2 })
	ctx := context.Background()
	search := func(token, q string) {
		t.Helper()
		res := e.do(req{method: "POST", path: "/v1/search/history", token: token, body: map[string]any{"query": q}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	}
	counts := func() map[string]int {
		t.Helper()
		rows, err := e.store.Pool().Query(ctx, `SELECT normalized, sum(users)::int FROM search_keyword_days GROUP BY 1`)
		require.NoError(t, err)
		out := map[string]int{}
		for rows.Next() {
			var q string
			var n int
			require.NoError(t, rows.Scan(&q, &n))
			out[q] = n
		}
		require.NoError(t, rows.Err())
		return out
	}
	suggested := func(prefix string) []string {
		t.Helper()
		res := e.do(req{method: "GET", path: "/v1/search/autocomplete?q=" + url.QueryEscape(prefix)})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		got := []string{}
		for _, s := range res.Body["suggestions"].([]any) {
			s := s.(map[string]any)
			require.Equal(t, "keyword", s["type"])
			got = append(got, fmt.Sprintf("%s=%v", s["text"], s["count"]))
		}
		return got
	}
	a, aID := e.register("kw_a")
	b, _ := e.register("kw_b")
	c, _ := e.register("kw_c")
	for range 5 {
		search(a, "Kpop  Dance") // one user, many times: counted once
	}
	search(b, "kpop dance")
	search(c, "KPOP DANCE")
	search(b, "kpop drama")
	search(c, "kpop drama")
	search(c, "kpop idol")
	require.Equal(t, map[string]int{"kpop dance": 3, "kpop drama": 2, "kpop idol": 1}, counts())

	// A's last search of it was two days ago: today's search moves A, it
	// does not add A again.
	dbtest.BackdateKeywordSearches(t, e.store, dbtest.KeywordSearchBackdate{User: uuid.MustParse(aID), Days: 2})
	require.Equal(t, 3, counts()["kpop dance"])
	search(a, "kpop dance")
	require.Equal(t, 3, counts()["kpop dance"])

	// Counts of days outside the window are not read.
	dbtest.KeywordDay(t, e.store, dbtest.KeywordDayOpts{Keyword: "kpop old", DaysAgo: lokiz.KeywordDays, Users: 100})
	require.Equal(t, []string{"kpop dance=3", "kpop drama=2"}, suggested("kpop"), "kpop idol has one searcher")

	// Deleting and searching again cannot pump a query: the deletion takes
	// the user's count back.
	for range 3 {
		res := e.do(req{method: "GET", path: "/v1/search/history", token: b})
		for _, h := range res.Body["history"].([]any) {
			require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/search/history/" + h.(map[string]any)["id"].(string), token: b}).Status)
		}
		search(b, "kpop drama")
	}
	require.Equal(t, map[string]int{"kpop dance": 2, "kpop drama": 2, "kpop idol": 1, "kpop old": 100}, counts())
	require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/search/history/clear", token: c}).Status)
	require.Equal(t, map[string]int{"kpop dance": 1, "kpop drama": 1, "kpop old": 100}, counts(), "clearing takes every count back")
	require.Empty(t, suggested("kpop d"), "one searcher each now (a new prefix: \"kpop\" is cached)")
}
