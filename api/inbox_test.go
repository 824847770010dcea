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

	"github.com/lokiz/lokiz/db/dbtest"
)

// followingPages pages through the caller's following feed and returns the
// ids in the order served.
func (e *testEnv) followingPages(t *testing.T, token string, size int) []string {
	t.Helper()
	var got []string
	path := fmt.Sprintf("/v1/feed/following?page_size=%d", size)
	for pages := 0; ; pages++ {
		require.Less(t, pages, 500)
		res := e.do(req{method: "GET", path: path, token: token})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		got = append(got, videoIDs(res)...)
		if res.Body["has_more"] != true {
			return got
		}
		path = fmt.Sprintf("/v1/feed/following?page_size=%d&cursor=%s", size, url.QueryEscape(res.Body["next_cursor"].(string)))
	}
}

// inboxRows counts the rows of viewer's inbox that hold author's videos.
func (e *testEnv) inboxRows(t *testing.T, viewer, author string) int {
	t.Helper()
	var n int
	require.NoError(t, e.store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM feed_inbox i
		JOIN videos v ON v.id = i.video_id WHERE i.user_id = $1 AND v.user_id = $2`, viewer, author).Scan(&n))
	return n
}

// TestFollowingInbox: the triggers of migration 00010 keep each follower's
// inbox, and so the following feed, in step with follows, publishing,
// deleting, moderation and blocks.
func TestFollowingInbox(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, viewer := e.register("inbox_viewer")
	authorToken, author := e.register("inbox_author")
	now := time.Now()

	// Videos that exist before the follow, in every state.
	old1 := e.video(author, dbtest.VideoOpts{CreatedAt: now.Add(-3 * time.Hour)})
	old2 := e.video(author, dbtest.VideoOpts{CreatedAt: now.Add(-2 * time.Hour)})
	pending := e.video(author, dbtest.VideoOpts{Status: "processing", CreatedAt: now.Add(-90 * time.Minute)})
	e.video(author, dbtest.VideoOpts{Status: "failed", CreatedAt: now.Add(-80 * time.Minute)})
	e.video(author, dbtest.VideoOpts{Deleted: true, CreatedAt: now.Add(-70 * time.Minute)}) // deleted
	private := e.video(author, dbtest.VideoOpts{Private: true, CreatedAt: now.Add(-60 * time.Minute)})
	require.Empty(t, e.followingPages(t, token, 5))

	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + author, token: token}).Status)
	require.Equal(t, []string{old2, old1}, e.followingPages(t, token, 5), "a follow brings the creator's earlier videos")
	require.Equal(t, 4, e.inboxRows(t, viewer, author), "completed, processing and private; not failed or deleted")

	dbtest.SetVideo(t, e.store, uuid.MustParse(pending), dbtest.VideoChange{Status: new("completed")})
	dbtest.SetVideo(t, e.store, uuid.MustParse(private), dbtest.VideoChange{Public: new(true)})
	fresh := e.video(author, dbtest.VideoOpts{CreatedAt: now})
	require.Equal(t, []string{fresh, private, pending, old2, old1}, e.followingPages(t, token, 2))

	// Deleting, failing on reprocessing and moderation take a video out of
	// every inbox; restoring it brings it back.
	require.Equal(t, http.StatusOK, e.do(req{method: "DELETE", path: "/v1/videos/" + fresh, token: authorToken}).Status)
	dbtest.SetVideo(t, e.store, uuid.MustParse(private), dbtest.VideoChange{Status: new("removed")})
	require.Equal(t, []string{pending, old2, old1}, e.followingPages(t, token, 2))
	require.Equal(t, 3, e.inboxRows(t, viewer, author))
	dbtest.SetVideo(t, e.store, uuid.MustParse(private), dbtest.VideoChange{Status: new("completed")})
	require.Equal(t, []string{private, pending, old2, old1}, e.followingPages(t, token, 2))

	// A second follower gets only what is published after the follow plus
	// the backfill; the first's inbox is untouched by it.
	token2, viewer2 := e.register("inbox_viewer2")
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + author, token: token2}).Status)
	require.Equal(t, 4, e.inboxRows(t, viewer2, author))

	// Unfollowing empties the creator's part of the inbox; following again
	// fills it.
	require.Equal(t, http.StatusOK, e.do(req{method: "DELETE", path: "/v1/follows/users/" + author, token: token}).Status)
	require.Empty(t, e.followingPages(t, token, 5))
	require.Zero(t, e.inboxRows(t, viewer, author))
	require.Equal(t, 4, e.inboxRows(t, viewer2, author))
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + author, token: token}).Status)
	require.Equal(t, []string{private, pending, old2, old1}, e.followingPages(t, token, 3))

	// A block ends the follow both ways, and with it the inbox rows.
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/blocks/users/" + viewer, token: authorToken}).Status)
	require.Empty(t, e.followingPages(t, token, 5))
	require.Zero(t, e.inboxRows(t, viewer, author))
	require.Equal(t, 4, e.inboxRows(t, viewer2, author))

	// A deactivated creator's videos stay in the inbox but are not shown.
	dbtest.SetUser(t, e.store, uuid.MustParse(author), dbtest.UserChange{Active: new(false)})
	require.Empty(t, e.followingPages(t, token2, 5))
}

// TestFollowingInboxUnderConcurrency races follows, unfollows, publishing
// and deleting from several goroutines, then checks that each follower's
// following feed is exactly what its definition gives: the visible videos
// of the creators the follower follows now, newest first. A row missing
// from an inbox would drop a video; a stale row would show one.
func TestFollowingInboxUnderConcurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pool := e.store.Pool()
	const nFollowers, nAuthors = 4, 5
	var tokens, followers, authors []string
	for i := range nFollowers {
		token, id := e.register(fmt.Sprintf("race_follower%d", i))
		tokens, followers = append(tokens, token), append(followers, id)
	}
	for i := range nAuthors {
		_, id := e.register(fmt.Sprintf("race_author%d", i))
		authors = append(authors, id)
	}
	base := time.Now().Add(-time.Hour)
	var pending []string // processing videos, published by the publisher
	for i := range 20 {
		e.video(authors[i%nAuthors], dbtest.VideoOpts{CreatedAt: base.Add(time.Duration(i) * time.Second)})
		pending = append(pending, e.video(authors[i%nAuthors], dbtest.VideoOpts{Status: "processing", CreatedAt: base.Add(time.Duration(i)*time.Second + time.Millisecond)}))
	}

	var wg sync.WaitGroup
	for f := range nFollowers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(f), 7))
			for range 40 {
				a := authors[r.IntN(nAuthors)]
				method := "POST"
				if r.IntN(3) == 0 {
					method = "DELETE"
				}
				res := e.do(req{method: method, path: "/v1/follows/users/" + a, token: tokens[f]})
				require.Contains(t, []int{http.StatusOK, http.StatusCreated, http.StatusNotFound, http.StatusConflict}, res.Status, "%s", res.Raw)
			}
		})
	}
	wg.Go(func() { // publishes the processing videos and uploads new ones
		for i := range 40 {
			if i < len(pending) {
				dbtest.SetVideo(t, e.store, uuid.MustParse(pending[i]), dbtest.VideoChange{Status: new("completed")})
			}
			e.video(authors[i%nAuthors], dbtest.VideoOpts{})
		}
	})
	wg.Go(func() { // deletes some of the older videos
		for i := range 10 {
			dbtest.SetVideo(t, e.store, uuid.MustParse(pending[i*2]), dbtest.VideoChange{Deleted: new(true)})
		}
	})
	wg.Wait()

	for f := range nFollowers {
		rows, err := pool.Query(ctx, `SELECT v.id::text FROM videos v
			JOIN follows fo ON fo.following_id = v.user_id AND fo.follower_id = $1
			WHERE v.status = 'completed' AND v.is_public AND v.deleted_at IS NULL
			ORDER BY v.created_at DESC, v.id DESC`, followers[f])
		require.NoError(t, err)
		var want []string
		for rows.Next() {
			var id string
			require.NoError(t, rows.Scan(&id))
			want = append(want, id)
		}
		require.NoError(t, rows.Err())
		got := e.followingPages(t, tokens[f], 7)
		require.Equal(t, want, got, "follower %d", f)
	}
}
