-- name: LikeAdd :one
-- Likes a video once: a repeated like is a no-op. The counter moves in the
-- same statement as the row it counts, when the liker counts: an inactive
-- (banned or deleted) user's likes are not counted (00019_true_counts.sql).
-- user_counts locks the liker's row against a concurrent ban or unban.
WITH ins AS (
    INSERT INTO likes (id, user_id, video_id) VALUES (@id::uuid, @user_id::uuid, @video_id::uuid)
    ON CONFLICT (user_id, video_id) DO NOTHING
    RETURNING id, created_at
), upd AS (
    UPDATE videos SET like_count = like_count + 1
    WHERE videos.id = @video_id::uuid AND EXISTS (SELECT 1 FROM ins)
      AND user_counts(@user_id::uuid)
    RETURNING like_count
)
SELECT EXISTS (SELECT 1 FROM ins) AS created,
       coalesce((SELECT upd.like_count FROM upd), (SELECT vv.like_count FROM videos vv WHERE vv.id = @video_id::uuid))::int AS like_count;

-- name: LikeGet :one
SELECT * FROM likes WHERE user_id = @user_id AND video_id = @video_id;

-- name: LikeRemove :one
-- The like and, when the liker counts, one off the counter. greatest() is
-- for Postgres' CHECK on the row version this statement's snapshot read:
-- when a ban or unban commits while user_counts waits for it, that version
-- is stale, the CHECK runs on it before the row is re-read, and the value
-- written is then computed again from the current version (never clamped
-- while the counts are exact, which the db tests check against a recount).
WITH del AS (
    DELETE FROM likes dl WHERE dl.user_id = @user_id::uuid AND dl.video_id = @video_id::uuid RETURNING dl.video_id
), upd AS (
    UPDATE videos SET like_count = greatest(like_count - 1, 0)
    WHERE videos.id = @video_id::uuid AND EXISTS (SELECT 1 FROM del)
      AND user_counts(@user_id::uuid)
    RETURNING like_count
)
SELECT EXISTS (SELECT 1 FROM del) AS removed,
       coalesce((SELECT like_count FROM upd), (SELECT vv.like_count FROM videos vv WHERE vv.id = @video_id::uuid))::int AS like_count;

-- name: LikeCheckBatch :many
SELECT video_id FROM likes WHERE user_id = @user_id AND video_id = ANY(@video_ids::uuid[]);

-- name: LikedVideos :many
-- The videos a user liked, newest like first, as the viewer may see them.
SELECT sqlc.embed(v), sqlc.embed(u), l.id AS like_id, l.created_at AS liked_at
FROM likes l
JOIN videos v ON v.id = l.video_id
JOIN users u ON u.id = v.user_id
WHERE l.user_id = @user_id
  AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, @user_id)
  AND (sqlc.narg('cursor_at')::timestamptz IS NULL
       OR (l.created_at, l.id) < (sqlc.narg('cursor_at')::timestamptz, sqlc.narg('cursor_id')::uuid))
ORDER BY l.created_at DESC, l.id DESC
LIMIT @lim;

-- name: ViewerFlags :one
-- The caller's relation to a page of videos in one round trip: which of
-- @video_ids it liked and bookmarked, and which of @author_ids it follows.
SELECT
    ARRAY(SELECT l.video_id FROM likes l
          WHERE l.user_id = @viewer_id AND l.video_id = ANY(@video_ids::uuid[]))::uuid[] AS liked,
    ARRAY(SELECT b.video_id FROM bookmarks b
          WHERE b.user_id = @viewer_id AND b.video_id = ANY(@video_ids::uuid[]))::uuid[] AS bookmarked,
    ARRAY(SELECT f.following_id FROM follows f
          WHERE f.follower_id = @viewer_id AND f.following_id = ANY(@author_ids::uuid[]))::uuid[] AS following;
