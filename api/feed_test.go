package api_test

import (
	"context"
	"fmt"
	"github.com/google/uuid"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db/dbtest"
)

func TestFeeds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, _ := e.register("feeder")
	_, star := e.register("feed_star")
	_, stranger := e.register("feed_stranger")
	now := time.Now()
	starVideo := e.video(star, dbtest.VideoOpts{CreatedAt: now.Add(-2 * time.Minute)})
	strangerVideo := e.video(stranger, dbtest.VideoOpts{CreatedAt: now.Add(-time.Minute)})
	e.video(star, dbtest.VideoOpts{Private: true, CreatedAt: now}) // private: never in a feed
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + star, token: token}).Status)
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/likes/videos/" + starVideo, token: token}).Status)
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/bookmarks/videos/" + strangerVideo, token: token}).Status)

	res := e.do(req{method: "GET", path: "/v1/videos/feed", token: token})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, []string{strangerVideo, starVideo}, videoIDs(res))
	first, second := res.Body["videos"].([]any)[0].(map[string]any), res.Body["videos"].([]any)[1].(map[string]any)
	require.Equal(t, []any{false, true, false}, []any{first["is_liked"], first["is_bookmarked"], first["is_following_author"]})
	require.Equal(t, []any{true, false, true}, []any{second["is_liked"], second["is_bookmarked"], second["is_following_author"]})

	anon := e.do(req{method: "GET", path: "/v1/videos/feed"})
	require.NotContains(t, anon.Body["videos"].([]any)[0], "is_liked", "no caller, no flags")

	res = e.do(req{method: "GET", path: "/v1/videos/feed?algorithm=following", token: token})
	require.Equal(t, []string{starVideo}, videoIDs(res))
	require.Equal(t, []string{starVideo}, videoIDs(e.do(req{method: "GET", path: "/v1/feed/following?algorithm=latest", token: token})), "the path fixes the feed")
	require.Equal(t, http.StatusUnauthorized, e.do(req{method: "GET", path: "/v1/videos/feed?algorithm=following"}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "GET", path: "/v1/videos/feed?algorithm=bogus"}).Status)

	res = e.do(req{method: "GET", path: "/v1/videos/prefetch?count=1"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, strangerVideo, res.Body["items"].([]any)[0].(map[string]any)["id"])
	require.Equal(t, "public, max-age=15", res.Header.Get("Cache-Control"))
	res = e.do(req{method: "GET", path: "/v1/videos/prefetch?count=5&cursor=" + url.QueryEscape(res.Body["next_cursor"].(string))})
	require.Len(t, res.Body["items"], 1)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "GET", path: "/v1/videos/prefetch?count=11"}).Status)
}

// TestLatestFeedCursorProperty pages with random sizes while another
// goroutine keeps inserting newer videos: every video that existed at the
// start appears exactly once.
func TestLatestFeedCursorProperty(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, author := e.register("prop_author")
	base := time.Now().Add(-time.Hour)
	existing := map[string]bool{}
	for i := range 40 {
		// Pairs share a timestamp so the id breaks ties.
		existing[e.video(author, dbtest.VideoOpts{CreatedAt: base.Add(time.Duration(i/2) * time.Second)})] = true
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			e.video(author, dbtest.VideoOpts{})
			time.Sleep(5 * time.Millisecond)
		}
	}()
	seen := map[string]int{}
	path := fmt.Sprintf("/v1/videos/feed?page_size=%d", 1+rand.IntN(7))
	for range 200 {
		res := e.do(req{method: "GET", path: path})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		for _, v := range res.Body["videos"].([]any) {
			seen[v.(map[string]any)["id"].(string)]++
		}
		if res.Body["has_more"] == false {
			break
		}
		path = fmt.Sprintf("/v1/videos/feed?page_size=%d&cursor=%s", 1+rand.IntN(7), url.QueryEscape(res.Body["next_cursor"].(string)))
	}
	close(stop)
	wg.Wait()
	for id, n := range seen {
		require.Equal(t, 1, n, "video %s served %d times", id, n)
	}
	for id := range existing {
		require.Equal(t, 1, seen[id], "video %s that existed at the start was missed", id)
	}
}

