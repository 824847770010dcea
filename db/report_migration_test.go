package db_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReportSnapshotMigration: 00015 gives the comment reports that exist
// their snapshot, keeps them when the comment is deleted, and goes down
// and up again.
func TestReportSnapshotMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, p, exec := migratedTo(t, 14)
	var err error
	const (
		author   = "01900000-0000-7000-8000-000000000001"
		reporter = "01900000-0000-7000-8000-000000000002"
		video    = "01900000-0000-7000-8000-000000000003"
		comment  = "01900000-0000-7000-8000-000000000004"
		report   = "01900000-0000-7000-8000-000000000005"
		other    = "01900000-0000-7000-8000-000000000006"
	)
	exec(`INSERT INTO users (id, username, email, hashed_password) VALUES ($1, 'mig_a', 'a@example.com', 'x'), ($2, 'mig_r', 'r@example.com', 'x')`, author, reporter)
	exec(`INSERT INTO videos (id, user_id, status, object_key) VALUES ($1, $2, 'completed', 'videos/x.mp4')`, video, author)
	exec(`INSERT INTO comments (id, user_id, video_id, content) VALUES ($1, $2, $3, 'reported text')`, comment, author, video)
	exec(`INSERT INTO reports (id, reporter_id, reported_comment_id, report_type) VALUES ($1, $2, $3, 'spam')`, report, reporter, comment)
	exec(`INSERT INTO reports (id, reporter_id, reported_user_id, report_type) VALUES ($1, $2, $3, 'spam')`, other, reporter, author)

	_, err = p.UpTo(ctx, 15)
	require.NoError(t, err)
	var content, authorID sql.NullString
	require.NoError(t, conn.QueryRowContext(ctx, `SELECT reported_comment_content, reported_comment_author_id FROM reports WHERE id = $1`, report).Scan(&content, &authorID))
	require.Equal(t, "reported text", content.String, "existing comment reports get their snapshot")
	require.Equal(t, author, authorID.String)

	exec(`DELETE FROM comments WHERE id = $1`, comment)
	var n int
	require.NoError(t, conn.QueryRowContext(ctx, `SELECT count(*) FROM reports WHERE id = $1 AND reported_comment_id IS NULL`, report).Scan(&n))
	require.Equal(t, 1, n, "the report outlives the comment")
	_, err = conn.ExecContext(ctx, `INSERT INTO reports (id, reporter_id, reported_comment_id, report_type) VALUES ($1, $2, $3, 'spam')`,
		"01900000-0000-7000-8000-000000000007", reporter, comment)
	require.Error(t, err, "a comment report needs its snapshot")

	_, err = p.DownTo(ctx, 14)
	require.NoError(t, err)
	require.NoError(t, conn.QueryRowContext(ctx, `SELECT count(*) FROM reports`).Scan(&n))
	require.Equal(t, 1, n, "down drops the reports whose comment is gone")
	_, err = p.UpTo(ctx, 15)
	require.NoError(t, err)
}
