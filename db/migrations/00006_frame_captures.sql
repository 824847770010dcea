-- Frame captures: stills taken from a video at given times (one ffmpeg pass
-- for the batch), used as glitch source images. Free of charge.

-- +goose Up
CREATE TABLE frame_captures (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    video_id     uuid NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    timestamps   double precision[] NOT NULL CHECK (cardinality(timestamps) BETWEEN 1 AND 20),
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed', 'failed')),
    frame_keys   text[] NOT NULL DEFAULT '{}',
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX frame_captures_user_idx ON frame_captures (user_id, created_at DESC);
CREATE INDEX frame_captures_pending_idx ON frame_captures (created_at) WHERE status = 'pending';

-- +goose Down
DROP TABLE frame_captures;
