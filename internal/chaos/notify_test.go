package chaos

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// outboxDrainBound is how long notificationsLost waits for the outbox to
// empty after the settling: the drain runs every RECONCILE_INTERVAL (5 s)
// and takes rows older than NOTIFICATION_OUTBOX_AGE (5 s), but a row whose
// enqueue failed during a fault waits its backoff (1 minute, then 2).
const outboxDrainBound = 3*time.Minute + 30*time.Second

// notificationsLost is the "no notification lost" invariant (the outbox,
// migration 00032). Once the outbox is empty, every like, follow, comment
// and comment like that exists and should notify (the actor is not the
// recipient, no block between them, the recipient active with the type's
// setting on, the video live) is in the recipient's notifications: a like
// or follow as an actor of a group of its target, a comment or comment like
// as its own row; and every completed AI job has its owner's ai_job
// notification. For grouped types the count is exact: the sum of the
// counts of a target's groups (one open at a time, older ones closed by the
// window or a read) equals the number of those facts. The driver never
// blocks, unlikes, unfollows or turns a setting off, so every actor in a
// group is such a fact.
func (h *harness) notificationsLost(conn *pgx.Conn) []string {
	ctx := context.Background()
	deadline := time.Now().Add(outboxDrainBound)
	var pending int
	for {
		require.NoError(h.t, conn.QueryRow(ctx, `SELECT count(*) FROM notification_outbox`).Scan(&pending))
		if pending == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	h.t.Logf("chaos: notification outbox empty=%v", pending == 0)
	v := h.queryViolations(conn, fmt.Sprintf("notification still owed %s after the settling (id, type, recipient, attempts)", outboxDrainBound),
		`SELECT id, type, recipient_id, attempts FROM notification_outbox ORDER BY created_at`)

	// Whether recipient r should be told of an event of type t by actor a
	// (the worker's NotificationDeliverable, less the fact itself).
	const should = `(a <> r AND NOT blocked_between(r, a)
		AND EXISTS (SELECT 1 FROM users u WHERE u.id = r AND u.is_active)
		AND COALESCE((SELECT CASE t WHEN 'like' THEN s.likes WHEN 'comment_like' THEN s.likes
		                            WHEN 'comment' THEN s.comments WHEN 'follow' THEN s.follows END
		                FROM notification_settings s WHERE s.user_id = r), true))`
	facts := `WITH facts AS (
		SELECT 'like' AS t, l.user_id AS a, v.user_id AS r, l.video_id AS video, NULL::uuid AS comment
		  FROM likes l JOIN videos v ON v.id = l.video_id AND v.deleted_at IS NULL
		UNION ALL
		SELECT 'follow', f.follower_id, f.following_id, NULL, NULL FROM follows f
		UNION ALL
		SELECT 'comment', c.user_id, v.user_id, c.video_id, c.id
		  FROM comments c JOIN videos v ON v.id = c.video_id AND v.deleted_at IS NULL
		UNION ALL
		SELECT 'comment_like', cl.user_id, c.user_id, c.video_id, c.id
		  FROM comment_likes cl JOIN comments c ON c.id = cl.comment_id
	), owed AS (SELECT * FROM facts WHERE ` + should + `) `
	v = append(v, h.queryViolations(conn, "notification lost (type, actor, recipient, video, comment)", facts+`
		SELECT t, a, r, video, comment FROM owed o
		 WHERE CASE WHEN t IN ('like', 'follow') THEN NOT EXISTS (
		            SELECT 1 FROM notification_actors na
		             WHERE na.user_id = o.r AND na.type = o.t AND na.actor_id = o.a
		               AND na.video_id IS NOT DISTINCT FROM o.video)
		       ELSE NOT EXISTS (
		            SELECT 1 FROM notifications n
		             WHERE n.user_id = o.r AND n.type = o.t AND n.actor_id = o.a AND n.comment_id = o.comment) END`)...)
	v = append(v, h.queryViolations(conn, "notification group count differs from its facts (type, recipient, video, facts, count)", facts+`,
		want AS (SELECT t, r, video, count(*) AS n FROM owed WHERE t IN ('like', 'follow') GROUP BY 1, 2, 3),
		got AS (SELECT n.type AS t, n.user_id AS r, n.video_id AS video, sum(n.actor_count) AS n
		          FROM notifications n
		         WHERE n.type IN ('like', 'follow')
		           AND (n.video_id IS NULL OR EXISTS (SELECT 1 FROM videos v WHERE v.id = n.video_id AND v.deleted_at IS NULL))
		         GROUP BY 1, 2, 3)
		SELECT COALESCE(w.t, g.t), COALESCE(w.r, g.r), COALESCE(w.video, g.video), COALESCE(w.n, 0), COALESCE(g.n, 0)
		  FROM want w FULL JOIN got g ON g.t = w.t AND g.r = w.r AND g.video IS NOT DISTINCT FROM w.video
		 WHERE COALESCE(w.n, 0) <> COALESCE(g.n, 0)`)...)
	v = append(v, h.queryViolations(conn, "ai job completed but its owner was not told (job, owner)",
		`SELECT j.id, j.user_id FROM ai_jobs j
		  WHERE j.status = 'completed'
		    AND EXISTS (SELECT 1 FROM users u WHERE u.id = j.user_id AND u.is_active)
		    AND COALESCE((SELECT s.ai_jobs FROM notification_settings s WHERE s.user_id = j.user_id), true)
		    AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.user_id = j.user_id AND n.type = 'ai_job' AND n.ai_job_id = j.id)`)...)
	return v
}
