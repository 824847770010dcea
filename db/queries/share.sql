-- name: ShareAdd :one
-- Records a share and counts it in the same statement, unless the user
-- already shared the video on that platform (no platform is "other"):
-- then nothing is written and counted is false. Anonymous shares are
-- limited by the api before this (once per client IP, video and day).
WITH ins AS (
    INSERT INTO video_shares (id, user_id, video_id, share_platform)
    VALUES (@id::uuid, sqlc.narg('user_id')::uuid, @video_id::uuid, sqlc.narg('platform')::text)
    ON CONFLICT (video_id, user_id, (coalesce(share_platform, 'other'))) WHERE user_id IS NOT NULL DO NOTHING
    RETURNING video_id
), counted AS (
    UPDATE videos SET share_count = share_count + 1
    WHERE videos.id = (SELECT ins.video_id FROM ins)
    RETURNING share_count
)
SELECT EXISTS (SELECT 1 FROM counted) AS counted,
       coalesce((SELECT c.share_count FROM counted c),
                (SELECT v.share_count FROM videos v WHERE v.id = @video_id::uuid), 0)::int AS share_count;

-- name: ShareCountsByPlatform :many
SELECT coalesce(share_platform, 'other')::text AS platform, count(*)::bigint AS shares
FROM video_shares WHERE video_id = @video_id
GROUP BY 1 ORDER BY 2 DESC, 1;

-- name: ShareCountOf :one
-- The stored share count of a video, for a share that does not count.
SELECT share_count FROM videos WHERE id = @id;
