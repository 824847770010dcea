-- Frame captures the reconciler looks after (issue 11): a capture still
-- pending long after its task should have ended is enqueued again a bounded
-- number of times, then failed; frames older than FRAME_MAX_AGE are deleted.

-- +goose Up
ALTER TABLE frame_captures
    -- How many times the reconciler enqueued the capture again, and when it
    -- last did (a re-enqueued capture gets the full wait again).
    ADD COLUMN requeues    integer NOT NULL DEFAULT 0 CHECK (requeues >= 0),
    ADD COLUMN requeued_at timestamptz;
-- The expiry scan: ended captures by age.
CREATE INDEX frame_captures_ended_idx ON frame_captures (completed_at) WHERE status <> 'pending';

-- +goose Down
DROP INDEX frame_captures_ended_idx;
ALTER TABLE frame_captures DROP COLUMN requeued_at, DROP COLUMN requeues;
