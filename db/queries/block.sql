-- name: BlockAdd :one
WITH ins AS (
    INSERT INTO blocks (id, blocker_id, blocked_id) VALUES (@id::uuid, @blocker_id::uuid, @blocked_id::uuid)
    ON CONFLICT (blocker_id, blocked_id) DO NOTHING
    RETURNING id
)
SELECT EXISTS (SELECT 1 FROM ins) AS created;

-- name: BlockGet :one
SELECT * FROM blocks WHERE blocker_id = @blocker_id AND blocked_id = @blocked_id;

-- name: FollowsRemoveBetween :execrows
-- A block ends every follow between the two users, both ways.
DELETE FROM follows
WHERE (follower_id = @a::uuid AND following_id = @b::uuid) OR (follower_id = @b::uuid AND following_id = @a::uuid);

-- name: BlockRemove :execrows
DELETE FROM blocks WHERE blocker_id = @blocker_id AND blocked_id = @blocked_id;

-- name: BlocksOf :many
SELECT sqlc.embed(u), b.id AS block_id, b.created_at AS blocked_at
FROM blocks b JOIN users u ON u.id = b.blocked_id
WHERE b.blocker_id = @blocker_id
ORDER BY b.created_at DESC, b.id DESC
LIMIT @lim;

-- name: BlocksCount :one
SELECT count(*) FROM blocks WHERE blocker_id = @blocker_id;

-- name: BlockDirections :one
SELECT
    EXISTS (SELECT 1 FROM blocks b1 WHERE b1.blocker_id = @me::uuid AND b1.blocked_id = @other::uuid) AS i_blocked,
    EXISTS (SELECT 1 FROM blocks b2 WHERE b2.blocker_id = @other::uuid AND b2.blocked_id = @me::uuid) AS blocked_me;
