package main

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db/dbtest"
)

// TestSeedBulk: `lokiz seed -bulk` fills a migrated database with exactly
// the sizes asked for (distinct likes and follows, none of oneself), keeps
// the counters true, lets the accounts log in, and refuses to run twice.
func TestSeedBulk(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, dbURL := dbtest.NewDB(t)
	env := map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": redisURL(), "SECRET_KEY": strings.Repeat("s", 40),
		"STORAGE_DIR": t.TempDir(), "BCRYPT_COST": "4", "LOKIZ_ENV": "development"}

	code, out := runBinary(t, env, "seed", "-bulk", "-users", "7", "-videos", "30", "-likes", "100", "-follows", "20", "-password", "bulk-pass-1234")
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "seeded 7 users, 30 videos, 100 likes, 20 follows in ")

	var users, videos, likes, follows, likeSum, selfFollows, tagged int
	require.NoError(t, pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM users WHERE username LIKE 'bulk\_%'),
		(SELECT count(*) FROM videos WHERE status = 'completed' AND caption LIKE '%#%'),
		(SELECT count(DISTINCT (user_id, video_id)) FROM likes),
		(SELECT count(DISTINCT (follower_id, following_id)) FROM follows),
		(SELECT coalesce(sum(like_count), 0) FROM videos),
		(SELECT count(*) FROM follows WHERE follower_id = following_id),
		(SELECT count(DISTINCT video_id) FROM video_hashtags)`).
		Scan(&users, &videos, &likes, &follows, &likeSum, &selfFollows, &tagged))
	require.Equal(t, []int{7, 30, 100, 20, 100, 0, 30}, []int{users, videos, likes, follows, likeSum, selfFollows, tagged})

	code, out = runBinary(t, env, "seed", "-bulk", "-users", "7", "-videos", "30", "-likes", "0")
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "already has 7 bulk accounts")

	code, out = runBinary(t, env, "seed", "-bulk", "-users", "2", "-videos", "1", "-likes", "3")
	require.Equal(t, 2, code, out)
	require.Contains(t, out, "-likes must be between 0 and users × videos")
}
