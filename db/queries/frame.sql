-- name: FrameCaptureCreate :one
INSERT INTO frame_captures (id, user_id, video_id, timestamps)
VALUES (@id, @user_id, @video_id, @timestamps::double precision[])
RETURNING *;

-- name: FrameCaptureGet :one
SELECT * FROM frame_captures WHERE id = @id;

-- name: FrameCaptureComplete :execrows
UPDATE frame_captures SET status = 'completed', frame_keys = @frame_keys::text[], completed_at = now()
WHERE id = @id AND status = 'pending';

-- name: FrameCaptureFail :execrows
UPDATE frame_captures SET status = 'failed', error = @error, completed_at = now()
WHERE id = @id AND status = 'pending';

-- name: FrameKeysOfVideo :many
-- Every still captured from a video, by anyone: video:purge deletes them
-- with the video.
SELECT unnest(frame_keys)::text AS key FROM frame_captures WHERE video_id = @video_id;
-- name: FrameCapturesStuck :many
-- Pending captures nobody finished: created, or last enqueued again by the
-- reconciler, before @before.
SELECT id, requeues FROM frame_captures
WHERE status = 'pending' AND coalesce(requeued_at, created_at) < @before
ORDER BY created_at
LIMIT @lim;

-- name: FrameCaptureRequeued :execrows
UPDATE frame_captures SET requeues = requeues + 1, requeued_at = now()
WHERE id = @id AND status = 'pending' AND requeues = @requeues;

-- name: FrameCapturesExpired :many
-- Ended captures older than @before whose frames nothing needs any more: no
-- open AI job of the user reads one of them, no draft of the user lists one.
SELECT fc.id, cardinality(fc.timestamps)::int AS frames FROM frame_captures fc
WHERE fc.status <> 'pending' AND fc.completed_at < @before
  AND NOT EXISTS (
      SELECT 1 FROM ai_jobs j
      WHERE j.user_id = fc.user_id AND j.status IN ('pending', 'processing')
        AND starts_with(j.input_data ->> 'image_key', 'frames/' || fc.id::text || '/'))
  AND NOT EXISTS (
      SELECT 1 FROM drafts d, unnest(d.assets) AS a
      WHERE d.user_id = fc.user_id AND strpos(a, 'frames/' || fc.id::text || '/') > 0)
ORDER BY fc.completed_at
LIMIT @lim;

-- name: FrameCaptureDelete :execrows
DELETE FROM frame_captures WHERE id = @id AND status <> 'pending';
