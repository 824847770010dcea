package db_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReportWorkflowMigration: 00031 turns 'reviewed' into 'reviewing',
// gives every report its target_id (a deleted comment's report stands for
// itself), dismisses the newer of two open reports of one reporter on one
// target, lets a reporter hold one open report per target, and goes down
// (removed comments deleted, 'reviewing' back to 'reviewed') and up again.
func TestReportWorkflowMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, p, exec := migratedTo(t, 30)
	const (
		author    = "01900000-0000-7000-8000-000000000001"
		reporter  = "01900000-0000-7000-8000-000000000002"
		video     = "01900000-0000-7000-8000-000000000003"
		comment   = "01900000-0000-7000-8000-000000000004"
		gone      = "01900000-0000-7000-8000-000000000005"
		reviewed  = "01900000-0000-7000-8000-000000000011"
		pending   = "01900000-0000-7000-8000-000000000012"
		onComment = "01900000-0000-7000-8000-000000000013"
		onGone    = "01900000-0000-7000-8000-000000000014"
		resolved  = "01900000-0000-7000-8000-000000000015"
	)
	exec(`INSERT INTO users (id, username, email, hashed_password) VALUES ($1, 'mig_a', 'a@example.com', 'x'), ($2, 'mig_r', 'r@example.com', 'x')`, author, reporter)
	exec(`INSERT INTO videos (id, user_id, status, object_key) VALUES ($1, $2, 'completed', 'videos/x.mp4')`, video, author)
	exec(`INSERT INTO comments (id, user_id, video_id, content) VALUES ($1, $2, $3, 'reported'), ($4, $2, $3, 'deleted later')`, comment, author, video, gone)
	exec(`INSERT INTO reports (id, reporter_id, reported_video_id, report_type, status, created_at) VALUES ($1, $2, $3, 'spam', 'reviewed', now() - interval '2 hours')`, reviewed, reporter, video)
	exec(`INSERT INTO reports (id, reporter_id, reported_video_id, report_type, created_at) VALUES ($1, $2, $3, 'spam', now() - interval '1 hour')`, pending, reporter, video)
	exec(`INSERT INTO reports (id, reporter_id, reported_comment_id, report_type, reported_comment_content, reported_comment_author_id) VALUES ($1, $2, $3, 'spam', 'reported', $4)`, onComment, reporter, comment, author)
	exec(`INSERT INTO reports (id, reporter_id, reported_comment_id, report_type, reported_comment_content, reported_comment_author_id) VALUES ($1, $2, $3, 'spam', 'deleted later', $4)`, onGone, reporter, gone, author)
	exec(`INSERT INTO reports (id, reporter_id, reported_user_id, report_type, status) VALUES ($1, $2, $3, 'other', 'resolved')`, resolved, reporter, author)
	exec(`DELETE FROM comments WHERE id = $1`, gone)
	exec(`UPDATE videos SET comment_count = 1 WHERE id = $1`, video) // the raw inserts moved no counter

	_, err := p.UpTo(ctx, 31)
	require.NoError(t, err)
	state := func(id string) (status, target string, action sql.NullString) {
		t.Helper()
		require.NoError(t, conn.QueryRowContext(ctx, `SELECT status, target_id, resolution_action FROM reports WHERE id = $1`, id).
			Scan(&status, &target, &action))
		return status, target, action
	}
	status, target, _ := state(reviewed)
	require.Equal(t, "reviewing", status)
	require.Equal(t, video, target)
	status, _, action := state(pending)
	require.Equal(t, "dismissed", status, "the newer of two open reports on one target is a duplicate")
	require.Equal(t, "none", action.String)
	_, target, _ = state(onComment)
	require.Equal(t, comment, target)
	_, target, _ = state(onGone)
	require.Equal(t, onGone, target, "a report whose comment is gone stands for itself")
	status, _, action = state(resolved)
	require.Equal(t, "resolved", status)
	require.Equal(t, "none", action.String, "a decision made before the workflow recorded no action")

	_, err = conn.ExecContext(ctx, `INSERT INTO reports (id, reporter_id, reported_video_id, target_id, report_type) VALUES ($1, $2, $3, $3, 'spam')`,
		"01900000-0000-7000-8000-000000000021", reporter, video)
	require.Error(t, err, "one open report (pending or reviewing) per reporter and target")
	_, err = conn.ExecContext(ctx, `INSERT INTO reports (id, reporter_id, reported_video_id, target_id, report_type) VALUES ($1, $2, $3, $4, 'spam')`,
		"01900000-0000-7000-8000-000000000022", reporter, video, author)
	require.Error(t, err, "target_id is the reported thing")
	_, err = conn.ExecContext(ctx, `UPDATE reports SET status = 'resolved' WHERE id = $1`, reviewed)
	require.Error(t, err, "a decision carries its action and time")

	// A removed comment leaves the count; the down migration deletes it.
	var count int
	require.NoError(t, conn.QueryRowContext(ctx, `SELECT comment_count FROM videos WHERE id = $1`, video).Scan(&count))
	exec(`UPDATE comments SET removed_at = now(), removed_reason = 'abuse' WHERE id = $1`, comment)
	var after int
	require.NoError(t, conn.QueryRowContext(ctx, `SELECT comment_count FROM videos WHERE id = $1`, video).Scan(&after))
	require.Equal(t, 1, count)
	require.Zero(t, after)

	_, err = p.DownTo(ctx, 30)
	require.NoError(t, err)
	var n int
	require.NoError(t, conn.QueryRowContext(ctx, `SELECT count(*) FROM comments WHERE id = $1`, comment).Scan(&n))
	require.Zero(t, n, "down deletes removed comments rather than showing them again")
	require.NoError(t, conn.QueryRowContext(ctx, `SELECT count(*) FROM reports WHERE status = 'reviewed'`).Scan(&n))
	require.Equal(t, 1, n)
	_, err = p.UpTo(ctx, 31)
	require.NoError(t, err)
}
