package db_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// countsMismatchSQL lists every video and comment whose stored counters
// differ from a recount of what the lists show (00019_true_counts.sql).
const countsMismatchSQL = `
SELECT 'video ' || v.id::text || fmt
FROM (
    SELECT x.id, format(' likes %s/%s comments %s/%s glitches %s/%s',
               x.like_count, t.likes, x.comment_count, t.comments, x.glitch_count, t.glitches) AS fmt,
           (x.like_count, x.comment_count, x.glitch_count) IS DISTINCT FROM (t.likes, t.comments, t.glitches) AS bad
    FROM videos x, LATERAL (SELECT
        (SELECT count(*) FROM likes l JOIN users u ON u.id = l.user_id WHERE l.video_id = x.id AND u.is_active)::int AS likes,
        (SELECT count(*) FROM comments c JOIN users u ON u.id = c.user_id WHERE c.video_id = x.id AND u.is_active)::int AS comments,
        (SELECT count(*) FROM video_glitches g JOIN videos gv ON gv.id = g.glitch_video_id JOIN users u ON u.id = gv.user_id
          WHERE g.original_video_id = x.id AND gv.status = 'completed' AND gv.is_public AND gv.deleted_at IS NULL
            AND u.is_active)::int AS glitches) t
) v WHERE v.bad
UNION ALL
SELECT 'comment ' || c.id::text || format(' likes %s/%s', c.like_count, t.likes)
FROM comments c, LATERAL (SELECT count(*)::int AS likes FROM comment_likes cl JOIN users u ON u.id = cl.user_id
                          WHERE cl.comment_id = c.id AND u.is_active) t
WHERE c.like_count <> t.likes`

// countsMismatchNowSQL is countsMismatchSQL for the current schema: a
// comment removed by a moderator is not shown, so it does not count
// (00031). The migration tests keep the older text for older schemas.
var countsMismatchNowSQL = mustReplace(countsMismatchSQL,
	"WHERE c.video_id = x.id AND u.is_active)::int AS comments",
	"WHERE c.video_id = x.id AND u.is_active AND c.removed_at IS NULL)::int AS comments")

// mustReplace replaces old, which must occur in s once.
func mustReplace(s, old, repl string) string {
	if strings.Count(s, old) != 1 {
		panic("mustReplace: " + old + " does not occur once")
	}
	return strings.Replace(s, old, repl, 1)
}

func requireCountsTrue(t *testing.T, store *db.Store) {
	t.Helper()
	rows, err := store.Pool().Query(context.Background(), countsMismatchNowSQL)
	require.NoError(t, err)
	var bad []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		bad = append(bad, s)
	}
	require.NoError(t, rows.Err())
	require.Empty(t, bad, "counters differ from a recount")
	requireEngagementTrue(t, store)
}

// countsVideo inserts a completed public video of owner.
func countsVideo(t *testing.T, store *db.Store, owner uuid.UUID) uuid.UUID {
	t.Helper()
	id := db.NewID()
	_, err := store.Pool().Exec(context.Background(),
		`INSERT INTO videos (id, user_id, status, is_public, completed_at) VALUES ($1, $2, 'completed', true, now())`, id, owner)
	require.NoError(t, err)
	return id
}

// countsGlitch makes a glitch of source by author the way the AI pipeline
// does: a private result video and a completed job (CompleteAIJob), whose
// edge is recorded while the result is still private.
func countsGlitch(t *testing.T, store *db.Store, author, source uuid.UUID) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	id := db.NewID()
	_, err := store.Pool().Exec(ctx, `INSERT INTO ai_jobs (id, user_id, job_type, status, started_at)
		VALUES ($1, $2, 'glitch_animate', 'processing', now())`, id, author)
	require.NoError(t, err)
	_, err = store.Pool().Exec(ctx, `INSERT INTO videos (id, user_id, status, is_public, original_video_id, completed_at)
		VALUES ($1, $2, 'completed', false, $3, now())`, id, author, source)
	require.NoError(t, err)
	typ := "animate"
	done, _, err := store.CompleteAIJob(ctx, db.AIJobCompletion{ID: id, VideoID: &id, SourceVideoID: &source, GlitchType: &typ})
	require.NoError(t, err)
	require.True(t, done)
	return id
}

