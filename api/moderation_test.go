package api_test

import (
	"context"
	"github.com/google/uuid"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
)

// TestOwnerDeletesCommentAcrossBlock: a video's owner who blocked a
// commenter can still delete their comment (it was a 404 while the comment
// stayed visible to everyone else), and the author can delete their comment
// on a video that became invisible to them.
func TestOwnerDeletesCommentAcrossBlock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ownerToken, owner := e.register("ob_owner")
	authorToken, author := e.register("ob_author")
	viewerToken, _ := e.register("ob_viewer")
	video := e.video(owner, dbtest.VideoOpts{})
	comment := func(token, text string) string {
		res := e.do(req{method: "POST", path: "/v1/comments/videos/" + video, token: token, body: map[string]any{"content": text}})
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
		return res.Body["id"].(string)
	}
	abuse := comment(authorToken, "abuse")
	second := comment(authorToken, "more abuse")
	own := comment(viewerToken, "viewer's")

	res := e.do(req{method: "POST", path: "/v1/blocks/users/" + author, token: ownerToken})
	require.Less(t, res.Status, 300, "%s", res.Raw)
	require.Equal(t, float64(3), e.do(req{method: "GET", path: "/v1/comments/videos/" + video, token: viewerToken}).Body["total"],
		"the blocked author's comments are still visible to others")

	// Another user may not delete them: 403, as they can see them.
	res = e.do(req{method: "DELETE", path: "/v1/comments/" + abuse, token: viewerToken})
	require.Equal(t, http.StatusForbidden, res.Status, "%s", res.Raw)

	res = e.do(req{method: "DELETE", path: "/v1/comments/" + abuse, token: ownerToken})
	require.Equal(t, http.StatusNoContent, res.Status, "%s", res.Raw)
	res = e.do(req{method: "GET", path: "/v1/comments/videos/" + video, token: viewerToken})
	require.Equal(t, float64(2), res.Body["total"])
	require.Equal(t, float64(2), e.do(req{method: "GET", path: "/v1/videos/" + video, token: viewerToken}).Body["comment_count"])
	require.Equal(t, http.StatusNotFound, e.do(req{method: "DELETE", path: "/v1/comments/" + abuse, token: ownerToken}).Status, "gone")

	// The author, blocked by the owner, no longer sees the video but may
	// still take their own comment back.
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/videos/" + video, token: authorToken}).Status)
	require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/comments/" + second, token: authorToken}).Status)
	// …but not someone else's comment there, which they cannot see: 404.
	require.Equal(t, http.StatusNotFound, e.do(req{method: "DELETE", path: "/v1/comments/" + own, token: authorToken}).Status)
	require.Equal(t, float64(1), e.do(req{method: "GET", path: "/v1/comments/videos/" + video, token: viewerToken}).Body["total"])
}

