-- name: NotificationInsert :one
-- ON CONFLICT DO NOTHING against notifications_fact_key and
-- notifications_event_key: a retried or repeated delivery returns no row.
INSERT INTO notifications (id, user_id, type, actor_id, video_id, comment_id, ai_job_id, message)
VALUES (@id, @user_id, @type, sqlc.narg('actor_id'), sqlc.narg('video_id'), sqlc.narg('comment_id'),
        sqlc.narg('ai_job_id'), sqlc.narg('message'))
ON CONFLICT DO NOTHING
RETURNING id;

-- name: NotificationDeliverable :one
-- Everything a delivery re-reads, in one round trip: whether a block stands
-- between actor and recipient, whether the recipient's setting for the type
-- is on (no settings row = on), and whether the fact that triggered the
-- notification still exists. The fact rows are locked FOR SHARE until the
-- delivering transaction ends, so an unlike that races the insert waits for
-- it and then deletes the notification with NotificationDeleteForFact.
SELECT
    blocked_between(@recipient_id::uuid, sqlc.narg('actor_id')::uuid)::bool AS blocked,
    COALESCE((SELECT CASE @type::text
                         WHEN 'like' THEN s.likes
                         WHEN 'comment_like' THEN s.likes
                         WHEN 'comment' THEN s.comments
                         WHEN 'follow' THEN s.follows
                         WHEN 'glitch' THEN s.glitches
                         WHEN 'ai_job' THEN s.ai_jobs
                         ELSE true END
                FROM notification_settings s WHERE s.user_id = @recipient_id), true)::bool AS enabled,
    (CASE @type::text
        WHEN 'like' THEN EXISTS (
            SELECT 1 FROM likes l JOIN videos v ON v.id = l.video_id
             WHERE l.user_id = sqlc.narg('actor_id')::uuid AND l.video_id = sqlc.narg('video_id')::uuid
               AND v.user_id = @recipient_id AND v.deleted_at IS NULL
               FOR SHARE OF l)
        WHEN 'comment' THEN EXISTS (
            SELECT 1 FROM comments c JOIN videos v ON v.id = c.video_id
             WHERE c.id = sqlc.narg('comment_id')::uuid AND c.user_id = sqlc.narg('actor_id')::uuid
               AND c.video_id = COALESCE(sqlc.narg('video_id')::uuid, c.video_id)
               AND v.user_id = @recipient_id AND v.deleted_at IS NULL
               FOR SHARE OF c)
        WHEN 'comment_like' THEN EXISTS (
            SELECT 1 FROM comment_likes cl JOIN comments c ON c.id = cl.comment_id
             WHERE cl.comment_id = sqlc.narg('comment_id')::uuid AND cl.user_id = sqlc.narg('actor_id')::uuid
               AND c.user_id = @recipient_id
               FOR SHARE OF cl)
        WHEN 'follow' THEN EXISTS (
            SELECT 1 FROM follows f
             WHERE f.follower_id = sqlc.narg('actor_id')::uuid AND f.following_id = @recipient_id
               FOR SHARE OF f)
        WHEN 'glitch' THEN EXISTS (
            SELECT 1 FROM videos v
             WHERE v.id = sqlc.narg('video_id')::uuid AND v.user_id = @recipient_id AND v.deleted_at IS NULL)
        WHEN 'ai_job' THEN EXISTS (
            SELECT 1 FROM ai_jobs j WHERE j.id = sqlc.narg('ai_job_id')::uuid AND j.user_id = @recipient_id)
        ELSE true
    END)::bool AS fact_exists,
    EXISTS (SELECT 1 FROM users u WHERE u.id = @recipient_id AND u.is_active)::bool AS recipient_active;

