-- name: ShareAdd :one
-- Records a share and counts it in the same statement.
WITH ins AS (
    INSERT INTO video_shares (id, user_id, video_id, share_platform)
    VALUES (@id::uuid, sqlc.narg('user_id')::uuid, @video_id::uuid, sqlc.narg('platform')::text)
    RETURNING video_id
)
UPDATE videos SET share_count = share_count + 1
WHERE videos.id = (SELECT ins.video_id FROM ins)
RETURNING share_count;

-- name: ShareCountsByPlatform :many
SELECT coalesce(share_platform, 'other')::text AS platform, count(*)::bigint AS shares
FROM video_shares WHERE video_id = @video_id
GROUP BY 1 ORDER BY 2 DESC, 1;
