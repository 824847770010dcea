-- name: CommentCreate :one
-- The comment and its video's counter, in one statement; an inactive
-- author's comment is not counted (00019_true_counts.sql).
WITH ins AS (
    INSERT INTO comments (id, user_id, video_id, content)
    VALUES (@id::uuid, @user_id::uuid, @video_id::uuid, @content::text)
    RETURNING *
), upd AS (
    UPDATE videos SET comment_count = comment_count + 1
    WHERE videos.id = @video_id::uuid
      AND user_counts(@user_id::uuid)
    RETURNING videos.id
)
SELECT ins.* FROM ins;

-- name: CommentForViewer :one
-- A comment the viewer may see: not removed by a moderator, its video is
-- visible to them, and neither has blocked the other.
SELECT sqlc.embed(c), v.user_id AS video_owner_id
FROM comments c JOIN videos v ON v.id = c.video_id
WHERE c.id = @id AND c.removed_at IS NULL
  AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, @viewer_id::uuid)
  AND NOT blocked_between(@viewer_id::uuid, c.user_id);

-- name: CommentWithVideoOwner :one
-- A comment and its video's owner, whoever asks: deleting a comment is for
-- its author and the video's owner also across a block (either may have
-- blocked the other) or when the video is no longer visible to them.
SELECT sqlc.embed(c), v.user_id AS video_owner_id
FROM comments c JOIN videos v ON v.id = c.video_id
WHERE c.id = @id;

-- name: CommentUpdate :one
UPDATE comments SET content = @content, updated_at = now()
WHERE id = @id AND user_id = @user_id
RETURNING *;

-- name: CommentDelete :execrows
-- The comment and, when it counts (its author is active and it is not
-- removed), one off its video's counter (greatest(): see LikeRemove).
WITH del AS (
    DELETE FROM comments WHERE comments.id = @id::uuid RETURNING comments.video_id, comments.user_id, comments.removed_at
)
UPDATE videos SET comment_count = greatest(comment_count - 1, 0)
WHERE videos.id = (SELECT del.video_id FROM del WHERE del.removed_at IS NULL)
  AND user_counts((SELECT del.user_id FROM del));

-- name: CommentsOfVideo :many
-- A page of a video's comments, newest first, authors and the viewer's
-- like in the same query; comments across a block with the viewer, of
-- disabled authors and removed by a moderator are left out.
SELECT sqlc.embed(c), sqlc.embed(u),
       EXISTS (SELECT 1 FROM comment_likes cl WHERE cl.comment_id = c.id AND cl.user_id = sqlc.narg('viewer_id')::uuid) AS is_liked,
       count(*) OVER () AS total
FROM comments c JOIN users u ON u.id = c.user_id
WHERE c.video_id = @video_id AND u.is_active AND c.removed_at IS NULL
  AND NOT blocked_between(sqlc.narg('viewer_id')::uuid, c.user_id)
ORDER BY c.created_at DESC, c.id DESC
LIMIT @lim OFFSET @off;

-- name: CommentsBatch :many
SELECT sqlc.embed(c), sqlc.embed(u),
       EXISTS (SELECT 1 FROM comment_likes cl WHERE cl.comment_id = c.id AND cl.user_id = @viewer_id::uuid) AS is_liked,
       EXISTS (SELECT 1 FROM follows f WHERE f.follower_id = @viewer_id::uuid AND f.following_id = c.user_id) AS is_following
FROM comments c JOIN users u ON u.id = c.user_id JOIN videos v ON v.id = c.video_id
WHERE c.id = ANY(@ids::uuid[]) AND u.is_active AND c.removed_at IS NULL
  AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, @viewer_id::uuid)
  AND NOT blocked_between(@viewer_id::uuid, c.user_id);

-- name: CommentLikeAdd :one
WITH ins AS (
    INSERT INTO comment_likes (id, user_id, comment_id) VALUES (@id::uuid, @user_id::uuid, @comment_id::uuid)
    ON CONFLICT (user_id, comment_id) DO NOTHING
    RETURNING comment_id
), upd AS (
    UPDATE comments SET like_count = like_count + 1
    WHERE comments.id = @comment_id::uuid AND EXISTS (SELECT 1 FROM ins)
      AND user_counts(@user_id::uuid)
    RETURNING like_count
)
SELECT EXISTS (SELECT 1 FROM ins) AS created,
       coalesce((SELECT upd.like_count FROM upd), (SELECT cc.like_count FROM comments cc WHERE cc.id = @comment_id::uuid))::int AS like_count;

-- name: CommentLikeRemove :one
WITH del AS (
    DELETE FROM comment_likes dl WHERE dl.user_id = @user_id::uuid AND dl.comment_id = @comment_id::uuid RETURNING dl.comment_id
), upd AS (
    UPDATE comments SET like_count = greatest(like_count - 1, 0)
    WHERE comments.id = @comment_id::uuid AND EXISTS (SELECT 1 FROM del)
      AND user_counts(@user_id::uuid)
    RETURNING like_count
)
SELECT EXISTS (SELECT 1 FROM del) AS removed,
       coalesce((SELECT upd.like_count FROM upd), (SELECT cc.like_count FROM comments cc WHERE cc.id = @comment_id::uuid))::int AS like_count;

-- name: CommentLikeCheck :one
SELECT EXISTS (SELECT 1 FROM comment_likes WHERE user_id = @user_id AND comment_id = @comment_id);

-- name: CommentGetForModeration :one
-- Locks a comment for a removal or restore.
SELECT * FROM comments WHERE id = @id FOR NO KEY UPDATE;

-- name: UserCounts :one
-- user_counts(): whether the user's comments count, holding FOR SHARE on
-- the user's row until the transaction ends (taken before the comment's
-- lock, the order of a ban).
SELECT user_counts(@user_id::uuid)::bool;

-- name: CommentSetRemoved :one
-- A removal (removed_at, reason) or a restore (both NULL); the counters
-- follow by trigger (00031_report_workflow.sql).
UPDATE comments SET removed_at = sqlc.narg('removed_at'), removed_reason = sqlc.narg('removed_reason')
WHERE id = @id
RETURNING *;
