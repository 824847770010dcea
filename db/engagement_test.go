package db_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// engagementMismatchSQL lists every (video, UTC day) whose row in
// video_daily_engagement differs from a direct count of the likes and
// comments of active users made that day (00029_creator_analytics.sql).
const engagementMismatchSQL = `
WITH truth AS (
    SELECT x.video_id, x.day, sum(x.l)::bigint AS likes, sum(x.c)::bigint AS comments
    FROM (SELECT l.video_id, (l.created_at AT TIME ZONE 'UTC')::date AS day, 1 AS l, 0 AS c
          FROM likes l JOIN users u ON u.id = l.user_id WHERE u.is_active
          UNION ALL
          SELECT cm.video_id, (cm.created_at AT TIME ZONE 'UTC')::date, 0, 1
          FROM comments cm JOIN users u ON u.id = cm.user_id WHERE u.is_active) x
    GROUP BY x.video_id, x.day
)
SELECT format('video %s day %s likes %s/%s comments %s/%s', coalesce(e.video_id, t.video_id), coalesce(e.day, t.day),
              coalesce(e.likes, 0), coalesce(t.likes, 0), coalesce(e.comments, 0), coalesce(t.comments, 0))
FROM video_daily_engagement e FULL JOIN truth t ON t.video_id = e.video_id AND t.day = e.day
WHERE (coalesce(e.likes, 0), coalesce(e.comments, 0)) <> (coalesce(t.likes, 0), coalesce(t.comments, 0))`

// engagementMismatchNowSQL is engagementMismatchSQL for the current
// schema, where a comment removed by a moderator does not count (00031).
var engagementMismatchNowSQL = mustReplace(engagementMismatchSQL,
	"FROM comments cm JOIN users u ON u.id = cm.user_id WHERE u.is_active) x",
	"FROM comments cm JOIN users u ON u.id = cm.user_id WHERE u.is_active AND cm.removed_at IS NULL) x")

func requireEngagementTrue(t *testing.T, store *db.Store) {
	t.Helper()
	rows, err := store.Pool().Query(context.Background(), engagementMismatchNowSQL)
	require.NoError(t, err)
	var bad []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		bad = append(bad, s)
	}
	require.NoError(t, rows.Err())
	require.Empty(t, bad, "daily likes/comments differ from a direct count")
}

func engagementOn(t *testing.T, store *db.Store, video uuid.UUID, day time.Time) (likes, comments int64) {
	t.Helper()
	err := store.Pool().QueryRow(context.Background(), `SELECT likes, comments FROM video_daily_engagement
		WHERE video_id = $1 AND day = $2`, video, day.UTC().Format(time.DateOnly)).Scan(&likes, &comments)
	if err != nil {
		require.ErrorIs(t, err, pgx.ErrNoRows)
	}
	return likes, comments
}

