-- name: UserCreate :one
INSERT INTO users (id, username, email, hashed_password, display_name, credits, role)
VALUES (@id, @username, @email, @hashed_password, @display_name, 0, @role)
RETURNING *;

-- name: UserGetByID :one
SELECT * FROM users WHERE id = @id;

-- name: UserGetByEmail :one
SELECT * FROM users WHERE email = @email;

-- name: UserGetByUsername :one
SELECT * FROM users WHERE username = @username;

-- name: UserGetAuth :one
-- The per-request auth check: the columns authorization needs, nothing else.
SELECT id, is_active, role FROM users WHERE id = @id;

-- name: UserUpdateProfile :one
-- A field changes only when its set_ flag is true, so that an absent field
-- means "unchanged" and an explicit null clears it (B-42).
UPDATE users SET
    display_name      = CASE WHEN @set_display_name::bool THEN sqlc.narg('display_name') ELSE display_name END,
    bio               = CASE WHEN @set_bio::bool THEN sqlc.narg('bio') ELSE bio END,
    profile_image_key = CASE WHEN @set_profile_image::bool THEN sqlc.narg('profile_image_key') ELSE profile_image_key END,
    updated_at        = now()
WHERE id = @id
RETURNING *;

-- name: UserAddCredits :one
-- The only statement that changes a balance; it runs inside the ledger
-- transaction (CreditsApply). The CHECK (credits >= 0) rejects an overdraft.
UPDATE users SET credits = credits + @delta, updated_at = now()
WHERE id = @id
RETURNING credits;

-- name: UserSetActive :execrows
WITH locked AS (
    -- The user's videos, before the user's row: a change of is_active
    -- writes them (videos_author_active_changed, migration 00020), and a
    -- publish or hide of one of them locks the video first and the user's
    -- row second (counts_glitch_visibility_changed, 00019). Taking the
    -- user's row first here would deadlock with it. Still open: a ban
    -- racing the publish of a glitch of the user's own video (the trigger
    -- locks two of the user's videos with the row between them), where
    -- PostgreSQL aborts one of the two.
    SELECT v.id FROM videos v WHERE v.user_id = @id::uuid
    ORDER BY v.id
    FOR NO KEY UPDATE
)
UPDATE users SET is_active = @is_active, updated_at = now()
WHERE id = @id::uuid AND (SELECT count(*) FROM locked) >= 0;

-- name: UserSetRole :execrows
UPDATE users SET role = @role, updated_at = now() WHERE id = @id;

-- name: UserProfileCounts :one
-- Counts shown on a profile. Videos count when anyone may see them, or, for
-- the owner looking at their own profile, when they are theirs and not deleted.
SELECT
    (SELECT count(*) FROM follows f WHERE f.following_id = @user_id)::bigint AS follower_count,
    (SELECT count(*) FROM follows f WHERE f.follower_id = @user_id)::bigint AS following_count,
    (SELECT count(*) FROM videos v
      WHERE v.user_id = @user_id AND v.deleted_at IS NULL AND v.status = 'completed'
        AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, sqlc.narg('viewer_id')::uuid))::bigint AS video_count,
    (SELECT coalesce(sum(v.like_count), 0) FROM videos v
      WHERE v.user_id = @user_id AND v.deleted_at IS NULL AND v.status = 'completed'
        AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, sqlc.narg('viewer_id')::uuid))::bigint AS total_likes,
    EXISTS (SELECT 1 FROM follows f
             WHERE f.follower_id = sqlc.narg('viewer_id')::uuid AND f.following_id = @user_id) AS is_following;

-- name: UserBatchInfo :many
-- Public facts about many users in one query, without the users the viewer
-- has blocked or been blocked by.
SELECT
    u.id, u.username, u.display_name, u.bio, u.profile_image_key, u.created_at,
    (SELECT count(*) FROM follows f WHERE f.following_id = u.id)::bigint AS follower_count,
    (SELECT count(*) FROM follows f WHERE f.follower_id = u.id)::bigint AS following_count,
    (SELECT count(*) FROM videos v
      WHERE v.user_id = u.id AND v.deleted_at IS NULL AND v.status = 'completed'
        AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, sqlc.narg('viewer_id')::uuid))::bigint AS video_count,
    EXISTS (SELECT 1 FROM follows f
             WHERE f.follower_id = sqlc.narg('viewer_id')::uuid AND f.following_id = u.id) AS is_following
FROM users u
WHERE u.id = ANY(@ids::uuid[])
  AND u.is_active
  AND NOT blocked_between(sqlc.narg('viewer_id')::uuid, u.id);

-- name: UserBlockedEitherWay :one
-- Whether a and b have blocked each other in either direction (CONTRACT.md §2).
SELECT blocked_between(@a::uuid, @b::uuid);

-- name: UserStats :one
-- The caller's own totals (missing-API analysis §9.1), every video of
-- theirs that is not deleted.
SELECT
    (SELECT count(*) FROM videos v WHERE v.user_id = @user_id AND v.deleted_at IS NULL AND v.status = 'completed')::bigint AS total_videos,
    (SELECT coalesce(sum(v.view_count), 0) FROM videos v WHERE v.user_id = @user_id AND v.deleted_at IS NULL)::bigint AS total_views,
    (SELECT coalesce(sum(v.like_count), 0) FROM videos v WHERE v.user_id = @user_id AND v.deleted_at IS NULL)::bigint AS total_likes,
    (SELECT coalesce(sum(v.comment_count), 0) FROM videos v WHERE v.user_id = @user_id AND v.deleted_at IS NULL)::bigint AS total_comments,
    (SELECT count(*) FROM follows f WHERE f.following_id = @user_id)::bigint AS total_followers,
    (SELECT count(*) FROM follows f WHERE f.follower_id = @user_id)::bigint AS total_following,
    (SELECT count(*) FROM video_glitches g JOIN videos gv ON gv.id = g.glitch_video_id
      WHERE gv.user_id = @user_id AND gv.deleted_at IS NULL)::bigint AS total_glitches_created,
    (SELECT count(*) FROM video_glitches g JOIN videos ov ON ov.id = g.original_video_id
      WHERE ov.user_id = @user_id)::bigint AS total_glitches_received,
    (SELECT coalesce(-sum(ct.credits), 0) FROM credit_transactions ct
      WHERE ct.user_id = @user_id AND ct.transaction_type = 'usage')::bigint AS credits_spent,
    (SELECT coalesce(sum(ct.credits), 0) FROM credit_transactions ct
      WHERE ct.user_id = @user_id AND ct.transaction_type = 'refund')::bigint AS credits_refunded,
    (SELECT u.credits FROM users u WHERE u.id = @user_id)::bigint AS credits_remaining;

-- name: UserSetPassword :execrows
UPDATE users SET hashed_password = @hashed_password, updated_at = now()
WHERE id = @id AND deleted_at IS NULL;

-- name: UserCreditsForUpdate :one
-- A balance read that holds the user's row until the transaction ends, so
-- the spend or clawback that follows in it sees the same balance (CreateAIJob,
-- RefundOrder).
SELECT credits FROM users WHERE id = @id FOR UPDATE;