// TestSelfReportIsRefused: reporting your own video, comment or account is
// a 400 with reason self_report (B-24), and nothing is filed.
func TestSelfReportIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	token, me := e.register("sr_me")
	_, other := e.register("sr_other")
	mine := e.video(me, dbtest.VideoOpts{})
	private := e.video(me, dbtest.VideoOpts{Private: true})
	theirs := e.video(other, dbtest.VideoOpts{})
	res := e.do(req{method: "POST", path: "/v1/comments/videos/" + theirs, token: token, body: map[string]any{"content": "mine"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	myComment := res.Body["id"].(string)

	for name, r := range map[string]req{
		"VideoRoute":          {method: "POST", path: "/v1/videos/" + mine + "/report", token: token, body: map[string]any{"report_type": "spam"}},
		"PrivateVideoRoute":   {method: "POST", path: "/v1/videos/" + private + "/report", token: token, body: map[string]any{"report_type": "spam"}},
		"ModerationVideo":     {method: "POST", path: "/v1/moderation/report", token: token, body: map[string]any{"reported_video_id": mine, "report_type": "spam"}},
		"ModerationComment":   {method: "POST", path: "/v1/moderation/report", token: token, body: map[string]any{"reported_comment_id": myComment, "report_type": "spam"}},
		"ModerationOwnAccout": {method: "POST", path: "/v1/moderation/report", token: token, body: map[string]any{"reported_user_id": me, "report_type": "spam"}},
	} {
		t.Run(name, func(t *testing.T) {
			res := e.do(r)
			require.Equal(t, http.StatusBadRequest, res.Status, "%s", res.Raw)
			require.Equal(t, "invalid", errorCode(res))
			require.Equal(t, "self_report", res.Body["reason"], "%s", res.Raw)
		})
	}
	require.Equal(t, float64(0), e.do(req{method: "GET", path: "/v1/moderation/reports", token: token}).Body["total"])
}

// TestCommentReportSurvivesDeletion: a comment's report keeps the text as
// reported, also after the comment is edited and then deleted (the cascade
// used to delete the report with the comment).
func TestCommentReportSurvivesDeletion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ownerToken, owner := e.register("rs_owner")
	authorToken, author := e.register("rs_author")
	reporterToken, _ := e.register("rs_reporter")
	video := e.video(owner, dbtest.VideoOpts{})
	comment := func(text string) string {
		res := e.do(req{method: "POST", path: "/v1/comments/videos/" + video, token: authorToken, body: map[string]any{"content": text}})
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
		return res.Body["id"].(string)
	}
	byAuthor, byOwner := comment("you are all idiots"), comment("buy followers at spam.example")

	reportIDs := map[string]string{}
	for cm, text := range map[string]string{byAuthor: "you are all idiots", byOwner: "buy followers at spam.example"} {
		res := e.do(req{method: "POST", path: "/v1/moderation/report", token: reporterToken, body: map[string]any{"reported_comment_id": cm, "report_type": "harassment"}})
		require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
		require.Equal(t, text, res.Body["reported_comment_content"])
		require.Equal(t, author, res.Body["reported_comment_author_id"])
		reportIDs[cm] = res.Body["id"].(string)
	}

	// The author edits the evidence away, then deletes it; the owner deletes
	// the other one.
	res := e.do(req{method: "PATCH", path: "/v1/comments/" + byAuthor, token: authorToken, body: map[string]any{"content": "nothing to see"}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/comments/" + byAuthor, token: authorToken}).Status)
	require.Equal(t, http.StatusNoContent, e.do(req{method: "DELETE", path: "/v1/comments/" + byOwner, token: ownerToken}).Status)

	res = e.do(req{method: "GET", path: "/v1/moderation/reports", token: reporterToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, float64(2), res.Body["total"])
	got := map[string]map[string]any{}
	for _, r := range res.Body["reports"].([]any) {
		got[r.(map[string]any)["id"].(string)] = r.(map[string]any)
	}
	require.Equal(t, "you are all idiots", got[reportIDs[byAuthor]]["reported_comment_content"], "the text as reported, not as edited")
	require.Equal(t, "buy followers at spam.example", got[reportIDs[byOwner]]["reported_comment_content"])
	for _, r := range got {
		require.Nil(t, r["reported_comment_id"], "the comment is gone")
		require.Equal(t, author, r["reported_comment_author_id"])
		require.Equal(t, "pending", r["status"])
	}

	// A comment going away with its video keeps its report too.
	third := comment("third")
	res = e.do(req{method: "POST", path: "/v1/moderation/report", token: reporterToken, body: map[string]any{"reported_comment_id": third, "report_type": "spam"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	ctx := context.Background()
	dbtest.EraseVideo(t, e.store, uuid.MustParse(video))
	var n int
	require.NoError(t, e.store.Pool().QueryRow(ctx, `SELECT count(*) FROM reports WHERE reported_comment_content IS NOT NULL AND reported_comment_id IS NULL`).Scan(&n))
	require.Equal(t, 3, n)
}
