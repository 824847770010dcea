-- name: ImageCreate :one
INSERT INTO images (id, user_id, object_key, content_type, max_bytes)
VALUES (@id, @user_id, @object_key, @content_type, @max_bytes)
RETURNING *;

-- name: ImageGetByKey :one
SELECT * FROM images WHERE object_key = @object_key;

-- name: ImageMarkUploaded :exec
UPDATE images SET uploaded_at = coalesce(uploaded_at, now()), size_bytes = @size_bytes WHERE id = @id;

-- name: ImageAbandoned :many
SELECT id, object_key FROM images
WHERE uploaded_at IS NULL AND created_at < @before
ORDER BY created_at
LIMIT @lim;

-- name: ImageDelete :execrows
DELETE FROM images WHERE id = @id AND uploaded_at IS NULL;

-- name: ImageMarkChecked :exec
-- The stored bytes passed the image check; they cannot change after, since
-- uploads write once.
UPDATE images SET width = @width, height = @height, size_bytes = @size_bytes,
    uploaded_at = coalesce(uploaded_at, now()), checked_at = coalesce(checked_at, now())
WHERE id = @id;
