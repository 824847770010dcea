-- name: AIJobCreate :one
INSERT INTO ai_jobs (id, user_id, job_type, status, input_data, credits_used, preset_id, model, queue,
                     source_video_id, glitch_type, deadline_at)
VALUES (@id, @user_id, @job_type, 'pending', @input_data, @credits_used, sqlc.narg('preset_id'), @model, @queue,
        sqlc.narg('source_video_id'), sqlc.narg('glitch_type'), @deadline_at)
RETURNING *;

-- name: AIJobGet :one
SELECT * FROM ai_jobs WHERE id = @id;

-- name: AIJobGetByPrediction :one
SELECT * FROM ai_jobs WHERE prediction_id = @prediction_id;

-- name: AIJobsOfUser :many
-- The caller's jobs, newest first; keyset on (created_at, id).
SELECT * FROM ai_jobs
WHERE user_id = @user_id
  AND (sqlc.narg('job_type')::text IS NULL OR job_type = sqlc.narg('job_type'))
  AND (sqlc.narg('status')::text IS NULL OR status = sqlc.narg('status'))
  AND (sqlc.narg('cursor_at')::timestamptz IS NULL
       OR (created_at, id) < (sqlc.narg('cursor_at')::timestamptz, sqlc.narg('cursor_id')::uuid))
ORDER BY created_at DESC, id DESC
LIMIT @lim;

-- name: AIJobsByIDs :many
SELECT * FROM ai_jobs WHERE id = ANY(@ids::uuid[]) AND user_id = @user_id;

-- name: AIJobRecordRequest :execrows
-- Written before the create request is sent (see ai_jobs.request).
UPDATE ai_jobs SET request = @request, request_at = now(), updated_at = now()
WHERE id = @id AND status = 'pending' AND prediction_id IS NULL;

-- name: AIJobStart :execrows
-- The prediction exists: store its id before anything else. Only a pending
-- job without a prediction starts, so a canceled job or a second delivery
-- never stores (or keeps) another prediction.
UPDATE ai_jobs
SET prediction_id = @prediction_id, prediction_status = @prediction_status, status = 'processing',
    started_at = coalesce(started_at, now()), updated_at = now()
WHERE id = @id AND status = 'pending' AND prediction_id IS NULL;

-- name: AIJobProgress :execrows
UPDATE ai_jobs SET progress = greatest(progress, @progress::smallint), prediction_status = @prediction_status,
    updated_at = now()
WHERE id = @id AND status = 'processing';

-- name: AIJobSetOutput :execrows
UPDATE ai_jobs SET output_key = @output_key, updated_at = now()
WHERE id = @id AND status = 'processing';

-- name: AIJobComplete :execrows
UPDATE ai_jobs
SET status = 'completed', progress = 100, prediction_status = 'succeeded', output_data = @output_data,
    output_key = @output_key, video_id = sqlc.narg('video_id'), completed_at = now(), updated_at = now()
WHERE id = @id AND status = 'processing';

-- name: AIJobEnd :one
-- Ends a job that is still open as failed or canceled; no row when it had
-- already ended (the caller then refunds nothing).
UPDATE ai_jobs
SET status = @status, error_message = sqlc.narg('error_message'), ended_reason = sqlc.narg('ended_reason'),
    prediction_status = coalesce(sqlc.narg('prediction_status'), prediction_status),
    canceled_by_user = @canceled_by_user, completed_at = now(), updated_at = now()
WHERE id = @id AND status IN ('pending', 'processing')
RETURNING *;

-- name: AIJobsStuck :many
-- Open jobs nobody has touched since @before: pending ones whose run task
-- may have been lost, processing ones whose poll or webhook may have been.
SELECT * FROM ai_jobs
WHERE status IN ('pending', 'processing') AND updated_at < @before
ORDER BY updated_at
LIMIT @lim;

-- name: AIJobTouch :exec
UPDATE ai_jobs SET updated_at = now() WHERE id = @id AND status IN ('pending', 'processing');

-- name: ReplicateWebhookSeen :execrows
-- 1 the first time a webhook-id arrives, 0 for a replay.
INSERT INTO replicate_webhooks (webhook_id, prediction_id) VALUES (@webhook_id, @prediction_id)
ON CONFLICT (webhook_id) DO NOTHING;

-- name: ReplicateWebhooksPurge :execrows
DELETE FROM replicate_webhooks WHERE received_at < @before;

-- name: AIResultVideoCreate :execrows
-- The result video of a job has the job's id, so creating it twice is a
-- no-op. It starts processing (the finalize pipeline probes it) and private.
INSERT INTO videos (id, user_id, title, caption, status, is_public, upload_key, original_video_id, processing_at)
VALUES (@id, @user_id, @title, '', 'processing', false, @upload_key, sqlc.narg('original_video_id'), now())
ON CONFLICT (id) DO NOTHING;

-- name: GlitchEdgeCreate :execrows
-- The source's glitch_count follows from the edge and the glitch video's
-- visibility (trigger counts_glitch_edge, 00019_true_counts.sql).
INSERT INTO video_glitches (id, original_video_id, glitch_video_id, glitch_type)
VALUES (@id, @original_video_id, @glitch_video_id, @glitch_type)
ON CONFLICT (glitch_video_id) DO NOTHING;


-- name: AIJobStats :one
SELECT count(*) FILTER (WHERE status = 'completed')::bigint AS completed,
       count(*) FILTER (WHERE status = 'failed')::bigint AS failed,
       count(*) FILTER (WHERE status IN ('pending', 'processing'))::bigint AS open
FROM ai_jobs WHERE user_id = @user_id;

-- name: AIResultVideoDiscard :exec
-- The result video of a job that ended otherwise (canceled while its output
-- was being stored): never shown.
UPDATE videos SET deleted_at = coalesce(deleted_at, now()), is_public = false, updated_at = now()
WHERE id = @id;

-- name: ReplicateWebhookForget :exec
-- Undoes ReplicateWebhookSeen when the delivery could not be acted on, so
-- Replicate's retry of it is not mistaken for a replay.
DELETE FROM replicate_webhooks WHERE webhook_id = @webhook_id;

-- name: AIJobFilesOfVideo :many
-- The further files an AI job stored beside the video it made (the first
-- file became the video itself): video:purge deletes them with the video.
SELECT f.key::text AS key
FROM ai_jobs j, jsonb_array_elements_text(
    CASE WHEN jsonb_typeof(j.output_data->'files') = 'array' THEN j.output_data->'files' ELSE '[]'::jsonb END) AS f(key)
WHERE j.video_id = @video_id;

-- name: AIJobsPlanFreeListPrice :one
-- The list price of the user's AI jobs since @since that an unlimited plan
-- ran free of charge (credits_used 0 with a list price recorded), failed and
-- canceled ones left out: what the plan's fair-use cap has used up.
SELECT coalesce(sum((input_data->>'list_price')::int), 0)::int AS used
FROM ai_jobs
WHERE user_id = @user_id AND created_at >= @since AND credits_used = 0
  AND input_data->>'list_price' IS NOT NULL AND status NOT IN ('failed', 'canceled');
