-- AI jobs on the worker fleet (issue 5): what the worker needs to run a job
-- exactly once against Replicate, and the webhook deliveries already seen.

-- +goose Up
ALTER TABLE ai_jobs
    -- The model the job ran on ("owner/name" or "owner/name:version"), from
    -- the catalog when the job was accepted.
    ADD COLUMN model             text,
    -- The queue its tasks run on: ai, or ai_priority for paid tiers.
    ADD COLUMN queue             text NOT NULL DEFAULT 'ai' CHECK (queue IN ('ai', 'ai_priority')),
    -- The video a glitch or sticker job reads, and how it relates.
    ADD COLUMN source_video_id   uuid REFERENCES videos (id) ON DELETE SET NULL,
    ADD COLUMN glitch_type       text CHECK (glitch_type IN ('animate', 'replace', 'sticker_to_reality')),
    -- The exact input of the last create request, written before the request
    -- is sent: a worker that died before it stored the prediction id finds
    -- its prediction again by this input instead of creating a second one.
    ADD COLUMN request           jsonb,
    ADD COLUMN request_at        timestamptz,
    ADD COLUMN prediction_status text,
    -- Our copy of the output (Replicate deletes its own after an hour).
    ADD COLUMN output_key        text CHECK (length(output_key) <= 500),
    ADD COLUMN deadline_at       timestamptz,
    ADD COLUMN canceled_by_user  boolean NOT NULL DEFAULT false,
    -- Who ended the job when it was not the model: a cancel, a deadline, the
    -- reconciler. Free text for operators.
    ADD COLUMN ended_reason      text CHECK (char_length(ended_reason) <= 500),
    ADD CONSTRAINT ai_jobs_error_len CHECK (char_length(error_message) <= 1000);

-- Every webhook-id Replicate sent, so a replayed or duplicated delivery is
-- ignored. Rows older than a day are purged by the AI reconciler (a replay
-- that old fails the timestamp check anyway).
CREATE TABLE replicate_webhooks (
    webhook_id    text PRIMARY KEY CHECK (char_length(webhook_id) <= 200),
    prediction_id text,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX replicate_webhooks_received_idx ON replicate_webhooks (received_at);

-- +goose Down
DROP TABLE replicate_webhooks;
ALTER TABLE ai_jobs
    DROP CONSTRAINT ai_jobs_error_len,
    DROP COLUMN ended_reason, DROP COLUMN canceled_by_user, DROP COLUMN deadline_at, DROP COLUMN output_key,
    DROP COLUMN prediction_status, DROP COLUMN request_at, DROP COLUMN request, DROP COLUMN glitch_type,
    DROP COLUMN source_video_id, DROP COLUMN queue, DROP COLUMN model;
