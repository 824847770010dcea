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
-- The single notification a delivery already inserted (what
-- NotificationInsert conflicted with): comments, comment likes, AI jobs.
SELECT * FROM notification_views
 WHERE user_id = @user_id AND type = @type
   AND actor_id IS NOT DISTINCT FROM sqlc.narg('actor_id')::uuid
   AND video_id IS NOT DISTINCT FROM sqlc.narg('video_id')::uuid
   AND comment_id IS NOT DISTINCT FROM sqlc.narg('comment_id')::uuid
   AND (type = 'comment_like' OR ai_job_id IS NOT DISTINCT FROM sqlc.narg('ai_job_id')::uuid)
 ORDER BY created_at DESC, id DESC
 LIMIT 1;

-- name: NotificationGroupOfFact :one
-- The group that already holds a like or follow (ai_job_id NULL) or a
-- glitch event (its job), if any: a repeated delivery finds it here.
SELECT na.notification_id FROM notification_actors na
 WHERE na.user_id = @user_id AND na.type = @type AND na.actor_id = @actor_id
   AND na.video_id IS NOT DISTINCT FROM sqlc.narg('video_id')::uuid
   AND na.ai_job_id IS NOT DISTINCT FROM sqlc.narg('ai_job_id')::uuid;

-- name: NotificationGroupLockOpen :one
-- The open group of a target, locked until the delivering transaction ends
-- so concurrent deliveries to it queue; fresh says its first event is
-- within the window (older groups are closed and a new one opened).
SELECT n.id, (n.first_at > now() - make_interval(secs => @window_seconds::float8))::bool AS fresh
  FROM notifications n
 WHERE n.user_id = @user_id AND n.type = @type
   AND n.video_id IS NOT DISTINCT FROM sqlc.narg('video_id')::uuid
   AND n.group_open
   FOR UPDATE;

-- name: NotificationGroupClose :exec
UPDATE notifications SET group_open = false WHERE id = @id;

-- name: NotificationGroupInsert :one
-- Opens a new, still empty group; its first actor follows in the same
-- transaction. ON CONFLICT DO NOTHING against notifications_open_group_key:
-- when a concurrent delivery opened one first, no row comes back and the
-- caller locks that one instead.
INSERT INTO notifications (id, user_id, type, video_id, actor_count, first_at, group_open)
VALUES (@id, @user_id, @type, sqlc.narg('video_id'), 0, now(), true)
ON CONFLICT DO NOTHING
RETURNING id;

-- name: NotificationGroupDeleteEmpty :exec
-- Removes a group this transaction opened when its actor turned out to be
-- a repeat already held by another group.
DELETE FROM notifications WHERE id = @id AND actor_count = 0;

-- name: NotificationActorAdd :execrows
-- Adds an actor to a group; 0 rows when the actor is in the group already
-- or the fact or event is in another group (notification_actors_fact_key).
-- The trigger notification_actors_changed counts it, takes a new seq and
-- moves created_at.
INSERT INTO notification_actors (notification_id, actor_id, user_id, type, video_id, ai_job_id)
VALUES (@notification_id, @actor_id, @user_id, @type, sqlc.narg('video_id'), sqlc.narg('ai_job_id'))
ON CONFLICT DO NOTHING;

-- name: NotificationActorRefresh :execrows
-- A glitch actor already in the open group glitched again: the actor moves
-- to the front with the new event (the trigger takes a new seq); the count
-- stays, it counts actors.
UPDATE notification_actors SET acted_at = clock_timestamp(), ai_job_id = sqlc.narg('ai_job_id')
 WHERE notification_id = @notification_id AND actor_id = @actor_id;

-- name: NotificationActorRemoveFact :execrows
-- Takes the actor of an undone like or follow out of its group; the trigger
-- counts down, recomputes the newest time and deletes an emptied group.
DELETE FROM notification_actors
 WHERE user_id = @user_id AND type = @type AND actor_id = @actor_id
   AND video_id IS NOT DISTINCT FROM sqlc.narg('video_id')::uuid
   AND ai_job_id IS NULL;

-- name: NotificationGetForUser :one
-- One of the user's notifications; someone else's is not found. Hidden,
-- like in the list, when a block stands between the user and the actor (a
-- group: all its actors).
SELECT * FROM notification_views n
 WHERE n.id = @id AND n.user_id = @user_id AND n.visible;

-- name: NotificationListByUser :many
-- Newest first, paged by offset (the reference's page/page_size list).
-- Notifications from a user on either side of a block with the recipient
-- are hidden (CONTRACT.md §2); a group is hidden when all its actors are,
-- and shows only the others otherwise.
SELECT * FROM notification_views n
 WHERE n.user_id = @user_id AND n.visible
 ORDER BY n.created_at DESC, n.id DESC
 LIMIT @lim OFFSET @off;

-- name: NotificationCountsByUser :one
-- total and unread over the same rows NotificationListByUser pages through.
SELECT count(*)::bigint AS total,
       count(*) FILTER (WHERE NOT n.is_read)::bigint AS unread
  FROM notifications n
 WHERE n.user_id = @user_id
   AND notification_visible(n.id, n.user_id, n.type, n.actor_id);

-- name: NotificationMarkRead :execrows
-- Idempotent: an already read notification of the user still counts as one
-- row. Reading a group closes it: the next like starts a new one.
UPDATE notifications SET is_read = true, group_open = false WHERE id = @id AND user_id = @user_id;

-- name: NotificationMarkAllRead :execrows
UPDATE notifications SET is_read = true, group_open = false WHERE user_id = @user_id AND NOT is_read;

-- name: NotificationMarkReadBatch :execrows
-- Counts only the rows that changed: the user's own, previously unread.
UPDATE notifications SET is_read = true, group_open = false
 WHERE user_id = @user_id AND id = ANY(@ids::uuid[]) AND NOT is_read;

-- name: NotificationDeleteForFact :execrows
-- Removes the notification of a comment like that was undone; it has at
-- most one row. Likes and follows are in groups: NotificationActorRemoveFact.
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