-- name: NotificationGetByFact :one
-- The notification a delivery already inserted (what NotificationInsert
-- conflicted with).
SELECT * FROM notification_views
 WHERE user_id = @user_id AND type = @type
   AND actor_id IS NOT DISTINCT FROM sqlc.narg('actor_id')::uuid
   AND video_id IS NOT DISTINCT FROM sqlc.narg('video_id')::uuid
   AND comment_id IS NOT DISTINCT FROM sqlc.narg('comment_id')::uuid
   AND (type IN ('like', 'follow', 'comment_like') OR ai_job_id IS NOT DISTINCT FROM sqlc.narg('ai_job_id')::uuid)
 ORDER BY created_at DESC, id DESC
 LIMIT 1;

-- name: NotificationGetForUser :one
-- One of the user's notifications; someone else's is not found. Hidden,
-- like in the list, when a block stands between the user and the actor.
SELECT * FROM notification_views n
 WHERE n.id = @id AND n.user_id = @user_id
   AND NOT blocked_between(n.user_id, n.actor_id);

-- name: NotificationListByUser :many
-- Newest first, paged by offset (the reference's page/page_size list).
-- Notifications from a user on either side of a block with the recipient
-- are hidden (CONTRACT.md §2).
SELECT * FROM notification_views n
 WHERE n.user_id = @user_id
   AND NOT blocked_between(n.user_id, n.actor_id)
 ORDER BY n.created_at DESC, n.id DESC
 LIMIT @lim OFFSET @off;

-- name: NotificationCountsByUser :one
-- total and unread over the same rows NotificationListByUser pages through.
SELECT count(*)::bigint AS total,
       count(*) FILTER (WHERE NOT n.is_read)::bigint AS unread
  FROM notifications n
 WHERE n.user_id = @user_id
   AND NOT blocked_between(n.user_id, n.actor_id);

-- name: NotificationMarkRead :execrows
-- Idempotent: an already read notification of the user still counts as one row.
UPDATE notifications SET is_read = true WHERE id = @id AND user_id = @user_id;

-- name: NotificationMarkAllRead :execrows
UPDATE notifications SET is_read = true WHERE user_id = @user_id AND NOT is_read;

-- name: NotificationMarkReadBatch :execrows
-- Counts only the rows that changed: the user's own, previously unread.
UPDATE notifications SET is_read = true
 WHERE user_id = @user_id AND id = ANY(@ids::uuid[]) AND NOT is_read;

-- name: NotificationDeleteForFact :execrows
-- Removes the notification of a fact that was undone (unlike, unfollow,
-- comment unlike); the fact types have at most one row.
DELETE FROM notifications
 WHERE user_id = @user_id AND type = @type
   AND actor_id IS NOT DISTINCT FROM sqlc.narg('actor_id')::uuid
   AND video_id IS NOT DISTINCT FROM sqlc.narg('video_id')::uuid
   AND comment_id IS NOT DISTINCT FROM sqlc.narg('comment_id')::uuid;

-- name: NotificationSettingsGet :one
SELECT * FROM notification_settings WHERE user_id = @user_id;

-- name: NotificationSettingsUpdate :one
-- A toggle changes only when given (non-null); the row is created on the
-- first change with every other toggle on.
INSERT INTO notification_settings AS s (user_id, likes, comments, follows, glitches, ai_jobs, email)
VALUES (@user_id,
        COALESCE(sqlc.narg('likes')::bool, true),
        COALESCE(sqlc.narg('comments')::bool, true),
        COALESCE(sqlc.narg('follows')::bool, true),
        COALESCE(sqlc.narg('glitches')::bool, true),
        COALESCE(sqlc.narg('ai_jobs')::bool, true),
        COALESCE(sqlc.narg('email')::bool, true))
ON CONFLICT (user_id) DO UPDATE SET
    likes      = COALESCE(sqlc.narg('likes')::bool, s.likes),
    comments   = COALESCE(sqlc.narg('comments')::bool, s.comments),
    follows    = COALESCE(sqlc.narg('follows')::bool, s.follows),
    glitches   = COALESCE(sqlc.narg('glitches')::bool, s.glitches),
    ai_jobs    = COALESCE(sqlc.narg('ai_jobs')::bool, s.ai_jobs),
    email      = COALESCE(sqlc.narg('email')::bool, s.email),
    updated_at = now()
RETURNING *;