// TestFollowingFeedPaging pages the following feed with a small page size:
// every visible video of the followed authors comes once, newest first,
// and a blocked author's videos stay out, even when a follow row survived
// the block (a race the block's own unfollow cannot close).
func TestFollowingFeedPaging(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, viewer := e.register("ff_viewer")
	now := time.Now()
	var want []string // newest first
	var authors []string
	for a := range 3 {
		_, author := e.register(fmt.Sprintf("ff_author%d", a))
		authors = append(authors, author)
		require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + author, token: token}).Status)
	}
	_, other := e.register("ff_other") // not followed
	for i := range 15 {
		at := now.Add(-time.Duration(i) * time.Minute)
		id := e.video(authors[i%3], dbtest.VideoOpts{CreatedAt: at})
		if i%3 != 2 {
			want = append(want, id)
		}
		e.video(other, dbtest.VideoOpts{CreatedAt: at})
	}
	e.video(authors[0], dbtest.VideoOpts{Private: true, CreatedAt: now}) // private
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/blocks/users/" + authors[2], token: token}).Status)
	dbtest.Follow(t, e.store, dbtest.FollowOpts{Follower: uuid.MustParse(viewer), Following: uuid.MustParse(authors[2])})

	var got []string
	path := "/v1/feed/following?page_size=4"
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		res := e.do(req{method: "GET", path: path, token: token})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		for _, v := range res.Body["videos"].([]any) {
			got = append(got, v.(map[string]any)["id"].(string))
		}
		if res.Body["has_more"] != true {
			break
		}
		path = "/v1/feed/following?page_size=4&cursor=" + url.QueryEscape(res.Body["next_cursor"].(string))
	}
	require.Equal(t, want, got)
}

// TestFeedCache: the first page of latest for anonymous callers is served
// from Redis for FeedCacheTTL; signed-in callers and later pages are not.
// The only api test with the cache on, so it owns the cache keys.
func TestFeedCache(t *testing.T) {
	e := newEnv(t, func(c *api.Config) { c.FeedCacheTTL = time.Minute })
	ctx := context.Background()
	keys, err := e.rdb.Keys(ctx, "lokiz:feedcache:*").Result()
	require.NoError(t, err)
	if len(keys) > 0 {
		require.NoError(t, e.rdb.Del(ctx, keys...).Err())
	}
	token, _ := e.register("cache_viewer")
	_, author := e.register("cache_author")
	now := time.Now()
	older := e.video(author, dbtest.VideoOpts{CreatedAt: now.Add(-2 * time.Minute)})
	old := e.video(author, dbtest.VideoOpts{CreatedAt: now.Add(-time.Minute)})

	first := e.do(req{method: "GET", path: "/v1/videos/feed"})
	require.Equal(t, http.StatusOK, first.Status, "%s", first.Raw)
	require.Equal(t, "miss", first.Header.Get("X-Cache"))
	require.Equal(t, []string{old, older}, videoIDs(first))
	fresh := e.video(author, dbtest.VideoOpts{CreatedAt: now})

	again := e.do(req{method: "GET", path: "/v1/videos/feed?page_size=20"})
	require.Equal(t, "hit", again.Header.Get("X-Cache"), "the default page size and 20 share one entry")
	require.Equal(t, string(first.Raw), string(again.Raw))
	ttl, err := e.rdb.TTL(ctx, "lokiz:feedcache:latest:20").Result()
	require.NoError(t, err)
	require.Greater(t, ttl, time.Duration(0))
	require.LessOrEqual(t, ttl, time.Minute)

	signed := e.do(req{method: "GET", path: "/v1/videos/feed", token: token})
	require.Empty(t, signed.Header.Get("X-Cache"))
	require.Equal(t, []string{fresh, old, older}, videoIDs(signed), "signed-in callers read live")
	one := e.do(req{method: "GET", path: "/v1/videos/feed?page_size=1", token: token})
	paged := e.do(req{method: "GET", path: "/v1/videos/feed?page_size=1&cursor=" + url.QueryEscape(one.Body["next_cursor"].(string))})
	require.Equal(t, http.StatusOK, paged.Status, "%s", paged.Raw)
	require.Equal(t, []string{old}, videoIDs(paged))
	require.Empty(t, paged.Header.Get("X-Cache"), "later pages are not cached")
	other := e.do(req{method: "GET", path: "/v1/videos/feed?page_size=2"})
	require.Equal(t, "miss", other.Header.Get("X-Cache"))
	require.Equal(t, []string{fresh, old}, videoIDs(other))

	// When the entry expires the new video shows.
	require.NoError(t, e.rdb.Del(ctx, "lokiz:feedcache:latest:20").Err())
	require.Equal(t, []string{fresh, old, older}, videoIDs(e.do(req{method: "GET", path: "/v1/videos/feed"})))
}

// videoIDs lists the ids of a response's videos in order (empty, not nil,
// when there are none).
func videoIDs(res response) []string {
	out := []string{}
	for _, v := range res.Body["videos"].([]any) {
		out = append(out, v.(map[string]any)["id"].(string))
	}
	return out
}
