package api_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/foryou"
	"github.com/lokiz/lokiz/tasks"
	"github.com/lokiz/lokiz/trending"
)

// TestPersonalizedFeed builds a caller with one signal of each kind and
// checks what the "for you" feed takes, what it leaves out, its creator
// spreading and its paging. Not parallel: it publishes a trending ranking.
func TestPersonalizedFeed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	token, viewer := e.register("fy_viewer")
	_, followed := e.register("fy_followed")
	_, liked := e.register("fy_liked")
	_, tagged := e.register("fy_tagged")
	_, trendy := e.register("fy_trendy")
	_, stranger := e.register("fy_stranger")
	_, blocked := e.register("fy_blocked")
	now := time.Now()
	at := func(minutes int) time.Time { return now.Add(-time.Duration(minutes) * time.Minute) }

	creatorOf := map[string]string{}
	video := func(owner string, minutes int) string {
		id := e.video(owner, dbtest.VideoOpts{CreatedAt: at(minutes)})
		creatorOf[id] = owner
		return id
	}
	f1, f2, f3 := video(followed, 1), video(followed, 2), video(followed, 3)
	likedOne, likedOther := video(liked, 4), video(liked, 5)
	tag := video(tagged, 6)
	hot := video(trendy, 7)
	video(stranger, 8) // no signal: never a candidate
	blockedHot := video(blocked, 9)
	ownHot := video(viewer, 10)

	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + followed, token: token}).Status)
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/likes/videos/" + likedOne, token: token}).Status)
	for _, id := range []string{likedOne, tag} {
		res := e.do(req{method: "PATCH", path: "/v1/videos/" + id, token: e.tokenFor(uuid.MustParse(creatorOf[id])), body: map[string]any{"caption": "#fycats"}})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	}
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/blocks/users/" + blocked, token: token}).Status)
	require.NoError(t, trending.New(e.rdb).Publish(ctx, "fy-trending", []uuid.UUID{
		uuid.MustParse(blockedHot), uuid.MustParse(ownHot), uuid.MustParse(hot)}))

	var got []string
	path := "/v1/feed/for-you?page_size=3"
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		res := e.do(req{method: "GET", path: path, token: token})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		require.Equal(t, "personalized", res.Body["algorithm"])
		for _, v := range res.Body["videos"].([]any) {
			got = append(got, v.(map[string]any)["id"].(string))
		}
		if res.Body["has_more"] != true {
			break
		}
		next := res.Body["next_cursor"].(string)
		if pages == 0 {
			// Another caller cannot read this ranking through the cursor.
			other, _ := e.register("fy_other")
			res := e.do(req{method: "GET", path: "/v1/feed/for-you?cursor=" + url.QueryEscape(next), token: other})
			require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Raw)
			// Nor can the trending feed.
			res = e.do(req{method: "GET", path: "/v1/videos/feed?algorithm=trending&cursor=" + url.QueryEscape(next)})
			require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s", res.Raw)
		}
		path = "/v1/videos/feed?algorithm=personalized&page_size=3&cursor=" + url.QueryEscape(next)
	}
	// Followed creator, the liked creator's other video, the liked
	// hashtag's video, and trending; never the stranger, the blocked
	// creator, the caller's own or an already liked video.
	require.ElementsMatch(t, []string{f1, f2, f3, likedOther, tag, hot}, got)
	require.Equal(t, f1, got[0], "following counts most, and f1 is the newest")
	for i := 1; i < len(got); i++ {
		require.NotEqual(t, creatorOf[got[i-1]], creatorOf[got[i]], "same creator twice in a row at %d: %v", i, got)
	}

	// Signed out, the same request is the trending feed.
	anon := e.do(req{method: "GET", path: "/v1/feed/for-you"})
	require.Equal(t, http.StatusOK, anon.Status, "%s", anon.Raw)
	require.Equal(t, "trending", anon.Body["algorithm"])
}

