-- The notification outbox: no notification is lost.
--
-- Every action that tells someone (a like, follow, comment or comment like,
-- a finished AI job, a glitch of someone's video) writes one row here in the
-- transaction of the action itself, so the action and "someone must be
-- told" commit together or not at all. After the commit the producer still
-- enqueues notify:deliver at once, carrying the row's id; the delivery
-- deletes the row in the transaction that stores (or grows) the
-- notification, and also when it finds the facts no longer hold (undone,
-- blocked, setting off). A row left behind (Redis lost the task, the
-- process died between commit and enqueue, the task was archived) is
-- enqueued again by notify:outbox, which the scheduler runs every minute,
-- once the row is older than NOTIFICATION_OUTBOX_AGE. The delivery is
-- idempotent per event (00024: a fact is in one group once; the single
-- types have their unique keys), so a row delivered twice counts once.
--
-- attempts counts how often the drain enqueued the row; next_attempt_at is
-- when the drain may enqueue it again (a backoff that grows with attempts),
-- so a row that keeps failing waits longer each time and never holds back
-- the rows behind it. The ids are not foreign keys: the delivery re-reads
-- every one of them and clears a row whose users or targets are gone.

-- +goose Up
CREATE TABLE notification_outbox (
    id              uuid PRIMARY KEY,
    type            text NOT NULL CHECK (type IN ('like', 'comment', 'comment_like', 'follow', 'glitch', 'ai_job')),
    recipient_id    uuid NOT NULL,
    actor_id        uuid,
    video_id        uuid,
    comment_id      uuid,
    ai_job_id       uuid,
    message         text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    CHECK (actor_id IS NULL OR actor_id <> recipient_id)
);
-- The drain: the rows due, oldest first.
CREATE INDEX notification_outbox_due_idx ON notification_outbox (next_attempt_at, created_at, id);

-- +goose Down
DROP TABLE notification_outbox;
