-- name: VideoCreateUpload :one
INSERT INTO videos (id, user_id, title, caption, status, is_public, upload_key, content_type, upload_max_bytes)
VALUES (@id, @user_id, @title, @caption, 'uploading', @is_public, @upload_key, @content_type, @upload_max_bytes)
RETURNING *;

-- name: VideoGetByID :one
SELECT * FROM videos WHERE id = @id;

-- name: VideoGetOwned :one
-- The caller's own video, in any state but soft-deleted.
SELECT * FROM videos WHERE id = @id AND user_id = @user_id AND deleted_at IS NULL;

-- name: VideoGetVisible :one
-- A banned author's videos are not found, like the author (CONTRACT.md §2):
-- video_visible reads the author's state (00020_visibility_one_rule.sql).
SELECT sqlc.embed(v), sqlc.embed(u)
FROM videos v JOIN users u ON u.id = v.user_id
WHERE v.id = @id AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, sqlc.narg('viewer_id')::uuid);

-- name: VideoViewTarget :one
-- What counting a view needs to know: whether the caller may see the video,
-- its owner, the flushed count and the duration (a reported watch time is
-- capped at it).
SELECT v.user_id, v.view_count, v.duration_seconds
FROM videos v
WHERE v.id = @id AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, sqlc.narg('viewer_id')::uuid);

-- name: VideoStartProcessing :one
-- complete: uploading → processing, recording the client's hints; a video
-- already processing keeps its state (calling complete twice is harmless).
UPDATE videos SET
    status          = 'processing',
    processing_at   = CASE WHEN status = 'uploading' THEN now() ELSE processing_at END,
    client_width    = coalesce(sqlc.narg('client_width'), client_width),
    client_height   = coalesce(sqlc.narg('client_height'), client_height),
    client_duration = coalesce(sqlc.narg('client_duration'), client_duration),
    caption         = coalesce(sqlc.narg('caption'), caption),
    is_public       = coalesce(sqlc.narg('is_public'), is_public),
    updated_at      = now()
WHERE id = @id AND user_id = @user_id AND deleted_at IS NULL AND status IN ('uploading', 'processing')
RETURNING *;

-- name: VideoFinalizeComplete :one
-- The finalize task's success: only from processing, so a replayed task
-- cannot complete a video twice or resurrect a failed one.
UPDATE videos SET
    status = 'completed', object_key = @object_key, original_key = sqlc.narg('original_key'),
    thumbnail_key = @thumbnail_key, content_type = @content_type, size_bytes = @size_bytes,
    duration_seconds = @duration_seconds, width = @width, height = @height,
    video_codec = @video_codec, audio_codec = sqlc.narg('audio_codec'), container = @container,
    bit_rate = @bit_rate, frame_rate = @frame_rate, transcoded = @transcoded,
    upload_key = NULL, failure_reason = NULL, completed_at = now(), updated_at = now()
WHERE id = @id AND status = 'processing'
RETURNING *;

-- name: VideoFinalizeFail :execrows
UPDATE videos SET status = 'failed', failure_reason = @failure_reason, updated_at = now()
WHERE id = @id AND status = 'processing';

-- name: VideoUpdate :one
UPDATE videos SET
    caption    = coalesce(sqlc.narg('caption'), caption),
    title      = CASE WHEN @set_title::bool THEN sqlc.narg('title') ELSE title END,
    is_public  = coalesce(sqlc.narg('is_public'), is_public),
    updated_at = now()
WHERE id = @id AND user_id = @user_id AND deleted_at IS NULL
RETURNING *;

-- name: VideoSoftDelete :one
UPDATE videos SET deleted_at = now(), is_public = false, updated_at = now()
WHERE id = @id AND user_id = @user_id AND deleted_at IS NULL
RETURNING *;

