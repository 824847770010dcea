-- name: DraftCreate :one
INSERT INTO drafts (id, user_id, title, state, job_ids, assets)
VALUES (@id, @user_id, @title, @state, @job_ids::uuid[], @assets::text[])
RETURNING *;

-- name: DraftGet :one
SELECT * FROM drafts WHERE id = @id AND user_id = @user_id;

-- name: DraftSave :one
-- Autosave with a precondition: only a save based on the current version
-- applies, so an older tab cannot overwrite a newer save.
UPDATE drafts SET title = @title, state = @state, job_ids = @job_ids::uuid[], assets = @assets::text[], updated_at = clock_timestamp()
WHERE id = @id AND user_id = @user_id AND updated_at = @if_updated_at
RETURNING *;

-- name: DraftDelete :execrows
DELETE FROM drafts WHERE id = @id AND user_id = @user_id;

-- name: DraftsOfUser :many
SELECT * FROM drafts
WHERE user_id = @user_id
  AND (sqlc.narg('cursor_at')::timestamptz IS NULL
       OR (updated_at, id) < (sqlc.narg('cursor_at')::timestamptz, sqlc.narg('cursor_id')::uuid))
ORDER BY updated_at DESC, id DESC
LIMIT @lim;
