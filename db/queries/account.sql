-- name: UserMarkDeleted :one
-- The first step of an account deletion (db.DeleteAccount): the account is
-- inactive (every read hides inactive users, their profiles and comments),
-- its username and email are free for someone else, nobody can log in to
-- it, and its profile text is gone. The id stays, so the credit ledger and
-- the AI jobs still name their user. The videos are locked first, as in
-- UserSetActive.
WITH locked AS (
    -- The user's videos, before the user's row: a change of is_active
    -- writes them (videos_author_active_changed, migration 00020), and a
    -- publish or hide of one of them locks the video first and the user's
    -- row second (counts_glitch_visibility_changed, 00019). Taking the
    -- user's row first here would deadlock with it.
    SELECT v.id FROM videos v WHERE v.user_id = @id::uuid
    ORDER BY v.id
    FOR NO KEY UPDATE
)
UPDATE users SET
    deleted_at        = now(),
    is_active         = false,
    username          = 'deleted:' || id::text,
    email             = 'deleted:' || id::text,
    hashed_password   = '',
    display_name      = NULL,
    bio               = NULL,
    profile_image_key = NULL,
    updated_at        = now()
WHERE id = @id::uuid AND deleted_at IS NULL AND (SELECT count(*) FROM locked) >= 0
RETURNING id;

-- name: VideosSoftDeleteOfUser :execrows
-- A deleted account's videos leave every read and every inbox at once.
UPDATE videos SET deleted_at = now(), is_public = false, updated_at = now()
WHERE user_id = @user_id AND deleted_at IS NULL;

-- name: UserEraseState :one
SELECT id, deleted_at, erased_at FROM users WHERE id = @id;

-- name: UsersErasePending :many
-- Deleted accounts whose erasure has not finished, oldest first, for the
-- reconciler.
SELECT id FROM users
WHERE deleted_at IS NOT NULL AND erased_at IS NULL AND deleted_at < @before
ORDER BY deleted_at
LIMIT @lim;

-- name: EraseVideosOfUser :many
-- A batch of a deleted account's videos with their stored objects.
SELECT id, object_key, thumbnail_key, original_key, upload_key FROM videos
WHERE user_id = @user_id
ORDER BY id
LIMIT @lim;

-- name: EraseVideo :execrows
-- After its objects are gone. Likes, comments, shares, stats, glitch edges
-- and inbox rows of the video go with it (foreign keys).
DELETE FROM videos WHERE id = @id AND user_id = @user_id;

-- name: EraseImagesOfUser :many
SELECT id, object_key FROM images WHERE user_id = @user_id ORDER BY id LIMIT @lim;

-- name: EraseImage :exec
DELETE FROM images WHERE id = @id;

-- name: EraseFrameCapturesOfUser :many
SELECT id, frame_keys FROM frame_captures WHERE user_id = @user_id ORDER BY id LIMIT @lim;

-- name: EraseFrameCapture :exec
DELETE FROM frame_captures WHERE id = @id;

-- name: EraseAIJobsOfUser :many
-- A deleted account's ended AI jobs that still hold personal data (inputs,
-- prompts, outputs). The rows stay for accounting: type, status, credits.
SELECT id, output_key FROM ai_jobs
WHERE user_id = @user_id AND status IN ('completed', 'failed', 'canceled')
  AND (input_data <> '{}'::jsonb OR output_data IS NOT NULL OR output_url IS NOT NULL
       OR request IS NOT NULL OR output_key IS NOT NULL OR error_message IS NOT NULL)
ORDER BY id
LIMIT @lim;

-- name: EraseAIJobData :exec
UPDATE ai_jobs SET
    input_data = '{}'::jsonb, output_data = NULL, output_url = NULL, request = NULL,
    output_key = NULL, error_message = NULL, updated_at = now()
WHERE id = @id;

-- name: AIJobsOpenOfUser :one
-- AI jobs still running: their results would arrive after the erasure, so
-- the eraser waits for them.
SELECT count(*) FROM ai_jobs WHERE user_id = @user_id AND status IN ('pending', 'processing');