func glitchCount(t *testing.T, store *db.Store, id uuid.UUID) int32 {
	t.Helper()
	v, err := store.VideoGetByID(context.Background(), id)
	require.NoError(t, err)
	return v.GlitchCount
}

func glitchListLen(t *testing.T, store *db.Store, id uuid.UUID) int {
	t.Helper()
	rows, err := store.GlitchChildren(context.Background(), db.GlitchChildrenParams{VideoID: id, Lim: 100})
	require.NoError(t, err)
	pop, err := store.GlitchChildrenPopular(context.Background(), db.GlitchChildrenPopularParams{VideoID: id, Lim: 100})
	require.NoError(t, err)
	require.Len(t, pop, len(rows), "both orders list the same glitches")
	return len(rows)
}

func setActive(t *testing.T, store *db.Store, id uuid.UUID, active bool) {
	t.Helper()
	n, err := store.UserSetActive(context.Background(), db.UserSetActiveParams{ID: id, IsActive: active})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

// TestGlitchCountIsWhatTheListShows walks a glitch through every state: its
// source's glitch_count is the number of glitches the list shows, each time.
func TestGlitchCountIsWhatTheListShows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	author := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	src := countsVideo(t, store, owner.ID)

	check := func(want int32, state string) {
		t.Helper()
		require.Equal(t, want, glitchCount(t, store, src), state)
		require.Equal(t, int(want), glitchListLen(t, store, src), state)
		requireCountsTrue(t, store)
	}

	g := countsGlitch(t, store, author.ID, src)
	check(0, "completed while private")

	_, err := store.UpdateVideo(ctx, db.VideoUpdateParams{ID: g, UserID: author.ID, IsPublic: ptr(true)})
	require.NoError(t, err)
	check(1, "published")
	_, err = store.UpdateVideo(ctx, db.VideoUpdateParams{ID: g, UserID: author.ID, Caption: ptr("again")})
	require.NoError(t, err)
	check(1, "an edit that keeps it public")

	_, err = store.UpdateVideo(ctx, db.VideoUpdateParams{ID: g, UserID: author.ID, IsPublic: ptr(false)})
	require.NoError(t, err)
	check(0, "hidden")
	_, err = store.UpdateVideo(ctx, db.VideoUpdateParams{ID: g, UserID: author.ID, IsPublic: ptr(true)})
	require.NoError(t, err)
	check(1, "public again")

	_, _, err = store.AdminBanUser(ctx, db.Actor{}, db.BanParams{UserID: author.ID, Reason: "test"})
	require.NoError(t, err)
	check(0, "author banned")
	setActive(t, store, author.ID, true)
	check(1, "author unbanned")

	_, err = store.Pool().Exec(ctx, `UPDATE videos SET status = 'removed', removed_at = now() WHERE id = $1`, g)
	require.NoError(t, err)
	check(0, "removed by moderation")
	_, err = store.Pool().Exec(ctx, `UPDATE videos SET status = 'completed', removed_at = NULL WHERE id = $1`, g)
	require.NoError(t, err)
	check(1, "restored")

	// A second glitch, public; then the first is deleted.
	g2 := countsGlitch(t, store, owner.ID, src)
	_, err = store.UpdateVideo(ctx, db.VideoUpdateParams{ID: g2, UserID: owner.ID, IsPublic: ptr(true)})
	require.NoError(t, err)
	check(2, "two public glitches")
	_, err = store.DeleteVideo(ctx, g, author.ID)
	require.NoError(t, err)
	check(1, "one deleted")

	// A visible glitch hard-deleted, and a visible one whose edge goes.
	_, err = store.Pool().Exec(ctx, `DELETE FROM videos WHERE id = $1`, g2)
	require.NoError(t, err)
	check(0, "visible glitch hard-deleted")
	g3 := countsGlitch(t, store, owner.ID, src)
	_, err = store.UpdateVideo(ctx, db.VideoUpdateParams{ID: g3, UserID: owner.ID, IsPublic: ptr(true)})
	require.NoError(t, err)
	check(1, "third glitch public")
	_, err = store.Pool().Exec(ctx, `DELETE FROM video_glitches WHERE glitch_video_id = $1`, g3)
	require.NoError(t, err)
	check(0, "edge removed")
}