-- name: VideoListVisible :many
-- The public list, newest first, keyset-paged on (created_at, id). The
-- first page compares with a cursor past every row rather than skipping the
-- comparison, so one cached plan seeks in the index for every page (with
-- "cursor IS NULL OR ...", a generic plan filters instead and scans every
-- newer row).
--
-- The page is chosen under a constant bound, 51 (db.FeedPageMaxRows), and
-- only then cut to @lim. PostgreSQL prices a generic plan's "LIMIT $n" as
-- 10% of the rows, far above a custom plan for 21, so with @lim alone it
-- planned the statement again on every call (0.41 ms of planning against
-- 0.27 ms of execution). With the constant it keeps one generic plan, and
-- the inner limit reads no more rows than the outer one asks for.
SELECT sqlc.embed(v), sqlc.embed(u)
FROM (
    SELECT x.id, x.created_at
    FROM videos x
    WHERE video_listed(x.status, x.is_public, x.deleted_at, x.author_active)
      AND video_visible(x.user_id, x.status, x.is_public, x.deleted_at, x.author_active, sqlc.narg('viewer_id')::uuid)
      AND (x.created_at, x.id) < (coalesce(sqlc.narg('cursor_at')::timestamptz, 'infinity'),
                                  coalesce(sqlc.narg('cursor_id')::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
    ORDER BY x.created_at DESC, x.id DESC
    LIMIT 51
) page
JOIN videos v ON v.id = page.id
JOIN users u ON u.id = v.user_id
ORDER BY page.created_at DESC, page.id DESC
LIMIT @lim;

-- name: VideoListByUser :many
-- One user's videos as the viewer may see them; the owner sees every state
-- (filtered by status when given) except deleted.
SELECT sqlc.embed(v), sqlc.embed(u)
FROM videos v JOIN users u ON u.id = v.user_id
WHERE v.user_id = @user_id AND v.deleted_at IS NULL
  AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, sqlc.narg('viewer_id')::uuid)
  AND (sqlc.narg('status')::text IS NULL OR v.status = sqlc.narg('status')::text)
  AND (sqlc.narg('cursor_at')::timestamptz IS NULL
       OR (v.created_at, v.id) < (sqlc.narg('cursor_at')::timestamptz, sqlc.narg('cursor_id')::uuid))
ORDER BY v.created_at DESC, v.id DESC
LIMIT @lim;

-- name: VideoBatchMetadata :many
SELECT v.id, v.view_count, v.like_count, v.comment_count, v.glitch_count, v.share_count
FROM videos v
WHERE v.id = ANY(@ids::uuid[])
  AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, sqlc.narg('viewer_id')::uuid);

-- name: VideoStuckProcessing :many
-- Videos whose finalize task may have been lost: processing for longer than
-- the task could take.
SELECT id FROM videos
WHERE status = 'processing' AND processing_at < @before
ORDER BY processing_at
LIMIT @lim;

-- name: VideoAbandonedUploads :many
SELECT id, upload_key FROM videos
WHERE status = 'uploading' AND created_at < @before
ORDER BY created_at
LIMIT @lim;

-- name: VideoDeleteAbandoned :execrows
DELETE FROM videos WHERE id = @id AND status = 'uploading';

-- name: VideoAddViews :exec
-- One statement for a whole flush batch; ids arrive sorted so concurrent
-- writers lock video rows in the same order.
UPDATE videos v SET view_count = v.view_count + d.delta
FROM (SELECT unnest(@ids::uuid[]) AS id, unnest(@deltas::bigint[]) AS delta) d
WHERE v.id = d.id;

-- name: VideoPurgeCandidates :many
-- Soft-deleted videos whose objects are still stored, deleted before
-- @before (videos:purge; videos_purge_idx holds exactly these rows).
SELECT id FROM videos
WHERE deleted_at < @before
  AND (object_key IS NOT NULL OR thumbnail_key IS NOT NULL OR original_key IS NOT NULL OR upload_key IS NOT NULL)
ORDER BY deleted_at
LIMIT @lim;