-- name: EraseLikesBatch :one
-- A batch of the account's likes. The deletion made the account inactive,
-- which took its likes out of the counters already (00019_true_counts.sql),
-- so the counters move only if it were active again.
WITH del AS (
    DELETE FROM likes WHERE id IN (SELECT l.id FROM likes l WHERE l.user_id = @user_id ORDER BY l.id LIMIT @lim)
    RETURNING video_id
), upd AS (
    UPDATE videos v SET like_count = greatest(v.like_count - per.n, 0)
    FROM (SELECT video_id, count(*)::int AS n FROM del GROUP BY video_id) per
    WHERE v.id = per.video_id
      AND user_counts(@user_id::uuid)
    RETURNING v.id
)
SELECT (SELECT count(*) FROM del)::bigint AS erased, (SELECT count(*) FROM upd)::bigint AS videos;

-- name: EraseCommentsBatch :one
-- A batch of the account's comments; the counters move only if the account
-- were active (see EraseLikesBatch).
-- Likes of and notifications about those comments go with them.
WITH del AS (
    DELETE FROM comments WHERE id IN (SELECT c.id FROM comments c WHERE c.user_id = @user_id ORDER BY c.id LIMIT @lim)
    RETURNING video_id, removed_at
), upd AS (
    -- Removed comments were taken out of the count when removed.
    UPDATE videos v SET comment_count = greatest(v.comment_count - per.n, 0)
    FROM (SELECT video_id, count(*)::int AS n FROM del WHERE removed_at IS NULL GROUP BY video_id) per
    WHERE v.id = per.video_id
      AND user_counts(@user_id::uuid)
    RETURNING v.id
)
SELECT (SELECT count(*) FROM del)::bigint AS erased, (SELECT count(*) FROM upd)::bigint AS videos;

-- name: EraseCommentLikesBatch :one
WITH del AS (
    DELETE FROM comment_likes WHERE id IN (SELECT cl.id FROM comment_likes cl WHERE cl.user_id = @user_id ORDER BY cl.id LIMIT @lim)
    RETURNING comment_id
), upd AS (
    UPDATE comments c SET like_count = greatest(c.like_count - per.n, 0)
    FROM (SELECT comment_id, count(*)::int AS n FROM del GROUP BY comment_id) per
    WHERE c.id = per.comment_id
      AND user_counts(@user_id::uuid)
    RETURNING c.id
)
SELECT (SELECT count(*) FROM del)::bigint AS erased, (SELECT count(*) FROM upd)::bigint AS comments;

-- name: EraseFollowsBatch :execrows
-- Follows in both directions, a batch at a time (the inbox triggers run per
-- row).
DELETE FROM follows WHERE id IN (
    SELECT f.id FROM follows f WHERE f.follower_id = @user_id
    UNION ALL
    SELECT f.id FROM follows f WHERE f.following_id = @user_id
    LIMIT @lim);

-- name: EraseUserRest :exec
-- Everything else that is the account's own, in one statement: blocks,
-- bookmarks, searches, notifications it received or caused (its place in
-- others' grouped notifications too), its settings,
-- drafts, inbox, the reports it filed, its sessions and API keys; a live
-- subscription ends, so no renewal charges a deleted account (the orders
-- stay, for the ledger); its shares stay counted, anonymously.
WITH b AS (DELETE FROM blocks WHERE blocker_id = @user_id OR blocked_id = @user_id),
     bm AS (DELETE FROM bookmarks WHERE user_id = @user_id),
     sh AS (DELETE FROM search_history WHERE user_id = @user_id),
     n AS (DELETE FROM notifications WHERE user_id = @user_id OR actor_id = @user_id),
     -- in others' groups: the trigger of migration 00024 counts each group
     -- down and deletes the ones left empty
     na AS (DELETE FROM notification_actors WHERE actor_id = @user_id),
     ns AS (DELETE FROM notification_settings WHERE user_id = @user_id),
     d AS (DELETE FROM drafts WHERE user_id = @user_id),
     fi AS (DELETE FROM feed_inbox WHERE user_id = @user_id),
     r AS (DELETE FROM reports WHERE reporter_id = @user_id),
     s AS (DELETE FROM sessions WHERE user_id = @user_id),
     k AS (DELETE FROM api_keys WHERE user_id = @user_id),
     sub AS (UPDATE subscriptions SET status = 'expired', cancel_at_period_end = true, updated_at = now()
             WHERE user_id = @user_id AND status <> 'expired'),
     vs AS (UPDATE video_shares SET user_id = NULL WHERE user_id = @user_id)
UPDATE users SET updated_at = now() WHERE users.id = @user_id;

-- name: UserMarkErased :execrows
UPDATE users SET erased_at = now(), last_daily_credit_claim = NULL, updated_at = now()
WHERE id = @id AND deleted_at IS NOT NULL AND erased_at IS NULL;
