-- name: GlitchChildren :many
-- The direct glitches of a video, visible to the viewer, newest first; of
-- active authors (video_visible), like videos.glitch_count
-- (00019_true_counts.sql).
SELECT sqlc.embed(v), sqlc.embed(u), g.id AS edge_id, g.created_at AS glitched_at, g.glitch_type
FROM video_glitches g
JOIN videos v ON v.id = g.glitch_video_id
JOIN users u ON u.id = v.user_id
WHERE g.original_video_id = @video_id
  AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, sqlc.narg('viewer_id')::uuid)
  AND (sqlc.narg('cursor_at')::timestamptz IS NULL
       OR (g.created_at, g.id) < (sqlc.narg('cursor_at')::timestamptz, sqlc.narg('cursor_id')::uuid))
ORDER BY g.created_at DESC, g.id DESC
LIMIT @lim;

-- name: GlitchChildrenPopular :many
-- The direct glitches of a video by likes; keyset on (like_count, id).
SELECT sqlc.embed(v), sqlc.embed(u), g.glitch_type
FROM video_glitches g
JOIN videos v ON v.id = g.glitch_video_id
JOIN users u ON u.id = v.user_id
WHERE g.original_video_id = @video_id
  AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, sqlc.narg('viewer_id')::uuid)
  AND (sqlc.narg('cursor_rank')::bigint IS NULL
       OR (v.like_count::bigint, v.id) < (sqlc.narg('cursor_rank')::bigint, sqlc.narg('cursor_id')::uuid))
ORDER BY v.like_count DESC, v.id DESC
LIMIT @lim;

-- name: GlitchSource :one
SELECT original_video_id, glitch_type FROM video_glitches WHERE glitch_video_id = @video_id;

-- name: GlitchAncestors :many
-- The chain from a video up to its root (bounded), nearest first.
WITH RECURSIVE up AS (
    SELECT g.original_video_id AS id, 1 AS depth
    FROM video_glitches g WHERE g.glitch_video_id = @video_id
    UNION ALL
    SELECT g.original_video_id, up.depth + 1
    FROM up JOIN video_glitches g ON g.glitch_video_id = up.id
    WHERE up.depth < @max_depth::int
)
SELECT id, depth FROM up ORDER BY depth;

-- name: GlitchDescendants :many
-- A bounded breadth-first walk down from a root: only branches the viewer
-- may see (video_visible: whose authors are active) are followed.
WITH RECURSIVE down AS (
    SELECT g.glitch_video_id AS id, g.original_video_id AS parent_id, g.glitch_type, 1 AS depth, g.created_at
    FROM video_glitches g JOIN videos v ON v.id = g.glitch_video_id
    WHERE g.original_video_id = @root_id
      AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, sqlc.narg('viewer_id')::uuid)
    UNION ALL
    SELECT g.glitch_video_id, g.original_video_id, g.glitch_type, down.depth + 1, g.created_at
    FROM down
    JOIN video_glitches g ON g.original_video_id = down.id
    JOIN videos v ON v.id = g.glitch_video_id
    WHERE down.depth < @max_depth::int
      AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, sqlc.narg('viewer_id')::uuid)
)
SELECT sqlc.embed(v), sqlc.embed(u), d.parent_id, d.glitch_type, d.depth::int AS depth
FROM down d JOIN videos v ON v.id = d.id JOIN users u ON u.id = v.user_id
ORDER BY d.depth, d.created_at, d.id
LIMIT @lim;