// TestDailyEngagementFollowsLikesAndComments: like, unlike, comment and
// delete move today's row exactly; an unlike of a like made on an earlier
// day takes it off that day, never off today's; a ban and an unban take the
// user's likes and comments out and back per day.
func TestDailyEngagementFollowsLikesAndComments(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	a := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	b := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	v := countsVideo(t, store, owner.ID)
	today := time.Now().UTC()
	past := today.AddDate(0, 0, -3)

	_, err := store.LikeAdd(ctx, db.LikeAddParams{ID: db.NewID(), UserID: a.ID, VideoID: v})
	require.NoError(t, err)
	_, err = store.LikeAdd(ctx, db.LikeAddParams{ID: db.NewID(), UserID: a.ID, VideoID: v}) // a repeat: no-op
	require.NoError(t, err)
	_, err = store.LikeAdd(ctx, db.LikeAddParams{ID: db.NewID(), UserID: b.ID, VideoID: v})
	require.NoError(t, err)
	c1, err := store.CommentCreate(ctx, db.CommentCreateParams{ID: db.NewID(), UserID: a.ID, VideoID: v, Content: "one"})
	require.NoError(t, err)
	_, err = store.CommentCreate(ctx, db.CommentCreateParams{ID: db.NewID(), UserID: b.ID, VideoID: v, Content: "two"})
	require.NoError(t, err)
	l, c := engagementOn(t, store, v, today)
	require.Equal(t, [2]int64{2, 2}, [2]int64{l, c})
	requireEngagementTrue(t, store)

	_, err = store.LikeRemove(ctx, db.LikeRemoveParams{UserID: a.ID, VideoID: v})
	require.NoError(t, err)
	_, err = store.LikeRemove(ctx, db.LikeRemoveParams{UserID: a.ID, VideoID: v}) // twice: no-op
	require.NoError(t, err)
	_, err = store.CommentDelete(ctx, c1.ID)
	require.NoError(t, err)
	l, c = engagementOn(t, store, v, today)
	require.Equal(t, [2]int64{1, 1}, [2]int64{l, c})
	requireEngagementTrue(t, store)

	// A like made three days ago (moved there the way a migration's backfill
	// would see it), then unliked today: it leaves that day, not today.
	_, err = store.LikeAdd(ctx, db.LikeAddParams{ID: db.NewID(), UserID: a.ID, VideoID: v})
	require.NoError(t, err)
	_, err = store.Pool().Exec(ctx, `UPDATE likes SET created_at = $3 WHERE user_id = $1 AND video_id = $2`, a.ID, v, past)
	require.NoError(t, err)
	_, err = store.Pool().Exec(ctx, `UPDATE video_daily_engagement SET likes = likes - 1 WHERE video_id = $1 AND day = $2`,
		v, today.Format(time.DateOnly))
	require.NoError(t, err)
	_, err = store.Pool().Exec(ctx, `INSERT INTO video_daily_engagement (video_id, day, likes) VALUES ($1, $2, 1)`,
		v, past.Format(time.DateOnly))
	require.NoError(t, err)
	requireEngagementTrue(t, store)
	_, err = store.LikeRemove(ctx, db.LikeRemoveParams{UserID: a.ID, VideoID: v})
	require.NoError(t, err)
	l, _ = engagementOn(t, store, v, past)
	require.Zero(t, l)
	l, _ = engagementOn(t, store, v, today)
	require.EqualValues(t, 1, l, "today keeps b's like")
	requireEngagementTrue(t, store)

	// Ban and unban b: the like and comment leave today's row and come back.
	setActive(t, store, b.ID, false)
	l, c = engagementOn(t, store, v, today)
	require.Equal(t, [2]int64{0, 0}, [2]int64{l, c})
	requireCountsTrue(t, store)
	requireEngagementTrue(t, store)
	setActive(t, store, b.ID, true)
	l, c = engagementOn(t, store, v, today)
	require.Equal(t, [2]int64{1, 1}, [2]int64{l, c})
	requireEngagementTrue(t, store)

	// The daily rows sum to the counters.
	var sumL, sumC int64
	require.NoError(t, store.Pool().QueryRow(ctx, `SELECT coalesce(sum(likes), 0), coalesce(sum(comments), 0)
		FROM video_daily_engagement WHERE video_id = $1`, v).Scan(&sumL, &sumC))
	got, err := store.VideoGetByID(ctx, v)
	require.NoError(t, err)
	require.Equal(t, [2]int64{int64(got.LikeCount), int64(got.CommentCount)}, [2]int64{sumL, sumC})

	// Deleting the video takes its rows with it.
	_, err = store.Pool().Exec(ctx, `DELETE FROM videos WHERE id = $1`, v)
	require.NoError(t, err)
	requireEngagementTrue(t, store)
}

