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