// TestLikesAndCommentsOfABannedUserStopCounting: a ban takes the user's
// likes, comments and comment likes out of every counter; an unban puts
// them back; what happens to their rows in between moves nothing twice.
func TestLikesAndCommentsOfABannedUserStopCounting(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	fan := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	other := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	v1, v2 := countsVideo(t, store, owner.ID), countsVideo(t, store, owner.ID)

	for _, v := range []uuid.UUID{v1, v2} {
		for _, u := range []uuid.UUID{fan.ID, other.ID} {
			_, err := store.LikeAdd(ctx, db.LikeAddParams{ID: db.NewID(), UserID: u, VideoID: v})
			require.NoError(t, err)
		}
	}
	c1, err := store.CommentCreate(ctx, db.CommentCreateParams{ID: db.NewID(), UserID: fan.ID, VideoID: v1, Content: "one"})
	require.NoError(t, err)
	c2, err := store.CommentCreate(ctx, db.CommentCreateParams{ID: db.NewID(), UserID: fan.ID, VideoID: v1, Content: "two"})
	require.NoError(t, err)
	oc, err := store.CommentCreate(ctx, db.CommentCreateParams{ID: db.NewID(), UserID: other.ID, VideoID: v1, Content: "three"})
	require.NoError(t, err)
	_, err = store.CommentLikeAdd(ctx, db.CommentLikeAddParams{ID: db.NewID(), UserID: fan.ID, CommentID: oc.ID})
	require.NoError(t, err)

	counts := func(v uuid.UUID) (likes, comments int32) {
		t.Helper()
		got, err := store.VideoGetByID(ctx, v)
		require.NoError(t, err)
		return got.LikeCount, got.CommentCount
	}
	commentLikes := func() int32 {
		t.Helper()
		var n int32
		require.NoError(t, store.Pool().QueryRow(ctx, `SELECT like_count FROM comments WHERE id = $1`, oc.ID).Scan(&n))
		return n
	}
	l, c := counts(v1)
	require.Equal(t, [2]int32{2, 3}, [2]int32{l, c})
	require.EqualValues(t, 1, commentLikes())

	_, _, err = store.AdminBanUser(ctx, db.Actor{}, db.BanParams{UserID: fan.ID, Reason: "test"})
	require.NoError(t, err)
	l, c = counts(v1)
	require.Equal(t, [2]int32{1, 1}, [2]int32{l, c}, "banned: only the other user's like and comment count")
	l, _ = counts(v2)
	require.EqualValues(t, 1, l)
	require.EqualValues(t, 0, commentLikes())
	requireCountsTrue(t, store)
	// The list shows what the count says.
	page, err := store.CommentsOfVideo(ctx, db.CommentsOfVideoParams{VideoID: v1, Lim: 50})
	require.NoError(t, err)
	require.Len(t, page, 1)

	// While banned, the owner deletes one of the fan's comments and the fan's
	// like of v2 goes (as a late unlike would): nothing is taken twice.
	_, err = store.CommentDelete(ctx, c1.ID)
	require.NoError(t, err)
	r, err := store.LikeRemove(ctx, db.LikeRemoveParams{UserID: fan.ID, VideoID: v2})
	require.NoError(t, err)
	require.True(t, r.Removed)
	require.EqualValues(t, 1, r.LikeCount)
	requireCountsTrue(t, store)

	setActive(t, store, fan.ID, true)
	l, c = counts(v1)
	require.Equal(t, [2]int32{2, 2}, [2]int32{l, c}, "unbanned: the remaining like and comment count again")
	l, _ = counts(v2)
	require.EqualValues(t, 1, l)
	require.EqualValues(t, 1, commentLikes())
	requireCountsTrue(t, store)

	_, err = store.CommentDelete(ctx, c2.ID)
	require.NoError(t, err)
	l, c = counts(v1)
	require.Equal(t, [2]int32{2, 1}, [2]int32{l, c})
	requireCountsTrue(t, store)
}

