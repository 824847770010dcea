package db_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/lokiz/lokiz/db"
	"github.com/lokiz/lokiz/db/dbtest"
)

// authorActiveMismatches lists the videos whose author_active differs from
// their author's is_active (00020_visibility_one_rule.sql).
func authorActiveMismatches(t *testing.T, store *db.Store) []string {
	t.Helper()
	rows, err := store.Pool().Query(context.Background(), `
		SELECT v.id::text || format(' author_active %s, is_active %s', v.author_active, u.is_active)
		FROM videos v JOIN users u ON u.id = v.user_id
		WHERE v.author_active IS DISTINCT FROM u.is_active`)
	require.NoError(t, err)
	var bad []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		bad = append(bad, s)
	}
	require.NoError(t, rows.Err())
	return bad
}

// TestVisibleFollowsTheAuthorsState: a ban hides every video of the author
// from every viewer, the owner included (a banned owner cannot sign in);
// an unban shows them again; a video created for a banned author is
// hidden from the start; a deleted account's videos stay hidden.
func TestVisibleFollowsTheAuthorsState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	author := dbtest.CreateUser(t, store, dbtest.UserOpts{}).ID
	viewer := dbtest.CreateUser(t, store, dbtest.UserOpts{}).ID
	v := dbtest.Video(t, store, dbtest.VideoOpts{Owner: author}).ID
	visible := func(who *uuid.UUID) bool {
		t.Helper()
		_, err := store.VideoViewTarget(ctx, db.VideoViewTargetParams{ID: v, ViewerID: who})
		if db.IsNotFound(err) {
			return false
		}
		require.NoError(t, err)
		return true
	}
	require.True(t, visible(&viewer))
	require.True(t, visible(nil))

	_, _, err := store.AdminBanUser(ctx, db.Actor{}, db.BanParams{UserID: author, Reason: "test"})
	require.NoError(t, err)
	require.False(t, visible(&viewer))
	require.False(t, visible(nil))
	require.False(t, visible(&author))
	later := dbtest.Video(t, store, dbtest.VideoOpts{Owner: author})
	require.False(t, later.AuthorActive, "a video inserted for a banned author is hidden from the start")
	require.Empty(t, authorActiveMismatches(t, store))

	n, err := store.UserSetActive(ctx, db.UserSetActiveParams{ID: author, IsActive: true})
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	require.True(t, visible(&viewer))
	require.Empty(t, authorActiveMismatches(t, store))

	_, err = store.DeleteAccount(ctx, author)
	require.NoError(t, err)
	require.False(t, visible(&viewer))
	require.Empty(t, authorActiveMismatches(t, store))
}

// TestAuthorActiveUnderConcurrency: videos inserted while their author is
// banned and unbanned over and over end with the author's final state,
// each of them (the insert trigger and the ban trigger lock the author's
// row, so neither misses the other).
func TestAuthorActiveUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := dbtest.NewStore(t)
	var authors []uuid.UUID
	for range 4 {
		authors = append(authors, dbtest.CreateUser(t, store, dbtest.UserOpts{}).ID)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for _, u := range authors {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := range 25 {
				_, err := store.Pool().Exec(ctx,
					`INSERT INTO videos (id, user_id, status, is_public, completed_at) VALUES ($1, $2, 'completed', true, now())`, db.NewID(), u)
				if err != nil {
					errs <- fmt.Errorf("insert %d: %w", j, err)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for j := range 25 {
				if _, err := store.UserSetActive(ctx, db.UserSetActiveParams{ID: u, IsActive: j%2 == 1}); err != nil {
					errs <- fmt.Errorf("active %v: %w", j%2 == 1, err)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Empty(t, authorActiveMismatches(t, store))
	var hidden int
	require.NoError(t, store.Pool().QueryRow(ctx, `SELECT count(*) FROM videos WHERE NOT author_active`).Scan(&hidden))
	require.Equal(t, 100, hidden, "every author ends banned (the last of 25 turns is a ban)")
}

// TestVisibilityMigrationBackfills: 00020 marks the videos of authors who
// were inactive before it, and goes down and up again.
func TestVisibilityMigrationBackfills(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, p, _ := migratedTo(t, 19)
	var err error
	active, banned := uuid.New(), uuid.New()
	for i, u := range []uuid.UUID{active, banned} {
		_, err = conn.ExecContext(ctx, `INSERT INTO users (id, username, email, hashed_password, is_active)
			VALUES ($1, $2, $3, 'x', $4)`, u, fmt.Sprint("mig", i), fmt.Sprint("mig", i, "@example.com"), u == active)
		require.NoError(t, err)
		_, err = conn.ExecContext(ctx, `INSERT INTO videos (id, user_id, status, is_public) VALUES ($1, $2, 'completed', true)`, uuid.New(), u)
		require.NoError(t, err)
	}
	for range 2 {
		_, err = p.UpTo(ctx, 20)
		require.NoError(t, err)
		var n int
		require.NoError(t, conn.QueryRowContext(ctx,
			`SELECT count(*) FROM videos WHERE video_visible(user_id, status, is_public, deleted_at, author_active, NULL)`).Scan(&n))
		require.Equal(t, 1, n, "only the active author's video is visible")
		require.NoError(t, conn.QueryRowContext(ctx, `SELECT count(*) FROM videos WHERE NOT author_active AND user_id = $1`, banned).Scan(&n))
		require.Equal(t, 1, n)
		_, err = p.DownTo(ctx, 19)
		require.NoError(t, err)
	}
}