-- name: VideoClearObjects :execrows
-- After video:purge deleted them: the row no longer names any object.
UPDATE videos SET object_key = NULL, thumbnail_key = NULL, original_key = NULL, upload_key = NULL
WHERE id = @id AND deleted_at IS NOT NULL;

-- name: FeedFollowing :many
-- Newest videos of the creators the viewer follows, read from the viewer's
-- inbox (migration 00010): one backward range of its primary key from the
-- cursor, each row checked for visibility and blocks as it is read,
-- stopping at @lim. A page costs about @lim rows however many creators the
-- viewer follows. The cursor and the constant bound are as in
-- VideoListVisible (planning was 0.61 ms against 0.38 ms of execution).
--
-- The follow itself is not checked again: the triggers keep the inbox
-- exact under concurrent follows, unfollows and publishing
-- (TestFollowingInboxUnderConcurrency). Checking it made the planner
-- treat the inbox and the follows as independent, so it expected 1 inbox
-- row in 100 to qualify and, on the 20,000-user seed, read all 20,000
-- followed videos and sorted them (120 ms) instead of reading 21 rows of
-- the inbox (1 ms).
SELECT sqlc.embed(v), sqlc.embed(u)
FROM (
    SELECT i.video_id, i.created_at
    FROM feed_inbox i
    JOIN videos x ON x.id = i.video_id
    WHERE i.user_id = @viewer_id
      AND (i.created_at, i.video_id) < (coalesce(sqlc.narg('cursor_at')::timestamptz, 'infinity'),
                                         coalesce(sqlc.narg('cursor_id')::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
      AND video_listed(x.status, x.is_public, x.deleted_at, x.author_active)
      AND NOT blocked_between(@viewer_id::uuid, x.user_id)
    ORDER BY i.created_at DESC, i.video_id DESC
    LIMIT 51
) page
JOIN videos v ON v.id = page.video_id
JOIN users u ON u.id = v.user_id
ORDER BY page.created_at DESC, page.video_id DESC
LIMIT @lim;

-- name: TrendingScores :many
-- The trending score of every public video of the last @window_hours:
-- engagement weighted by effort (view 1, like 3, comment 4, share 5,
-- glitch 6) divided by (age in hours + 2)^1.5, so that newer videos with
-- the same engagement rank higher and old ones sink (Hacker News' gravity).
-- The age is date_part's double precision, not extract's numeric (PostgreSQL
-- 14+): power() over numeric for each of 100,000 videos in the window took
-- 3.0 s against 0.22 s (docs/scaling.md, "The trending computation").
SELECT v.id,
       ((v.view_count + 3 * v.like_count + 4 * v.comment_count + 5 * v.share_count + 6 * v.glitch_count + 1)::double precision
        / power(date_part('epoch', now() - v.created_at) / 3600.0 + 2, 1.5))::double precision AS score
FROM videos v
WHERE video_listed(v.status, v.is_public, v.deleted_at, v.author_active)
  AND v.created_at > now() - make_interval(hours => @window_hours::int)
ORDER BY score DESC, v.id
LIMIT @lim;

-- name: VideosVisibleByIDs :many
SELECT sqlc.embed(v), sqlc.embed(u)
FROM videos v JOIN users u ON u.id = v.user_id
WHERE v.id = ANY(@ids::uuid[])
  AND video_visible(v.user_id, v.status, v.is_public, v.deleted_at, v.author_active, sqlc.narg('viewer_id')::uuid);

-- name: PersonalizedCandidates :many
-- The "for you" candidates of @viewer_id, best first. Candidates: the
-- newest 10 videos of each creator the viewer follows or engaged with
-- (liked, commented on, glitched: the last 200 of each), the newest 50 of
-- each of the 20 hashtags on the videos the viewer liked most recently, and
-- the @trending_ids (best first). Score:
--   3 if the viewer follows the creator
-- + 2 * ln(1 + engagements with the creator)
-- + ln(1 + likes the viewer gave the video's hashtags)
-- + 2 / sqrt(trending rank), when ranked
-- + 1 / sqrt(age in hours + 2)
-- The viewer's own videos, videos they already liked, and anything
-- invisible to them are left out. Visibility is video_visible for a viewer
-- who is not the owner, written out so that the block check is one hash
-- anti-join instead of a function call per candidate.
WITH followed AS (
    SELECT following_id AS user_id FROM follows WHERE follower_id = @viewer_id::uuid
),
blocked AS (
    SELECT blocked_id AS user_id FROM blocks WHERE blocker_id = @viewer_id::uuid
    UNION
    SELECT blocker_id FROM blocks WHERE blocked_id = @viewer_id::uuid
),
recent_likes AS (
    SELECT l.video_id FROM likes l WHERE l.user_id = @viewer_id::uuid ORDER BY l.created_at DESC LIMIT 200
),
engaged AS (
    SELECT v.user_id, count(*) AS n
    FROM (
        SELECT rl.video_id FROM recent_likes rl
        UNION ALL
        (SELECT c.video_id FROM comments c WHERE c.user_id = @viewer_id::uuid ORDER BY c.created_at DESC LIMIT 200)
        UNION ALL
        (SELECT g.original_video_id FROM video_glitches g JOIN videos gv ON gv.id = g.glitch_video_id
          WHERE gv.user_id = @viewer_id::uuid ORDER BY g.created_at DESC LIMIT 200)
    ) e JOIN videos v ON v.id = e.video_id
    WHERE v.user_id <> @viewer_id::uuid
    GROUP BY v.user_id
),
tags AS (
    SELECT vh.hashtag_id, count(*) AS n
    FROM recent_likes rl JOIN video_hashtags vh ON vh.video_id = rl.video_id
    GROUP BY vh.hashtag_id
    ORDER BY n DESC, vh.hashtag_id
    LIMIT 20
),
creators AS (
    SELECT f.user_id FROM followed f UNION SELECT e.user_id FROM engaged e
),
candidates AS (
    SELECT top.id FROM creators cr CROSS JOIN LATERAL (
        SELECT x.id FROM videos x
        WHERE x.user_id = cr.user_id AND video_listed(x.status, x.is_public, x.deleted_at, x.author_active)
        ORDER BY x.created_at DESC, x.id DESC
        LIMIT 10) top
    UNION
    SELECT tv.video_id FROM tags t CROSS JOIN LATERAL (
        SELECT y.video_id FROM video_hashtags y WHERE y.hashtag_id = t.hashtag_id
        ORDER BY y.created_at DESC
        LIMIT 50) tv
    UNION
    SELECT unnest(@trending_ids::uuid[])
)
SELECT v.id, v.user_id,
       ((CASE WHEN fo.user_id IS NOT NULL THEN 3 ELSE 0 END)
        + 2 * ln(1 + coalesce(en.n, 0))
        + ln(1 + coalesce(tg.n, 0))
        + coalesce(2 / sqrt(array_position(@trending_ids::uuid[], v.id)), 0)
        + 1 / sqrt(date_part('epoch', now() - v.created_at) / 3600.0 + 2))::double precision AS score
FROM candidates c
JOIN videos v ON v.id = c.id
LEFT JOIN followed fo ON fo.user_id = v.user_id
LEFT JOIN engaged en ON en.user_id = v.user_id
LEFT JOIN LATERAL (
    SELECT sum(t.n) AS n FROM video_hashtags vh JOIN tags t ON t.hashtag_id = vh.hashtag_id WHERE vh.video_id = v.id
) tg ON true
WHERE v.user_id <> @viewer_id::uuid
  AND video_listed(v.status, v.is_public, v.deleted_at, v.author_active)
  AND NOT EXISTS (SELECT 1 FROM blocked b WHERE b.user_id = v.user_id)
  AND NOT EXISTS (SELECT 1 FROM likes l WHERE l.user_id = @viewer_id::uuid AND l.video_id = v.id)
ORDER BY score DESC, v.id
LIMIT @lim;
