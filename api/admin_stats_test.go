package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/api"
	"github.com/lokiz/lokiz/db/dbtest"
	"github.com/lokiz/lokiz/internal/testkit"
)

// newStatsEnv is an env whose active-user keys are its own, so parallel
// tests never count each other's users.
func newStatsEnv(t *testing.T) *testEnv {
	t.Helper()
	return newEnv(t, func(c *api.Config) { c.ActivityPrefix = "test:" + uuid.NewString() + ":" })
}

// newAdmin makes an admin and signs them in.
func (e *testEnv) newAdmin(t *testing.T) (uuid.UUID, string) {
	t.Helper()
	u := dbtest.CreateUser(t, e.store, dbtest.UserOpts{Role: lokiz.RoleAdmin})
	return u.ID, e.tokenFor(u.ID)
}

func TestAdminStatsRoutesAreForAdminsOnly(t *testing.T) {
	t.Parallel()
	e := newStatsEnv(t)
	_, adminToken := e.newAdmin(t)
	user := dbtest.CreateUser(t, e.store, dbtest.UserOpts{})
	userToken := e.tokenFor(user.ID)
	// An admin's API key is still refused: admin routes need a session.
	keyAdmin := dbtest.CreateUser(t, e.store, dbtest.UserOpts{Role: lokiz.RoleAdmin})
	dbtest.SetSubscription(t, e.store, keyAdmin.ID, lokiz.TierEnterprise, nil)
	key, _ := e.newAPIKey(t, e.tokenFor(keyAdmin.ID), "admin key")

	for _, path := range []string{"/v1/admin/stats", "/v1/admin/users", "/v1/admin/videos"} {
		res := e.do(req{method: "GET", path: path})
		require.Equal(t, http.StatusUnauthorized, res.Status, "%s signed out: %s", path, res.Raw)
		res = e.do(req{method: "GET", path: path, token: userToken})
		require.Equal(t, http.StatusForbidden, res.Status, "%s as a user: %s", path, res.Raw)
		require.Equal(t, "admin_only", reason(res))
		res = e.do(req{method: "GET", path: path, token: key})
		require.Equal(t, http.StatusForbidden, res.Status, "%s with an API key: %s", path, res.Raw)
		require.Equal(t, "api_key_not_allowed", reason(res))
		res = e.do(req{method: "GET", path: path, token: adminToken})
		require.Equal(t, http.StatusOK, res.Status, "%s as an admin: %s", path, res.Raw)
	}
}

func num(t *testing.T, m map[string]any, key string) int64 {
	t.Helper()
	v, ok := m[key].(float64)
	require.True(t, ok, "%s is a number in %v", key, m)
	return int64(v)
}

func TestAdminStatsMatchSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newStatsEnv(t)
	adminID, adminToken := e.newAdmin(t)

	// Users: three active (one signs in twice), one banned, one deleted.
	var active []uuid.UUID
	for range 3 {
		active = append(active, dbtest.CreateUser(t, e.store, dbtest.UserOpts{}).ID)
	}
	banned := dbtest.CreateUser(t, e.store, dbtest.UserOpts{})
	no := false
	dbtest.SetUser(t, e.store, banned.ID, dbtest.UserChange{Active: &no})
	deleted := dbtest.CreateUser(t, e.store, dbtest.UserOpts{})
	_, err := e.store.Pool().Exec(ctx, "UPDATE users SET deleted_at = now() WHERE id = $1", deleted.ID)
	require.NoError(t, err)
	_, err = e.store.Pool().Exec(ctx, "UPDATE users SET created_at = now() - interval '3 days' WHERE id = $1", active[2])
	require.NoError(t, err)

	// Videos in every state, one from three days ago, one ten days ago.
	owner := active[0]
	dbtest.Video(t, e.store, dbtest.VideoOpts{Owner: owner})
	dbtest.Video(t, e.store, dbtest.VideoOpts{Owner: owner, Private: true})
	dbtest.Video(t, e.store, dbtest.VideoOpts{Owner: owner, Status: "processing"})
	dbtest.Video(t, e.store, dbtest.VideoOpts{Owner: owner, Deleted: true})
	dbtest.Video(t, e.store, dbtest.VideoOpts{Owner: owner, CreatedAt: time.Now().Add(-72 * time.Hour)})
	dbtest.Video(t, e.store, dbtest.VideoOpts{Owner: active[1], CreatedAt: time.Now().Add(-240 * time.Hour)})
	removed := dbtest.Video(t, e.store, dbtest.VideoOpts{Owner: active[1]})
	st := "removed"
	dbtest.SetVideo(t, e.store, removed.ID, dbtest.VideoChange{Status: &st})

	// AI jobs: two completed, one failed, one canceled, one pending.
	for _, s := range []string{lokiz.JobCompleted, lokiz.JobCompleted, lokiz.JobFailed, lokiz.JobCanceled, lokiz.JobPending} {
		dbtest.AIJob(t, e.store, dbtest.AIJobOpts{User: active[0], Status: s, Credits: 5})
	}
	_, err = e.store.Pool().Exec(ctx, `UPDATE ai_jobs SET started_at = completed_at - interval '10 seconds'
		WHERE status = 'completed' AND id = (SELECT id FROM ai_jobs WHERE status = 'completed' ORDER BY id LIMIT 1)`)
	require.NoError(t, err)

	// A queue holding the id of a retained task whose hash has expired,
	// not yet swept by asynq's janitor: asynq's own queue reading fails on
	// it (CI once answered 500 here), the stats must not.
	q := "test_stats_" + strings.ReplaceAll(uuid.NewString(), "-", "")
	require.NoError(t, e.rdb.SAdd(ctx, "asynq:queues", q).Err())
	require.NoError(t, e.rdb.ZAdd(ctx, "asynq:{"+q+"}:completed", redis.Z{Score: 1, Member: "expired-task"}).Err())
	t.Cleanup(func() {
		e.rdb.SRem(context.Background(), "asynq:queues", q)
		e.rdb.Del(context.Background(), "asynq:{"+q+"}:completed")
	})

	// An open report, from the api.
	video := dbtest.Video(t, e.store, dbtest.VideoOpts{Owner: active[1]})
	res := e.do(req{method: "POST", path: "/v1/videos/" + video.ID.String() + "/report", token: e.tokenFor(active[2]),
		body: map[string]any{"report_type": "spam"}})
	require.Equal(t, http.StatusCreated, res.Status, "%s", res.Raw)

	// Activity: every active user and the admin make requests; active[0]
	// several. The banned user is refused and never counted.
	for _, id := range append(active, active[0], adminID) {
		res := e.do(req{method: "GET", path: "/v1/users/me", token: e.tokenFor(id)})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	}
	res = e.do(req{method: "GET", path: "/v1/users/me", token: e.tokenFor(banned.ID)})
	require.Equal(t, http.StatusUnauthorized, res.Status)
	api.ActivityOf(e.srv).Wait()

	res = e.do(req{method: "GET", path: "/v1/admin/stats", token: adminToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	b := res.Body
	at, err := time.Parse(time.RFC3339Nano, b["generated_at"].(string))
	require.NoError(t, err)

	// The same counts, made directly in SQL with the same windows.
	var want struct {
		users, usersDay, usersWeek, videos, videosDay, videosWeek, openReports int64
		granted, used, completed, failed                                       int64
		p50                                                                    float64
	}
	require.NoError(t, e.store.Pool().QueryRow(ctx, `SELECT
		(SELECT count(*) FROM users WHERE deleted_at IS NULL),
		(SELECT count(*) FROM users WHERE deleted_at IS NULL AND created_at >= $1::timestamptz - interval '1 day'),
		(SELECT count(*) FROM users WHERE deleted_at IS NULL AND created_at >= $1::timestamptz - interval '7 days'),
		(SELECT count(*) FROM videos WHERE deleted_at IS NULL),
		(SELECT count(*) FROM videos WHERE deleted_at IS NULL AND created_at >= $1::timestamptz - interval '1 day'),
		(SELECT count(*) FROM videos WHERE deleted_at IS NULL AND created_at >= $1::timestamptz - interval '7 days'),
		(SELECT count(*) FROM reports WHERE status NOT IN ('resolved', 'dismissed')),
		(SELECT coalesce(sum(credits), 0) FROM credit_transactions WHERE credits > 0),
		(SELECT coalesce(-sum(credits), 0) FROM credit_transactions WHERE credits < 0),
		(SELECT count(*) FROM ai_jobs WHERE status = 'completed'),
		(SELECT count(*) FROM ai_jobs WHERE status = 'failed'),
		(SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM completed_at - coalesce(started_at, created_at)))
		   FROM ai_jobs WHERE status = 'completed')`, at).Scan(
		&want.users, &want.usersDay, &want.usersWeek, &want.videos, &want.videosDay, &want.videosWeek, &want.openReports,
		&want.granted, &want.used, &want.completed, &want.failed, &want.p50))

	require.Equal(t, want.users, num(t, b, "total_users"))
	require.Equal(t, int64(5), want.users, "three active, the banned one and the admin")
	nu := b["new_users"].(map[string]any)
	require.Equal(t, want.usersDay, num(t, nu, "day"))
	require.Equal(t, want.usersWeek, num(t, nu, "week"))
	require.Equal(t, want.usersDay+1, want.usersWeek, "the backdated user is new this week, not today")
	require.Equal(t, want.videos, num(t, b, "total_videos"))
	nv := b["new_videos"].(map[string]any)
	require.Equal(t, want.videosDay, num(t, nv, "day"))
	require.Equal(t, want.videosWeek, num(t, nv, "week"))
	require.Equal(t, want.videosDay+1, want.videosWeek)
	require.Equal(t, want.videos, want.videosWeek+1)

	users := b["users"].(map[string]any)
	require.Equal(t, int64(1), num(t, users, "banned"))
	require.Equal(t, int64(1), num(t, users, "deleted"))
	require.Equal(t, int64(1), num(t, users, "admins"))
	require.Equal(t, int64(1), num(t, b["videos_by_status"].(map[string]any), "removed"))

	// Four distinct users were active today; the banned one was refused.
	require.Equal(t, int64(4), num(t, b, "dau"))
	require.Equal(t, int64(4), num(t, b, "wau"))
	require.Equal(t, int64(4), num(t, b, "mau"))

	credits := b["credits"].(map[string]any)
	require.Equal(t, want.granted, num(t, credits, "granted"))
	require.Equal(t, want.used, num(t, credits, "used"))
	require.Equal(t, int64(25), want.used, "five jobs of 5 credits")

	ai := b["ai_jobs"].(map[string]any)
	require.NotContains(t, ai, "job_type", "the overall row names no type")
	require.Equal(t, int64(5), num(t, ai, "total"))
	require.InDelta(t, float64(want.completed)/float64(want.completed+want.failed), ai["success_rate"].(float64), 1e-9)
	require.InDelta(t, want.p50, ai["p50_seconds"].(float64), 1e-6)
	require.Greater(t, ai["p95_seconds"].(float64), 5.0, "one job took 10 s")
	byType := ai["by_type"].([]any)
	require.Len(t, byType, len(lokiz.JobTypes))
	for _, bt := range byType {
		m := bt.(map[string]any)
		if m["job_type"] == lokiz.JobMusic {
			require.Equal(t, int64(5), num(t, m, "total"))
			require.Equal(t, int64(2), num(t, m["by_status"].(map[string]any), "completed"))
		} else {
			require.Zero(t, num(t, m, "total"))
			require.Nil(t, m["success_rate"])
		}
	}

	require.Equal(t, want.openReports, num(t, b, "open_reports"))
	require.Equal(t, int64(1), want.openReports)
	require.NotNil(t, b["queues"])
	require.Equal(t, 30.0, b["cache_ttl_seconds"])

	// The answer is cached: a new user does not show until it expires.
	dbtest.CreateUser(t, e.store, dbtest.UserOpts{})
	res = e.do(req{method: "GET", path: "/v1/admin/stats", token: adminToken})
	require.Equal(t, want.users, num(t, res.Body, "total_users"))
	require.Equal(t, b["generated_at"], res.Body["generated_at"])
	api.ResetAdminStatsCache(e.srv)
	res = e.do(req{method: "GET", path: "/v1/admin/stats", token: adminToken})
	require.Equal(t, want.users+1, num(t, res.Body, "total_users"))
}

func TestAdminStatsQueues(t *testing.T) {
	t.Parallel()
	e := newStatsEnv(t)
	_, adminToken := e.newAdmin(t)
	q := testkit.UniqueQueue(t, e.rdb)
	for range 3 {
		_, err := e.queue.Enqueue(asynq.NewTask("test:admin-stats", nil), asynq.Queue(q))
		require.NoError(t, err)
	}
	res := e.do(req{method: "GET", path: "/v1/admin/stats", token: adminToken})
	require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
	found := false
	for _, item := range res.Body["queues"].([]any) {
		m := item.(map[string]any)
		if m["queue"] == q {
			found = true
			require.Equal(t, int64(3), num(t, m, "pending"))
			require.Equal(t, int64(3), num(t, m, "size"))
		}
	}
	require.True(t, found, "queue %s listed", q)
}

func TestAdminUsersList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newStatsEnv(t)
	_, adminToken := e.newAdmin(t)
	tag := "adm" + uuid.NewString()[:6]
	mk := func(suffix string) uuid.UUID {
		return dbtest.CreateUser(t, e.store, dbtest.UserOpts{Username: tag + suffix, Email: tag + suffix + "@example.com"}).ID
	}
	a, bannedID, deletedID, pro := mk("_a"), mk("_banned"), mk("_deleted"), mk("_pro")
	no := false
	dbtest.SetUser(t, e.store, bannedID, dbtest.UserChange{Active: &no})
	_, err := e.store.Pool().Exec(ctx, "UPDATE users SET deleted_at = now() WHERE id = $1", deletedID)
	require.NoError(t, err)
	dbtest.SetSubscription(t, e.store, pro, lokiz.TierPro, nil)
	dotA := mk(".a") // "_" in q must not match its "."

	list := func(query string) []string {
		t.Helper()
		res := e.do(req{method: "GET", path: "/v1/admin/users?" + query, token: adminToken})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		var ids []string
		for _, u := range res.Body["users"].([]any) {
			ids = append(ids, u.(map[string]any)["id"].(string))
		}
		return ids
	}
	all := list("q=" + url.QueryEscape(tag))
	require.Len(t, all, 5, "banned and deleted users are listed too")
	require.Equal(t, []string{bannedID.String()}, list("q="+tag+"&status=banned"))
	require.Equal(t, []string{deletedID.String()}, list("q="+tag+"&status=deleted"))
	require.Len(t, list("q="+tag+"&status=active"), 3)
	require.Equal(t, []string{pro.String()}, list("q="+tag+"&tier=pro"))
	require.Empty(t, list("q="+tag+"&role=admin"))
	require.Equal(t, []string{a.String()}, list("q="+url.QueryEscape(tag+"_A@")), "e-mail prefix, any case")
	require.Empty(t, list("q="+url.QueryEscape(tag+"%")), "% is not a wildcard")
	require.Equal(t, []string{a.String()}, list("q="+tag+"_a"), "_ is not a wildcard")
	require.Equal(t, []string{dotA.String()}, list("q="+tag+".a"))

	// Cursor pages cover the list once, newest first.
	var paged []string
	cursor := ""
	for range 10 {
		path := "/v1/admin/users?page_size=2&q=" + tag
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		res := e.do(req{method: "GET", path: path, token: adminToken})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		for _, u := range res.Body["users"].([]any) {
			paged = append(paged, u.(map[string]any)["id"].(string))
		}
		next, _ := res.Body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	require.Equal(t, all, paged)

	for _, bad := range []string{"status=gone", "role=root", "tier=gold", "cursor=nope", "page_size=0"} {
		res := e.do(req{method: "GET", path: "/v1/admin/users?" + bad, token: adminToken})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s: %s", bad, res.Raw)
	}
}

func TestAdminVideosList(t *testing.T) {
	t.Parallel()
	e := newStatsEnv(t)
	_, adminToken := e.newAdmin(t)
	owner := dbtest.CreateUser(t, e.store, dbtest.UserOpts{})
	other := dbtest.CreateUser(t, e.store, dbtest.UserOpts{})
	tag := "cap" + uuid.NewString()[:8]
	public := dbtest.Video(t, e.store, dbtest.VideoOpts{Owner: owner.ID, Caption: "hello " + tag})
	private := dbtest.Video(t, e.store, dbtest.VideoOpts{Owner: owner.ID, Private: true, Caption: "private " + tag})
	deleted := dbtest.Video(t, e.store, dbtest.VideoOpts{Owner: owner.ID, Deleted: true, Caption: tag})
	removed := dbtest.Video(t, e.store, dbtest.VideoOpts{Owner: other.ID, Title: "Title " + tag})
	st := "removed"
	dbtest.SetVideo(t, e.store, removed.ID, dbtest.VideoChange{Status: &st})
	no := false
	dbtest.SetUser(t, e.store, other.ID, dbtest.UserChange{Active: &no}) // a banned owner's video is listed too

	list := func(query string) []map[string]any {
		t.Helper()
		res := e.do(req{method: "GET", path: "/v1/admin/videos?" + query, token: adminToken})
		require.Equal(t, http.StatusOK, res.Status, "%s", res.Raw)
		var out []map[string]any
		for _, v := range res.Body["videos"].([]any) {
			out = append(out, v.(map[string]any))
		}
		return out
	}
	ids := func(vs []map[string]any) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v["id"].(string))
		}
		return out
	}
	all := list("q=" + tag)
	require.Equal(t, []string{removed.ID.String(), deleted.ID.String(), private.ID.String(), public.ID.String()}, ids(all))
	require.Equal(t, "banned", all[0]["owner_status"])
	require.NotNil(t, all[0]["removed_at"])
	require.NotNil(t, all[1]["deleted_at"])
	require.Equal(t, []string{deleted.ID.String()}, ids(list("q="+tag+"&status=deleted")))
	require.Equal(t, []string{removed.ID.String()}, ids(list("q="+tag+"&status=removed")))
	require.Equal(t, []string{private.ID.String(), public.ID.String()}, ids(list("q="+tag+"&status=completed")))
	require.Equal(t, []string{removed.ID.String()}, ids(list("owner_id="+other.ID.String())))
	require.Equal(t, []string{private.ID.String()}, ids(list("q="+url.QueryEscape("PRIVATE "+tag))))
	require.Len(t, list("q="+tag+"&page_size=3"), 3)

	for _, bad := range []string{"status=gone", "owner_id=nope", "cursor=x", "page_size=51", "q=" + strings.Repeat("a", 201)} {
		res := e.do(req{method: "GET", path: "/v1/admin/videos?" + bad, token: adminToken})
		require.Equal(t, http.StatusUnprocessableEntity, res.Status, "%s: %s", bad, res.Raw)
	}
}
