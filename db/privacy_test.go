package db_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz"
	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// keywordCounts returns the daily keyword counts and the same counts
// recomputed from search_keyword_users, which the triggers must keep equal.
func keywordCounts(t *testing.T, pool *pgxpool.Pool) (kept, recount map[string]int) {
	t.Helper()
	read := func(sql string) map[string]int {
		rows, err := pool.Query(context.Background(), sql)
		require.NoError(t, err)
		out := map[string]int{}
		for rows.Next() {
			var key string
			var n int
			require.NoError(t, rows.Scan(&key, &n))
			out[key] = n
		}
		require.NoError(t, rows.Err())
		return out
	}
	return read(`SELECT normalized || '@' || day, users FROM search_keyword_days`),
		read(`SELECT normalized || '@' || day, count(*)::int FROM search_keyword_users GROUP BY 1`)
}

// TestKeywordSearchersStayExact: the daily keyword counts always equal the
// searchers recorded per user, through concurrent searches, moves between
// days, the prune of old days, history deletion and account deletion.
func TestKeywordSearchersStayExact(t *testing.T) {
	t.Parallel()
	store := dbtest.NewStore(t)
	ctx := context.Background()
	pool := store.Pool()
	users := make([]db.User, 8)
	for i := range users {
		users[i] = dbtest.CreateUser(t, store, dbtest.UserOpts{})
	}
	// Every user searches "x clinic" three times at once.
	var wg sync.WaitGroup
	for _, u := range users {
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := store.SearchHistoryRecord(ctx, db.SearchHistoryRecordParams{ID: db.NewID(), UserID: u.ID, Query: "x clinic", Normalized: "x clinic"})
				if err != nil {
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	kept, recount := keywordCounts(t, pool)
	today := time.Now().UTC().Format(time.DateOnly)
	require.Equal(t, map[string]int{"x clinic@" + today: 8}, kept)
	require.Equal(t, recount, kept)

	// Three users' latest search was before the window, two others' inside it.
	_, err := pool.Exec(ctx, `UPDATE search_keyword_users SET day = day - $2::int WHERE user_id = ANY($1)`,
		[]any{users[0].ID, users[1].ID, users[2].ID}, lokiz.KeywordDays)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE search_keyword_users SET day = day - 1 WHERE user_id = ANY($1)`, []any{users[3].ID, users[4].ID})
	require.NoError(t, err)
	kept, recount = keywordCounts(t, pool)
	require.Equal(t, recount, kept)
	require.Len(t, kept, 3)

	n, err := store.SearchKeywordDaysPrune(ctx, lokiz.KeywordSince(time.Now()))
	require.NoError(t, err)
	require.Equal(t, int64(1), n, "the old day's count")
	kept, recount = keywordCounts(t, pool)
	require.Equal(t, recount, kept)
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	require.Equal(t, map[string]int{"x clinic@" + today: 3, "x clinic@" + yesterday: 2}, kept)

	// A deleted history entry and a deleted account take their counts back.
	hist, err := store.SearchHistoryList(ctx, db.SearchHistoryListParams{UserID: users[5].ID, Lim: 10})
	require.NoError(t, err)
	deleted, err := store.SearchHistoryDelete(ctx, db.SearchHistoryDeleteParams{ID: hist[0].ID, UserID: users[5].ID})
	require.NoError(t, err)
	require.Equal(t, int64(1), deleted)
	_, err = pool.Exec(ctx, `DELETE FROM users WHERE id = ANY($1)`, []any{users[3].ID, users[6].ID})
	require.NoError(t, err)
	kept, recount = keywordCounts(t, pool)
	require.Equal(t, recount, kept)
	require.Equal(t, map[string]int{"x clinic@" + today: 1, "x clinic@" + yesterday: 1}, kept)

	// The pruned user searches again: counted again, today.
	_, err = store.SearchHistoryRecord(ctx, db.SearchHistoryRecordParams{ID: db.NewID(), UserID: users[0].ID, Query: "X clinic", Normalized: "x clinic"})
	require.NoError(t, err)
	kept, recount = keywordCounts(t, pool)
	require.Equal(t, recount, kept)
	require.Equal(t, 2, kept["x clinic@"+today])
}

// TestMigration00013 applies the migration to data recorded before it:
// duplicate shares of a signed-in user are removed and taken off the
// count, and the keyword counts are rebuilt from the histories, one per user.
func TestMigration00013(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbtest.NewEmptyDB(t))
	require.NoError(t, err)
	defer pool.Close()
	sqlDB := stdlib.OpenDBFromPool(pool)
	defer sqlDB.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, db.Migrations(), goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	_, err = p.UpTo(ctx, 12)
	require.NoError(t, err)

	user, anon, video := db.NewID(), db.NewID(), db.NewID()
	_, err = pool.Exec(ctx, `INSERT INTO users (id, username, email, hashed_password) VALUES
		($1, 'sharer13', 'sharer13@example.com', 'x'), ($2, 'other13', 'other13@example.com', 'x')`, user, anon)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO videos (id, user_id, status, share_count) VALUES ($1, $2, 'completed', 7)`, video, anon)
	require.NoError(t, err)
	shares := []struct {
		user     any
		platform any
	}{{user, "kakaotalk"}, {user, "kakaotalk"}, {user, "kakaotalk"}, {user, nil}, {user, "other"}, {nil, nil}, {nil, nil}}
	for i, s := range shares {
		_, err := pool.Exec(ctx, `INSERT INTO video_shares (id, user_id, video_id, share_platform, created_at)
			VALUES ($1, $2, $3, $4, now() - make_interval(mins => $5))`, db.NewID(), s.user, video, s.platform, 10-i)
		require.NoError(t, err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO search_history (id, user_id, query, normalized, created_at) VALUES
		(gen_random_uuid(), $1, 'x clinic', 'x clinic', now()), (gen_random_uuid(), $2, 'x clinic', 'x clinic', now())`, user, anon)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO search_keyword_days (normalized, day, users) VALUES ('x clinic', (now() AT TIME ZONE 'UTC')::date - 1, 9)`)
	require.NoError(t, err)

	_, err = p.UpTo(ctx, 13)
	require.NoError(t, err)
	var rows, count int
	require.NoError(t, pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM video_shares), share_count FROM videos WHERE id = $1`, video).Scan(&rows, &count))
	require.Equal(t, 4, rows, "kakaotalk once, other once, two anonymous")
	require.Equal(t, 4, count)
	kept, recount := keywordCounts(t, pool)
	require.Equal(t, map[string]int{fmt.Sprintf("x clinic@%s", time.Now().UTC().Format(time.DateOnly)): 2}, kept)
	require.Equal(t, recount, kept)

	// And back down.
	_, err = p.DownTo(ctx, 12)
	require.NoError(t, err)
}
