package db_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNotificationGroupMigration: 00024 turns each like, follow and glitch
// into a group of one with its actor (the view still names that actor, the
// newest unread per target stays open), leaves comments alone, and goes
// down to one row per actor and up again.
func TestNotificationGroupMigration(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, p, exec := migratedTo(t, 23)
	var err error
	const (
		owner   = "01900000-0000-7000-8000-000000000001"
		a       = "01900000-0000-7000-8000-000000000002"
		b       = "01900000-0000-7000-8000-000000000003"
		video   = "01900000-0000-7000-8000-000000000004"
		comment = "01900000-0000-7000-8000-000000000005"
		job     = "01900000-0000-7000-8000-000000000006"
		likeA   = "01900000-0000-7000-8000-0000000000a1"
		likeB   = "01900000-0000-7000-8000-0000000000a2"
		follow  = "01900000-0000-7000-8000-0000000000a3"
		glitch  = "01900000-0000-7000-8000-0000000000a4"
		comm    = "01900000-0000-7000-8000-0000000000a5"
	)
	exec(`INSERT INTO users (id, username, email, hashed_password) VALUES
		($1, 'mig_o', 'o@example.com', 'x'), ($2, 'mig_a', 'a@example.com', 'x'), ($3, 'mig_b', 'b@example.com', 'x')`, owner, a, b)
	exec(`INSERT INTO videos (id, user_id, status, object_key) VALUES ($1, $2, 'completed', 'videos/x.mp4')`, video, owner)
	exec(`INSERT INTO comments (id, user_id, video_id, content) VALUES ($1, $2, $3, 'hi')`, comment, a, video)
	exec(`INSERT INTO ai_jobs (id, user_id, job_type, status) VALUES ($1, $2, 'glitch_animate', 'pending')`, job, a)
	exec(`INSERT INTO notifications (id, user_id, type, actor_id, video_id, comment_id, ai_job_id, is_read, created_at) VALUES
		($1, $6, 'like', $7, $9, NULL, NULL, false, now() - interval '2 minutes'),
		($2, $6, 'like', $8, $9, NULL, NULL, false, now() - interval '1 minute'),
		($3, $6, 'follow', $7, NULL, NULL, NULL, true, now()),
		($4, $6, 'glitch', $7, $9, NULL, $10, false, now()),
		($5, $6, 'comment', $7, $9, $11, NULL, false, now())`,
		likeA, likeB, follow, glitch, comm, owner, a, b, video, job, comment)

	_, err = p.UpTo(ctx, 24)
	require.NoError(t, err)
	type row struct {
		id, actor string
		count     int64
		open      bool
	}
	var got []row
	rows, err := conn.QueryContext(ctx, `SELECT v.id, v.actor_id, v.group_count, n.group_open
		FROM notification_views v JOIN notifications n ON n.id = v.id ORDER BY v.id`)
	require.NoError(t, err)
	for rows.Next() {
		var r row
		require.NoError(t, rows.Scan(&r.id, &r.actor, &r.count, &r.open))
		got = append(got, r)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []row{
		{likeA, a, 1, false},
		{likeB, b, 1, true}, // the newest unread like of the video stays open
		{follow, a, 1, false},
		{glitch, a, 1, true},
		{comm, a, 1, false},
	}, got)
	var actors int
	require.NoError(t, conn.QueryRowContext(ctx, `SELECT count(*) FROM notification_actors`).Scan(&actors))
	require.Equal(t, 4, actors)

	_, err = p.DownTo(ctx, 23)
	require.NoError(t, err)
	var n int
	require.NoError(t, conn.QueryRowContext(ctx,
		`SELECT count(*) FROM notifications WHERE type IN ('like', 'follow', 'glitch') AND actor_id IS NOT NULL`).Scan(&n))
	require.Equal(t, 4, n, "down: one row per actor again")
	_, err = p.UpTo(ctx, 24)
	require.NoError(t, err)
}