// TestCountsUnderConcurrentFlips publishes, hides, likes, unlikes, comments
// and bans/unbans in parallel: the counters end equal to a recount.
func TestCountsUnderConcurrentFlips(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	src := countsVideo(t, store, owner.ID)
	const authors = 4
	var users []uuid.UUID
	var glitches []uuid.UUID
	for range authors {
		u := dbtest.CreateUser(t, store, dbtest.UserOpts{}).ID
		users = append(users, u)
		glitches = append(glitches, countsGlitch(t, store, u, src))
	}

	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	wrap := func(op string, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		return nil
	}
	for i := range authors {
		u, g := users[i], glitches[i]
		wg.Add(3)
		go func() { // the author publishes and hides the glitch
			defer wg.Done()
			for j := range 30 {
				_, err := store.UpdateVideo(ctx, db.VideoUpdateParams{ID: g, UserID: u, IsPublic: ptr(j%2 == 0)})
				errs <- wrap("publish", err)
			}
		}()
		go func() { // the author likes, unlikes and comments on the source
			defer wg.Done()
			for j := range 30 {
				var err error
				switch j % 3 {
				case 0:
					_, err = store.LikeAdd(ctx, db.LikeAddParams{ID: db.NewID(), UserID: u, VideoID: src})
				case 1:
					_, err = store.CommentCreate(ctx, db.CommentCreateParams{ID: db.NewID(), UserID: u, VideoID: src, Content: fmt.Sprint(j)})
				default:
					_, err = store.LikeRemove(ctx, db.LikeRemoveParams{UserID: u, VideoID: src})
				}
				errs <- wrap(fmt.Sprint("engage ", j%3), err)
			}
		}()
		go func() { // an admin bans and unbans the author
			defer wg.Done()
			for j := range 30 {
				_, err := store.UserSetActive(ctx, db.UserSetActiveParams{ID: u, IsActive: j%2 == 1})
				errs <- wrap(fmt.Sprint("active ", j%2 == 1), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	var failed []string
	for err := range errs {
		if err != nil {
			failed = append(failed, err.Error())
		}
	}
	require.Empty(t, failed)
	requireCountsTrue(t, store)
	require.Equal(t, int(glitchCount(t, store, src)), glitchListLen(t, store, src))
}

// TestCountsMigrationRecounts: 00019 puts the counters of existing rows
// right once (the old code counted private glitch results and kept banned
// users' likes and comments), and goes down and up again.
func TestCountsMigrationRecounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, p, exec := migratedTo(t, 18)
	var err error
	const (
		owner  = "01900000-0000-7000-8000-000000000001"
		banned = "01900000-0000-7000-8000-000000000002"
		video  = "01900000-0000-7000-8000-000000000003"
		glitch = "01900000-0000-7000-8000-000000000004"
		cm     = "01900000-0000-7000-8000-000000000005"
	)
	exec(`INSERT INTO users (id, username, email, hashed_password) VALUES ($1, 'mig_o', 'o@example.com', 'x'), ($2, 'mig_b', 'b@example.com', 'x')`, owner, banned)
	exec(`INSERT INTO videos (id, user_id, status, like_count, comment_count, glitch_count) VALUES ($1, $2, 'completed', 2, 1, 1)`, video, owner)
	exec(`INSERT INTO videos (id, user_id, status, is_public) VALUES ($1, $2, 'completed', false)`, glitch, banned)
	exec(`INSERT INTO video_glitches (id, original_video_id, glitch_video_id, glitch_type) VALUES ($1, $2, $3, 'animate')`, db.NewID(), video, glitch)
	exec(`INSERT INTO likes (id, user_id, video_id) VALUES ($1, $2, $3), ($4, $5, $3)`, db.NewID(), owner, video, db.NewID(), banned)
	exec(`INSERT INTO comments (id, user_id, video_id, content, like_count) VALUES ($1, $2, $3, 'x', 1)`, cm, owner, video)
	exec(`INSERT INTO comment_likes (id, user_id, comment_id) VALUES ($1, $2, $3)`, db.NewID(), banned, cm)
	exec(`UPDATE users SET is_active = false WHERE id = $1`, banned)

	_, err = p.UpTo(ctx, 19)
	require.NoError(t, err)
	var likes, comments, glitches, commentLikes int
	require.NoError(t, conn.QueryRowContext(ctx, `SELECT like_count, comment_count, glitch_count, (SELECT like_count FROM comments WHERE id = $2)
		FROM videos WHERE id = $1`, video, cm).Scan(&likes, &comments, &glitches, &commentLikes))
	require.Equal(t, [4]int{1, 1, 0, 0}, [4]int{likes, comments, glitches, commentLikes},
		"the banned user's like and comment like and the private glitch are not counted")
	rows, err := conn.QueryContext(ctx, countsMismatchSQL)
	require.NoError(t, err)
	require.False(t, rows.Next(), "counters equal a recount")
	require.NoError(t, rows.Close())

	_, err = p.DownTo(ctx, 18)
	require.NoError(t, err)
	_, err = p.UpTo(ctx, 19)
	require.NoError(t, err)
}

func ptr[T any](v T) *T { return &v }

// TestTrendingCountsVisibleGlitches: the trending score weighs glitches by
// glitch_count, so a private or banned author's glitch adds nothing and a
// published one does.
func TestTrendingCountsVisibleGlitches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	owner := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	author := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	banned := dbtest.CreateUser(t, store, dbtest.UserOpts{})
	plain, private, public, ofBanned := countsVideo(t, store, owner.ID), countsVideo(t, store, owner.ID),
		countsVideo(t, store, owner.ID), countsVideo(t, store, owner.ID)
	countsGlitch(t, store, author.ID, private)
	g := countsGlitch(t, store, author.ID, public)
	_, err := store.UpdateVideo(ctx, db.VideoUpdateParams{ID: g, UserID: author.ID, IsPublic: ptr(true)})
	require.NoError(t, err)
	gb := countsGlitch(t, store, banned.ID, ofBanned)
	_, err = store.UpdateVideo(ctx, db.VideoUpdateParams{ID: gb, UserID: banned.ID, IsPublic: ptr(true)})
	require.NoError(t, err)
	_, _, err = store.AdminBanUser(ctx, db.Actor{}, db.BanParams{UserID: banned.ID, Reason: "test"})
	require.NoError(t, err)
	// The same age for all, so that only the counts differ.
	_, err = store.Pool().Exec(ctx, `UPDATE videos SET created_at = now() - interval '1 hour' WHERE user_id = $1`, owner.ID)
	require.NoError(t, err)

	rows, err := store.TrendingScores(ctx, db.TrendingScoresParams{WindowHours: 24, Lim: 100})
	require.NoError(t, err)
	score := map[uuid.UUID]float64{}
	for _, r := range rows {
		score[r.ID] = r.Score
	}
	require.Len(t, score, 5, "the four videos and the published glitch of an active author")
	require.Equal(t, score[plain], score[private], "a private glitch adds nothing")
	require.Equal(t, score[plain], score[ofBanned], "a banned author's glitch adds nothing")
	require.Greater(t, score[public], score[plain], "a published glitch counts")
}