// TestPersonalizedFirstPageIsPrecomputed: the first first page computes the
// caller's ranking; the next ones are served from it at once. A refresh
// follows what changed, not how often the page is read: fifty reads with
// nothing new ask the worker for nothing, a like makes the next read ask
// for exactly one refresh (however many reads follow), and the first page
// after that refresh serves the new ranking.
func TestPersonalizedFirstPageIsPrecomputed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	token, viewer := e.register("pre_viewer")
	_, author := e.register("pre_author")
	_, other := e.register("pre_other")
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/follows/users/" + author, token: token}).Status)
	for i := range 5 {
		e.video(author, dbtest.VideoOpts{CreatedAt: time.Now().Add(-time.Duration(i) * time.Minute)})
	}
	snapshotOf := func(res response) string {
		raw, err := base64.RawURLEncoding.DecodeString(res.Body["next_cursor"].(string))
		require.NoError(t, err)
		parts := strings.Split(string(raw), "|")
		require.Len(t, parts, 3, "%s", raw)
		return parts[1]
	}
	page := func() response {
		res := e.do(req{method: "GET", path: "/v1/feed/for-you?page_size=2", token: token})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		require.Equal(t, "personalized", res.Body["algorithm"])
		return res
	}
	insp := asynq.NewInspectorFromRedisClient(e.rdb)
	refreshID := "foryou:refresh:" + viewer
	queued := func() bool {
		_, err := insp.GetTaskInfo(tasks.QueueDefault, refreshID)
		if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
			return false
		}
		require.NoError(t, err)
		return true
	}

	first := snapshotOf(page())
	require.False(t, queued(), "computed in the request: nothing to refresh yet")

	// Nothing the ranking uses changed: fifty first pages are the same
	// ranking and ask the worker for nothing. A new video of the followed
	// creator is not the viewer's signal: it waits for the ranking's age.
	e.video(author, dbtest.VideoOpts{})
	for range 50 {
		require.Equal(t, first, snapshotOf(page()))
	}
	require.False(t, queued(), "reads alone enqueue no refresh")

	// A like changes the viewer's signals: the next first page, still the
	// ranking already made, asks for one refresh; fifty more ask for no
	// other, even once the first request is gone from the queue.
	liked := e.video(other, dbtest.VideoOpts{})
	require.Equal(t, http.StatusCreated, e.do(req{method: "POST", path: "/v1/likes/videos/" + liked, token: token}).Status)
	require.Equal(t, first, snapshotOf(page()))
	info, err := insp.GetTaskInfo(tasks.QueueDefault, refreshID)
	require.NoError(t, err, "the worker is asked for the next ranking")
	require.Equal(t, tasks.TypeForYouRefresh, info.Type)
	require.NoError(t, insp.DeleteTask(tasks.QueueDefault, refreshID))
	for range 50 {
		page()
	}
	require.False(t, queued(), "one signal change, one refresh")

	// The worker's refresh (run here directly) is what the next first page
	// serves: the liked creator's other video is a candidate now, and
	// nothing is due.
	otherVideo := e.video(other, dbtest.VideoOpts{CreatedAt: time.Now().Add(-time.Hour)})
	_, err = foryou.New(e.store, e.rdb, trending.New(e.rdb)).Refresh(ctx, uuid.MustParse(viewer))
	require.NoError(t, err)
	res := page()
	require.NotEqual(t, first, snapshotOf(res))
	var ids []string
	for p := res; ; {
		for _, v := range p.Body["videos"].([]any) {
			ids = append(ids, v.(map[string]any)["id"].(string))
		}
		if p.Body["has_more"] != true {
			break
		}
		p = e.do(req{method: "GET", path: "/v1/feed/for-you?page_size=2&cursor=" + url.QueryEscape(p.Body["next_cursor"].(string)), token: token})
		require.Equal(t, http.StatusOK, p.Status, "%s", p.Raw)
	}
	require.Contains(t, ids, otherVideo)
	require.False(t, queued(), "the new ranking is newer than the like")
}
