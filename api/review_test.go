package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/notification"
	"github.com/lokiz/lokiz/tasks"
)

// fileReport files a report through the api and returns its id.
func (e *testEnv) fileReport(token string, body map[string]any) string {
	e.t.Helper()
	if body["report_type"] == nil {
		body["report_type"] = "spam"
	}
	res := e.do(req{method: "POST", path: "/v1/moderation/report", token: token, body: body})
	require.Equal(e.t, http.StatusCreated, res.Status, "%s", res.Raw)
	return res.Body["id"].(string)
}

// TestReviewRoutesRefuseNonAdmins: the review routes, the original path
// of the queue included (the router walk covers /v1/admin only), are 401
// signed out, 403 admin_only for a user and 403 for an admin's API key.
func TestReviewRoutesRefuseNonAdmins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	userToken, _ := e.register("rv_plain")
	keyAdmin, keyAdminToken := e.enterpriseUser(t, nil)
	_, err := e.store.UserSetRole(ctx, db.UserSetRoleParams{ID: keyAdmin, Role: lokiz.RoleAdmin})
	require.NoError(t, err)
	apiKey, _ := e.newAPIKey(t, keyAdminToken, "admin key")
	_, adminToken := e.adminToken(t)
	id := uuid.NewString()
	for _, r := range []struct {
		method, path string
		body         map[string]any
		adminStatus  int
	}{
		{"GET", "/v1/reports/", nil, http.StatusOK},
		{"GET", "/v1/reports", nil, http.StatusOK},
		{"GET", "/v1/admin/reports", nil, http.StatusOK},
		{"GET", "/v1/admin/reports/" + id, nil, http.StatusNotFound},
		{"PATCH", "/v1/admin/reports/" + id, map[string]any{"status": "dismissed", "reason": "x"}, http.StatusNotFound},
		{"PATCH", "/v1/admin/comments/" + id + "/remove", map[string]any{"reason": "x"}, http.StatusNotFound},
		{"PATCH", "/v1/admin/comments/" + id + "/restore", map[string]any{"reason": "x"}, http.StatusNotFound},
	} {
		res := e.do(req{method: r.method, path: r.path, body: r.body})
		require.Equal(t, http.StatusUnauthorized, res.Status, "%s %s signed out: %s", r.method, r.path, res.Raw)
		res = e.do(req{method: r.method, path: r.path, body: r.body, token: userToken})
		require.Equal(t, http.StatusForbidden, res.Status, "%s %s as a user: %s", r.method, r.path, res.Raw)
		require.Equal(t, "admin_only", reason(res))
		res = e.do(req{method: r.method, path: r.path, body: r.body, token: apiKey})
		require.Equal(t, http.StatusForbidden, res.Status, "%s %s with an admin's API key: %s", r.method, r.path, res.Raw)
		require.Equal(t, "api_key_not_allowed", reason(res))
		res = e.do(req{method: r.method, path: r.path, body: r.body, token: adminToken})
		require.Equal(t, r.adminStatus, res.Status, "%s %s as an admin: %s", r.method, r.path, res.Raw)
	}
}

