-- name: SearchUsers :many
-- Active users matching q (escaped for LIKE) in username or display name,
-- not across a block with the viewer; exact and prefix matches first, then
-- trigram similarity.
SELECT sqlc.embed(u),
       EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = sqlc.narg('viewer_id')::uuid AND f.following_id = u.id) AS is_following
FROM users u
WHERE u.is_active
  AND (u.username ILIKE '%' || @pattern::text || '%' ESCAPE '\' OR u.display_name ILIKE '%' || @pattern::text || '%' ESCAPE '\')
  AND NOT blocked_between(sqlc.narg('viewer_id')::uuid, u.id)
ORDER BY (lower(u.username) = lower(@q::text)) DESC,
         (u.username ILIKE @pattern::text || '%' ESCAPE '\') DESC,
         greatest(similarity(u.username, @q::text), similarity(coalesce(u.display_name, ''), @q::text)) DESC,
         u.id
LIMIT @lim;

-- name: SearchVideos :many
-- Visible videos whose caption or title contains q, by similarity then
-- recency.
SELECT sqlc.embed(v), sqlc.embed(u)
FROM videos v JOIN users u ON u.id = v.user_id
WHERE v.status = 'completed' AND v.is_public AND v.deleted_at IS NULL AND u.is_active
  AND (v.caption ILIKE '%' || @pattern::text || '%' ESCAPE '\' OR v.title ILIKE '%' || @pattern::text || '%' ESCAPE '\')
  AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, sqlc.narg('viewer_id')::uuid)
ORDER BY greatest(similarity(v.caption, @q::text), similarity(coalesce(v.title, ''), @q::text)) DESC, v.created_at DESC, v.id
LIMIT @lim;

-- name: SearchHashtags :many
SELECT id, name, use_count FROM hashtags
WHERE name LIKE @prefix::text || '%' ESCAPE '\' AND use_count > 0
ORDER BY use_count DESC, name
LIMIT @lim;

-- name: AutocompleteUsers :many
SELECT u.username, u.display_name
FROM users u
WHERE u.username LIKE @prefix::text || '%' ESCAPE '\' AND u.is_active
  AND NOT blocked_between(sqlc.narg('viewer_id')::uuid, u.id)
ORDER BY length(u.username), u.username
LIMIT @lim;

-- name: AutocompleteKeywords :many
-- Popular recent searches starting with the prefix.
SELECT normalized, count(*)::bigint AS uses
FROM search_history
WHERE normalized LIKE @prefix::text || '%' ESCAPE '\' AND created_at > @since
GROUP BY normalized
ORDER BY uses DESC, normalized
LIMIT @lim;

-- name: SearchHistoryRecord :one
-- One row per normalized query: searching again moves it to the top.
INSERT INTO search_history (id, user_id, query, normalized)
VALUES (@id, @user_id, @query, @normalized)
ON CONFLICT (user_id, normalized) DO UPDATE SET query = EXCLUDED.query, created_at = now()
RETURNING *;

-- name: SearchHistoryTrim :execrows
-- Keeps the newest @keep entries of a user.
DELETE FROM search_history sh
WHERE sh.user_id = @user_id::uuid AND sh.id NOT IN (
    SELECT k.id FROM search_history k WHERE k.user_id = @user_id::uuid ORDER BY k.created_at DESC, k.id DESC LIMIT @keep::int);

-- name: SearchHistoryList :many
SELECT * FROM search_history WHERE user_id = @user_id ORDER BY created_at DESC, id DESC LIMIT @lim;

-- name: SearchHistoryDelete :execrows
DELETE FROM search_history WHERE id = @id AND user_id = @user_id;

-- name: SearchHistoryClear :execrows
DELETE FROM search_history WHERE user_id = @user_id;
