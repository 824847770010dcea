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