// TestReviewQueueOrderFiltersAndCursor: worst target first, a target's
// reports together and oldest first; the content beside each report;
// filters; a cursor walk that neither skips nor repeats while reports are
// filed and decided between pages; 422 on bad filters.
func TestReviewQueueOrderFiltersAndCursor(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.ReportRateLimit = 1000 })
	ctx := context.Background()
	adminID, adminToken := e.adminToken(t)
	ownerToken, owner := e.register("rq_owner")
	_, bad := e.register("rq_baduser")
	video := e.video(owner, dbtest.VideoOpts{Caption: "rq caption"})
	quiet := e.video(owner, dbtest.VideoOpts{})
	res := e.do(req{method: "POST", path: "/v1/comments/videos/" + video, token: ownerToken, body: map[string]any{"content": "rq rude words"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	comment := res.Body["id"].(string)
	reporters := make([]string, 4)
	for i := range reporters {
		reporters[i], _ = e.register("rq_rep" + string(rune('a'+i)))
	}
	// The comment first (oldest target), then the user twice, the video
	// three times, a decided report on quiet.
	var want []string
	commentReport := e.fileReport(reporters[0], map[string]any{"reported_comment_id": comment, "report_type": "harassment"})
	var userReports, videoReports []string
	for i := range 2 {
		userReports = append(userReports, e.fileReport(reporters[i], map[string]any{"reported_user_id": bad}))
	}
	for i := range 3 {
		videoReports = append(videoReports, e.fileReport(reporters[i], map[string]any{"reported_video_id": video, "report_type": "violence"}))
	}
	decided := e.fileReport(reporters[3], map[string]any{"reported_video_id": quiet})
	_, err := e.store.DecideReport(ctx, db.Actor{AdminID: &adminID}, db.ReportDecision{ReportID: uuid.MustParse(decided), Status: db.ReportDismissed, Note: "fine"})
	require.NoError(t, err)
	want = append(append(append(append(want, videoReports...), userReports...), commentReport), decided)

	res = e.do(req{method: "GET", path: "/v1/admin/reports?page_size=50", token: adminToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	items := res.Body["reports"].([]any)
	var got []string
	byID := map[string]map[string]any{}
	for _, it := range items {
		m := it.(map[string]any)
		got = append(got, m["id"].(string))
		byID[m["id"].(string)] = m
	}
	require.Equal(t, want, got, "worst target first, a target's reports together, oldest first")
	v := byID[videoReports[0]]
	require.Equal(t, float64(3), v["open_reports_for_target"])
	require.Equal(t, "rq_repa", v["reporter"].(map[string]any)["username"])
	require.Equal(t, "video", v["target_kind"])
	require.Equal(t, "rq caption", v["video"].(map[string]any)["caption"])
	require.Equal(t, "completed", v["video"].(map[string]any)["status"])
	require.Equal(t, "rq_owner", v["video"].(map[string]any)["owner"].(map[string]any)["username"])
	u := byID[userReports[0]]["user"].(map[string]any)
	require.Equal(t, "rq_baduser", u["username"])
	require.Equal(t, "active", u["status"])
	cm := byID[commentReport]["comment"].(map[string]any)
	require.Equal(t, "rq rude words", cm["content"])
	require.Equal(t, "visible", cm["state"])
	require.Equal(t, "rq_owner", cm["author"].(map[string]any)["username"])
	require.Equal(t, float64(0), byID[decided]["open_reports_for_target"])
	require.Equal(t, "dismissed", byID[decided]["status"])

	// The same through the original path.
	res = e.do(req{method: "GET", path: "/v1/reports/?page_size=50", token: adminToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Len(t, res.Body["reports"], len(want))

	// Filters.
	filtered := func(q string) []string {
		t.Helper()
		res := e.do(req{method: "GET", path: "/v1/admin/reports?" + q, token: adminToken})
		require.Equal(t, http.StatusOK, res.Status, "%s: %s", q, res.Raw)
		var ids []string
		for _, it := range res.Body["reports"].([]any) {
			ids = append(ids, it.(map[string]any)["id"].(string))
		}
		return ids
	}
	require.Equal(t, []string{decided}, filtered("status=dismissed"))
	require.Equal(t, []string{commentReport}, filtered("target=comment"))
	require.Equal(t, userReports, filtered("target=user&status=pending"))
	require.Equal(t, videoReports, filtered("report_type=violence"))
	require.Empty(t, filtered("since="+url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))))
	require.Len(t, filtered("until="+url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339))), len(want))

	// A cursor walk, two per page, while a report is filed on the comment
	// (which would move it up), a new target is reported and a video
	// report is decided: every report of the first page's snapshot once,
	// in its order, none filed later.
	var walked []string
	path := "/v1/admin/reports?page_size=2"
	for page := 0; path != ""; page++ {
		res := e.do(req{method: "GET", path: path, token: adminToken})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		for _, it := range res.Body["reports"].([]any) {
			walked = append(walked, it.(map[string]any)["id"].(string))
		}
		if page == 0 {
			e.fileReport(reporters[1], map[string]any{"reported_comment_id": comment})
			e.fileReport(reporters[2], map[string]any{"reported_comment_id": comment})
			e.fileReport(reporters[3], map[string]any{"reported_video_id": quiet})
			_, err := e.store.DecideReport(ctx, db.Actor{AdminID: &adminID}, db.ReportDecision{ReportID: uuid.MustParse(userReports[1]),
				Status: db.ReportResolved, Note: "handled"})
			require.NoError(t, err)
		}
		path = ""
		if next, ok := res.Body["next_cursor"].(string); ok {
			path = "/v1/admin/reports?page_size=2&cursor=" + next
		}
	}
	require.Equal(t, want, walked, "each report of the snapshot once, in order")

	for _, q := range []string{"status=reviewed", "target=planet", "report_type=rude", "since=yesterday",
		"since=2021-01-01T00:00:00Z&until=2020-01-01T00:00:00Z", "cursor=zzz", "page_size=0", "page_size=51"} {
		res := e.do(req{method: "GET", path: "/v1/admin/reports?" + q, token: adminToken})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s: %s", q, res.Raw)
	}
}

// TestDecideReportThroughTheAPI: the transitions, bad bodies, each action
// with its effect where users see it, the reporters' notifications without
// the other party, the reporter's own list, and two admins at once.
func TestDecideReportThroughTheAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.ReportRateLimit = 1000 })
	_, adminToken := e.adminToken(t)
	ownerToken, owner := e.register("dr_owner")
	viewerToken, _ := e.register("dr_viewer")
	repToken, _ := e.register("dr_reporter")
	rep2Token, _ := e.register("dr_reporter2")
	video := e.video(owner, dbtest.VideoOpts{Caption: "drvideo"})
	patch := func(id string, body map[string]any) response {
		return e.do(req{method: "PATCH", path: "/v1/admin/reports/" + id, token: adminToken, body: body})
	}

	first := e.fileReport(repToken, map[string]any{"reported_video_id": video})
	second := e.fileReport(rep2Token, map[string]any{"reported_video_id": video})

	for _, c := range []struct {
		body   any
		status int
	}{
		{map[string]any{"status": "reviewed"}, http.StatusUnprocessableEntity},
		{map[string]any{"status": "pending"}, http.StatusUnprocessableEntity},
		{map[string]any{"status": "resolved"}, http.StatusUnprocessableEntity},
		{map[string]any{"status": "dismissed", "reason": "  "}, http.StatusUnprocessableEntity},
		{map[string]any{"status": "resolved", "reason": "x", "action": "delete_everything"}, http.StatusUnprocessableEntity},
		{map[string]any{"status": "reviewing", "action": "none"}, http.StatusUnprocessableEntity},
		{map[string]any{"status": "resolved", "reason": "x", "action": "ban_user", "ban_until": time.Now().Add(-time.Hour)}, http.StatusUnprocessableEntity},
		{map[string]any{"status": "resolved", "reason": "x", "ban_until": time.Now().Add(time.Hour)}, http.StatusUnprocessableEntity},
		{"[]", http.StatusUnprocessableEntity},
		{map[string]any{"status": "resolved", "reason": "x", "action": "remove_comment"}, http.StatusBadRequest},
		{map[string]any{"status": "dismissed", "reason": "x", "action": "remove_video"}, http.StatusBadRequest},
	} {
		res := e.do(req{method: "PATCH", path: "/v1/admin/reports/" + first, token: adminToken, body: c.body})
		require.Equal(t, c.status, res.Status, "%v: %s", c.body, res.Raw)
	}
	require.Equal(t, http.StatusUnprocessableEntity, patch("nope", map[string]any{"status": "reviewing"}).Status)
	require.Equal(t, http.StatusUnprocessableEntity, e.do(req{method: "GET", path: "/v1/admin/reports/nope", token: adminToken}).Status)

	res := patch(first, map[string]any{"status": "reviewing"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, "reviewing", res.Body["report"].(map[string]any)["status"])
	require.NotNil(t, res.Body["report"].(map[string]any)["reviewer_id"])
	res = patch(first, map[string]any{"status": "reviewing"})
	require.Equal(t, http.StatusConflict, res.Status)
	require.Equal(t, "already_reviewing", reason(res))

	sub := e.rdb.Subscribe(context.Background(), notification.Channel(uuid.MustParse(owner)))
	defer sub.Close()
	_, err := sub.Receive(context.Background())
	require.NoError(t, err)
	res = patch(first, map[string]any{"status": "resolved", "action": "remove_video", "reason": "graphic content"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	report := res.Body["report"].(map[string]any)
	require.Equal(t, "resolved", report["status"])
	require.Equal(t, "remove_video", report["resolution_action"])
	require.Equal(t, "removed", report["video"].(map[string]any)["status"])
	require.ElementsMatch(t, []any{first, second}, res.Body["closed_report_ids"], "every open report of the target")
	select {
	case msg := <-sub.Channel():
		require.Contains(t, msg.Payload, "graphic content", "the owner's removal notice is pushed")
	case <-time.After(5 * time.Second):
		t.Fatal("the removal's notification was not pushed")
	}
	require.Equal(t, http.StatusNotFound, e.do(req{method: "GET", path: "/v1/videos/" + video, token: viewerToken}).Status)
	// The removed media leave the bucket, as after the admin route's removal.
	removed, err := e.store.VideoGetByID(context.Background(), uuid.MustParse(video))
	require.NoError(t, err)
	_, err = asynq.NewInspectorFromRedisClient(e.rdb).GetTaskInfo(tasks.QueueDefault,
		fmt.Sprintf("%s:%s:%d", tasks.TypeVideoMediaSync, video, removed.UpdatedAt.UnixNano()))
	require.NoError(t, err, "video:media_sync enqueued")
	res = patch(second, map[string]any{"status": "dismissed", "reason": "late"})
	require.Equal(t, http.StatusConflict, res.Status)
	require.Equal(t, "report_closed", reason(res))

	for _, token := range []string{repToken, rep2Token} {
		res := e.do(req{method: "GET", path: "/v1/notifications", token: token})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		require.Contains(t, string(res.Raw), "took action")
		for _, secret := range []string{"dr_owner", owner, video, "drvideo", "graphic content", "remove"} {
			require.NotContains(t, string(res.Raw), secret, "the reporter learns nothing of the other party or the action")
		}
		res = e.do(req{method: "GET", path: "/v1/moderation/reports", token: token})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		mine := res.Body["reports"].([]any)[0].(map[string]any)
		require.Equal(t, "resolved", mine["status"])
		require.Equal(t, "action_taken", mine["outcome"])
		require.NotContains(t, mine, "resolution_note")
	}

	// A comment report resolved by removal: the count drops.
	other := e.video(owner, dbtest.VideoOpts{})
	res = e.do(req{method: "POST", path: "/v1/comments/videos/" + other, token: ownerToken, body: map[string]any{"content": "drcomment"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	commentReport := e.fileReport(repToken, map[string]any{"reported_comment_id": res.Body["id"]})
	res = patch(commentReport, map[string]any{"status": "resolved", "action": "remove_comment", "reason": "insult"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, "removed", res.Body["report"].(map[string]any)["comment"].(map[string]any)["state"])
	res = e.do(req{method: "GET", path: "/v1/videos/" + other, token: viewerToken})
	require.Equal(t, float64(0), res.Body["comment_count"])
	res = e.do(req{method: "GET", path: "/v1/comments/videos/" + other, token: viewerToken})
	require.NotContains(t, string(res.Raw), "drcomment")

	// A user report resolved by a ban: login refused.
	_, badID := e.register("dr_baduser")
	userReport := e.fileReport(repToken, map[string]any{"reported_user_id": badID})
	res = patch(userReport, map[string]any{"status": "resolved", "action": "ban_user", "reason": "spam ring"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, "banned", res.Body["report"].(map[string]any)["user"].(map[string]any)["status"])
	bannedUser, err := e.store.UserByID(context.Background(), uuid.MustParse(badID))
	require.NoError(t, err)
	_, err = asynq.NewInspectorFromRedisClient(e.rdb).GetTaskInfo(tasks.QueueDefault,
		fmt.Sprintf("%s:%s:%d", tasks.TypeUserMediaSync, badID, bannedUser.UpdatedAt.UnixNano()))
	require.NoError(t, err, "user:media_sync enqueued")
	res = e.do(req{method: "POST", path: "/v1/auth/login", body: map[string]any{"username": "dr_baduser", "password": "password-dr_baduser"}})
	require.Equal(t, http.StatusForbidden, res.Status, "%s", res.Raw)
	require.Equal(t, "account_banned", reason(res))

	// A dismissal: no violation.
	_, fine := e.register("dr_fineuser")
	dismissed := e.fileReport(rep2Token, map[string]any{"reported_user_id": fine})
	res = patch(dismissed, map[string]any{"status": "dismissed", "reason": "no rule broken"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	res = e.do(req{method: "GET", path: "/v1/notifications", token: rep2Token})
	require.Contains(t, string(res.Raw), "found no violation")
	require.NotContains(t, string(res.Raw), "dr_fineuser")
	res = e.do(req{method: "GET", path: "/v1/admin/reports/" + dismissed, token: adminToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Equal(t, "no rule broken", res.Body["resolution_note"])

	// Two admins at once: one wins.
	_, secondAdminToken := e.adminToken(t)
	_, target := e.register("dr_raceuser")
	raced := e.fileReport(repToken, map[string]any{"reported_user_id": target})
	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i, token := range []string{adminToken, secondAdminToken} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = e.do(req{method: "PATCH", path: "/v1/admin/reports/" + raced, token: token,
				body: map[string]any{"status": "resolved", "action": "ban_user", "reason": "race"}}).Status
		}()
	}
	wg.Wait()
	require.ElementsMatch(t, []int{http.StatusOK, http.StatusConflict}, statuses)
}

// TestAdminCommentRemoveAndRestore: the routes of a comment's removal: the
// comment leaves the list, the batch read and the count, cannot be liked,
// its author is told why; 409 for the repeated step; restore brings it
// back; audit rows.
func TestAdminCommentRemoveAndRestore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, adminToken := e.adminToken(t)
	ownerToken, owner := e.register("cr_owner")
	authorToken, author := e.register("cr_author")
	video := e.video(owner, dbtest.VideoOpts{})
	res := e.do(req{method: "POST", path: "/v1/comments/videos/" + video, token: authorToken, body: map[string]any{"content": "crremoved words"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)
	comment := res.Body["id"].(string)
	patch := func(verb string, body any) response {
		return e.do(req{method: "PATCH", path: "/v1/admin/comments/" + comment + "/" + verb, token: adminToken, body: body})
	}
	count := func() float64 {
		return e.do(req{method: "GET", path: "/v1/videos/" + video, token: ownerToken}).Body["comment_count"].(float64)
	}
	require.Equal(t, float64(1), count())

	for _, c := range []struct {
		verb   string
		body   any
		status int
	}{
		{"remove", map[string]any{}, http.StatusUnprocessableEntity},
		{"remove", map[string]any{"reason": strings.Repeat("x", 1001)}, http.StatusUnprocessableEntity},
		{"restore", map[string]any{"reason": "x"}, http.StatusConflict},
	} {
		res := patch(c.verb, c.body)
		require.Equal(t, c.status, res.Status, "%s %v: %s", c.verb, c.body, res.Raw)
	}
	require.Equal(t, http.StatusUnprocessableEntity,
		e.do(req{method: "PATCH", path: "/v1/admin/comments/nope/remove", token: adminToken, body: map[string]any{"reason": "x"}}).Status)

	sub := e.rdb.Subscribe(context.Background(), notification.Channel(uuid.MustParse(author)))
	defer sub.Close()
	_, err := sub.Receive(context.Background())
	require.NoError(t, err)
	res = patch("remove", map[string]any{"reason": "personal attack"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.NotNil(t, res.Body["removed_at"])
	require.Equal(t, "personal attack", res.Body["removed_reason"])
	select {
	case msg := <-sub.Channel():
		require.Contains(t, msg.Payload, "personal attack", "the author is told why")
	case <-time.After(5 * time.Second):
		t.Fatal("the removal's notification was not pushed")
	}
	require.Equal(t, float64(0), count())
	res = e.do(req{method: "GET", path: "/v1/comments/videos/" + video, token: ownerToken})
	require.Equal(t, float64(0), res.Body["total"])
	require.NotContains(t, string(res.Raw), "crremoved")
	res = e.do(req{method: "POST", path: "/v1/comments/batch-info", token: ownerToken, body: map[string]any{"comment_ids": []string{comment}}})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Empty(t, res.Body["comments"])
	require.Equal(t, http.StatusNotFound, e.do(req{method: "POST", path: "/v1/comments/comments/" + comment + "/like", token: ownerToken}).Status)
	require.Equal(t, http.StatusNotFound, e.do(req{method: "PATCH", path: "/v1/comments/" + comment, token: authorToken,
		body: map[string]any{"content": "edited"}}).Status, "not even its author edits a removed comment")
	res = patch("remove", map[string]any{"reason": "again"})
	require.Equal(t, http.StatusConflict, res.Status)
	require.Equal(t, "already_removed", reason(res))

	res = patch("restore", map[string]any{"reason": "appeal upheld"})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	require.Nil(t, res.Body["removed_at"])
	require.Equal(t, float64(1), count())
	res = e.do(req{method: "GET", path: "/v1/comments/videos/" + video, token: ownerToken})
	require.Contains(t, string(res.Raw), "crremoved")
	res = patch("restore", map[string]any{"reason": "again"})
	require.Equal(t, http.StatusConflict, res.Status)
	require.Equal(t, "not_removed", reason(res))

	res = e.do(req{method: "GET", path: "/v1/admin/audit?target_type=comment&target_id=" + comment, token: adminToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	entries := res.Body["entries"].([]any)
	require.Len(t, entries, 2)
	require.Equal(t, "comment.restore", entries[0].(map[string]any)["action"])
	require.Equal(t, "comment.remove", entries[1].(map[string]any)["action"])
}
