-- name: FollowAdd :one
-- Follows once: a repeated follow is a no-op (created = false).
WITH ins AS (
    INSERT INTO follows (id, follower_id, following_id) VALUES (@id::uuid, @follower_id::uuid, @following_id::uuid)
    ON CONFLICT (follower_id, following_id) DO NOTHING
    RETURNING id
)
SELECT EXISTS (SELECT 1 FROM ins) AS created;

-- name: FollowGet :one
SELECT * FROM follows WHERE follower_id = @follower_id AND following_id = @following_id;

-- name: FollowRemove :execrows
DELETE FROM follows WHERE follower_id = @follower_id AND following_id = @following_id;

-- name: FollowCheckBatch :many
SELECT following_id FROM follows WHERE follower_id = @follower_id AND following_id = ANY(@ids::uuid[]);

-- name: FollowersOf :many
-- A page of a user's followers, newest first, without users on either side
-- of a block with the viewer; is_following is the viewer's.
SELECT sqlc.embed(u), f.id AS follow_id, f.created_at AS followed_at,
       EXISTS (SELECT 1 FROM follows mine
                WHERE mine.follower_id = sqlc.narg('viewer_id')::uuid AND mine.following_id = u.id) AS viewer_follows
FROM follows f JOIN users u ON u.id = f.follower_id
WHERE f.following_id = @user_id AND u.is_active
  AND NOT blocked_between(sqlc.narg('viewer_id')::uuid, u.id)
ORDER BY f.created_at DESC, f.id DESC
LIMIT @lim OFFSET @off;

-- name: FollowingOf :many
SELECT sqlc.embed(u), f.id AS follow_id, f.created_at AS followed_at,
       EXISTS (SELECT 1 FROM follows mine
                WHERE mine.follower_id = sqlc.narg('viewer_id')::uuid AND mine.following_id = u.id) AS viewer_follows
FROM follows f JOIN users u ON u.id = f.following_id
WHERE f.follower_id = @user_id AND u.is_active
  AND NOT blocked_between(sqlc.narg('viewer_id')::uuid, u.id)
ORDER BY f.created_at DESC, f.id DESC
LIMIT @lim OFFSET @off;
