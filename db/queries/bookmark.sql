-- name: BookmarkAdd :one
WITH ins AS (
    INSERT INTO bookmarks (id, user_id, video_id) VALUES (@id::uuid, @user_id::uuid, @video_id::uuid)
    ON CONFLICT (user_id, video_id) DO NOTHING
    RETURNING id
)
SELECT EXISTS (SELECT 1 FROM ins) AS created;

-- name: BookmarkGet :one
SELECT * FROM bookmarks WHERE user_id = @user_id AND video_id = @video_id;

-- name: BookmarkRemove :execrows
DELETE FROM bookmarks WHERE user_id = @user_id AND video_id = @video_id;

-- name: BookmarkCheckBatch :many
SELECT video_id FROM bookmarks WHERE user_id = @user_id AND video_id = ANY(@video_ids::uuid[]);

-- name: BookmarkedVideos :many
-- The caller's bookmarks, newest first, still visible to them.
SELECT sqlc.embed(v), sqlc.embed(u), b.id AS bookmark_id, b.created_at AS bookmarked_at
FROM bookmarks b
JOIN videos v ON v.id = b.video_id
JOIN users u ON u.id = v.user_id
WHERE b.user_id = @user_id
  AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, @user_id)
  AND (sqlc.narg('cursor_at')::timestamptz IS NULL
       OR (b.created_at, b.id) < (sqlc.narg('cursor_at')::timestamptz, sqlc.narg('cursor_id')::uuid))
ORDER BY b.created_at DESC, b.id DESC
LIMIT @lim;
