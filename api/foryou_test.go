package api_test

import (
	"context"
	"encoding/base64"
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
// caller's ranking; the next one is served from it at once and asks the
// worker for a new ranking, which the first page after that serves.
func TestPersonalizedFirstPageIsPrecomputed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	token, viewer := e.register("pre_viewer")
	_, author := e.register("pre_author")
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

	first := snapshotOf(page())
	_, err := insp.GetTaskInfo(tasks.QueueDefault, refreshID)
	require.ErrorIs(t, err, asynq.ErrTaskNotFound, "computed in the request: nothing to refresh yet")

	// A new video arrives; the next first page is the ranking already made.
	newest := e.video(author, dbtest.VideoOpts{})
	res := page()
	require.Equal(t, first, snapshotOf(res))
	require.NotEqual(t, newest, res.Body["videos"].([]any)[0].(map[string]any)["id"])
	info, err := insp.GetTaskInfo(tasks.QueueDefault, refreshID)
	require.NoError(t, err, "the worker is asked for the next ranking")
	require.Equal(t, tasks.TypeForYouRefresh, info.Type)
	require.NoError(t, insp.DeleteTask(tasks.QueueDefault, refreshID))

	// The worker's refresh (run here directly) is what the next first page
	// serves: the new video leads.
	_, err = foryou.New(e.store, e.rdb, trending.New(e.rdb)).Refresh(ctx, uuid.MustParse(viewer))
	require.NoError(t, err)
	res = page()
	require.NotEqual(t, first, snapshotOf(res))
	require.Equal(t, newest, res.Body["videos"].([]any)[0].(map[string]any)["id"])
	_ = insp.DeleteTask(tasks.QueueDefault, refreshID)
}
