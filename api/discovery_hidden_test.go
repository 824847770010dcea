package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/trending"
)

// TestDiscoveryHidesWhatMustNotBeSeen: private, removed, deleted and
// unfinished videos, videos across a block (either way) and videos and
// accounts of deactivated users appear in no feed, search result or
// autocomplete suggestion, even when a ranking or an inbox still holds
// them, and are not found by id. Not parallel: it publishes the trending
// ranking, whose keys the trending tests share.
func TestDiscoveryHidesWhatMustNotBeSeen(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	token, viewer := e.register("zorblax_viewer")
	authorToken, author := e.register("zorblax_author")
	_, iBlocked := e.register("zorblax_iblocked")
	blockerToken, blocksMe := e.register("zorblax_blocksme")
	_, gone := e.register("zorblax_deactivated")
	now := time.Now()
	video := func(owner string, minutes int, o dbtest.VideoOpts) string {
		o.Caption = "zorblax clip #zorblax"
		o.CreatedAt = now.Add(-time.Duration(minutes) * time.Minute)
		return e.video(owner, o)
	}
	// The viewer follows every author before anything is hidden, so the
	// inbox holds their videos.
	for _, u := range []string{author, iBlocked, blocksMe, gone} {
		require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + u, token: token}).Status)
	}
	visible := video(author, 1, dbtest.VideoOpts{})
	hidden := map[string]string{
		video(author, 2, dbtest.VideoOpts{Private: true}):        "private",
		video(author, 3, dbtest.VideoOpts{Status: "processing"}): "processing",
		video(author, 4, dbtest.VideoOpts{}):                     "removed",
		video(author, 5, dbtest.VideoOpts{}):                     "deleted",
		video(iBlocked, 6, dbtest.VideoOpts{}):                   "blocked by the viewer",
		video(blocksMe, 7, dbtest.VideoOpts{}):                   "blocking the viewer",
		video(gone, 8, dbtest.VideoOpts{}):                       "deactivated author",
	}
	for id, why := range hidden {
		switch why {
		case "removed":
			dbtest.SetVideo(t, e.store, uuid.MustParse(id), dbtest.VideoChange{Status: new("removed")})
		case "deleted":
			require.Equal(t, http.StatusOK, e.do(req{method: "DELETE", path: "/v1/videos/" + id, token: authorToken}).Status)
		}
	}
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/blocks/users/" + iBlocked, token: token}).Status)
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/blocks/users/" + viewer, token: blockerToken}).Status)
	dbtest.SetUser(t, e.store, uuid.MustParse(gone), dbtest.UserChange{Active: new(false)})

	// Rankings computed before any of it still list every video.
	all := []uuid.UUID{uuid.MustParse(visible)}
	for id := range hidden {
		all = append(all, uuid.MustParse(id))
	}
	require.NoError(t, trending.New(e.rdb).Publish(ctx, "hidden-test", all))

	check := func(path string, list string, field string) []string {
		t.Helper()
		res := e.do(req{method: "GET", path: path, token: token})
		require.Equal(t, http.StatusOK, res.Status, "%s: %s", path, res.Raw)
		var got []string
		for _, item := range res.Body[list].([]any) {
			v := item.(map[string]any)[field].(string)
			require.NotContains(t, hidden, v, "%s shows a video that is %s", path, hidden[v])
			got = append(got, v)
		}
		return got
	}
	for _, algorithm := range []string{"latest", "following", "trending", "personalized"} {
		got := check(fmt.Sprintf("/v1/videos/feed?algorithm=%s&page_size=50", algorithm), "videos", "id")
		require.Equal(t, []string{visible}, got, algorithm)
		check(fmt.Sprintf("/v1/videos/prefetch?algorithm=%s&count=10", algorithm), "items", "id")
	}
	for id, why := range hidden {
		res := e.do(req{method: "GET", path: "/v1/videos/" + id, token: token})
		require.Equal(t, http.StatusNotFound, res.Status, "GET of a video that is %s: %s", why, res.Raw)
	}
	require.Equal(t, []string{visible}, check("/v1/search/videos?q=zorblax", "videos", "id"))
	require.Equal(t, []string{visible}, check("/v1/search/?q=zorblax", "videos", "id"))
	require.Equal(t, []string{visible}, check("/v1/search/videos?q=zo", "videos", "id"), "the short-query path")

	// Users: the blocked, the blocking and the deactivated are not found.
	users := check("/v1/search/users?q=zorblax", "users", "username")
	require.ElementsMatch(t, []string{"zorblax_viewer", "zorblax_author"}, users)
	users = check("/v1/search/users?q="+url.QueryEscape("zo"), "users", "username")
	require.ElementsMatch(t, []string{"zorblax_viewer", "zorblax_author"}, users)
	res := e.do(req{method: "GET", path: "/v1/search/autocomplete?q=" + url.QueryEscape("@zorblax"), token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	var suggested []string
	for _, s := range res.Body["suggestions"].([]any) {
		suggested = append(suggested, s.(map[string]any)["text"].(string))
	}
	slices.Sort(suggested)
	require.Equal(t, []string{"@zorblax_author", "@zorblax_viewer"}, suggested)
}