// TestDailyEngagementConcurrentLikes: 20 users like at once, some of them
// twice, while two others flip between banned and active: today's row is
// exactly the direct count (20 likes from the 20).
func TestDailyEngagementConcurrentLikes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	v := countsVideo(t, store, owner.ID)
	var users []uuid.UUID
	for range 20 {
		users = append(users, dbtest.CreateUser(t, store, dbtest.UserOpts{}).ID)
	}
	flippers := []uuid.UUID{dbtest.CreateUser(t, store, dbtest.UserOpts{}).ID, dbtest.CreateUser(t, store, dbtest.UserOpts{}).ID}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1 + i%2 {
				_, err := store.LikeAdd(ctx, db.LikeAddParams{ID: db.NewID(), UserID: u, VideoID: v})
				errs <- err
			}
		}()
	}
	for _, f := range flippers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				switch j % 3 {
				case 0:
					_, err := store.LikeAdd(ctx, db.LikeAddParams{ID: db.NewID(), UserID: f, VideoID: v})
					errs <- err
				case 1:
					_, err := store.UserSetActive(ctx, db.UserSetActiveParams{ID: f, IsActive: j%2 == 0})
					errs <- err
				default:
					_, err := store.LikeRemove(ctx, db.LikeRemoveParams{UserID: f, VideoID: v})
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	requireEngagementTrue(t, store)
	requireCountsTrue(t, store)
	// The flippers end banned (j = 7 is their last flip), their likes not counted.
	l, _ := engagementOn(t, store, v, time.Now())
	require.EqualValues(t, 20, l)
}

// TestEngagementMigrationBackfills: 00029 files existing likes and comments
// of active users under the day they were made, and goes down and up again.
func TestEngagementMigrationBackfills(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, p, exec := migratedTo(t, 28)
	var err error
	const (
		owner  = "01900000-0000-7000-8000-000000000001"
		fan    = "01900000-0000-7000-8000-000000000002"
		banned = "01900000-0000-7000-8000-000000000003"
		video  = "01900000-0000-7000-8000-000000000004"
	)
	exec(`INSERT INTO users (id, username, email, hashed_password) VALUES ($1, 'eng_o', 'o@example.com', 'x'),
		($2, 'eng_f', 'f@example.com', 'x'), ($3, 'eng_b', 'b@example.com', 'x')`, owner, fan, banned)
	exec(`INSERT INTO videos (id, user_id, status, like_count, comment_count) VALUES ($1, $2, 'completed', 2, 3)`, video, owner)
	exec(`INSERT INTO likes (id, user_id, video_id, created_at) VALUES ($1, $2, $3, '2026-01-05T23:30:00Z'),
		($4, $5, $3, '2026-01-05T10:00:00Z')`, db.NewID(), fan, video, db.NewID(), banned)
	exec(`INSERT INTO comments (id, user_id, video_id, content, created_at) VALUES ($1, $2, $3, 'a', '2026-01-06T00:10:00Z'),
		($4, $2, $3, 'b', '2026-01-06T12:00:00Z'), ($5, $6, $3, 'c', '2026-01-06T12:00:00Z')`,
		db.NewID(), fan, video, db.NewID(), db.NewID(), banned)
	exec(`UPDATE users SET is_active = false WHERE id = $1`, banned)

	_, err = p.UpTo(ctx, 29)
	require.NoError(t, err)
	rows, err := conn.QueryContext(ctx, `SELECT day::text, likes, comments FROM video_daily_engagement WHERE video_id = $1 ORDER BY day`, video)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var day string
		var l, c int64
		require.NoError(t, rows.Scan(&day, &l, &c))
		got = append(got, fmt.Sprint(day, " ", l, " ", c))
	}
	require.NoError(t, rows.Close())
	require.Equal(t, []string{"2026-01-05 1 0", "2026-01-06 0 2"}, got, "UTC days; the banned user's like and comment left out")
	mism, err := conn.QueryContext(ctx, engagementMismatchSQL)
	require.NoError(t, err)
	require.False(t, mism.Next(), "the backfill equals a direct count")
	require.NoError(t, mism.Close())

	_, err = p.DownTo(ctx, 28)
	require.NoError(t, err)
	_, err = p.UpTo(ctx, 29)
	require.NoError(t, err)
}
